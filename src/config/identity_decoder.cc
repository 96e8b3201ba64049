#include "config/identity_decoder.h"

#include <array>
#include <memory>

#include "common/strings.h"
#include "config/file_reader.h"
#include "config/url.h"

namespace vallum::config {

namespace {

constexpr std::array<std::string_view, 17> kGlobalKeys = {
    "authenticate_service_url",
    "signout_redirect_url",
    "idp_provider",
    "idp_provider_url",
    "idp_client_id",
    "idp_client_secret",
    "idp_client_secret_file",
    "idp_scopes",
    "idp_request_params",
    "cookie_name",
    "cookie_domain",
    "cookie_expire",
    "cookie_secure",
    "cookie_http_only",
    "cookie_same_site",
    "signing_key",
    "signing_key_file",
};
constexpr std::array<std::string_view, 7> kMoreGlobalKeys = {
    "jwt_claims_headers",
    "jwt_groups_filter",
    "jwt_issuer_format",
    "pass_identity_headers",
    "runtime_flags",
    "show_error_details",
    "google_cloud_serverless_authentication_service_account",
};
constexpr std::array<std::string_view, 11> kRouteKeys = {
    "policy",
    "allow_any_authenticated_user",
    "allowed_users",
    "allowed_domains",
    "allowed_idp_claims",
    "cors_allow_preflight",
    "pass_identity_headers",
    "jwt_groups_filter",
    "jwt_issuer_format",
    "show_error_details",
    "enable_google_cloud_serverless_authentication",
};

template <size_t N>
bool contains(const std::array<std::string_view, N>& keys, std::string_view name) {
  for (std::string_view k : keys) {
    if (k == name) {
      return true;
    }
  }
  return false;
}

// Pomerium's `idp_provider` names. The OIDC ones run the same authorization-code flow against
// the provider's discovery document; github and apple speak their own OAuth 2 dialects.
constexpr std::array<std::string_view, 9> kOidcProviders = {
    "oidc", "google", "okta", "auth0", "azure", "cognito", "gitlab", "onelogin", "ping"};

std::optional<AbsoluteUrl> readAbsoluteUrl(ValueReader& r, const yaml::Node& v,
                                           const std::string& key, std::string_view what) {
  if (!r.check(ValueType::Url, v, key)) {
    return std::nullopt;
  }
  auto text = r.readString(v, key);
  if (!text || text->empty()) {
    return std::nullopt;
  }
  auto parts = splitUrl(*text);
  if (!parts) {
    r.error(v.mark, key,
            "bad " + std::string(what) + " " + quoted(*text) + ": " + parts.error().detail());
    return std::nullopt;
  }
  if (parts->scheme.empty() || parts->host.empty()) {
    r.error(v.mark, key,
            "bad " + std::string(what) + " " + quoted(*text) + ": needs a scheme and a host");
    return std::nullopt;
  }
  AbsoluteUrl url;
  url.raw = std::move(*text);
  url.scheme = parts->scheme;
  url.host = strings::lowerAscii(parts->host);
  url.port = parts->port;
  url.authority = parts->authority;
  url.path = parts->path;
  url.pos = r.pos(v.mark);
  url.key = key;
  return url;
}

std::vector<std::string> plainList(std::optional<std::vector<LocatedString>> list) {
  std::vector<std::string> out;
  if (list) {
    for (LocatedString& s : *list) {
      out.push_back(std::move(s.value));
    }
  }
  return out;
}

void readBool(ValueReader& r, const yaml::Node& v, const std::string& key, bool& out) {
  if (auto b = r.readBool(v, key)) {
    out = *b;
  }
}

// Pomerium `jwt_issuer_format`: hostOnly (default) or uri, case-insensitively.
std::optional<bool> readIssuerFormat(ValueReader& r, const yaml::Node& v, const std::string& key) {
  if (!r.check(ValueType::String, v, key, {"hostOnly", "uri"})) {
    return std::nullopt;
  }
  auto s = r.readString(v, key);
  if (!s || s->empty()) {
    return std::nullopt;
  }
  return strings::iequals(*s, "uri");
}

}  // namespace

bool IdentityDecoder::handlesGlobal(std::string_view name) {
  return contains(kGlobalKeys, name) || contains(kMoreGlobalKeys, name);
}

bool IdentityDecoder::handlesRoute(std::string_view name) { return contains(kRouteKeys, name); }

void IdentityDecoder::decodeGlobal(ValueReader& r, const yaml::Node& v, yaml::Mark key_mark,
                                   const std::string& key, std::string_view name,
                                   IdentityOptions& out) {
  (void)key_mark;
  auto hold = [&](std::optional<Held>& slot) {
    if (auto s = r.readString(v, key); s && !s->empty()) {
      slot = Held{std::move(*s), r.pos(v.mark), key};
    }
  };
  if (name == "authenticate_service_url") {
    out.authenticate_service_url = readAbsoluteUrl(r, v, key, "authenticate-url");
  } else if (name == "signout_redirect_url") {
    out.signout_redirect_url = readAbsoluteUrl(r, v, key, "signout-redirect-url");
  } else if (name == "idp_provider_url") {
    out.idp_provider_url = readAbsoluteUrl(r, v, key, "idp-provider-url");
  } else if (name == "idp_provider") {
    auto s = r.readString(v, key);
    if (!s || s->empty()) {
      return;
    }
    std::string lower = strings::lowerAscii(*s);
    if (contains(kOidcProviders, lower)) {
      out.idp_provider = lower;
    } else if (lower == "github" || lower == "apple") {
      r.error(v.mark, key,
              "identity provider " + quoted(*s) +
                  " is not supported yet (it is OAuth 2 with its own API); use oidc");
    } else {
      r.error(v.mark, key,
              "unknown identity provider " + quoted(*s) +
                  " (oidc, google, okta, auth0, azure, cognito, gitlab, onelogin or ping)");
    }
  } else if (name == "idp_client_id") {
    if (auto s = r.readString(v, key)) {
      out.idp_client_id = std::move(*s);
    }
  } else if (name == "idp_client_secret") {
    hold(client_secret_);
  } else if (name == "idp_client_secret_file") {
    hold(client_secret_file_);
  } else if (name == "idp_scopes") {
    out.idp_scopes = plainList(r.readStringList(v, key));
  } else if (name == "idp_request_params") {
    if (auto m = r.readStringMap(v, key)) {
      out.idp_request_params = std::move(*m);
    }
  } else if (name == "cookie_name") {
    if (auto s = r.readString(v, key); s && !s->empty()) {
      if (!strings::isToken(*s)) {
        r.error(v.mark, key, "cookie_name " + quoted(*s) + " is not a valid cookie name");
      } else {
        out.cookie_name = std::move(*s);
      }
    }
  } else if (name == "cookie_domain") {
    if (auto s = r.readString(v, key)) {
      out.cookie_domain = strings::lowerAscii(*s);
    }
  } else if (name == "cookie_expire") {
    if (auto d = r.readDuration(v, key)) {
      if (d->count() <= 0) {
        r.error(v.mark, key, "cookie_expire must be positive");
      } else {
        out.cookie_expire = *d;
      }
    }
  } else if (name == "cookie_secure") {
    readBool(r, v, key, out.cookie_secure);
  } else if (name == "cookie_http_only") {
    readBool(r, v, key, out.cookie_http_only);
  } else if (name == "cookie_same_site") {
    if (!r.check(ValueType::String, v, key, {"strict", "lax", "none"})) {
      return;
    }
    if (auto s = r.readString(v, key)) {
      out.cookie_same_site = strings::lowerAscii(*s);
    }
  } else if (name == "signing_key") {
    hold(signing_key_);
  } else if (name == "signing_key_file") {
    hold(signing_key_file_);
  } else if (name == "jwt_claims_headers") {
    if (auto headers = readClaimHeaders(r, v, key)) {
      out.jwt_claims_headers = std::move(*headers);
    }
  } else if (name == "jwt_groups_filter") {
    out.jwt_groups_filter = plainList(r.readStringList(v, key));
  } else if (name == "jwt_issuer_format") {
    out.jwt_issuer_uri = readIssuerFormat(r, v, key).value_or(false);
  } else if (name == "pass_identity_headers") {
    readBool(r, v, key, out.pass_identity_headers);
  } else if (name == "show_error_details") {
    readBool(r, v, key, out.show_error_details);
  } else if (name == "google_cloud_serverless_authentication_service_account") {
    if (auto s = r.readString(v, key)) {
      out.gcp_service_account = std::move(*s);
      out.gcp_service_account_pos = r.pos(v.mark);
    }
  } else if (name == "runtime_flags") {
    if (!v.isMap()) {
      r.error(v.mark, key, "expected a mapping of flag: true|false, got " + yaml::describe(v));
      return;
    }
    for (const yaml::Entry& e : v.entries) {
      std::string flag_key = yaml::childKey(key, e.key);
      auto b = r.readBool(e.value, flag_key);
      if (!b) {
        continue;
      }
      if (e.key == "pomerium_jwt_endpoint") {
        out.pomerium_jwt_endpoint = *b;
      } else {
        r.warning(e.key_mark, flag_key,
                  "runtime flag " + quoted(e.key) + " has no effect in Vallum");
      }
    }
  }
}

std::optional<std::string> IdentityDecoder::fileOrInline(const std::optional<Held>& inline_value,
                                                         const std::optional<Held>& file,
                                                         std::string_view what, SourcePos* pos,
                                                         std::string* key) {
  if (!file) {
    if (!inline_value) {
      return std::nullopt;
    }
    *pos = inline_value->pos;
    *key = inline_value->key;
    return inline_value->value;
  }
  if (inline_value) {
    diags_.warning(inline_value->pos, inline_value->key,
                   "ignored: " + file->key + " is set too and takes precedence");
  }
  auto text = readLimitedFile(file->value, max_file_bytes_);
  if (!text) {
    diags_.error(file->pos, file->key,
                 "cannot read the " + std::string(what) + ": " + text.error().detail());
    return std::nullopt;
  }
  *pos = file->pos;
  *key = file->key;
  return std::move(*text);
}

void IdentityDecoder::finish(IdentityOptions& out) {
  SourcePos pos;
  std::string key;
  if (auto secret =
          fileOrInline(client_secret_, client_secret_file_, "client secret file", &pos, &key)) {
    out.idp_client_secret = std::string(strings::trimSpace(*secret));
  }
  if (auto pem = fileOrInline(signing_key_, signing_key_file_, "signing key file", &pos, &key)) {
    out.signing_key = std::move(*pem);
    out.signing_key_pos = pos;
    out.signing_key_key = key;
  }
  if (out.idp_scopes.empty()) {
    const bool no_offline = out.idp_provider == "google" || out.idp_provider == "gitlab" ||
                            out.idp_provider == "cognito";
    out.idp_scopes = {"openid", "profile", "email"};
    if (!no_offline) {
      out.idp_scopes.push_back("offline_access");
    }
  }
}

void IdentityDecoder::decodeRoute(ValueReader& r, const yaml::Entry& e, const std::string& key,
                                  Route& route) {
  const yaml::Node& v = e.value;
  const std::string& name = e.key;
  if (name == "policy") {
    if (r.check(ValueType::MapListOrString, v, key)) {
      route.policy = std::make_shared<yaml::Node>(v);
    }
  } else if (name == "allow_any_authenticated_user") {
    readBool(r, v, key, route.allow_any_authenticated_user);
  } else if (name == "cors_allow_preflight") {
    readBool(r, v, key, route.cors_allow_preflight);
  } else if (name == "allowed_users") {
    route.allowed_users = plainList(r.readStringList(v, key));
  } else if (name == "allowed_domains") {
    route.allowed_domains = plainList(r.readStringList(v, key));
  } else if (name == "allowed_idp_claims") {
    if (!v.isMap()) {
      r.error(v.mark, key, "expected a mapping of claim: values, got " + yaml::describe(v));
    } else {
      route.allowed_idp_claims = std::make_shared<yaml::Node>(v);
    }
  } else if (name == "pass_identity_headers") {
    route.pass_identity_headers = r.readBool(v, key);
  } else if (name == "jwt_groups_filter") {
    route.jwt_groups_filter = plainList(r.readStringList(v, key));
  } else if (name == "jwt_issuer_format") {
    route.jwt_issuer_uri = readIssuerFormat(r, v, key);
  } else if (name == "show_error_details") {
    route.show_error_details = r.readBool(v, key);
  } else if (name == "enable_google_cloud_serverless_authentication") {
    readBool(r, v, key, route.enable_google_cloud_serverless_authentication);
  }
}

std::optional<std::vector<ClaimHeader>> readClaimHeaders(ValueReader& r, const yaml::Node& v,
                                                         const std::string& key) {
  std::vector<ClaimHeader> out;
  auto addClaim = [&](std::string claim, yaml::Mark mark, const std::string& k) {
    std::string header = "x-pomerium-claim-" + claim;
    if (!strings::isToken(header)) {
      r.error(mark, k, "claim " + quoted(claim) + " gives an invalid header name");
      return;
    }
    out.push_back(ClaimHeader{std::move(header), std::move(claim)});
  };
  if (v.isMap()) {
    for (const yaml::Entry& e : v.entries) {
      std::string k = yaml::childKey(key, e.key);
      auto claim = r.readString(e.value, k);
      if (!claim) {
        continue;
      }
      if (!strings::isToken(e.key)) {
        r.error(e.key_mark, k, "has invalid header name " + quoted(e.key));
        continue;
      }
      out.push_back(ClaimHeader{e.key, std::move(*claim)});
    }
    return out;
  }
  if (v.isSequence()) {
    for (size_t i = 0; i < v.items.size(); ++i) {
      const yaml::Node& item = v.items[i];
      std::string k = yaml::indexKey(key, i);
      if (item.isMap() || item.isSequence()) {
        r.error(item.mark, k, "found nested object in array of values");
        continue;
      }
      if (item.isScalar() && !item.scalar.empty()) {
        addClaim(item.scalar, item.mark, k);
      }
    }
    return out;
  }
  if (v.isScalar()) {
    std::string piece;
    auto flush = [&] {
      if (!piece.empty()) {
        addClaim(std::move(piece), v.mark, key);
        piece.clear();
      }
    };
    for (char c : v.scalar) {
      if (c == ',' || c == ' ' || c == '\t') {
        flush();
      } else {
        piece += c;
      }
    }
    flush();
    return out;
  }
  r.error(v.mark, key,
          "expected a mapping, a list or a string of claims, got " + yaml::describe(v));
  return std::nullopt;
}

}  // namespace vallum::config
