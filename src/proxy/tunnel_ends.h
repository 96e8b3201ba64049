#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "network/downstream_connection.h"
#include "network/tunnel.h"
#include "upstream/pool/upstream_connection.h"

/// The two sides of an upgraded connection as network::TunnelEnd: the client's connection
/// (TLS or not) and the upstream connection that answered `101`. Worker thread.
namespace vallum::proxy {

class DownstreamTunnelEnd final : public network::TunnelEnd {
 public:
  explicit DownstreamTunnelEnd(network::DownstreamConnection& connection)
      : connection_(connection) {}
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

class UpstreamTunnelEnd final : public network::TunnelEnd {
 public:
  explicit UpstreamTunnelEnd(upstream::pool::UpstreamConnection& connection)
      : connection_(connection) {}
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
