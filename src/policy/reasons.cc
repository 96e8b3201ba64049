#include "policy/reasons.h"

#include <array>
#include <bit>

namespace vallum::policy {
namespace {

// Indexed by Reason; kept sorted (checked below) so that ReasonSet iterates alphabetically.
constexpr std::array<std::string_view, kReasonCount> kNames = {
    "accept",
    "claim-ok",
    "claim-unauthorized",
    "client-certificate-ok",
    "client-certificate-required",
    "client-certificate-unauthorized",
    "cors-request",
    "device-ok",
    "device-unauthenticated",
    "device-unauthorized",
    "domain-ok",
    "domain-unauthorized",
    "email-ok",
    "email-unauthorized",
    "groups-ok",
    "groups-unauthorized",
    "http-method-ok",
    "http-method-unauthorized",
    "http-path-ok",
    "http-path-unauthorized",
    "invalid-client-certificate",
    "non-cors-request",
    "non-pomerium-route",
    "pomerium-route",
    "reject",
    "route-not-found",
    "source-ip-ok",
    "source-ip-unauthorized",
    "user-ok",
    "user-unauthenticated",
    "user-unauthorized",
    "valid-client-certificate",
};

constexpr bool sortedNames() {
  for (size_t i = 1; i < kNames.size(); ++i) {
    if (!(kNames[i - 1] < kNames[i])) {
      return false;
    }
  }
  return true;
}
static_assert(sortedNames(), "Reason must be declared in the alphabetical order of its strings");

}  // namespace

std::string_view reasonName(Reason reason) {
  const auto index = static_cast<size_t>(reason);
  return index < kNames.size() ? kNames[index] : std::string_view("unknown");
}

std::optional<Reason> reasonFromName(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) {
      return static_cast<Reason>(i);
    }
  }
  return std::nullopt;
}

size_t ReasonSet::size() const { return static_cast<size_t>(std::popcount(bits_)); }

std::string ReasonSet::toString(std::string_view separator) const {
  std::string out;
  forEach([&](Reason reason) {
    if (!out.empty()) {
      out.append(separator);
    }
    out.append(reasonName(reason));
  });
  return out;
}

}  // namespace vallum::policy
