// Turns any exception from libtorch or atman into a category and a message that starts with the cause in plain words.
#pragma once
#include <exception>
#include <string>

namespace atman {

enum class ErrorKind { Generic, Type, Range };

struct ErrorReport {
  ErrorKind kind;
  std::string message;
};

ErrorReport describeException(const std::exception& e);
ErrorReport describeCurrentException();  // call inside a catch block

}  // namespace atman
