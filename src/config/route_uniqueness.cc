#include "config/route_uniqueness.h"

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace vallum::config {

namespace {

/// Appends one length-prefixed field, so that field boundaries are unambiguous.
void addField(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
}

void addOptional(std::string& out, const std::optional<std::string>& field) {
  out += field ? '1' : '0';
  addField(out, field ? *field : std::string_view());
}

/// The action part of a route's identity and the word that names it in messages; empty
/// identity when the route has no action.
std::string_view addAction(std::string& out, const Route& route) {
  if (route.redirect) {
    const RedirectAction& r = *route.redirect;
    out += "redirect;";
    out += r.https_redirect_set ? (r.https_redirect ? '2' : '1') : '0';
    addField(out, r.scheme_redirect);
    addField(out, r.host_redirect);
    addField(out, r.port_redirect ? std::to_string(*r.port_redirect) : std::string());
    addOptional(out, r.path_redirect);
    addOptional(out, r.prefix_rewrite);
    addField(out, std::to_string(r.response_code));
    out += r.strip_query ? '1' : '0';
    return "redirect";
  }
  if (route.response) {
    out += "response;";
    addField(out, std::to_string(route.response->status));
    addField(out, route.response->body);
    return "response";
  }
  if (!route.to.empty()) {
    out += "to;";
    addField(out, std::to_string(route.to.size()));
    for (const UpstreamUrl& to : route.to) {
      addField(out, to.raw);
      addField(out, std::to_string(to.weight));
    }
    return "to";
  }
  return {};
}

std::string where(const Route& route) {
  return route.key + " (" + route.pos.file + ":" + std::to_string(route.pos.line) + ":" +
         std::to_string(route.pos.column) + ")";
}

}  // namespace

void checkRouteUniqueness(const std::vector<Route>& routes, Diagnostics& diagnostics) {
  std::unordered_map<std::string, const Route*> by_id;
  std::unordered_map<std::string, const Route*> by_identity;
  for (const Route& route : routes) {
    if (!route.id.empty()) {
      auto [it, first] = by_id.emplace(route.id, &route);
      if (!first) {
        diagnostics.error(
            route.pos, route.key,
            "route is not unique: same id " + quoted(route.id) + " as " + where(*it->second));
      }
      continue;
    }
    if (route.from.raw.empty()) {
      continue;
    }
    std::string identity;
    addField(identity, route.from.raw);
    addField(identity, route.prefix);
    addField(identity, route.path);
    addField(identity, route.regex);
    std::string_view action = addAction(identity, route);
    if (action.empty()) {
      continue;
    }
    auto [it, first] = by_identity.emplace(std::move(identity), &route);
    if (!first) {
      diagnostics.error(route.pos, route.key,
                        "route is not unique: same from, path matcher and " + std::string(action) +
                            " as " + where(*it->second));
    }
  }
}

}  // namespace vallum::config
