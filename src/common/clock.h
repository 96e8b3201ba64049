#pragma once

#include <chrono>
#include <cstdint>

namespace vallum {

/// Wall-clock time in whole seconds since the Unix epoch: the unit of JWT `iat`/`exp`
/// (RFC 7519 §2 NumericDate), session lifetimes and Pomerium's signed-URL timestamps.
inline int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace vallum
