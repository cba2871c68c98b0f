#include "native/io/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "native/core/value.h"

namespace atman {

namespace {
std::string mib(uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }
}  // namespace

ReadOnlyFile::ReadOnlyFile(const std::string& path) : path_(path) {
  if (path.empty() || path.find('\0') != std::string::npos) throw TypeError("invalid path: it is empty or contains a NUL character");
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below as not a regular file.
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) throw Error("cannot open file '" + path + "': " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd_, &st) != 0) {
    int err = errno;
    ::close(fd_);
    throw Error("cannot open file '" + path + "': " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw Error("cannot open file '" + path + "': " +
                (S_ISDIR(st.st_mode) ? std::string("it is a directory") : std::string("it is not a regular file (a device, FIFO or socket)")));
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

ReadOnlyFile::~ReadOnlyFile() {
  if (fd_ >= 0) ::close(fd_);
}

void ReadOnlyFile::readAt(uint64_t offset, void* dst, size_t n) const {
  auto* out = static_cast<uint8_t*>(dst);
  size_t done = 0;
  while (done < n) {
    // One read is capped below 2 GiB by Linux; larger tensors take several.
    const size_t want = std::min<size_t>(n - done, size_t(1) << 30);
    ssize_t got = ::pread(fd_, out + done, want, static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      throw Error("cannot read file '" + path_ + "': " + std::strerror(errno));
    }
    if (got == 0)
      throw Error("file '" + path_ + "' ended at byte " + std::to_string(offset + done) + " while " +
                  std::to_string(offset + n) + " were expected: it was truncated or replaced while being read");
    done += static_cast<size_t>(got);
  }
}

std::string readTextFile(const std::string& path, uint64_t maxBytes, const std::string& what) {
  ReadOnlyFile f(path);
  if (f.size() > maxBytes)
    throw Error(what + " '" + path + "' is " + std::to_string(f.size()) + " bytes, more than the limit of " + mib(maxBytes) +
                " for this file: it is not a " + what + " a model folder would hold");
  std::string text(static_cast<size_t>(f.size()), '\0');
  if (!text.empty()) f.readAt(0, text.data(), text.size());
  return text;
}

}  // namespace atman
