// The forward step after a `101 Switching Protocols`: the client's connection and the upstream
// connection become one byte tunnel (Envoy's upgrade handling; Pomerium allow_websockets,
// allow_spdy, allow_upgrades).

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/logging.h"
#include "network/tunnel.h"
#include "upstream/pool/connector.h"
#include "proxy/active_stream.h"
#include "proxy/forward.h"
#include "proxy/tunnel_ends.h"

namespace vallum::proxy {

boost::asio::awaitable<void> Forwarder::runTunnel(upstream::pool::UpstreamConnection& conn) {
  stream_.enterTunnel();
  // The client's side: its connection (HTTP/1.1), or its stream (an HTTP/2 CONNECT).
  std::optional<DownstreamTunnelEnd> connection;
  std::optional<Http2StreamTunnelEnd> h2_stream;
  network::TunnelEnd* client_end = nullptr;
  if (stream_.request().http2()) {
    client_end = &h2_stream.emplace(stream_);
  } else {
    client_end = &connection.emplace(stream_.downstream());
  }
  network::TunnelEnd& client = *client_end;
  UpstreamTunnelEnd origin(conn);
  ExchangeFacts& facts = stream_.facts();
  // What either side sent ahead of the tunnel: the upstream's bytes after its 101 head (a
  // server that speaks first), the client's after its request head.
  const std::string_view early_upstream = conn.buffer.readable();
  if (!early_upstream.empty()) {
    const bool ok = co_await client.writeAll(boost::asio::buffer(early_upstream));
    facts.bytes_out += early_upstream.size();
    conn.buffer.consume(early_upstream.size());
    if (!ok) {
      co_return;
    }
  }
  conn.buffer.release();  // the tunnel reads the upstream socket itself from here
  if (!stream_.request().http2()) {
    const std::string_view early_client = stream_.unreadInput();
    bool ok = true;
    if (!early_client.empty()) {
      ok = co_await origin.writeAll(boost::asio::buffer(early_client));
      facts.bytes_in += early_client.size();
    }
    stream_.dropUnreadInput();
    if (!ok) {
      co_return;
    }
  }
  network::TunnelOptions options;
  options.idle_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
      stream_.ctx().route->tunnel_idle_timeout);
  const network::TunnelResult result = co_await network::runTunnel(client, origin, options);
  facts.bytes_in += result.bytes_a_to_b;
  facts.bytes_out += result.bytes_b_to_a;
  if (result.idle_timeout) {
    VALLUM_LOG_INFO("tunnel to {} for {}{} closed: idle_timeout ({} ms without traffic)",
                    endpoint_->address_text, stream_.ctx().host, stream_.ctx().path,
                    options.idle_timeout.count());
  } else if (stream_.expired() != Expiry::None) {
    VALLUM_LOG_INFO("tunnel to {} for {}{} closed: max stream duration (timeout_write)",
                    endpoint_->address_text, stream_.ctx().host, stream_.ctx().path);
  }
}

boost::asio::awaitable<Step> Forwarder::runConnect() {
  upstream::pool::UpstreamConnection conn(io_);
  upstream_ = &conn;
  upstream::pool::ConnectTarget target;
  target.address = endpoint_->address;
  stream_.setConnectDeadline(true);
  const std::optional<upstream::pool::ConnectFailure> failure =
      co_await upstream::pool::connectTransport(conn.socket, conn.tls, target);
  stream_.setConnectDeadline(false);
  if (failure) {
    upstream_ = nullptr;
    setConnectFailureReply(false, failure->ec);
    recordOutcome();
    co_return Step::Reply;
  }
  upstream_start_ = SteadyClock::now();
  setOutcome(upstream::RequestOutcome::Success);
  stream_.startTunnelResponse();
  auto [ec, n] = co_await stream_.flush(boost::asio::as_tuple(boost::asio::use_awaitable));
  if (!ec) {
    co_await runTunnel(conn);
  }
  recordOutcome();
  upstream_ = nullptr;
  boost::system::error_code ignored;
  conn.socket.close(ignored);
  co_return Step::Finish;
}

}  // namespace vallum::proxy
