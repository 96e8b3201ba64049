#pragma once

#include <optional>
#include <string>

#include "config/options.h"
#include "config/value_reader.h"
#include "config/yaml_tree.h"

/// Internal to the config component: `vallum check`'s warnings about the trailing-slash
/// pitfalls of path rewriting (Envoy's prefix_rewrite replaces the matched prefix, slash
/// included; a Pomerium `to` path does the same for a prefix route).
namespace vallum::config {

/// Where the keys these lints point at sit in the config.
struct RewriteMarks {
  yaml::Mark to;                             ///< the route's `to`
  std::string to_key;                        ///< its YAML path
  std::optional<yaml::Mark> prefix_rewrite;  ///< `prefix_rewrite`, when the route has it
};

/// Warns, through `r`, at `to` or `prefix_rewrite` of the route `route_key`, with the path a
/// request reaches the upstream with:
/// * a `to` path without a final slash under a prefix that has one (/api/foo → /v1foo);
/// * prefix_rewrite "/" after a prefix without a final slash (/api/x → //x);
/// * prefix_rewrite without `prefix` (it replaces only the leading "/", or applies to every
///   path, or does nothing);
/// * prefix_rewrite without a final slash after a prefix with one (/api/foo → /v1foo).
void lintRewriteSlashes(const Route& route, const RewriteMarks& marks, const std::string& route_key,
                        ValueReader& r);

}  // namespace vallum::config
