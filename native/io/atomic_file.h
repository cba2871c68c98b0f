// Writes a file so that readers see either the old file or the complete new one, never a partial write:
// data goes to "<path>.tmp-<pid>-<random>" in the same directory, is fsynced, then renamed over path.
#pragma once
#include <cstddef>
#include <string>

namespace atman {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);  // creates the temporary file; throws naming the cause
  ~AtomicFile();                          // without commit(): closes and removes the temporary file
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t bytes);
  void commit();  // fsync, close, rename over the target, fsync the directory

 private:
  [[noreturn]] void fail(const std::string& what, int err) const;

  std::string path_;
  std::string tmpPath_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace atman
