#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "tls/client_context.h"

/// One-shot HTTP/1.1 requests to a service that is not a route's upstream: the identity
/// provider's discovery document, JWKS and token endpoint (OpenID Connect Core §3.1.3).
/// Each call opens its own connection (`Connection: close`), so nothing is pooled or shared
/// between workers.
namespace vallum::upstream {

struct FetchRequest {
  std::string method = "GET";
  std::string url;  ///< absolute http:// or https:// URL
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  ///< sent with Content-Length when not empty (or when method is POST)
};

struct FetchResponse {
  int status = 0;  ///< 0 when the exchange failed (see error)
  std::string content_type;
  std::string body;
  std::string error;  ///< why it failed: "connect: ...", "timeout", "response too large", ...
};

/// Runs `fn` on the thread that owns the executor, from any thread (a worker's mailbox):
/// host names are resolved on a short-lived thread (getaddrinfo blocks) that hands the result
/// back through it. IP literals need no resolving.
using PostToOwner = std::function<void(std::function<void()>)>;

/// Runs one request on the calling worker's executor: resolves the host, connects (TLS with
/// `tls`, which verifies the server's name, for https://), writes the request, reads the whole
/// response (at most `max_body` bytes of body, else an error). The whole exchange is bounded by
/// `timeout`. Never throws; failures come back in FetchResponse::error with status 0.
boost::asio::awaitable<FetchResponse> fetch(boost::asio::any_io_executor executor,
                                            const PostToOwner& post, const FetchRequest& request,
                                            const tls::ClientContext* tls,
                                            std::chrono::milliseconds timeout,
                                            size_t max_body = 1 << 20);

}  // namespace vallum::upstream
