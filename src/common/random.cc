#include "common/random.h"

#include <array>
#include <random>

namespace vallum {

namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

FastRandom::FastRandom() : FastRandom((uint64_t(std::random_device{}()) << 32) ^ std::random_device{}()) {}

FastRandom::FastRandom(uint64_t seed) {
  for (auto& s : s_) {
    s = splitmix64(seed);
  }
}

uint64_t FastRandom::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

uint64_t FastRandom::uniform(uint64_t bound) {
  // Lemire's multiply-shift; the bias for bound << 2^64 is negligible for our uses.
  __extension__ using Uint128 = unsigned __int128;
  return static_cast<uint64_t>((static_cast<Uint128>(next()) * bound) >> 64);
}

namespace {

/// The two lowercase hex digits of every byte (one lookup per byte instead of one per nibble:
/// this runs for every request).
constexpr std::array<char, 512> makeHexPairs() {
  std::array<char, 512> t{};
  constexpr char kHex[] = "0123456789abcdef";
  for (int b = 0; b < 256; ++b) {
    t[size_t(2 * b)] = kHex[b >> 4];
    t[size_t(2 * b + 1)] = kHex[b & 15];
  }
  return t;
}
constexpr auto kHexPairs = makeHexPairs();

}  // namespace

void appendRequestId(std::string& out, FastRandom& random) {
  char id[32];
  for (int word = 0; word < 2; ++word) {
    uint64_t v = random.next();
    for (int i = 0; i < 8; ++i) {
      const size_t b = size_t(v & 0xff) * 2;
      id[word * 16 + i * 2] = kHexPairs[b];
      id[word * 16 + i * 2 + 1] = kHexPairs[b + 1];
      v >>= 8;
    }
  }
  out.append(id, sizeof(id));
}

}  // namespace vallum
