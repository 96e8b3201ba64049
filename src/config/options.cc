#include "config/options.h"

namespace vallum::config {

std::string ListenAddress::toString() const {
  std::string out;
  if (host.find(':') != std::string::npos) {
    out += '[';
    out += host;
    out += ']';
  } else {
    out += host;
  }
  out += ':';
  out += std::to_string(port);
  return out;
}

Duration routeTimeout(const Route& route, Duration default_upstream_timeout) {
  return route.timeout ? *route.timeout : default_upstream_timeout;
}

}  // namespace vallum::config
