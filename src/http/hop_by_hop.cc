#include "http/hop_by_hop.h"

#include "common/strings.h"

namespace vallum::http {

void collectConnectionNominated(const HeaderMap& headers, std::vector<std::string_view>& out) {
  out.clear();
  if (!headers.mayHave(HeaderId::Connection)) {
    return;
  }
  for (size_t i = 0; i < headers.fieldCount(); ++i) {
    if (!headers.live(i) || headers.id(i) != HeaderId::Connection) {
      continue;
    }
    const std::string_view value = headers.value(i);
    if (strings::iequals(value, "keep-alive") || strings::iequals(value, "close")) {
      continue;  // the common case: a connection option alone, nothing nominated
    }
    strings::forEachListElement(headers.value(i), [&](std::string_view token) {
      if (!strings::iequals(token, "close") && !strings::iequals(token, "keep-alive") &&
          !strings::iequals(token, "upgrade")) {
        out.push_back(token);
      }
      return true;
    });
  }
}

bool isNominated(std::string_view name, const std::vector<std::string_view>& nominated) {
  for (std::string_view n : nominated) {
    if (strings::iequals(n, name)) {
      return true;
    }
  }
  return false;
}

}  // namespace vallum::http
