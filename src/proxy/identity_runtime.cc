#include "proxy/identity_runtime.h"

#include <array>
#include <cstdlib>

#include <openssl/rand.h>

#include "common/strings.h"
#include "identity/jose_key.h"

namespace vallum::proxy {

namespace {

/// A secret that lives as long as the process (Pomerium's all-in-one mode generates random
/// secrets when none are configured).
const std::string& processSecret(size_t which) {
  static const std::array<std::string, 2> secrets = [] {
    std::array<std::string, 2> out{std::string(32, '\0'), std::string(32, '\0')};
    for (std::string& s : out) {
      RAND_bytes(reinterpret_cast<unsigned char*>(s.data()), 32);
    }
    return out;
  }();
  return secrets[which];
}

std::string joinScopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (const std::string& s : scopes) {
    if (!out.empty()) {
      out += ' ';
    }
    out += s;
  }
  return out;
}

}  // namespace

std::string IdentityRuntime::setCookie(std::string_view name, std::string_view value,
                                       int64_t max_age, bool host_only) const {
  std::string out;
  out.append(name).append("=").append(value).append("; Path=/");
  if (!host_only && !cookie_domain.empty()) {
    out.append("; Domain=").append(cookie_domain);
  }
  if (max_age < 0) {
    out.append("; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
  } else if (max_age > 0) {
    out.append("; Max-Age=").append(std::to_string(max_age));
  }
  if (cookie_secure) {
    out.append("; Secure");
  }
  if (cookie_http_only) {
    out.append("; HttpOnly");
  }
  if (cookie_same_site == "strict") {
    out.append("; SameSite=Strict");
  } else if (cookie_same_site == "lax") {
    out.append("; SameSite=Lax");
  } else if (cookie_same_site == "none") {
    out.append("; SameSite=None");
  }
  return out;
}

IdentityRuntimeConstSharedPtr buildIdentityRuntime(const config::Options& options,
                                                   bool uses_identity,
                                                   config::Diagnostics& diagnostics) {
  auto rt = std::make_shared<IdentityRuntime>();
  const config::IdentityOptions& id = options.identity;
  bool ok = true;

  // Secrets: configured, else random for this process.
  rt->shared_secret = options.shared_secret.size() >= 32 ? options.shared_secret : "";
  const bool sign_in = id.authenticate_service_url.has_value();
  // Sign-in problems are reported at authenticate_service_url, which asks for sign-in.
  const config::SourcePos at = sign_in ? id.authenticate_service_url->pos : config::SourcePos{};
  const std::string at_key = sign_in ? id.authenticate_service_url->key : std::string();
  if (rt->shared_secret.empty()) {
    rt->shared_secret = options.shared_secret.empty() ? processSecret(0) : options.shared_secret;
    if (sign_in && options.shared_secret.empty()) {
      diagnostics.warning(at, at_key,
                          "shared_secret is not set: a random one is used, so signed redirects "
                          "and the derived signing key change at every start (head -c32 "
                          "/dev/urandom | base64)");
    }
  }
  std::string cookie_secret = options.cookie_secret;
  if (cookie_secret.empty()) {
    cookie_secret = processSecret(1);
    if (sign_in) {
      diagnostics.warning(at, at_key,
                          "cookie_secret is not set: a random one is used, so sessions end at "
                          "every restart and do not reach other instances (head -c32 "
                          "/dev/urandom | base64)");
    }
  }
  auto cipher = identity::CookieCipher::fromKey(cookie_secret);
  if (!cipher) {
    diagnostics.error({}, "cookie_secret", cipher.error().detail());
    return nullptr;
  }
  rt->cipher = *cipher;

  // Signing key: configured, else derived from the shared secret (Pomerium v0.33).
  if (!id.signing_key.empty()) {
    auto key = identity::SigningKey::fromPem(id.signing_key);
    if (!key) {
      diagnostics.error(id.signing_key_pos, id.signing_key_key,
                        "cannot load the signing key: " + key.error().detail());
      ok = false;
    } else {
      rt->signing_key = std::move(*key);
    }
  } else {
    auto key = identity::SigningKey::derive(rt->shared_secret);
    if (!key) {
      diagnostics.error({}, "signing_key", "cannot derive a signing key: " + key.error().detail());
      ok = false;
    } else {
      rt->signing_key = std::move(*key);
      if (uses_identity) {
        diagnostics.warning(at, sign_in ? at_key : "signing_key",
                            "signing_key is not set: identity JWTs are signed with a key derived "
                            "from shared_secret (every instance sharing the secret signs alike)");
      }
    }
  }
  if (ok) {
    rt->jwks_json = rt->signing_key.jwksJson();
    std::string digest = identity::jose::sha256(rt->jwks_json);
    static constexpr char kHex[] = "0123456789abcdef";
    rt->jwks_etag = "\"";
    for (size_t i = 0; i < 16 && i < digest.size(); ++i) {
      const auto byte = static_cast<unsigned char>(digest[i]);
      rt->jwks_etag += kHex[byte >> 4];
      rt->jwks_etag += kHex[byte & 15];
    }
    rt->jwks_etag += '"';
  }
  rt->claim_headers = id.jwt_claims_headers;
  for (const config::ClaimHeader& h : id.jwt_claims_headers) {
    rt->claim_names.push_back(h.claim);
  }

  rt->cookie_name = id.cookie_name;
  rt->authenticate_cookie_name = id.cookie_name + "_authenticate";
  rt->csrf_cookie_name = id.cookie_name + "_csrf";
  rt->cookie_domain = id.cookie_domain;
  rt->cookie_expire_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(id.cookie_expire).count();
  rt->cookie_secure = id.cookie_secure;
  rt->cookie_http_only = id.cookie_http_only;
  rt->cookie_same_site = id.cookie_same_site;
  rt->pomerium_jwt_endpoint = id.pomerium_jwt_endpoint;
  rt->show_error_details = id.show_error_details;

  if (sign_in) {
    const config::AbsoluteUrl& auth = *id.authenticate_service_url;
    rt->sign_in = true;
    rt->authenticate_host = auth.host;
    rt->authenticate_origin = auth.scheme + "://" + auth.authority;
    rt->callback_url = rt->authenticate_origin + "/oauth2/callback";
    if (!id.idp_provider_url) {
      diagnostics.error(at, at_key,
                        "sign-in needs idp_provider_url (the identity provider's issuer URL)");
      ok = false;
    } else {
      rt->issuer = id.idp_provider_url->raw;
    }
    if (id.idp_client_id.empty()) {
      diagnostics.error(at, at_key, "sign-in needs idp_client_id");
      ok = false;
    }
    rt->client_id = id.idp_client_id;
    rt->client_secret = id.idp_client_secret;
    rt->scopes = joinScopes(id.idp_scopes);
    rt->request_params = id.idp_request_params;
    if (id.signout_redirect_url) {
      rt->signout_redirect_url = id.signout_redirect_url->raw;
    }
  }

  // Google Cloud serverless authentication: a service-account key, else the metadata server
  // (GCE_METADATA_HOST names another one, as Google's client libraries read it).
  if (!id.gcp_service_account.empty()) {
    auto account = identity::parseServiceAccount(id.gcp_service_account);
    if (!account) {
      diagnostics.error(id.gcp_service_account_pos,
                        "google_cloud_serverless_authentication_service_account",
                        "cannot read the service-account key: " + account.error().detail());
      ok = false;
    } else {
      rt->gcp_account = std::move(*account);
    }
  }
  const char* metadata_host = std::getenv("GCE_METADATA_HOST");
  rt->gcp_metadata_origin = std::string("http://") +
                            (metadata_host != nullptr && *metadata_host != '\0' ? metadata_host
                                                                                : "metadata");

  if (sign_in || rt->gcp_account) {
    rt->idp_tls = tls::ClientContext::build(config::UpstreamTls{}, options.certificate_authority,
                                            options.certificate_authority_pos, diagnostics);
    if (!rt->idp_tls) {
      ok = false;
    }
  }
  if (!ok) {
    return nullptr;
  }
  return rt;
}

}  // namespace vallum::proxy
