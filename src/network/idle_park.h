#pragma once

#include <sys/epoll.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "http/codec.h"
#include "network/connection_registry.h"
#include "network/tls_socket.h"

/// Where idle keep-alive connections wait for their next request without a connection manager.
/// An active connection holds a read buffer, a codec, a stream and coroutine frames (several
/// KB); a parked one is a file descriptor in the park's own epoll set, its TLS state and the
/// client's address — about a hundred bytes from a dense per-worker slab, plus OpenSSL's SSL
/// object for TLS (whose record buffers are released while idle: SSL_MODE_RELEASE_BUFFERS).
/// nginx does the same: an idle keep-alive connection gives its request pool and buffers back
/// (ngx_http_set_keepalive).
namespace vallum::network {

/// A connection between requests: what survives parking.
struct IdleConnection {
  boost::asio::ip::tcp::socket socket;
  TlsSocket tls;
  boost::asio::ip::tcp::endpoint peer;
  /// HTTP/2: the session, whose HPACK tables and settings outlive the connection manager
  /// (null for HTTP/1.1, which keeps nothing between requests).
  std::unique_ptr<http::ServerCodec> session = nullptr;
  /// When the connection closes if it stays idle: parking does not restart the clock, and an
  /// HTTP/2 session keeps it when a frame without a stream (a PING) wakes it.
  SteadyTime idle_deadline = kNoDeadline;
};

/// One worker's parked connections. Parking takes the descriptor out of asio's reactor and
/// into the park's epoll set (registered with the reactor as one descriptor); readable (bytes
/// or a hang-up) → the connection leaves the park through `on_readable`, which gives it a
/// connection manager again. A parked connection is in the worker's ConnectionRegistry: it
/// closes at its deadline (the keep-alive idle timeout, `timeout_idle`) and when the worker
/// drains; an HTTP/2 session says goodbye first (GOAWAY, RFC 9113 §6.8), as Envoy and nginx
/// do for idle HTTP/2 connections when they shut down. Worker thread only.
class IdlePark {
 public:
  /// `on_readable` takes a connection with bytes to read (or a hang-up to notice); `on_closed`
  /// runs after a parked connection closed by deadline or drain (the worker checks whether a
  /// drain is complete). Throws std::system_error when no epoll set can be created.
  IdlePark(boost::asio::io_context& io, ConnectionRegistry& registry,
           std::function<void(IdleConnection&&)> on_readable, std::function<void()> on_closed);
  ~IdlePark();
  IdlePark(const IdlePark&) = delete;
  IdlePark& operator=(const IdlePark&) = delete;

  /// Parks `connection` until it is readable or `deadline` passes (kNoDeadline: no limit).
  /// The caller has checked that no request bytes are buffered anywhere (TLS included).
  void park(IdleConnection&& connection, SteadyTime deadline);
  /// Connections parked now.
  size_t size() const { return size_; }

 private:
  class Node;
  Node* allocate();
  void release(Node* node);
  /// `farewell`: an HTTP/2 session's GOAWAY is written first (best effort, never waited for):
  /// at the idle deadline and at drain, as Envoy ends an idle HTTP/2 connection.
  void close(Node* node, bool farewell);
  void arm();
  void onReadable();

  boost::asio::io_context& io_;
  ConnectionRegistry& registry_;
  std::function<void(IdleConnection&&)> on_readable_;
  std::function<void()> on_closed_;
  int epoll_fd_ = -1;
  boost::asio::posix::stream_descriptor watch_;  ///< epoll_fd_ as the reactor sees it
  bool armed_ = false;
  size_t size_ = 0;
  /// The slab: nodes in chunks (never returned while the worker lives; a free list reuses
  /// them), so parked connections sit densely instead of pinning scattered heap pages.
  std::vector<std::unique_ptr<Node[]>> chunks_;
  Node* free_ = nullptr;
  std::vector<epoll_event> events_;
};

}  // namespace vallum::network
