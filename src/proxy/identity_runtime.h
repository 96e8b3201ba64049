#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/diagnostics.h"
#include "config/options.h"
#include "identity/cookie_cipher.h"
#include "identity/service_account.h"
#include "identity/signing_key.h"
#include "tls/client_context.h"

/// What sign-in and identity headers need at run time, compiled once per snapshot from the
/// global options (Pomerium's authenticate_service_url, idp_*, cookie_*, signing_key,
/// jwt_claims_headers): keys, the authenticate host, the identity provider's settings.
/// Immutable once built; shared by every worker.
namespace vallum::proxy {

struct IdentityRuntime {
  // -- Identity headers (any route with pass_identity_headers, public ones included).
  identity::SigningKey signing_key;
  std::string jwks_json;  ///< /.well-known/pomerium/jwks.json body
  std::string jwks_etag;  ///< strong ETag of jwks_json (quoted)
  std::vector<config::ClaimHeader> claim_headers;
  std::vector<std::string> claim_names;  ///< the claims of claim_headers (JWT extra claims)

  // -- Sign-in (Pomerium all-in-one mode: Vallum serves authenticate_service_url itself).
  bool sign_in = false;
  identity::CookieCipher cipher;    ///< cookie_secret: sessions, CSRF state
  std::string shared_secret;        ///< signed redirects between hosts (HMAC)
  std::string authenticate_host;    ///< lower-case, no port
  std::string authenticate_origin;  ///< "https://auth.example.com[:port]"
  std::string callback_url;         ///< authenticate_origin + "/oauth2/callback"
  std::string issuer;               ///< idp_provider_url as written (OIDC issuer)
  std::string client_id;
  std::string client_secret;
  std::string scopes;  ///< space-separated
  std::vector<config::HeaderSetting> request_params;
  std::string signout_redirect_url;
  /// Trust for the identity provider's and Google's https endpoints (system roots, plus
  /// certificate_authority); set with sign-in or a service account.
  std::shared_ptr<const tls::ClientContext> idp_tls;

  // -- Google Cloud serverless authentication (routes with
  //    enable_google_cloud_serverless_authentication).
  /// google_cloud_serverless_authentication_service_account; nullopt → the metadata server.
  std::optional<identity::ServiceAccount> gcp_account;
  /// "http://metadata", or "http://" + $GCE_METADATA_HOST.
  std::string gcp_metadata_origin;

  // -- Cookies (Pomerium cookie_* options).
  std::string cookie_name;               ///< route hosts
  std::string authenticate_cookie_name;  ///< cookie_name + "_authenticate"
  std::string csrf_cookie_name;          ///< cookie_name + "_csrf"
  std::string cookie_domain;
  int64_t cookie_expire_seconds = 14 * 3600;
  bool cookie_secure = true;
  bool cookie_http_only = true;
  std::string cookie_same_site;

  bool pomerium_jwt_endpoint = false;
  bool show_error_details = false;

  /// The `Set-Cookie` value for `name=value` with the configured attributes; `max_age`
  /// seconds (0 = a session cookie, -1 = delete).
  std::string setCookie(std::string_view name, std::string_view value, int64_t max_age,
                        bool host_only = false) const;
};
using IdentityRuntimeConstSharedPtr = std::shared_ptr<const IdentityRuntime>;

/// Builds the runtime. Errors (a bad signing key, sign-in without an identity provider) go to
/// `diagnostics` and return null. `uses_identity`: some route passes identity headers or
/// needs sign-in (a derived signing key is then mentioned once as a warning). Secrets left
/// unset are random for the life of the process (a warning says sessions then do not survive
/// a restart or reach other instances).
IdentityRuntimeConstSharedPtr buildIdentityRuntime(const config::Options& options,
                                                   bool uses_identity,
                                                   config::Diagnostics& diagnostics);

}  // namespace vallum::proxy
