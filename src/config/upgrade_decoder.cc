#include "config/upgrade_decoder.h"

#include "common/strings.h"

namespace vallum::config {

bool UpgradeDecoder::handlesRoute(std::string_view name) {
  return name == "allow_websockets" || name == "allow_spdy" || name == "allow_upgrades" ||
         name == "idle_timeout";
}

void UpgradeDecoder::decodeRoute(ValueReader& r, const yaml::Entry& e, const std::string& key,
                                 Route& route) {
  const yaml::Node& v = e.value;
  if (e.key == "allow_websockets") {
    if (auto b = r.readBool(v, key)) {
      route.allow_websockets = *b;
    }
  } else if (e.key == "allow_spdy") {
    if (auto b = r.readBool(v, key)) {
      route.allow_spdy = *b;
    }
  } else if (e.key == "allow_upgrades") {
    route.allow_upgrades = readUpgradeTokens(r, v, key);
  } else if (e.key == "idle_timeout") {
    route.idle_timeout = r.readDuration(v, key);
  }
}

std::vector<std::string> UpgradeDecoder::readUpgradeTokens(ValueReader& r, const yaml::Node& v,
                                                           const std::string& key) {
  std::vector<std::string> out;
  auto list = r.readStringList(v, key);
  if (!list) {
    return out;
  }
  for (LocatedString& token : *list) {
    // RFC 9110 §7.8: protocol-name ["/" protocol-version], each a token.
    const size_t slash = token.value.find('/');
    const bool ok = strings::isToken(token.value.substr(0, slash)) &&
                    (slash == std::string::npos || strings::isToken(token.value.substr(slash + 1)));
    if (!ok) {
      r.diagnostics().error(token.pos, token.key,
                            "upgrade " + quoted(token.value) + " is not an upgrade token");
      continue;
    }
    out.push_back(strings::lowerAscii(token.value));
  }
  return out;
}

}  // namespace vallum::config
