#pragma once

#include <cstdint>
#include <string>

namespace vallum {

/// xoshiro256** — fast, non-cryptographic. One instance per thread (never shared); seeded from
/// the OS at construction unless a seed is given (tests). Used for request ids, jitter and
/// random load balancing, never for secrets.
class FastRandom {
 public:
  FastRandom();
  explicit FastRandom(uint64_t seed);

  uint64_t next();
  /// Uniform in [0, bound); bound > 0.
  uint64_t uniform(uint64_t bound);

 private:
  uint64_t s_[4];
};

/// Appends a 32-hex-digit request id (128 random bits, lowercase) to out.
void appendRequestId(std::string& out, FastRandom& random);

}  // namespace vallum
