#include "native/core/value.h"
#include "native/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <stdexcept>

namespace atman {

namespace {

std::string randomSuffix() {
  std::random_device rd;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
  return buf;
}

std::string directoryOf(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  tmpPath_ = path_ + ".tmp-" + std::to_string(::getpid()) + "-" + randomSuffix();
  fd_ = ::open(tmpPath_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd_ < 0) fail("creating the temporary file '" + tmpPath_ + "' failed", errno);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmpPath_.c_str());
}

void AtomicFile::fail(const std::string& what, int err) const {
  throw Error("cannot write file '" + path_ + "': " + what + " (" + std::strerror(err) + ")");
}

void AtomicFile::write(const void* data, size_t bytes) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    ssize_t n = ::write(fd_, p, bytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("writing the temporary file '" + tmpPath_ + "' failed", errno);
    }
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

void AtomicFile::commit() {
  if (::fsync(fd_) != 0) fail("fsync of the temporary file failed", errno);
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("closing the temporary file failed", errno);
  if (::rename(tmpPath_.c_str(), path_.c_str()) != 0) fail("renaming the temporary file over it failed", errno);
  committed_ = true;
  // Make the rename itself durable; best effort, the new file is complete either way.
  int dir = ::open(directoryOf(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

}  // namespace atman
