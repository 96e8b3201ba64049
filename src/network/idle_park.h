#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include <boost/asio/ip/tcp.hpp>

#include "network/connection_registry.h"
#include "network/tls_socket.h"

/// Where idle keep-alive connections wait for their next request without a connection manager.
/// An active connection holds a read buffer, a codec, a stream and coroutine frames (several
/// KB); a parked one holds its socket, its TLS state and the client's address — a few hundred
/// bytes, plus OpenSSL's SSL object for TLS (whose record buffers are released while idle:
/// SSL_MODE_RELEASE_BUFFERS). nginx does the same: an idle keep-alive connection gives its
/// request pool and buffers back (ngx_http_set_keepalive).
namespace vallum::network {

/// A connection between requests: what survives parking.
struct IdleConnection {
  boost::asio::ip::tcp::socket socket;
  TlsSocket tls;
  boost::asio::ip::tcp::endpoint peer;
};

/// One worker's parked connections. Each waits for readability (one reactor wait, no buffer);
/// readable → it leaves the park through `on_readable`, which gives it a connection manager
/// again. A parked connection is in the worker's ConnectionRegistry: it closes at its deadline
/// (the keep-alive idle timeout, `timeout_idle`) and when the worker drains. Worker thread
/// only.
class IdlePark {
 public:
  /// `on_readable` takes a connection with bytes to read (or a hang-up to notice); `on_closed`
  /// runs after a parked connection closed by deadline, drain or the client's hang-up (the
  /// worker checks whether a drain is complete).
  IdlePark(ConnectionRegistry& registry, std::function<void(IdleConnection&&)> on_readable,
           std::function<void()> on_closed);
  IdlePark(const IdlePark&) = delete;
  IdlePark& operator=(const IdlePark&) = delete;

  /// Parks `connection` until it is readable or `deadline` passes (kNoDeadline: no limit).
  /// The caller has checked that no request bytes are buffered anywhere (TLS included).
  void park(IdleConnection&& connection, SteadyTime deadline);
  /// Connections parked now.
  size_t size() const { return size_; }

 private:
  class Node;
  void onReady(std::unique_ptr<Node> node, boost::system::error_code ec);

  ConnectionRegistry& registry_;
  std::function<void(IdleConnection&&)> on_readable_;
  std::function<void()> on_closed_;
  size_t size_ = 0;
};

}  // namespace vallum::network
