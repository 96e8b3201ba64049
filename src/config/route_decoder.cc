#include "config/route_decoder.h"

#include <unordered_set>
#include <utility>
#include <vector>

#include <re2/re2.h>

#include "common/strings.h"
#include "config/cluster_decoder.h"
#include "config/diagnostics.h"
#include "config/identity_decoder.h"
#include "config/key_tables.h"
#include "config/rewrite_lint.h"
#include "config/route_action_decoder.h"
#include "config/unknown_key.h"
#include "config/upgrade_decoder.h"
#include "config/url.h"
#include "config/url_decoder.h"

namespace vallum::config {

namespace {

using yaml::childKey;
using yaml::indexKey;

/// Facts about a route gathered while its keys are decoded, for the checks that involve
/// several keys.
struct RouteFacts {
  bool has_from = false;
  std::string from_scheme;
  ToFacts to;
  bool has_redirect = false;
  bool has_response = false;
  // Legacy allow lists (Pomerium `allowed_users`, `allowed_domains`, …): tracked even though
  // they are not supported yet, so that the contradictions Pomerium rejects are reported too.
  std::optional<yaml::Mark> public_access_mark;
  std::string public_access_key;
  std::optional<yaml::Mark> any_user_mark;
  std::string any_user_key;
  bool has_allowed_users_or_domains = false;
  // Request shaping: positions for the checks and lints that involve several keys.
  std::optional<yaml::Mark> prefix_rewrite_mark;
  std::optional<yaml::Mark> regex_rewrite_mark;
  std::optional<yaml::Mark> regex_substitution_mark;
  std::optional<yaml::Mark> host_path_substitution_mark;
  std::vector<std::pair<std::string, yaml::Mark>> path_specifiers;  ///< name, mark (file order)
  std::vector<std::pair<std::string, yaml::Mark>> host_rewrites;    ///< name, mark (file order)
  std::vector<LocatedString> removed_headers;
};

/// True for a header name that set_request_headers may not change: Host and pseudo-headers
/// (Pomerium set_request_headers; Envoy rejects such mutations).
bool isProtectedRequestHeader(std::string_view name) {
  return strings::iequals(name, "host") || (!name.empty() && name.front() == ':');
}

/// Message framing and hop-by-hop fields: the proxy states them itself. A configured
/// Content-Length or Transfer-Encoding next to the real framing would desynchronize the
/// upstream connection (request smuggling), so they are never set from the config.
bool isFramingHeader(std::string_view name) {
  for (std::string_view h : {"content-length", "transfer-encoding", "connection", "keep-alive",
                             "proxy-connection", "te", "trailer", "upgrade", "expect"}) {
    if (strings::iequals(name, h)) {
      return true;
    }
  }
  return false;
}

class RouteDecoder {
 public:
  RouteDecoder(const std::string& key, ValueReader& reader)
      : key_(key), r_(reader), cluster_(reader) {}

  Route decode(const yaml::Node& node) {
    route_.key = key_;
    route_.pos = r_.pos(node.mark);
    if (!node.isMap()) {
      r_.error(node.mark, key_,
               "expected a route (a mapping with from and to), got " + yaml::describe(node));
      return std::move(route_);
    }
    for (const yaml::Entry& entry : node.entries) {
      decodeEntry(entry);
    }
    checkRoute(node);
    return std::move(route_);
  }

 private:
  void decodeEntry(const yaml::Entry& e) {
    std::string key = childKey(key_, e.key);
    const KeySpec* spec = findRouteKey(e.key);
    if (spec == nullptr) {
      reportUnknownKey(r_, e, key, "route option", routeKeyNames());
      return;
    }
    switch (spec->status) {
      case KeyStatus::Removed:
      case KeyStatus::OutOfScope:
        r_.error(e.key_mark, key, std::string(spec->message));
        return;
      case KeyStatus::NotSupportedYet:
        decodeNotSupportedYet(*spec, e, key);
        return;
      case KeyStatus::Implemented:
        break;
    }
    if (e.value.isNull()) {
      return;  // `key:` with no value sets nothing
    }
    const yaml::Node& v = e.value;
    const std::string& name = e.key;
    if (ClusterDecoder::handles(name)) {
      cluster_.decode(e, key, route_);
      return;
    }
    if (IdentityDecoder::handlesRoute(name)) {
      noteFacts(name, v, key, isEmptyValue(spec->type, v));
      IdentityDecoder::decodeRoute(r_, e, key, route_);
      return;
    }
    if (UpgradeDecoder::handlesRoute(name)) {
      UpgradeDecoder::decodeRoute(r_, e, key, route_);
      return;
    }
    if (name == "from") {
      facts_.has_from = RouteUrlDecoder(r_).decodeFrom(v, key, route_.from, facts_.from_scheme);
    } else if (name == "to") {
      RouteUrlDecoder(r_).decodeTo(v, key, route_.to, facts_.to);
    } else if (name == "prefix" || name == "path") {
      if (auto s = r_.readString(v, key)) {
        if (!s->empty()) {
          facts_.path_specifiers.emplace_back(name, e.key_mark);
        }
        if (!s->empty() && (*s)[0] != '/') {
          r_.warning(v.mark, key, "can never match: request paths start with \"/\"");
        }
        (name == "prefix" ? route_.prefix : route_.path) = std::move(*s);
      }
    } else if (name == "regex") {
      if (auto s = r_.readString(v, key)) {
        if (!s->empty()) {
          facts_.path_specifiers.emplace_back(name, e.key_mark);
        }
        checkRegex(*s, v.mark, key);
        route_.regex = std::move(*s);
      }
    } else if (name == "regex_priority_order") {
      route_.regex_priority_order = r_.readInt(v, key);
    } else if (name == "timeout") {
      route_.timeout = r_.readDuration(v, key);
      route_.timeout_pos = r_.pos(v.mark);
    } else if (name == "allow_public_unauthenticated_access") {
      if (auto b = r_.readBool(v, key)) {
        route_.allow_public_unauthenticated_access = *b;
        if (*b) {
          facts_.public_access_mark = v.mark;
          facts_.public_access_key = key;
        }
      }
    } else if (name == "redirect") {
      facts_.has_redirect = true;
      route_.redirect = decodeRedirect(v, key, r_);
    } else if (name == "response") {
      facts_.has_response = true;
      route_.response = decodeResponse(v, key, r_);
    } else if (name == "prefix_rewrite") {
      if (auto s = r_.readString(v, key)) {
        route_.prefix_rewrite = std::move(*s);
        facts_.prefix_rewrite_mark = v.mark;
        if (route_.prefix_rewrite.empty()) {
          r_.warning(v.mark, key,
                     "an empty prefix_rewrite is ignored (Pomerium treats \"\" as unset); "
                     "to strip the matched prefix use prefix_rewrite: / with a prefix that ends "
                     "in /");
        }
      }
    } else if (name == "regex_rewrite_pattern") {
      if (auto s = r_.readString(v, key)) {
        checkRegex(*s, v.mark, key);
        route_.regex_rewrite_pattern = std::move(*s);
        if (!route_.regex_rewrite_pattern.empty()) {
          facts_.regex_rewrite_mark = v.mark;
        }
      }
    } else if (name == "regex_rewrite_substitution") {
      assign(route_.regex_rewrite_substitution, v, key);
      if (!route_.regex_rewrite_substitution.empty()) {
        facts_.regex_substitution_mark = v.mark;
      }
    } else if (name == "preserve_host_header") {
      if (auto b = r_.readBool(v, key)) {
        route_.preserve_host_header = *b;
        if (*b) {
          facts_.host_rewrites.emplace_back(name, e.key_mark);
        }
      }
    } else if (name == "host_rewrite" || name == "host_rewrite_header" ||
               name == "host_path_regex_rewrite_pattern") {
      std::string& field = name == "host_rewrite"          ? route_.host_rewrite
                           : name == "host_rewrite_header" ? route_.host_rewrite_header
                                                           : route_.host_path_regex_rewrite_pattern;
      assign(field, v, key);
      if (!field.empty()) {
        facts_.host_rewrites.emplace_back(name, e.key_mark);
        if (name == "host_path_regex_rewrite_pattern") {
          checkRegex(field, v.mark, key);
        } else if (name == "host_rewrite_header" && !strings::isToken(field)) {
          r_.error(v.mark, key, "invalid header name " + quoted(field));
        }
      }
    } else if (name == "host_path_regex_rewrite_substitution") {
      assign(route_.host_path_regex_rewrite_substitution, v, key);
      if (!route_.host_path_regex_rewrite_substitution.empty()) {
        facts_.host_path_substitution_mark = v.mark;
      }
    } else if (name == "set_request_headers") {
      decodeSetRequestHeaders(v, key);
    } else if (name == "remove_request_headers") {
      if (auto list = r_.readStringList(v, key)) {
        for (LocatedString& item : *list) {
          if (!strings::isToken(item.value)) {
            r_.diagnostics().error(item.pos, item.key, "invalid header name " + quoted(item.value));
            continue;
          }
          route_.remove_request_headers.push_back(item.value);
          facts_.removed_headers.push_back(std::move(item));
        }
      }
    } else if (name == "set_response_headers") {
      if (auto headers = r_.readStringMap(v, key)) {
        for (HeaderSetting& h : *headers) {
          if (!strings::iequals(h.name, "disable") && !strings::isToken(h.name)) {
            r_.diagnostics().error(h.pos, h.key, "invalid header name " + quoted(h.name));
            continue;
          }
          route_.set_response_headers.push_back(std::move(h));
        }
      }
    } else if (name == "rewrite_response_headers") {
      decodeRewriteResponseHeaders(v, key);
    } else if (name == "name") {
      assign(route_.name, v, key);
    } else if (name == "description") {
      assign(route_.description, v, key);
    } else if (name == "logo_url") {
      assign(route_.logo_url, v, key);
    } else if (name == "id") {
      assign(route_.id, v, key);
    }
  }

  void assign(std::string& field, const yaml::Node& v, const std::string& key) {
    if (auto s = r_.readString(v, key)) {
      field = std::move(*s);
    }
  }

  // A recognized option not built yet. Serving the route without it could hand
  // its requests to the wrong place or policy, so any value that asks for something is an
  // error; a value that asks for nothing (false, "", [], {}) is accepted silently.
  void decodeNotSupportedYet(const KeySpec& spec, const yaml::Entry& e, const std::string& key) {
    const yaml::Node& v = e.value;
    if (v.isNull()) {
      return;
    }
    if (!r_.check(spec.type, v, key, spec.allowed)) {
      return;
    }
    bool empty = isEmptyValue(spec.type, v) && !(spec.empty_map_asks && v.isMap());
    noteFacts(e.key, v, key, empty);
    if (!empty) {
      r_.error(e.key_mark, key, "not supported yet");
    }
  }

  void noteFacts(const std::string& name, const yaml::Node& v, const std::string& key, bool empty) {
    if (name == "redirect") {
      facts_.has_redirect = true;
    } else if (name == "response") {
      facts_.has_response = true;
    } else if (name == "allow_any_authenticated_user" && !empty) {
      facts_.any_user_mark = v.mark;
      facts_.any_user_key = key;
    } else if ((name == "allowed_users" || name == "allowed_domains") && !empty) {
      facts_.has_allowed_users_or_domains = true;
    }
  }

  // Pomerium set_request_headers. Host and pseudo-headers cannot be changed this way (the route
  // docs say so; Envoy ignores such mutations): warn, point at host_rewrite, drop.
  void decodeSetRequestHeaders(const yaml::Node& v, const std::string& key) {
    auto headers = r_.readStringMap(v, key);
    if (!headers) {
      return;
    }
    for (HeaderSetting& h : *headers) {
      if (isProtectedRequestHeader(h.name)) {
        r_.diagnostics().warning(
            h.pos, h.key,
            quoted(h.name) +
                " cannot be set with set_request_headers and is not applied; use "
                "host_rewrite (or host_rewrite_header) to change the upstream Host");
        continue;
      }
      if (isFramingHeader(h.name)) {
        r_.diagnostics().warning(h.pos, h.key,
                                 quoted(h.name) +
                                     " is framing or hop-by-hop and is not applied: the proxy "
                                     "states the message framing itself");
        continue;
      }
      if (!strings::isToken(h.name)) {
        r_.diagnostics().error(h.pos, h.key, "invalid header name " + quoted(h.name));
        continue;
      }
      route_.set_request_headers.push_back(std::move(h));
    }
  }

  // Pomerium rewrite_response_headers — a list of {header, prefix, value}.
  void decodeRewriteResponseHeaders(const yaml::Node& v, const std::string& key) {
    if (!v.isSequence()) {
      r_.error(v.mark, key, "expected a list of {header, prefix, value}, got " + yaml::describe(v));
      return;
    }
    for (size_t i = 0; i < v.items.size(); ++i) {
      const yaml::Node& item = v.items[i];
      std::string item_key = indexKey(key, i);
      if (!item.isMap()) {
        r_.error(item.mark, item_key,
                 "expected a mapping with header, prefix and value, got " + yaml::describe(item));
        continue;
      }
      ResponseHeaderRewrite rewrite;
      for (const yaml::Entry& e : item.entries) {
        std::string k = childKey(item_key, e.key);
        static constexpr std::string_view kFields[] = {"header", "prefix", "value"};
        if (e.key != "header" && e.key != "prefix" && e.key != "value") {
          reportUnknownKey(r_, e, k, "rewrite_response_headers option", kFields);
          continue;
        }
        if (e.value.isNull()) {
          continue;
        }
        assign(e.key == "header"   ? rewrite.header
               : e.key == "prefix" ? rewrite.prefix
                                   : rewrite.value,
               e.value, k);
      }
      if (rewrite.header.empty()) {
        r_.error(item.mark, childKey(item_key, "header"), "missing: the header to rewrite");
        continue;
      }
      if (!strings::isToken(rewrite.header)) {
        r_.error(item.mark, childKey(item_key, "header"),
                 "invalid header name " + quoted(rewrite.header));
        continue;
      }
      route_.rewrite_response_headers.push_back(std::move(rewrite));
    }
  }

  void checkRewriteString(const std::string& pattern, const std::string& substitution,
                          std::optional<yaml::Mark> mark, const std::string& key) {
    if (pattern.empty() || !mark) {
      return;
    }
    RE2::Options options;
    options.set_log_errors(false);
    RE2 re(pattern, options);
    std::string error;
    if (re.ok() && !re.CheckRewriteString(substitution, &error)) {
      r_.error(*mark, key, "invalid substitution: " + error);
    }
  }

  // `vallum check`'s request-shaping lints and the checks that involve several request-shaping
  // keys.
  void checkShaping(const yaml::Node& node) {
    const bool has_prefix_rewrite = !route_.prefix_rewrite.empty();
    if (has_prefix_rewrite && facts_.regex_rewrite_mark) {
      r_.error(*facts_.regex_rewrite_mark, childKey(key_, "regex_rewrite_pattern"),
               "only prefix_rewrite or regex_rewrite_pattern can be specified, but not both");
    }
    checkRewriteString(route_.regex_rewrite_pattern, route_.regex_rewrite_substitution,
                       facts_.regex_substitution_mark,
                       childKey(key_, "regex_rewrite_substitution"));
    checkRewriteString(
        route_.host_path_regex_rewrite_pattern, route_.host_path_regex_rewrite_substitution,
        facts_.host_path_substitution_mark, childKey(key_, "host_path_regex_rewrite_substitution"));
    if (facts_.regex_substitution_mark && route_.regex_rewrite_pattern.empty()) {
      r_.warning(*facts_.regex_substitution_mark, childKey(key_, "regex_rewrite_substitution"),
                 "ignored without regex_rewrite_pattern");
    }
    if (facts_.host_path_substitution_mark && route_.host_path_regex_rewrite_pattern.empty()) {
      r_.warning(*facts_.host_path_substitution_mark,
                 childKey(key_, "host_path_regex_rewrite_substitution"),
                 "ignored without host_path_regex_rewrite_pattern");
    }

    // Several path specifiers: precedence regex > path > prefix (as Pomerium builds the Envoy
    // route match).
    if (facts_.path_specifiers.size() > 1) {
      const char* used = !route_.regex.empty() ? "regex" : !route_.path.empty() ? "path" : "prefix";
      for (const auto& [name, mark] : facts_.path_specifiers) {
        if (name != used) {
          r_.warning(mark, childKey(key_, name),
                     "ignored: the route also sets `" + std::string(used) +
                         "`, which takes precedence (regex > path > prefix)");
        }
      }
    }
    // Several host rewrites: precedence host_rewrite > host_rewrite_header >
    // host_path_regex_rewrite_pattern > preserve_host_header (Pomerium's host rewrite options).
    if (facts_.host_rewrites.size() > 1) {
      static constexpr std::string_view kOrder[] = {"host_rewrite", "host_rewrite_header",
                                                    "host_path_regex_rewrite_pattern",
                                                    "preserve_host_header"};
      std::string_view winner;
      for (std::string_view candidate : kOrder) {
        for (const auto& [name, mark] : facts_.host_rewrites) {
          if (winner.empty() && name == candidate) {
            winner = candidate;
          }
        }
      }
      for (const auto& [name, mark] : facts_.host_rewrites) {
        if (name != winner) {
          r_.warning(mark, childKey(key_, name),
                     "ignored: the route also sets `" + std::string(winner) +
                         "`, which takes precedence (host_rewrite > host_rewrite_header > "
                         "host_path_regex_rewrite_pattern > preserve_host_header)");
        }
      }
    }
    // A header both set and removed is set (set wins; docs/decisions.md). Names are
    // compared through a hash set: either list may be long.
    if (!facts_.removed_headers.empty() && !route_.set_request_headers.empty()) {
      std::unordered_multiset<std::string> set_names;
      for (const HeaderSetting& set : route_.set_request_headers) {
        set_names.insert(strings::lowerAscii(set.name));
      }
      for (const LocatedString& removed : facts_.removed_headers) {
        for (size_t n = set_names.count(strings::lowerAscii(removed.value)); n > 0; --n) {
          r_.diagnostics().warning(removed.pos, removed.key,
                                   quoted(removed.value) +
                                       " is also in set_request_headers: the client's value is "
                                       "removed and the configured one is sent (set wins)");
        }
      }
    }
    lintRewriteSlashes(route_, {facts_.to.mark, facts_.to.key, facts_.prefix_rewrite_mark}, key_,
                       r_);
    (void)node;
  }

  void checkRegex(const std::string& pattern, yaml::Mark mark, const std::string& key) {
    if (pattern.empty()) {
      return;
    }
    RE2::Options options;
    options.set_log_errors(false);
    RE2 re(pattern, options);
    if (!re.ok()) {
      r_.error(mark, key, "invalid regex: " + re.error());
    }
  }

  void checkRoute(const yaml::Node& node) {
    if (!facts_.has_from) {
      r_.error(node.mark, childKey(key_, "from"),
               "missing: every route needs a from URL (e.g. https://app.example.com)");
    }
    int actions = int(facts_.to.seen) + int(facts_.has_redirect) + int(facts_.has_response);
    if (actions == 0) {
      r_.error(node.mark, key_,
               "route has none of `to`, `redirect` and `response`: it needs one of them");
    } else if (actions > 1) {
      r_.warning(node.mark, key_,
                 "more than one of to, redirect and response: redirect wins over response, "
                 "which wins over to");
    }
    // tcp:// upstreams belong to tcp+https:// routes and nowhere else (Pomerium TCP routes).
    bool from_tcp = facts_.from_scheme.rfind("tcp+", 0) == 0;
    bool any_tcp = false;
    for (const std::string& s : facts_.to.schemes) {
      any_tcp = any_tcp || s == "tcp";
    }
    if (facts_.to.seen && !facts_.from_scheme.empty()) {
      if (!from_tcp && any_tcp) {
        r_.error(facts_.to.mark, facts_.to.key,
                 "tcp:// upstreams are only allowed on tcp+https:// routes");
      } else if (from_tcp && !facts_.to.schemes.empty() && !any_tcp) {
        r_.error(facts_.to.mark, facts_.to.key,
                 "a " + facts_.from_scheme + ":// route needs tcp:// upstreams");
      }
    }
    checkShaping(node);
    cluster_.finish(route_);

    // Legacy allow-list contradictions (Pomerium `allow_any_authenticated_user`,
    // `allowed_users`, `allowed_domains`), worded as Pomerium words them.
    if (facts_.public_access_mark &&
        (facts_.any_user_mark || facts_.has_allowed_users_or_domains)) {
      r_.error(*facts_.public_access_mark, facts_.public_access_key,
               "policy route marked as public but contains whitelists");
    }
    if (facts_.any_user_mark && facts_.has_allowed_users_or_domains) {
      r_.error(*facts_.any_user_mark, facts_.any_user_key,
               "policy route marked accessible for any authenticated user but contains "
               "whitelists");
    }
  }

  const std::string& key_;
  ValueReader& r_;
  ClusterDecoder cluster_;
  Route route_;
  RouteFacts facts_;
};

}  // namespace

Route decodeRoute(const yaml::Node& node, const std::string& key, ValueReader& reader) {
  return RouteDecoder(key, reader).decode(node);
}

}  // namespace vallum::config
