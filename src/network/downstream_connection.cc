#include "network/downstream_connection.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <openssl/ssl.h>

namespace vallum::network {

namespace {
constexpr auto kUse = boost::asio::as_tuple(boost::asio::use_awaitable);
}  // namespace

boost::asio::awaitable<boost::system::error_code> DownstreamConnection::handshake() {
  auto [ec] = co_await tls_->async_handshake(boost::asio::ssl::stream_base::server, kUse);
  if (!ec) {
    const unsigned char* data = nullptr;
    unsigned int size = 0;
    SSL_get0_alpn_selected(tls_->native_handle(), &data, &size);
    alpn_.assign(reinterpret_cast<const char*>(data), size);
  }
  co_return ec;
}

boost::asio::awaitable<void> DownstreamConnection::lingeringClose(
    boost::asio::mutable_buffer scratch, size_t max_discard) {
  if (tls_) {
    // close_notify, then wait (bounded by the caller's deadline) for the peer's.
    auto [ec] = co_await tls_->async_shutdown(kUse);
    (void)ec;
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
