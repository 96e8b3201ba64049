#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

/// Policy reasons: why a criterion, an operator block or an action passed or failed.
///
/// Source: Pomerium `pkg/policy/criteria/reasons.go` (the closed set of reason strings that
/// Pomerium's authorize service logs and acts on, Pomerium authorize outcomes). The MCP and SSH
/// reasons are left out: Vallum does not implement those criteria. Pure data; any thread.
namespace vallum::policy {

/// Declared in the alphabetical order of the reason strings, so iterating a ReasonSet by bit
/// gives the sorted order Pomerium's `Reasons.Strings()` prints.
enum class Reason : uint8_t {
  Accept,                         ///< "accept"
  ClaimOk,                        ///< "claim-ok"
  ClaimUnauthorized,              ///< "claim-unauthorized"
  ClientCertificateOk,            ///< "client-certificate-ok"
  ClientCertificateRequired,      ///< "client-certificate-required"
  ClientCertificateUnauthorized,  ///< "client-certificate-unauthorized"
  CorsRequest,                    ///< "cors-request"
  DeviceOk,                       ///< "device-ok"
  DeviceUnauthenticated,          ///< "device-unauthenticated"
  DeviceUnauthorized,             ///< "device-unauthorized"
  DomainOk,                       ///< "domain-ok"
  DomainUnauthorized,             ///< "domain-unauthorized"
  EmailOk,                        ///< "email-ok"
  EmailUnauthorized,              ///< "email-unauthorized"
  GroupsOk,                       ///< "groups-ok"
  GroupsUnauthorized,             ///< "groups-unauthorized"
  HttpMethodOk,                   ///< "http-method-ok"
  HttpMethodUnauthorized,         ///< "http-method-unauthorized"
  HttpPathOk,                     ///< "http-path-ok"
  HttpPathUnauthorized,           ///< "http-path-unauthorized"
  InvalidClientCertificate,       ///< "invalid-client-certificate"
  NonCorsRequest,                 ///< "non-cors-request"
  NonPomeriumRoute,               ///< "non-pomerium-route"
  PomeriumRoute,                  ///< "pomerium-route"
  Reject,                         ///< "reject"
  RouteNotFound,                  ///< "route-not-found"
  SourceIpOk,                     ///< "source-ip-ok"
  SourceIpUnauthorized,           ///< "source-ip-unauthorized"
  UserOk,                         ///< "user-ok"
  UserUnauthenticated,            ///< "user-unauthenticated": the user must sign in
  UserUnauthorized,               ///< "user-unauthorized"
  ValidClientCertificate,         ///< "valid-client-certificate"
};

inline constexpr size_t kReasonCount = static_cast<size_t>(Reason::ValidClientCertificate) + 1;

/// Pomerium's exact string for `reason` ("user-unauthenticated").
std::string_view reasonName(Reason reason);

/// The reason whose string is `name`, or nullopt.
std::optional<Reason> reasonFromName(std::string_view name);

/// A set of reasons in one machine word: copying, merging and testing never allocate.
class ReasonSet {
 public:
  constexpr ReasonSet() = default;
  constexpr explicit ReasonSet(Reason reason) : bits_(bit(reason)) {}

  constexpr void add(Reason reason) { bits_ |= bit(reason); }
  constexpr void merge(ReasonSet other) { bits_ |= other.bits_; }
  constexpr bool has(Reason reason) const { return (bits_ & bit(reason)) != 0; }
  constexpr bool empty() const { return bits_ == 0; }
  size_t size() const;
  constexpr uint64_t bits() const { return bits_; }

  /// Calls fn(Reason) for each member, in alphabetical order of the reason strings.
  template <class Fn>
  void forEach(Fn&& fn) const {
    for (size_t i = 0; i < kReasonCount; ++i) {
      if ((bits_ >> i) & 1U) {
        fn(static_cast<Reason>(i));
      }
    }
  }

  /// The members' strings, sorted, joined with `separator` ("email-ok,user-ok"); allocates.
  std::string toString(std::string_view separator = ",") const;

  constexpr bool operator==(const ReasonSet&) const = default;

 private:
  static constexpr uint64_t bit(Reason reason) {
    return uint64_t{1} << static_cast<unsigned>(reason);
  }

  uint64_t bits_ = 0;
};

static_assert(kReasonCount <= 64, "ReasonSet holds at most 64 reasons");

}  // namespace vallum::policy
