#include "policy/ip_range.h"

#include <arpa/inet.h>

#include <cstring>

namespace vallum::policy {
namespace {

constexpr size_t kMaxText = 64;  // longer than any IPv6 text form (45 bytes)

}  // namespace

bool IpAddress::parse(std::string_view text, IpAddress& out) {
  if (text.empty() || text.size() >= kMaxText) {
    return false;
  }
  char buf[kMaxText];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress parsed;
  if (text.find(':') == std::string_view::npos) {
    if (inet_pton(AF_INET, buf, parsed.bytes.data()) != 1) {
      return false;
    }
    out = parsed;
    return true;
  }
  if (inet_pton(AF_INET6, buf, parsed.bytes.data()) != 1) {
    return false;
  }
  static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(parsed.bytes.data(), kMappedPrefix, sizeof kMappedPrefix) == 0) {
    std::memmove(parsed.bytes.data(), parsed.bytes.data() + 12, 4);
    std::memset(parsed.bytes.data() + 4, 0, 12);
  } else {
    parsed.v6 = true;
  }
  out = parsed;
  return true;
}

bool IpRange::parse(std::string_view text, IpRange& out) {
  const size_t slash = text.find('/');
  IpRange range;
  if (!IpAddress::parse(text.substr(0, slash), range.network)) {
    return false;
  }
  const unsigned max_prefix = range.network.v6 ? 128 : 32;
  if (slash == std::string_view::npos) {
    range.prefix = static_cast<uint8_t>(max_prefix);
    out = range;
    return true;
  }
  const std::string_view digits = text.substr(slash + 1);
  if (digits.empty() || digits.size() > 3) {
    return false;
  }
  unsigned prefix = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') {
      return false;
    }
    prefix = prefix * 10 + static_cast<unsigned>(c - '0');
  }
  // Go's net.ParseCIDR takes an IPv4-mapped address with an IPv6 prefix (::ffff:1.2.3.0/120);
  // such a range holds only IPv4 addresses, stored here as their IPv4 form.
  const bool mapped = !range.network.v6 && text.find(':') != std::string_view::npos;
  if (mapped) {
    if (prefix > 128 || prefix < 96) {
      return false;
    }
    prefix -= 96;
  }
  if (prefix > max_prefix) {
    return false;
  }
  range.prefix = static_cast<uint8_t>(prefix);
  const size_t total = range.network.v6 ? 16 : 4;
  for (size_t i = 0; i < total; ++i) {
    const unsigned bit_start = static_cast<unsigned>(i) * 8;
    if (bit_start >= prefix) {
      range.network.bytes[i] = 0;
    } else if (prefix - bit_start < 8) {
      const auto keep = static_cast<uint8_t>(0xFFu << (8 - (prefix - bit_start)));
      range.network.bytes[i] = static_cast<uint8_t>(range.network.bytes[i] & keep);
    }
  }
  out = range;
  return true;
}

bool IpRange::contains(const IpAddress& address) const {
  if (address.v6 != network.v6) {
    return false;
  }
  const unsigned full = prefix / 8;
  if (std::memcmp(address.bytes.data(), network.bytes.data(), full) != 0) {
    return false;
  }
  const unsigned rest = prefix % 8;
  if (rest == 0) {
    return true;
  }
  const auto mask = static_cast<uint8_t>(0xFFu << (8 - rest));
  return (address.bytes[full] & mask) == network.bytes[full];
}

}  // namespace vallum::policy
