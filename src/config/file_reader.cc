#include "config/file_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "config/diagnostics.h"

namespace vallum::config {

namespace {

/// `size` 0: unknown (the file was cut off while reading).
Error tooLarge(const std::string& path, size_t size, size_t max_bytes) {
  std::string what = "file " + quoted(path) + " is ";
  if (size != 0) {
    what += formatByteSize(size) + ", ";
  }
  return Error(Errc::ResourceExhausted, ErrorSource::Config,
               what + "over the limit of " + formatByteSize(max_bytes));
}

/// Closes a descriptor on every return path.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

std::string formatByteSize(size_t bytes) {
  constexpr size_t kKiB = 1024;
  constexpr size_t kMiB = kKiB * 1024;
  char text[64];
  if (bytes >= kMiB) {
    if (bytes % kMiB == 0) {
      std::snprintf(text, sizeof(text), "%zu MiB", bytes / kMiB);
    } else {
      std::snprintf(text, sizeof(text), "%.1f MiB", double(bytes) / double(kMiB));
    }
  } else if (bytes >= kKiB && bytes % kKiB == 0) {
    std::snprintf(text, sizeof(text), "%zu KiB", bytes / kKiB);
  } else {
    std::snprintf(text, sizeof(text), "%zu bytes", bytes);
  }
  return text;
}

Result<std::string> readLimitedFile(const std::string& path, size_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    return Error(Errc::NotFound, ErrorSource::Config,
                 "cannot read " + quoted(path) + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return Error(Errc::NotFound, ErrorSource::Config,
                 "cannot read " + quoted(path) + ": " + std::strerror(errno));
  }
  std::string out;
  if (S_ISREG(st.st_mode)) {
    if (size_t(st.st_size) > max_bytes) {
      return tooLarge(path, size_t(st.st_size), max_bytes);
    }
    out.reserve(size_t(st.st_size));
  }
  char chunk[65536];
  while (true) {
    ssize_t n = ::read(fd.get(), chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Error(Errc::NotFound, ErrorSource::Config,
                   "cannot read " + quoted(path) + ": " + std::strerror(errno));
    }
    if (n == 0) {
      return out;
    }
    // A file that grows while it is read, or has no size (a pipe), is cut off here.
    if (out.size() + size_t(n) > max_bytes) {
      return tooLarge(path, 0, max_bytes);
    }
    out.append(chunk, size_t(n));
  }
}

}  // namespace vallum::config
