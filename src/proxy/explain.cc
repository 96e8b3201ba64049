#include "proxy/explain.h"

#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "http/http1/parser.h"
#include "http/path.h"
#include "proxy/sign_in_flow.h"
#include "proxy/stages/stage_chain.h"

namespace vallum::proxy {

namespace {

using json = nlohmann::ordered_json;
using HeaderList = std::vector<std::pair<std::string, std::string>>;

std::string describeFrom(const config::Route& route) {
  std::string out = "host " + route.from.host;
  out += route.from.wildcard ? " (wildcard)" : "";
  out += route.from.port ? " on port " + std::to_string(*route.from.port) : " on any port";
  return out;
}

std::string describePathMatch(const RouteRuntime& route, std::string_view path) {
  const config::Route& r = *route.config;
  if (!r.regex.empty()) {
    return "regex \"" + r.regex + "\" fully matches \"" + std::string(path) + "\"";
  }
  if (!r.path.empty()) {
    return "path \"" + r.path + "\" equals \"" + std::string(path) + "\"";
  }
  if (r.prefix.empty()) {
    return "no path specifier (prefix \"/\" matches every path)";
  }
  return "prefix \"" + r.prefix + "\" starts \"" + std::string(path) + "\"";
}

/// The upstream request's fields as an HTTP/1.1 upstream gets them: Host, the composed
/// fields, then the framing field.
HeaderList upstreamFields(const http::OutgoingRequest& request) {
  HeaderList out = {{"Host", std::string(request.authority)}};
  for (size_t i = 0; i < request.headers.size(); ++i) {
    out.emplace_back(std::string(request.headers.name(i)), std::string(request.headers.value(i)));
  }
  if (request.framing == http::BodyFraming::ContentLength) {
    out.emplace_back("Content-Length", std::to_string(request.content_length));
  } else if (request.framing == http::BodyFraming::Chunked) {
    out.emplace_back("Transfer-Encoding", "chunked");
  } else if (request.announce_empty_body) {
    out.emplace_back("Content-Length", "0");
  }
  return out;
}

json headersJson(const HeaderList& headers) {
  json out = json::array();
  for (const auto& [name, value] : headers) {
    out.push_back(json::array({name, value}));
  }
  return out;
}

bool containsField(const HeaderList& list, const std::string& name, const std::string& value) {
  for (const auto& [n, v] : list) {
    if (strings::iequals(n, name) && v == value) {
      return true;
    }
  }
  return false;
}

bool containsName(const HeaderList& list, const std::string& name) {
  for (const auto& [n, v] : list) {
    if (strings::iequals(n, name)) {
      return true;
    }
  }
  return false;
}

}  // namespace

ExplainResult explainRequest(const Snapshot& snapshot, const ExplainRequest& request) {
  ExplainResult result;
  http::RequestTarget url;
  if (!http::parseRequestTarget(request.url, url) || !url.absolute_form) {
    result.error = "expected an absolute http(s) URL, got \"" + request.url + "\"";
    return result;
  }
  if (!strings::isToken(request.method)) {
    result.error = "invalid method \"" + request.method + "\"";
    return result;
  }
  // The request as a client would send it (origin-form target, Host from the URL).
  std::string target(url.path);
  if (url.has_query) {
    target += '?';
    target += url.query;
  }
  std::string wire = request.method + " " + target + " HTTP/1.1\r\nHost: " + std::string(url.authority) +
                     "\r\n";
  HeaderList client = {{"Host", std::string(url.authority)}};
  for (const auto& [name, value] : request.headers) {
    wire += name + ": " + value + "\r\n";
    client.emplace_back(name, value);
  }
  const int64_t now = unixNow();
  if (request.identity) {
    // Not in `client`: the session cookie is the tool's, not the caller's header.
    const std::string cookie = explainSessionCookie(snapshot, *request.identity, now);
    if (!cookie.empty()) {
      wire += "Cookie: " + cookie + "\r\n";
    }
  }
  wire += "\r\n";

  http::http1::RequestParser parser;
  std::vector<std::string_view> body;
  http::http1::ParseEvents ev = parser.execute(wire, body);
  json doc;
  doc["request"] = {{"method", request.method}, {"url", request.url}};
  if (ev.error_status != 0) {
    doc["route"] = nullptr;
    doc["result"] = "reply";
    doc["status"] = ev.error_status;
    doc["reason"] = std::string("the request is malformed: ") + ev.error_reason;
    result.json = doc.dump(2);
    return result;
  }

  StreamContext ctx;
  ctx.reset(&snapshot, !snapshot.options.insecure_server, &parser.head());
  ctx.client_ip = "<client-ip>";
  ctx.request_id = "<request-id>";
  const StageStatus decision = runStages(ctx);
  doc["request"]["host"] = ctx.host;
  doc["request"]["port"] = ctx.port;
  doc["request"]["path"] = std::string(ctx.path);
  doc["request"]["query"] = ctx.target.has_query ? json(std::string(ctx.target.query)) : json(nullptr);

  if (ctx.route == nullptr) {
    doc["route"] = nullptr;
    if (ctx.reply.status == 404 && ctx.reply.details == "route not found") {
      doc["result"] = "no_route";
      doc["status"] = 404;
      doc["reason"] = snapshot.table.hasConcreteRoutes(ctx.host, ctx.port)
                          ? "host " + ctx.host + " has routes of its own and none matches path \"" +
                                std::string(ctx.path) +
                                "\" (wildcard routes are not consulted for it)"
                          : "no route for host " + ctx.host + " on port " +
                                std::to_string(ctx.port);
    } else {
      doc["result"] = "reply";
      doc["status"] = ctx.reply.status;
      doc["reason"] = std::string(ctx.reply.details);
    }
    doc["response_headers"] = headersJson(snapshot.response_headers);
    if (request.identity) {
      describeIdentity(snapshot, ctx, *request.identity, now, doc);
    }
    result.json = doc.dump(2);
    return result;
  }

  result.route_matched = true;
  const RouteRuntime& route = *ctx.route;
  const config::Route& cfg = *route.config;
  doc["route"] = {{"index", ctx.route_index},
                  {"key", cfg.key},
                  {"name", cfg.name.empty() ? json() : json(cfg.name)},
                  {"metrics_name", route.log_name},  // the label of its Prometheus series
                  {"from", cfg.from.raw},
                  {"line", cfg.pos.line},
                  {"why", describeFrom(cfg) + "; " + describePathMatch(route, ctx.path)}};
  doc["response_headers"] = headersJson(route.response_headers);

  if (decision == StageStatus::LocalReply) {
    switch (ctx.reply.kind) {
      case LocalReply::Kind::Redirect:
        doc["result"] = "redirect";
        doc["status"] = ctx.reply.status;
        doc["location"] = std::string(ctx.reply.location);
        break;
      case LocalReply::Kind::Text:
        doc["result"] = "response";
        doc["status"] = ctx.reply.status;
        doc["body"] = std::string(ctx.reply.body);
        break;
      case LocalReply::Kind::ErrorPage:
        doc["result"] = ctx.reply.status == 403 ? "deny" : "reply";
        doc["status"] = ctx.reply.status;
        doc["reason"] = std::string(ctx.reply.details);
        break;
    }
    if (request.identity) {
      describeIdentity(snapshot, ctx, *request.identity, now, doc);
    }
    result.json = doc.dump(2);
    return result;
  }

  doc["result"] = "forward";
  json endpoints = json::array();
  for (const upstream::Endpoint& ep : route.cluster.endpoints) {
    endpoints.push_back({{"authority", ep.authority}, {"weight", ep.weight}});
  }
  json upstream = {{"endpoints", endpoints}};
  if (!route.cluster.endpoints.empty()) {
    const upstream::Endpoint& endpoint = route.cluster.endpoints.front();
    http::OutgoingRequest& out = ctx.upstream;
    if (route.host_rewrite == RouteRuntime::HostRewrite::Endpoint) {
      out.authority = endpoint.authority;
    }
    HeaderList headers = upstreamFields(out);
    if (request.identity) {
      hideSignedAssertion(ctx, headers);
    }
    const std::string request_line = std::string(out.method) + " " + out.path + " HTTP/1.1";
    json added = json::array();
    for (const auto& [name, value] : headers) {
      if (!containsField(client, name, value)) {
        added.push_back(json::array({name, value}));
      }
    }
    json removed = json::array();
    for (const auto& [name, value] : client) {
      if (!containsName(headers, name)) {
        removed.push_back(name);
      }
    }
    const std::string scheme = cfg.to.empty() ? "http" : cfg.to.front().scheme;
    upstream["endpoint"] = endpoint.authority;
    upstream["request_line"] = request_line;
    upstream["url"] = scheme + "://" + endpoint.authority + out.path;
    upstream["host"] = std::string(out.authority);
    upstream["headers"] = headersJson(headers);
    upstream["added"] = added;
    upstream["removed"] = removed;
  }
  doc["upstream"] = upstream;
  if (request.identity) {
    describeIdentity(snapshot, ctx, *request.identity, now, doc);
  }
  result.json = doc.dump(2);
  return result;
}

}  // namespace vallum::proxy
