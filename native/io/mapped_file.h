// A whole file mapped copy-on-write: readable, and writable without ever touching the file.
#pragma once
#include "native/core/value.h"
#include <cstddef>
#include <cstdint>
#include <string>

namespace atman {

class MappedFile {
 public:
  // Throws Error naming the path when it cannot be opened, is not a regular file, or mapping fails.
  // An empty file is not mapped: data() is nullptr and size() is 0.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace atman
