#pragma once

#include <string>

namespace vallum::tls {

/// `what` followed by ": " and the text of the oldest error on this thread's OpenSSL error
/// queue (ERR_error_string_n), or `what` alone when the queue is empty. Clears the queue, so
/// a later call does not report a stale error. Any thread (the queue is per thread).
std::string takeOpensslError(std::string what);

}  // namespace vallum::tls
