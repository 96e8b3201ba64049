#pragma once

#include <cstddef>
#include <string>

#include "common/error.h"

/// Internal to the config component: reading the config file and the files it names (secrets),
/// with a size limit checked before anything is read.
namespace vallum::config {

/// Reads the whole file at `path`. A regular file larger than `max_bytes` is refused from its
/// size alone, before a byte is read; other files (a pipe, /dev/zero) are refused once
/// `max_bytes` have been read without reaching the end. Errors (NotFound: cannot open or read;
/// ResourceExhausted: too large) name the file, and the limit when it was exceeded. Any thread.
Result<std::string> readLimitedFile(const std::string& path, size_t max_bytes);

/// "16 MiB", "512 KiB", "100 bytes", "50.3 MiB": a size for messages.
std::string formatByteSize(size_t bytes);

}  // namespace vallum::config
