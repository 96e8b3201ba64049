#pragma once

#include <cstdint>
#include <string_view>

/// Hash functions of the hash-based balancers (Envoy's RING_HASH and MAGLEV: XXH64). Both are
/// pure, thread-safe and allocation-free.
namespace vallum::upstream::lb {

/// The standard xxHash64 of `data` with `seed` (libxxhash), as Envoy's HashUtil::xxHash64.
uint64_t xxHash64(std::string_view data, uint64_t seed = 0);

/// libstdc++'s 64-bit MurmurHash2 variant (`std::_Hash_bytes`, what `std::hash<std::string>`
/// computes with seed kStdHashSeed), as Envoy's MurmurHash::murmurHash2. Spelled out here so
/// that the ring does not depend on the standard library's choice of string hash.
uint64_t murmurHash2(std::string_view data, uint64_t seed);

/// The seed libstdc++ gives `std::hash<std::string>`; RING_HASH's MURMUR_HASH_2 uses it.
inline constexpr uint64_t kStdHashSeed = 0xc70f6907;

}  // namespace vallum::upstream::lb
