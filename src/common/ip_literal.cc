#include "common/ip_literal.h"

#include <arpa/inet.h>

#include <cstring>

namespace vallum::ip {

bool canonicalIpv6(std::string_view text, std::string& out) {
  char input[INET6_ADDRSTRLEN];
  // A NUL would end the C string early: "::1\0junk" must not pass as "::1".
  if (text.empty() || text.size() >= sizeof(input) || text.find('\0') != std::string_view::npos) {
    return false;
  }
  std::memcpy(input, text.data(), text.size());
  input[text.size()] = '\0';
  in6_addr address;
  if (::inet_pton(AF_INET6, input, &address) != 1) {
    return false;
  }
  char canonical[INET6_ADDRSTRLEN];
  if (::inet_ntop(AF_INET6, &address, canonical, sizeof(canonical)) == nullptr) {
    return false;
  }
  out.assign(canonical);
  return true;
}

}  // namespace vallum::ip
