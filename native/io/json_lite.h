// A small strict JSON reader and a string escaper, enough for safetensors headers.
// Hand-written because libtorch ships no JSON library and the GPU build host has no network to fetch one.
#pragma once
#include "native/core/value.h"
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace atman::json {

struct Value {
  enum class Kind { Null, Bool, Number, String, Array, Object };
  Kind kind = Kind::Null;
  bool boolean = false;
  double number = 0;       // every Number
  bool isInteger = false;  // a Number written without fraction or exponent that fits in int64
  int64_t integer = 0;     // its value when isInteger
  std::string string;      // a String, as UTF-8
  std::vector<Value> array;
  std::vector<std::pair<std::string, Value>> object;  // members in document order; keys are unique

  const Value* find(std::string_view key) const;  // nullptr when absent
};

const char* kindName(Value::Kind k);  // "an object", "a string", ... for messages

struct Limits {
  size_t maxBytes = 100'000'000;  // the safetensors reference implementation's header limit
  int maxDepth = 64;
};

// Thrown by parse(); what() reads "<cause> at byte <offset>".
struct ParseError : Error {
  ParseError(const std::string& cause, size_t offset);
  size_t offset;
};

// Parses exactly one JSON value; whitespace around it is allowed, anything else is an error.
// Strict: no comments, no trailing commas, no duplicate keys, strings must be valid UTF-8.
Value parse(std::string_view text, const Limits& limits = {});

// s as a JSON string literal, quotes included. s must be UTF-8; bytes >= 0x80 pass through unchanged.
std::string quote(std::string_view s);

}  // namespace atman::json
