#include "proxy/snapshot.h"

#include <openssl/evp.h>

#include "common/logging.h"
#include "common/strings.h"

namespace vallum::proxy {

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
  EVP_Digest(material.data(), material.size(), digest, &digest_size, EVP_sha256(), nullptr);
  std::string out;
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < 8 && i < digest_size; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

SnapshotConstSharedPtr buildSnapshot(config::Options options, const SnapshotBuildOptions& build,
                                     config::Diagnostics& diagnostics) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->options = std::move(options);
  snapshot->generation = build.generation;
  const config::Options& opts = snapshot->options;
  bool ok = true;

  auto table = router::RouteTable::build(opts.routes);
  if (!table) {
    diagnostics.error({}, "routes", table.error().detail());
    ok = false;
  } else {
    snapshot->table = std::move(*table);
  }

  snapshot->routes.reserve(opts.routes.size());
  for (const config::Route& route : opts.routes) {
    RouteRuntime rt;
    rt.config = &route;
    std::vector<std::string> warnings;
    rt.cluster = upstream::buildCluster(route.to, build.resolve_dns, &warnings);
    for (const std::string& w : warnings) {
      diagnostics.warning(route.pos, route.key + ".to", w);
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
    rt.timeout = config::routeTimeout(route, opts.default_upstream_timeout);
    rt.is_public = route.allow_public_unauthenticated_access;
    rt.log_name = !route.name.empty() ? route.name : "route-" + routeId(route);
    snapshot->routes.push_back(std::move(rt));
  }

  if (!opts.insecure_server) {
    snapshot->tls = tls::ServerContext::build(opts.certificates, diagnostics);
    if (!snapshot->tls) {
      ok = false;
    }
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
