#pragma once

#include <string>
#include <string_view>

/// IP address literals as hosts (RFC 3986 §3.2.2). Pure functions; any thread.
namespace vallum::ip {

/// Writes the RFC 5952 canonical text of an IPv6 address given without brackets
/// ("0:0:0:0:0:0:0:1" → "::1", "FE80::A" → "fe80::a") into `out`. False, with `out`
/// unspecified, when `text` is not an IPv6 address (":::1", zone ids, IPvFuture forms).
bool canonicalIpv6(std::string_view text, std::string& out);

}  // namespace vallum::ip
