#include "upstream/lb/hash.h"

#include <cstring>

#include <xxhash.h>

namespace vallum::upstream::lb {

namespace {

inline uint64_t shiftMix(uint64_t v) { return v ^ (v >> 47); }

inline uint64_t loadUnaligned64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// The 1..7 trailing bytes, first byte least significant (libstdc++'s load_bytes).
inline uint64_t loadTail(const char* p, size_t n) {
  uint64_t result = 0;
  for (size_t i = n; i-- > 0;) {
    result = (result << 8) + static_cast<unsigned char>(p[i]);
  }
  return result;
}

}  // namespace

uint64_t xxHash64(std::string_view data, uint64_t seed) {
  return XXH64(data.data(), data.size(), seed);
}

uint64_t murmurHash2(std::string_view data, uint64_t seed) {
  static_assert(sizeof(size_t) == 8, "64-bit MurmurHash2 variant");
  constexpr uint64_t kMul = (uint64_t{0xc6a4a793} << 32) + uint64_t{0x5bd1e995};
  const char* p = data.data();
  const size_t len = data.size();
  const char* const end = p + (len & ~size_t{7});
  uint64_t hash = seed ^ (len * kMul);
  for (; p != end; p += 8) {
    const uint64_t word = shiftMix(loadUnaligned64(p) * kMul) * kMul;
    hash ^= word;
    hash *= kMul;
  }
  if ((len & 7) != 0) {
    hash ^= loadTail(end, len & 7);
    hash *= kMul;
  }
  hash = shiftMix(hash) * kMul;
  return shiftMix(hash);
}

}  // namespace vallum::upstream::lb
