#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <cstring>

#include "network/downstream_connection.h"
#include "proxy/active_stream.h"
#include "network/tunnel.h"
#include "upstream/pool/upstream_connection.h"

/// The sides of a tunnel as network::TunnelEnd: the client's connection (TLS or not; an
/// HTTP/1.1 upgrade or CONNECT), the client's HTTP/2 stream (a CONNECT, RFC 9113 §8.5: DATA
/// frames both ways with flow control, END_STREAM for the end), and the upstream connection.
/// Worker thread.
namespace vallum::proxy {

class DownstreamTunnelEnd final : public network::TunnelEnd {
 public:
  explicit DownstreamTunnelEnd(network::DownstreamConnection& connection)
      : connection_(connection) {}
  /// TLS may hold decrypted bytes the socket no longer shows.
  boost::asio::awaitable<bool> waitReadable() override {
    if (connection_.tlsPending()) {
      co_return true;
    }
    auto [ec] = co_await connection_.socket().async_wait(
        boost::asio::ip::tcp::socket::wait_read, boost::asio::as_tuple(boost::asio::use_awaitable));
    co_return !ec;
  }
  boost::asio::awaitable<size_t> readSome(boost::asio::mutable_buffer buffer) override {
    auto [ec, n] = co_await connection_.asyncReadSome(
        buffer, boost::asio::as_tuple(boost::asio::use_awaitable));
    co_return ec ? 0 : n;
  }
  boost::asio::awaitable<bool> writeAll(boost::asio::const_buffer buffer) override {
    const boost::asio::const_buffer one[1] = {buffer};
    auto [ec, n] = co_await connection_.asyncWrite(
        network::BufferSpan{one, one + 1}, boost::asio::as_tuple(boost::asio::use_awaitable));
    co_return !ec;
  }
  void shutdownWrite() override { connection_.shutdownWrite(); }
  void cancel() override { connection_.cancel(); }

 private:
  network::DownstreamConnection& connection_;
};

class Http2StreamTunnelEnd final : public network::TunnelEnd {
 public:
  explicit Http2StreamTunnelEnd(ActiveStream& stream) : stream_(stream) {}
  /// The client's DATA as it arrives (its window reopens as bytes are taken); 0 at its
  /// END_STREAM, a reset or once cancelled.
  boost::asio::awaitable<size_t> readSome(boost::asio::mutable_buffer buffer) override {
    for (;;) {
      const std::string_view queued = stream_.bodyQueued();
      if (!queued.empty()) {
        const size_t n = std::min(queued.size(), buffer.size());
        std::memcpy(buffer.data(), queued.data(), n);
        stream_.consumeBody(n);
        co_return n;
      }
      if (stream_.requestComplete()) {
        co_return 0;
      }
      const bool more = co_await stream_.waitBody();
      if (!more && stream_.bodyQueued().empty()) {
        co_return 0;
      }
    }
  }
  /// DATA to the client (the codec copies it); waits while the stream's queue is over its
  /// watermark (the client's window drains it).
  boost::asio::awaitable<bool> writeAll(boost::asio::const_buffer buffer) override {
    stream_.sendData(std::string_view(static_cast<const char*>(buffer.data()), buffer.size()),
                     false);
    auto [ec, n] = co_await stream_.flush(boost::asio::as_tuple(boost::asio::use_awaitable));
    co_return !ec;
  }
  void shutdownWrite() override { stream_.endResponseBody(); }
  void cancel() override { stream_.stopBodyWait(); }

 private:
  ActiveStream& stream_;
};

class UpstreamTunnelEnd final : public network::TunnelEnd {
 public:
  explicit UpstreamTunnelEnd(upstream::pool::UpstreamConnection& connection)
      : connection_(connection) {}
  /// Plain connections wait for readability without a buffer; TLS ones (asio's engine may
  /// hold decrypted bytes) read with it.
  boost::asio::awaitable<bool> waitReadable() override {
    if (connection_.tls) {
      co_return true;
    }
    auto [ec] = co_await connection_.socket.async_wait(
        boost::asio::ip::tcp::socket::wait_read, boost::asio::as_tuple(boost::asio::use_awaitable));
    co_return !ec;
  }
  boost::asio::awaitable<size_t> readSome(boost::asio::mutable_buffer buffer) override {
    constexpr auto kUse = boost::asio::as_tuple(boost::asio::use_awaitable);
    if (connection_.tls) {
      auto [ec, n] = co_await connection_.tls->async_read_some(buffer, kUse);
      co_return ec ? 0 : n;
    }
    auto [ec, n] = co_await connection_.socket.async_read_some(buffer, kUse);
    co_return ec ? 0 : n;
  }
  boost::asio::awaitable<bool> writeAll(boost::asio::const_buffer buffer) override {
    constexpr auto kUse = boost::asio::as_tuple(boost::asio::use_awaitable);
    if (connection_.tls) {
      auto [ec, n] = co_await boost::asio::async_write(*connection_.tls, buffer, kUse);
      co_return !ec;
    }
    auto [ec, n] = co_await boost::asio::async_write(connection_.socket, buffer, kUse);
    co_return !ec;
  }
  /// A TCP half-close, also under TLS (close_notify would need a write the stream does not
  /// wait for; the upstream sees the end of the stream either way).
  void shutdownWrite() override {
    boost::system::error_code ignored;
    connection_.socket.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
  }
  void cancel() override {
    boost::system::error_code ignored;
    connection_.socket.cancel(ignored);
  }

 private:
  upstream::pool::UpstreamConnection& connection_;
};

}  // namespace vallum::proxy
