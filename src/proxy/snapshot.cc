#include "proxy/snapshot.h"

#include <algorithm>
#include <string_view>
#include <unordered_map>

#include <openssl/evp.h>
#include <re2/re2.h>

#include "common/logging.h"
#include "common/strings.h"
#include "policy/ast.h"
#include "policy/parser.h"
#include "proxy/stages/authorize.h"
#include "router/lint.h"
#include "tls/client_context.h"
#include "upstream/lb/registry.h"

namespace vallum::proxy {

RouteRuntime::RouteRuntime() = default;
RouteRuntime::RouteRuntime(RouteRuntime&&) noexcept = default;
RouteRuntime& RouteRuntime::operator=(RouteRuntime&&) noexcept = default;
RouteRuntime::~RouteRuntime() = default;

namespace {

constexpr std::string_view kRequestHeaders = "pomerium.request.headers";

/// Resolves one reference name (the part inside `${...}` or after `$`).
HeaderTemplate::Piece resolveReference(std::string_view ref) {
  HeaderTemplate::Piece piece;
  if (ref.starts_with(kRequestHeaders)) {
    std::string_view rest = ref.substr(kRequestHeaders.size());
    if (rest.size() > 1 && rest.front() == '.') {
      piece.header_ref = true;
      piece.text = std::string(rest.substr(1));
    } else if (rest.size() > 4 && rest.starts_with("[\"") && rest.ends_with("\"]")) {
      piece.header_ref = true;
      piece.text = std::string(rest.substr(2, rest.size() - 4));
    }
  }
  if (ref == "pomerium.jwt") {
    piece.identity = HeaderTemplate::IdentityRef::Jwt;
  } else if (ref == "pomerium.id_token") {
    piece.identity = HeaderTemplate::IdentityRef::IdToken;
  } else if (ref == "pomerium.access_token") {
    piece.identity = HeaderTemplate::IdentityRef::AccessToken;
  }
  // Unknown references render empty.
  return piece;
}

bool isReferenceChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-' || c == '[' || c == ']' || c == '"';
}

using HeaderList = std::vector<std::pair<std::string, std::string>>;

/// Pomerium's default global set_response_headers; HSTS only with real
/// certificates (a self-signed or plain-HTTP listener must not pin browsers to HTTPS).
HeaderList defaultResponseHeaders(const config::Options& options) {
  HeaderList out = {{"X-Frame-Options", "SAMEORIGIN"}, {"X-XSS-Protection", "1; mode=block"}};
  if (!options.insecure_server && !options.certificates.empty()) {
    out.emplace_back("Strict-Transport-Security", "max-age=31536000; includeSubDomains; preload");
  }
  return out;
}

bool hasDisable(const std::vector<config::HeaderSetting>& headers) {
  return std::any_of(headers.begin(), headers.end(), [](const config::HeaderSetting& h) {
    return strings::iequals(h.name, "disable");
  });
}

void sortHeaders(HeaderList& headers) {
  std::stable_sort(headers.begin(), headers.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
}

HeaderList globalResponseHeaders(const config::Options& options) {
  HeaderList out;
  if (!options.set_response_headers) {
    out = defaultResponseHeaders(options);
  } else if (!hasDisable(*options.set_response_headers)) {
    for (const config::HeaderSetting& h : *options.set_response_headers) {
      out.emplace_back(h.name, h.value);
    }
  }
  sortHeaders(out);
  return out;
}

/// The route's set merged over the global one (route wins per name); "disable" in the route
/// map empties everything for that route.
HeaderList routeResponseHeaders(const HeaderList& global, const config::Route& route) {
  if (hasDisable(route.set_response_headers)) {
    return {};
  }
  HeaderList out;
  for (const auto& [name, value] : global) {
    bool overridden =
        std::any_of(route.set_response_headers.begin(), route.set_response_headers.end(),
                    [&](const config::HeaderSetting& h) { return strings::iequals(h.name, name); });
    if (!overridden) {
      out.emplace_back(name, value);
    }
  }
  for (const config::HeaderSetting& h : route.set_response_headers) {
    out.emplace_back(h.name, h.value);
  }
  sortHeaders(out);
  return out;
}

upstream::lb::Policy toPolicy(config::LbPolicy policy) {
  switch (policy) {
    case config::LbPolicy::RoundRobin:
      return upstream::lb::Policy::RoundRobin;
    case config::LbPolicy::LeastRequest:
      return upstream::lb::Policy::LeastRequest;
    case config::LbPolicy::Random:
      return upstream::lb::Policy::Random;
    case config::LbPolicy::RingHash:
      return upstream::lb::Policy::RingHash;
    case config::LbPolicy::Maglev:
      return upstream::lb::Policy::Maglev;
  }
  return upstream::lb::Policy::RoundRobin;
}

/// The route's balancing settings → its cluster (Pomerium `lb_policy`; Envoy Cluster.lb_policy).
void applyBalancing(const config::Route& route, upstream::Cluster& cluster,
                    config::Diagnostics& diagnostics, bool& ok) {
  cluster.policy = toPolicy(route.lb_policy);
  upstream::lb::PolicyConfig& lb = cluster.lb_config;
  lb.choice_count = route.least_request_lb_config.choice_count;
  if (route.least_request_lb_config.active_request_bias) {
    lb.active_request_bias = *route.least_request_lb_config.active_request_bias;
    lb.active_request_bias_set = true;
  }
  lb.minimum_ring_size = route.ring_hash_lb_config.minimum_ring_size;
  lb.maximum_ring_size = route.ring_hash_lb_config.maximum_ring_size;
  lb.hash_function =
      route.ring_hash_lb_config.hash_function == config::RingHashLbConfig::HashFunction::MurmurHash2
          ? upstream::lb::PolicyConfig::HashFunction::MurmurHash2
          : upstream::lb::PolicyConfig::HashFunction::XxHash;
  lb.table_size = route.maglev_lb_config.table_size;
  cluster.panic_threshold = route.healthy_panic_threshold;
  // The loader validates these with positions; this is the balancer's own check.
  if (auto valid = upstream::lb::validatePolicyConfig(cluster.policy, lb); !valid) {
    diagnostics.error(route.pos, route.key, valid.error().detail());
    ok = false;
  }
}

std::unique_ptr<re2::RE2> compileRegex(const std::string& pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_unique<re2::RE2>(pattern, options);
  return re->ok() ? std::move(re) : nullptr;
}

}  // namespace

HeaderTemplate HeaderTemplate::parse(std::string_view value) {
  HeaderTemplate t;
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) {
      t.pieces.push_back(Piece{false, std::move(literal)});
      literal.clear();
    }
  };
  size_t i = 0;
  while (i < value.size()) {
    char c = value[i];
    if (c != '$' || i + 1 >= value.size()) {
      literal.push_back(c);
      ++i;
      continue;
    }
    char next = value[i + 1];
    if (next == '$') {
      literal.push_back('$');
      i += 2;
      continue;
    }
    if (next == '{') {
      size_t close = value.find('}', i + 2);
      if (close == std::string_view::npos) {
        literal.append(value.substr(i));  // malformed: verbatim
        break;
      }
      Piece piece = resolveReference(value.substr(i + 2, close - i - 2));
      flush();
      if (piece.header_ref || piece.identity != IdentityRef::None) {
        t.pieces.push_back(std::move(piece));
      }
      i = close + 1;
      continue;
    }
    size_t end = i + 1;
    while (end < value.size() && isReferenceChar(value[end])) {
      ++end;
    }
    if (end == i + 1) {
      literal.push_back('$');  // a lone '$'
      ++i;
      continue;
    }
    Piece piece = resolveReference(value.substr(i + 1, end - i - 1));
    flush();
    if (piece.header_ref || piece.identity != IdentityRef::None) {
      t.pieces.push_back(std::move(piece));
    }
    i = end;
  }
  flush();
  return t;
}

std::string routeId(const config::Route& route) {
  if (!route.id.empty()) {
    return route.id;
  }
  // SHA-256 over the route's identity fields, each length-prefixed so that field boundaries
  // are unambiguous; the first 8 bytes in hex.
  std::string material;
  auto add = [&](std::string_view field) {
    material += std::to_string(field.size());
    material += ':';
    material += field;
  };
  add(route.from.raw);
  add(route.prefix);
  add(route.path);
  add(route.regex);
  for (const config::UpstreamUrl& to : route.to) {
    add(to.raw);
    add(std::to_string(to.weight));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  // Fetched once: OpenSSL 3 looks the algorithm up on every EVP_sha256() digest otherwise,
  // which was most of a route's id cost on a 10,000-route load.
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_Digest(material.data(), material.size(), digest, &digest_size, sha256, nullptr);
  std::string out;
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < 8 && i < digest_size; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

namespace {

/// True when some criterion of the policy reads the session (it may ask for sign-in).
bool policyReadsSession(const policy::Policy& p) {
  for (const policy::Rule& rule : p.rules) {
    for (const policy::OperatorBlock& block : rule.blocks) {
      for (const policy::Criterion& c : block.criteria) {
        if (policy::isSessionCriterion(c.kind)) {
          return true;
        }
      }
    }
  }
  return false;
}

/// The route's policy (PPL plus legacy allow lists) and identity-header settings.
void compileRoutePolicy(const config::Route& route, const config::Options& opts, RouteRuntime& rt,
                        config::Diagnostics& diagnostics, bool& ok) {
  policy::RouteRules rules;
  rules.ppl = route.policy.get();
  rules.file = route.pos.file;
  rules.key = route.key;
  rules.allow_public_unauthenticated_access = route.allow_public_unauthenticated_access;
  rules.allow_any_authenticated_user = route.allow_any_authenticated_user;
  rules.cors_allow_preflight = route.cors_allow_preflight;
  rules.allowed_users = route.allowed_users;
  rules.allowed_domains = route.allowed_domains;
  rules.allowed_idp_claims = route.allowed_idp_claims.get();
  rt.policy = std::make_unique<policy::Policy>();
  if (!policy::compilePolicy(rules, *rt.policy, diagnostics)) {
    ok = false;
  }
  const config::IdentityOptions& id = opts.identity;
  rt.pass_identity_headers = route.pass_identity_headers.value_or(id.pass_identity_headers);
  rt.jwt_issuer_uri = route.jwt_issuer_uri.value_or(id.jwt_issuer_uri);
  rt.jwt_groups_filter = id.jwt_groups_filter;
  if (route.jwt_groups_filter) {
    rt.jwt_groups_filter.insert(rt.jwt_groups_filter.end(), route.jwt_groups_filter->begin(),
                                route.jwt_groups_filter->end());
  }
  rt.show_error_details = route.show_error_details.value_or(id.show_error_details);
}

/// Without authenticate_service_url nobody can sign in: a route whose policy asks who the
/// user is answers 401 to everyone.
void lintSignInNeeded(const std::vector<RouteRuntime>& routes, config::Diagnostics& diagnostics) {
  for (const RouteRuntime& rt : routes) {
    if (policyReadsSession(*rt.policy)) {
      diagnostics.warning(rt.config->pos, rt.config->key,
                          "the policy needs a signed-in user but sign-in is not configured "
                          "(set authenticate_service_url and idp_*): requests that need a "
                          "user get 401");
    }
  }
}

}  // namespace

SnapshotConstSharedPtr buildSnapshot(config::Options options, const SnapshotBuildOptions& build,
                                     config::Diagnostics& diagnostics) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->options = std::move(options);
  snapshot->generation = build.generation;
  const config::Options& opts = snapshot->options;
  bool ok = true;

  router::lintShadowedRoutes(opts.routes, diagnostics);
  lintDeniedRoutes(opts.routes, diagnostics);
  auto table = router::RouteTable::build(opts.routes);
  if (!table) {
    diagnostics.error({}, "routes", table.error().detail());
    ok = false;
  } else {
    snapshot->table = std::move(*table);
  }

  snapshot->response_headers = globalResponseHeaders(opts);
  // The global certificate_authority is checked once (building each route's TLS context would
  // report a bad one once per route).
  bool global_ca_ok = true;
  if (!opts.certificate_authority.empty()) {
    global_ca_ok =
        tls::ClientContext::build(config::UpstreamTls{}, opts.certificate_authority,
                                  opts.certificate_authority_pos, diagnostics) != nullptr;
    ok = ok && global_ca_ok;
  }
  snapshot->routes.reserve(opts.routes.size());
  for (const config::Route& route : opts.routes) {
    RouteRuntime rt;
    rt.config = &route;
    rt.action = route.redirect   ? RouteRuntime::Action::Redirect
                : route.response ? RouteRuntime::Action::Respond
                                 : RouteRuntime::Action::Forward;
    std::vector<std::string> warnings;
    // Pomerium resolves the upstreams of Google serverless routes over IPv4 only.
    const bool gcp = route.enable_google_cloud_serverless_authentication && !route.to.empty();
    rt.cluster = upstream::buildCluster(route.to, build.resolve_dns, &warnings, /*ipv4_only=*/gcp);
    if (gcp) {
      rt.gcp_audience = "https://" + route.to.back().host;
    }
    for (const std::string& w : warnings) {
      diagnostics.warning(route.pos, route.key + ".to", w);
    }
    applyBalancing(route, rt.cluster, diagnostics, ok);
    const bool any_tls = std::any_of(rt.cluster.endpoints.begin(), rt.cluster.endpoints.end(),
                                     [](const upstream::Endpoint& ep) { return ep.tls; });
    if (any_tls && global_ca_ok) {
      auto context = tls::ClientContext::build(route.tls, opts.certificate_authority,
                                               opts.certificate_authority_pos, diagnostics);
      if (context) {
        upstream::attachTls(rt.cluster, std::move(context), route.tls);
      } else {
        ok = false;
      }
    } else if (!any_tls && (!route.tls.custom_ca.empty() || !route.tls.client_cert.empty()) &&
               !tls::ClientContext::build(route.tls, global_ca_ok ? opts.certificate_authority : "",
                                          opts.certificate_authority_pos, diagnostics)) {
      // No https upstream uses them, but Pomerium loads them all the same (Policy.Validate):
      // a missing or broken file is still an error (docs/decisions.md).
      ok = false;
    }
    if (!route.to.empty()) {
      rt.to_path = route.to.front().path;
    }
    if (!route.regex.empty() || !route.path.empty()) {
      rt.match_kind = RouteRuntime::MatchKind::WholePath;
    } else {
      rt.match_kind = RouteRuntime::MatchKind::Prefix;
      rt.match_prefix = route.prefix.empty() ? "/" : route.prefix;
    }
    // Path rewrite precedence (as Pomerium): prefix_rewrite, regex rewrite, the `to` path.
    if (!route.prefix_rewrite.empty()) {
      rt.path_rewrite = RouteRuntime::PathRewrite::Prefix;
      rt.prefix_rewrite = route.prefix_rewrite;
    } else if (!route.regex_rewrite_pattern.empty()) {
      rt.path_rewrite = RouteRuntime::PathRewrite::Regex;
      rt.path_regex = compileRegex(route.regex_rewrite_pattern);
      rt.path_substitution = route.regex_rewrite_substitution;
      if (!rt.path_regex) {
        diagnostics.error(route.pos, route.key + ".regex_rewrite_pattern", "invalid regex");
        ok = false;
      }
    } else if (!rt.to_path.empty()) {
      rt.path_rewrite = RouteRuntime::PathRewrite::Prefix;
      rt.prefix_rewrite = rt.to_path;
    }
    // Host (Pomerium's setHostRewriteOptions precedence).
    if (!route.host_rewrite.empty()) {
      rt.host_rewrite = RouteRuntime::HostRewrite::Literal;
      rt.host_value = route.host_rewrite;
    } else if (!route.host_rewrite_header.empty()) {
      rt.host_rewrite = RouteRuntime::HostRewrite::Header;
      rt.host_value = route.host_rewrite_header;
    } else if (!route.host_path_regex_rewrite_pattern.empty()) {
      rt.host_rewrite = RouteRuntime::HostRewrite::PathRegex;
      rt.host_regex = compileRegex(route.host_path_regex_rewrite_pattern);
      rt.host_substitution = route.host_path_regex_rewrite_substitution;
      if (!rt.host_regex) {
        diagnostics.error(route.pos, route.key + ".host_path_regex_rewrite_pattern",
                          "invalid regex");
        ok = false;
      }
    } else if (route.preserve_host_header) {
      rt.host_rewrite = RouteRuntime::HostRewrite::Preserve;
    }
    rt.append_x_forwarded_host = rt.host_rewrite != RouteRuntime::HostRewrite::Preserve;
    for (const std::string& name : route.remove_request_headers) {
      if (strings::iequals(name, "x-forwarded-host")) {
        rt.append_x_forwarded_host = false;
      }
      rt.remove_request_headers.push_back(name);
    }
    for (const config::HeaderSetting& h : route.set_request_headers) {
      rt.set_request_headers.emplace_back(h.name, HeaderTemplate::parse(h.value));
    }
    rt.response_headers = routeResponseHeaders(snapshot->response_headers, route);
    rt.rewrite_response_headers = route.rewrite_response_headers;
    rt.upgrades = config::routeUpgrades(route, opts.allow_upgrades);
    const bool long_lived = config::longLivedRoute(route, opts.allow_upgrades);
    rt.timeout = config::routeTimeout(route, opts.default_upstream_timeout, long_lived);
    rt.stream_idle_timeout = config::streamIdleTimeout(route, long_lived);
    rt.upstream_http1_only = long_lived;
    rt.tunnel_idle_timeout = config::tunnelIdleTimeout(route);
    compileRoutePolicy(route, opts, rt, diagnostics, ok);
    rt.id = routeId(route);
    rt.log_name = !route.name.empty() ? route.name : "route-" + rt.id;
    if (route.outlier_detection) {
      rt.outlier = &*route.outlier_detection;
    }
    if (build.cluster_health) {
      if (auto shared = build.cluster_health(rt.id, rt.cluster.endpoints.size());
          shared && shared->hosts.size() == rt.cluster.endpoints.size()) {
        rt.cluster.health = std::move(shared);
      }
    }
    if (build.metrics != nullptr) {
      rt.metrics = build.metrics->routeCounters(rt.log_name);
    }
    snapshot->routes.push_back(std::move(rt));
  }
  // One metrics series per label: routes that share a name share their counters.
  std::unordered_map<std::string_view, const config::Route*> by_label;
  for (const RouteRuntime& rt : snapshot->routes) {
    auto [it, first] = by_label.emplace(rt.log_name, rt.config);
    if (!first) {
      diagnostics.warning(rt.config->pos, rt.config->key,
                          "metrics name " + config::quoted(rt.log_name) + " is also " +
                              it->second->key + "'s: both routes count in one metrics series");
    }
  }

  if (!opts.insecure_server) {
    snapshot->tls = tls::ServerContext::build(opts.certificates, diagnostics, opts.codec_type);
    if (!snapshot->tls) {
      ok = false;
    }
  } else if (!opts.certificates.empty() &&
             !tls::ServerContext::build(opts.certificates, diagnostics, opts.codec_type)) {
    // Served in clear, but Pomerium loads the certificates all the same (Options.Validate): a
    // missing or broken one is still an error (docs/decisions.md).
    ok = false;
  }

  const bool uses_identity =
      std::any_of(snapshot->routes.begin(), snapshot->routes.end(), [](const RouteRuntime& rt) {
        return rt.pass_identity_headers || policyReadsSession(*rt.policy);
      });
  snapshot->identity = buildIdentityRuntime(opts, uses_identity, diagnostics);
  if (!snapshot->identity) {
    ok = false;
  } else if (!snapshot->identity->sign_in) {
    lintSignInNeeded(snapshot->routes, diagnostics);
  }

  snapshot->path_options.normalize_path = opts.normalize_path;
  snapshot->path_options.merge_slashes = opts.merge_slashes;
  snapshot->path_options.escaped_slashes = opts.path_with_escaped_slashes_action;

  if (!ok || diagnostics.hasErrors()) {
    return nullptr;
  }
  return snapshot;
}

}  // namespace vallum::proxy
