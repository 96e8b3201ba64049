#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/diagnostics.h"
#include "config/options.h"
#include "config/value_reader.h"
#include "config/yaml_tree.h"

/// Internal to the config component: the sign-in and identity options (Pomerium's
/// `authenticate_service_url`, `idp_*`, `cookie_*`, `signing_key`, `jwt_*`,
/// `pass_identity_headers`, `runtime_flags`, `show_error_details`,
/// `google_cloud_serverless_authentication_service_account` globals) and the route keys that
/// say who may pass and what the upstream learns (`policy`, the legacy allow lists,
/// `pass_identity_headers`, `jwt_groups_filter`, `jwt_issuer_format`, `show_error_details`,
/// `enable_google_cloud_serverless_authentication`). Control thread.
namespace vallum::config {

class IdentityDecoder {
 public:
  IdentityDecoder(Diagnostics& diags, size_t max_file_bytes)
      : diags_(diags), max_file_bytes_(max_file_bytes) {}

  /// True for the global keys decoded here.
  static bool handlesGlobal(std::string_view name);
  /// Decodes one global key into `out` (values that need other keys are held until finish()).
  void decodeGlobal(ValueReader& r, const yaml::Node& v, yaml::Mark key_mark,
                    const std::string& key, std::string_view name, IdentityOptions& out);
  /// After every key: `*_file` variants read, provider defaults, cross-checks.
  void finish(IdentityOptions& out);

  /// True for the route keys decoded here.
  static bool handlesRoute(std::string_view name);
  /// Decodes one route key (non-null value) into `route`.
  static void decodeRoute(ValueReader& r, const yaml::Entry& e, const std::string& key,
                          Route& route);

 private:
  struct Held {
    std::string value;
    SourcePos pos;
    std::string key;
  };
  std::optional<std::string> fileOrInline(const std::optional<Held>& inline_value,
                                          const std::optional<Held>& file, std::string_view what,
                                          SourcePos* pos, std::string* key);

  Diagnostics& diags_;
  size_t max_file_bytes_;
  std::optional<Held> client_secret_, client_secret_file_, signing_key_, signing_key_file_;
};

/// Parses `jwt_claims_headers` in its three forms (Pomerium): a map {Header: claim}, a list of
/// claims, or a comma/space-separated string of claims (each claim `c` → header
/// `x-pomerium-claim-c`). Header names must be tokens. Errors go to `r`.
std::optional<std::vector<ClaimHeader>> readClaimHeaders(ValueReader& r, const yaml::Node& v,
                                                         const std::string& key);

}  // namespace vallum::config
