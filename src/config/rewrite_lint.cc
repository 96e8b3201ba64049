#include "config/rewrite_lint.h"

#include "config/diagnostics.h"

namespace vallum::config {

using yaml::childKey;

void lintRewriteSlashes(const Route& route, const RewriteMarks& marks, const std::string& route_key,
                        ValueReader& r) {
  // The trailing-slash pitfalls of prefix rewriting (Pomerium `to` paths; Envoy prefix_rewrite).
  const bool has_prefix_rewrite = !route.prefix_rewrite.empty();
  const bool prefix_route = route.regex.empty() && route.path.empty();
  const std::string match_prefix = route.prefix.empty() ? "/" : route.prefix;
  if (prefix_route && !route.redirect && !route.response && !has_prefix_rewrite &&
      route.regex_rewrite_pattern.empty() && !route.to.empty()) {
    const std::string& to_path = route.to.front().path;
    if (!to_path.empty() && to_path.back() != '/' && match_prefix.back() == '/') {
      r.warning(marks.to, marks.to_key,
                "the `to` path " + quoted(to_path) + " replaces the matched prefix " +
                    quoted(match_prefix) + " without a slash: " + match_prefix + "foo reaches " +
                    "the upstream as " + to_path + "foo; write " + quoted(to_path + "/"));
    }
  }
  if (prefix_route && has_prefix_rewrite && route.prefix_rewrite == "/" &&
      match_prefix.back() != '/') {
    r.warning(*marks.prefix_rewrite, childKey(route_key, "prefix_rewrite"),
              "prefix_rewrite \"/\" after prefix " + quoted(match_prefix) + " keeps the slash " +
                  "that follows the prefix: " + match_prefix + "/x reaches the upstream as //x; " +
                  "use prefix: " + quoted(match_prefix + "/"));
  }
  // Envoy's prefix_rewrite replaces the matched prefix, slash included: without `prefix`
  // that is the leading "/" alone, and a rewrite without a final slash glues the rest on.
  if (prefix_route && has_prefix_rewrite) {
    const std::string& rewrite = route.prefix_rewrite;
    const std::string key = childKey(route_key, "prefix_rewrite");
    const yaml::Mark mark = *marks.prefix_rewrite;
    if (route.prefix.empty() && rewrite == "/") {
      r.warning(mark, key,
                "prefix_rewrite \"/\" without prefix does nothing: every path reaches the "
                "upstream unchanged");
    } else if (route.prefix.empty() && rewrite.back() == '/') {
      r.warning(mark, key,
                "prefix_rewrite without prefix applies to every path: /foo reaches the "
                "upstream as " +
                    rewrite + "foo");
    } else if (route.prefix.empty()) {
      r.warning(mark, key,
                "prefix_rewrite without prefix replaces only the leading \"/\": /foo reaches "
                "the upstream as " +
                    rewrite + "foo; write " + quoted(rewrite + "/") +
                    " or set the prefix it is meant to replace");
    } else if (match_prefix.back() == '/' && rewrite.back() != '/') {
      r.warning(mark, key,
                "prefix_rewrite " + quoted(rewrite) + " replaces the matched prefix " +
                    quoted(match_prefix) + " with its final slash: " + match_prefix +
                    "foo reaches the upstream as " + rewrite + "foo; write " +
                    quoted(rewrite + "/"));
    }
  }
}

}  // namespace vallum::config
