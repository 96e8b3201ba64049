#include "upstream/http_fetch.h"

#include <memory>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "config/url.h"
#include "http/http1/client_codec.h"
#include "upstream/pool/connector.h"

// GCC 12 at -O2 reports -Wmismatched-new-delete on fetch()'s coroutine frame: a false
// positive with the class-specific operator new/delete asio gives coroutine frames.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace vallum::upstream {

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

// Header values we send come from the config and the identity provider; a CR or LF in one
// would split the request, so such a request is refused.
bool safeField(std::string_view s) { return s.find_first_of("\r\n") == std::string_view::npos; }

/// getaddrinfo on its own thread; the result comes back on the executor's thread via `post`.
asio::awaitable<std::vector<tcp::endpoint>> resolveOffThread(const PostToOwner& post,
                                                             std::string host, uint16_t port,
                                                             std::string& error) {
  using Result = std::pair<std::vector<tcp::endpoint>, std::string>;
  Result result = co_await asio::async_initiate<decltype(asio::use_awaitable), void(Result)>(
      [&post, host = std::move(host), port](auto handler) {
        // The mailbox takes copyable functions: the move-only handler rides in a shared_ptr.
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        std::thread([post, host, port, shared]() mutable {
          Result r;
          asio::io_context scratch;
          tcp::resolver resolver(scratch);
          boost::system::error_code ec;
          auto found = resolver.resolve(host, std::to_string(port), ec);
          if (ec) {
            r.second = ec.message();
          } else {
            for (const auto& entry : found) {
              r.first.push_back(entry.endpoint());
            }
          }
          post([shared, r = std::move(r)]() mutable { std::move (*shared)(std::move(r)); });
        }).detach();
      },
      asio::use_awaitable);
  error = std::move(result.second);
  co_return std::move(result.first);
}

FetchResponse failure(std::string why) {
  FetchResponse r;
  r.error = std::move(why);
  return r;
}

}  // namespace

asio::awaitable<FetchResponse> fetch(asio::any_io_executor executor, const PostToOwner& post,
                                     const FetchRequest& request, const tls::ClientContext* tls,
                                     std::chrono::milliseconds timeout, size_t max_body) {
  auto parts = config::splitUrl(request.url);
  if (!parts || parts->host.empty() || (parts->scheme != "http" && parts->scheme != "https")) {
    co_return failure("bad URL " + request.url);
  }
  const bool https = parts->scheme == "https";
  if (https && tls == nullptr) {
    co_return failure("no TLS context for " + request.url);
  }
  const uint16_t port = parts->port.value_or(https ? 443 : 80);
  std::string target = parts->path.empty() ? "/" : parts->path;
  if (!parts->query.empty()) {
    target += '?';
    target += parts->query;
  }
  std::string head = request.method + " " + target + " HTTP/1.1\r\nHost: " + parts->authority +
                     "\r\nConnection: close\r\nUser-Agent: vallum\r\n";
  for (const auto& [name, value] : request.headers) {
    if (!safeField(name) || !safeField(value)) {
      co_return failure("header with a line break");
    }
    head += name + ": " + value + "\r\n";
  }
  if (!request.body.empty() || request.method == "POST") {
    head += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  }
  head += "\r\n";
  head += request.body;

  // One deadline for the whole exchange: it closes the socket, which ends every operation.
  tcp::socket socket(executor);
  asio::steady_timer deadline(executor, timeout);
  bool timed_out = false;
  deadline.async_wait([&](boost::system::error_code ec) {
    if (!ec) {
      timed_out = true;
      boost::system::error_code ignored;
      socket.close(ignored);
    }
  });
  struct CancelOnExit {
    asio::steady_timer& t;
    ~CancelOnExit() { t.cancel(); }
  } cancel_on_exit{deadline};

  std::vector<tcp::endpoint> endpoints;
  boost::system::error_code literal_ec;
  const auto literal = asio::ip::make_address(parts->host, literal_ec);
  if (!literal_ec) {
    endpoints.emplace_back(literal, port);
  } else {
    std::string resolve_error;
    endpoints = co_await resolveOffThread(post, parts->host, port, resolve_error);
    if (endpoints.empty()) {
      co_return failure("resolve " + parts->host + ": " +
                        (resolve_error.empty() ? "no address" : resolve_error));
    }
  }
  std::unique_ptr<pool::TlsClientStream> tls_stream;
  std::optional<pool::ConnectFailure> failed;
  for (const tcp::endpoint& endpoint : endpoints) {
    pool::ConnectTarget connect_target;
    connect_target.address = endpoint;
    connect_target.tls = https ? tls : nullptr;
    std::string server_name = parts->host;
    connect_target.server_name = server_name;
    boost::system::error_code ignored;
    socket.close(ignored);
    failed = co_await pool::connectTransport(socket, tls_stream, connect_target);
    if (!failed || timed_out) {
      break;
    }
  }
  if (timed_out) {
    co_return failure("timeout");
  }
  if (failed) {
    co_return failure(
        std::string(failed->stage == pool::ConnectFailure::Stage::Tls ? "tls: " : "connect: ") +
        failed->ec.message());
  }
  boost::system::error_code wec;
  if (tls_stream) {
    std::tie(wec, std::ignore) = co_await asio::async_write(*tls_stream, asio::buffer(head), kUse);
  } else {
    std::tie(wec, std::ignore) = co_await asio::async_write(socket, asio::buffer(head), kUse);
  }
  if (wec) {
    co_return failure(timed_out ? "timeout" : "write: " + wec.message());
  }
  http::http1::ClientCodec codec;
  codec.reset(request.method == "HEAD");
  FetchResponse out;
  std::vector<std::string_view> pieces;
  std::string buffer(16 * 1024, '\0');
  for (;;) {
    boost::system::error_code rec2;
    size_t n = 0;
    if (tls_stream) {
      std::tie(rec2, n) = co_await tls_stream->async_read_some(asio::buffer(buffer), kUse);
    } else {
      std::tie(rec2, n) = co_await socket.async_read_some(asio::buffer(buffer), kUse);
    }
    if (n == 0 || rec2) {
      if (timed_out) {
        co_return failure("timeout");
      }
      if (!codec.finish()) {
        co_return failure("response truncated");
      }
      break;
    }
    std::string_view data(buffer.data(), n);
    while (!data.empty()) {
      pieces.clear();
      http::http1::ParseEvents ev = codec.dispatch(data, pieces);
      for (std::string_view p : pieces) {
        out.body.append(p);
      }
      if (ev.error_status != 0) {
        co_return failure(std::string("bad response: ") + ev.error_reason);
      }
      if (out.body.size() > max_body) {
        co_return failure("response too large");
      }
      data.remove_prefix(ev.consumed);
      if (ev.message_complete) {
        data = {};
      }
      if (ev.consumed == 0) {
        break;
      }
    }
    if (codec.parser().messageComplete()) {
      break;
    }
  }
  out.status = codec.response().status;
  if (auto ct = codec.response().headers.get("content-type")) {
    out.content_type = std::string(*ct);
  }
  co_return out;
}

}  // namespace vallum::upstream
