#include "config/route_action_decoder.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "common/strings.h"
#include "config/diagnostics.h"
#include "config/unknown_key.h"

namespace vallum::config {

namespace {

using yaml::childKey;

constexpr std::string_view kRedirectKeys[] = {
    "https_redirect", "scheme_redirect", "host_redirect", "port_redirect",
    "path_redirect",  "prefix_rewrite",  "response_code", "strip_query",
};
constexpr std::string_view kResponseKeys[] = {"status", "body"};

}  // namespace

std::optional<RedirectAction> decodeRedirect(const yaml::Node& v, const std::string& key,
                                             ValueReader& r) {
  if (!v.isMap()) {
    r.error(v.mark, key, "expected a mapping, got " + yaml::describe(v));
    return std::nullopt;
  }
  RedirectAction action;
  for (const yaml::Entry& e : v.entries) {
    std::string k = childKey(key, e.key);
    const yaml::Node& n = e.value;
    if (std::find(std::begin(kRedirectKeys), std::end(kRedirectKeys), e.key) ==
        std::end(kRedirectKeys)) {
      reportUnknownKey(r, e, k, "redirect option", kRedirectKeys);
      continue;
    }
    if (n.isNull()) {
      continue;
    }
    if (e.key == "https_redirect" || e.key == "strip_query") {
      if (auto b = r.readBool(n, k)) {
        (e.key == "https_redirect" ? action.https_redirect : action.strip_query) = *b;
        if (e.key == "https_redirect") {
          action.https_redirect_set = true;
        }
      }
    } else if (e.key == "scheme_redirect") {
      if (auto str = r.readString(n, k)) {
        std::string scheme = strings::lowerAscii(*str);
        bool valid = !scheme.empty() && scheme[0] >= 'a' && scheme[0] <= 'z' &&
                     scheme.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789+-.") ==
                         std::string::npos;
        if (!str->empty() && !valid) {
          r.error(n.mark, k, "invalid scheme " + quoted(*str));
        }
        action.scheme_redirect = std::move(scheme);
      }
    } else if (e.key == "host_redirect") {
      if (auto str = r.readString(n, k)) {
        if (str->find_first_of("/?# ") != std::string::npos) {
          r.error(n.mark, k, "host_redirect is a host[:port], got " + quoted(*str));
        }
        action.host_redirect = std::move(*str);
      }
    } else if (e.key == "port_redirect") {
      if (auto port = r.readInt(n, k)) {
        if (*port < 0 || *port > 65535) {
          r.error(n.mark, k, "port must be between 0 and 65535, got " + std::to_string(*port));
        } else if (*port != 0) {  // 0 means unset (proto3 default)
          action.port_redirect = uint32_t(*port);
        }
      }
    } else if (e.key == "path_redirect" || e.key == "prefix_rewrite") {
      if (auto str = r.readString(n, k)) {
        if (!str->empty() && (*str)[0] != '/') {
          r.error(n.mark, k, "must start with \"/\", got " + quoted(*str));
        }
        if (!str->empty()) {
          (e.key == "path_redirect" ? action.path_redirect : action.prefix_rewrite) =
              std::move(*str);
        }
      }
    } else if (e.key == "response_code") {
      if (auto code = r.readInt(n, k)) {
        if (*code != 301 && *code != 302 && *code != 303 && *code != 307 && *code != 308) {
          r.error(n.mark, k,
                  "unsupported redirect response code " + std::to_string(*code) +
                      " (supported values: 301, 302, 303, 307, 308)");
        } else {
          action.response_code = int(*code);
        }
      }
    }
  }
  if (action.path_redirect && action.prefix_rewrite) {
    r.warning(v.mark, key, "path_redirect and prefix_rewrite are both set: path_redirect wins");
  }
  if (action.https_redirect_set && !action.scheme_redirect.empty()) {
    r.warning(v.mark, key,
              "https_redirect and scheme_redirect are both set: https_redirect wins (even "
              "when false, as in Pomerium, which then keeps the request's scheme)");
  }
  return action;
}

std::optional<DirectResponse> decodeResponse(const yaml::Node& v, const std::string& key,
                                             ValueReader& r) {
  if (!v.isMap()) {
    r.error(v.mark, key, "expected a mapping with status and body, got " + yaml::describe(v));
    return std::nullopt;
  }
  DirectResponse response;
  bool has_status = false;
  for (const yaml::Entry& e : v.entries) {
    std::string k = childKey(key, e.key);
    if (e.key != "status" && e.key != "body") {
      reportUnknownKey(r, e, k, "response option", kResponseKeys);
      continue;
    }
    if (e.value.isNull()) {
      continue;
    }
    if (e.key == "status") {
      if (auto status = r.readInt(e.value, k)) {
        if (*status < 200 || *status > 599) {
          r.error(e.value.mark, k,
                  "status must be between 200 and 599, got " + std::to_string(*status));
        } else {
          response.status = int(*status);
          has_status = true;
        }
      }
    } else {
      if (auto body = r.readString(e.value, k)) {
        response.body = std::move(*body);
      }
    }
  }
  if (!has_status && v.find("status") == nullptr) {
    r.error(v.mark, key, "missing status");
  }
  if ((response.status == 204 || response.status == 304) && !response.body.empty()) {
    r.warning(v.mark, childKey(key, "body"),
              "a " + std::to_string(response.status) +
                  " response has no body (RFC 9110 §15.3.5, §15.4.5): the body is not sent");
  }
  return response;
}

}  // namespace vallum::config
