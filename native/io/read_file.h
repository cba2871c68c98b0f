// Reading files into memory the process owns, with limits: only regular files, and text files up to a size cap.
// A file replaced or truncated later cannot hurt what was read (unlike a mapping, where that raises SIGBUS).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace atman {

// Size caps for the small files of a model folder (generous: real ones are far smaller). README lists them.
constexpr uint64_t kMaxConfigJsonBytes = 16ull << 20;      // config.json (Llama 3.x: 1 KB)
constexpr uint64_t kMaxIndexJsonBytes = 64ull << 20;       // model.safetensors.index.json (70B models: ~100 KB)

class ReadOnlyFile {
 public:
  // Throws Error naming the path when it is missing, unreadable or not a regular file (a FIFO, /dev/zero, a
  // directory). Opening never blocks (a FIFO without a writer is refused, not waited for).
  explicit ReadOnlyFile(const std::string& path);
  ~ReadOnlyFile();
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;

  uint64_t size() const { return size_; }  // at open
  const std::string& path() const { return path_; }
  // Reads exactly n bytes at offset; throws Error when the file ends first (it changed while being read).
  void readAt(uint64_t offset, void* dst, size_t n) const;

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// The whole file as text; `what` names it in messages (e.g. "config.json"). Throws Error when it is not a regular
// file or larger than maxBytes.
std::string readTextFile(const std::string& path, uint64_t maxBytes, const std::string& what);

}  // namespace atman
