#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

/// Responses the proxy writes itself (errors, denials, internal endpoints), rendered the way
/// Pomerium's local-reply templates are: an HTML page by default, JSON
/// {"requestId","status","statusText"} (status as a string) when the client prefers
/// application/json, plain text when it prefers text/plain (spec pomerium-routes.md §3.1).
namespace vallum::proxy {

enum class ReplyFormat { Html, Json, Plain };

/// The best of text/html, application/json and text/plain for an Accept header (RFC 9110
/// §12.5.1): each candidate takes the q of the most specific range that matches it; the
/// highest q wins; at equal q a type the client named beats one matched only by a wildcard
/// (so axios' "application/json, text/plain, */*" gets JSON), then the order above (so "*/*"
/// gets HTML, as in Pomerium). Missing, unparsable or nothing acceptable → Html.
ReplyFormat negotiateReplyFormat(std::optional<std::string_view> accept);

struct LocalReply {
  int status = 500;
  /// Why, shown on the page and in plain text ("upstream request timeout").
  std::string_view details;
  std::string_view request_id;
  /// Adds "Connection: close" (the connection closes after this reply).
  bool close = false;
  /// HEAD request: headers only (Content-Length still describes the body).
  bool head_request = false;
  /// Allow header value for 405.
  std::string_view allow;
  /// Location header value for redirects.
  std::string_view location;
  /// renderTextResponse: the body's media type (empty → text/plain; charset=utf-8).
  std::string_view content_type;
  /// set_response_headers to add (the route's, else the global set); may be null.
  const std::vector<std::pair<std::string, std::string>>* headers = nullptr;
};

/// Appends the whole response (status line, headers, body) to `out`. `date` is an IMF-fixdate.
void renderLocalReply(const LocalReply& reply, ReplyFormat format, std::string_view date,
                      std::string& out);

/// Appends a response with a fixed plain-text body (/ping's "OK\n", a route's direct
/// `response`) or, with an empty body, no content type (a redirect: status and Location).
/// Uses status, close, head_request, location and headers of `reply`.
void renderTextResponse(const LocalReply& reply, std::string_view body, std::string_view date,
                        std::string& out);

}  // namespace vallum::proxy
