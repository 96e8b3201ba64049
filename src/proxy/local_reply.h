#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/message.h"

/// Responses the proxy writes itself (errors, denials, internal endpoints), rendered the way
/// Pomerium's local-reply templates are: an HTML page by default, JSON
/// {"requestId","status","statusText"} (status as a string) when the client prefers
/// application/json, plain text when it prefers text/plain (Pomerium's envoyconfig/local_reply.go).
namespace vallum::proxy {

enum class ReplyFormat { Html, Json, Plain };

/// The best of text/html, application/json and text/plain for an Accept header (RFC 9110
/// §12.5.1): each candidate takes the q of the most specific range that matches it; the
/// highest q wins; at equal q a type the client named beats one matched only by a wildcard
/// (so axios' "application/json, text/plain, */*" gets JSON), then the order above (so "*/*"
/// gets HTML, as in Pomerium). Missing, unparsable or nothing acceptable → Html.
ReplyFormat negotiateReplyFormat(std::optional<std::string_view> accept);

/// Whether a request's Content-Type makes it a gRPC call: `application/grpc` alone or followed by
/// `+` (application/grpc+proto) or `;`, in any case (Envoy's Grpc::Common::hasGrpcContentType).
/// gRPC-Web (`application/grpc-web…`) is not.
bool isGrpcContentType(std::optional<std::string_view> content_type);

/// The grpc-status of a local reply to a gRPC call, from its HTTP status: gRPC's HTTP mapping as
/// Envoy applies it (400 INTERNAL, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404
/// UNIMPLEMENTED, 429/502/503 UNAVAILABLE, anything else UNKNOWN), except 504, which Vallum only
/// answers when a timeout fired: DEADLINE_EXCEEDED (docs/decisions.md, gRPC).
int grpcStatusForHttpStatus(int http_status);

/// A response Vallum gives itself (an error, a denial, a redirect, a direct response, an
/// internal endpoint's answer): what a stage fills in to end the stream. The codec renders it
/// (HTTP/1 text or HTTP/2 frames) through composeLocalReply().
struct LocalReply {
  /// An error page (HTML/JSON/plain by Accept), a fixed body (/ping, a route's `response`, a
  /// reflected TRACE), or a redirect (status and Location, empty body).
  enum class Kind : uint8_t { ErrorPage, Text, Redirect } kind = Kind::ErrorPage;
  int status = 0;
  /// Why, shown on error pages ("upstream request timeout").
  std::string_view details;
  /// The rest of the request will not be read (framing errors, a reply before the body):
  /// HTTP/1 closes the connection after the reply, HTTP/2 resets the request side.
  bool close = false;
  std::string_view location;      ///< Location (redirects)
  std::string_view allow;         ///< Allow (405, OPTIONS)
  std::string_view body;          ///< Kind::Text
  std::string_view content_type;  ///< Kind::Text with a body; empty → text/plain; charset=utf-8
  /// When set, the server logs it with the reply (why a request was refused, with details the
  /// client is not shown, such as route names).
  std::string_view log_reason;
  /// Further fields (Set-Cookie, …), after the standard ones.
  http::HeaderList headers;

  void clear() {
    kind = Kind::ErrorPage;
    status = 0;
    details = location = allow = body = content_type = log_reason = {};
    close = false;
    headers.clear();
  }
};

/// What composing a local reply needs besides the reply itself.
struct LocalReplyContext {
  ReplyFormat format = ReplyFormat::Html;
  std::string_view request_id;
  std::string_view date;  ///< IMF-fixdate
  /// The request is a gRPC call (isGrpcContentType of its Content-Type): an error page becomes a
  /// gRPC trailers-only response instead (see composeLocalReply).
  bool grpc = false;
  /// set_response_headers to add (the route's, else the global set); may be null.
  const std::vector<std::pair<std::string, std::string>>* response_headers = nullptr;
};

/// Composes the response head into `out` (cleared first) and the body into `body` (appended).
/// `out` borrows from `reply`, `context` and `body`: they must outlive its encoding.
/// Error pages carry `x-pomerium-intercepted-response: true` and `x-request-id`, as
/// Pomerium's; every reply carries `date` and the set_response_headers. 204/304 have no body
/// and no Content-Length (RFC 9110 §8.6).
/// An error page for a gRPC call (context.grpc) keeps its HTTP status but has no body: it is a
/// trailers-only response (`content-type: application/grpc`, `grpc-status` from
/// grpcStatusForHttpStatus(), `grpc-message` = the details, else the reason phrase,
/// percent-encoded as gRPC requires), which the codec sends as one HEADERS frame with END_STREAM.
void composeLocalReply(const LocalReply& reply, const LocalReplyContext& context,
                       http::OutgoingResponse& out, std::string& body);

}  // namespace vallum::proxy
