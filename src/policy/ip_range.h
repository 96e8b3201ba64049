#pragma once

#include <array>
#include <cstdint>
#include <string_view>

/// IP addresses and CIDR ranges for the `source_ip` criterion (Pomerium PPL, criterion
/// `source_ip`, which uses Go's net.ParseIP / net.ParseCIDR). Parsing and matching never
/// allocate. Pure functions; any thread.
namespace vallum::policy {

/// An IPv4 or IPv6 address in network byte order. IPv4-mapped IPv6 addresses
/// (`::ffff:1.2.3.4`) are stored as IPv4, as Go's net.IP.To4 does, so they match IPv4 ranges.
struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  ///< first 4 bytes used for IPv4

  /// Parses a textual IPv4 (dotted quad, no leading zeros) or IPv6 address without brackets,
  /// port or zone. False when `text` is anything else.
  static bool parse(std::string_view text, IpAddress& out);
};

/// A CIDR range: the address with its host bits cleared, plus the prefix length.
struct IpRange {
  IpAddress network;
  uint8_t prefix = 0;  ///< 0..32 (IPv4) or 0..128 (IPv6)

  /// Parses "10.0.0.0/8", "2001:db8::/32" or a bare address (→ /32 or /128). Host bits in a
  /// CIDR are dropped ("192.168.1.1/24" is 192.168.1.0/24, as net.ParseCIDR does). False on
  /// anything else (a prefix longer than the family allows, signs, spaces).
  static bool parse(std::string_view text, IpRange& out);

  /// True when `address` is of the same family and inside the range.
  bool contains(const IpAddress& address) const;
};

}  // namespace vallum::policy
