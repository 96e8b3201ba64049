#include "network/downstream_connection.h"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <openssl/ssl.h>

namespace vallum::network {

namespace {
constexpr auto kUse = boost::asio::as_tuple(boost::asio::use_awaitable);
}  // namespace

void sendGoAwayWithoutWaiting(http::ServerCodec& session, int fd, TlsSocket& tls) {
  session.goAway();
  http::OutputPieces out;
  session.takeOutput(out);
  for (std::string_view bytes : out) {
    if (tls.isOpen()) {
      tls.writeStep(bytes.data(), bytes.size());
    } else {
      [[maybe_unused]] const ssize_t n =
          ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
  }
}

boost::asio::awaitable<boost::system::error_code> DownstreamConnection::handshake() {
  auto attempt = [this] { return tls_.handshakeStep(); };
  auto [ec, n] = co_await boost::asio::async_compose<decltype(kUse),
                                                     void(boost::system::error_code, size_t)>(
      TlsOperation<decltype(attempt)>(socket_, attempt), kUse, socket_);
  (void)n;
  if (!ec) {
    alpn_ = tls_.alpn();
  }
  co_return ec;
}

boost::asio::awaitable<void> DownstreamConnection::lingeringClose(
    boost::asio::mutable_buffer scratch, size_t max_discard) {
  if (tls_.isOpen()) {
    // close_notify, then wait (bounded by the caller's deadline) for the peer's.
    auto attempt = [this] { return tls_.shutdownStep(); };
    auto [ec, n] = co_await boost::asio::async_compose<decltype(kUse),
                                                       void(boost::system::error_code, size_t)>(
        TlsOperation<decltype(attempt)>(socket_, attempt), kUse, socket_);
    (void)ec;
    (void)n;
    co_return;
  }
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  size_t discarded = 0;
  while (!ec && discarded < max_discard) {
    auto [rec, n] = co_await socket_.async_read_some(scratch, kUse);
    if (rec || n == 0) {
      break;
    }
    discarded += n;
  }
}

}  // namespace vallum::network
