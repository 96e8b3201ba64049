#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

/// The byte pump between two connections once HTTP is done with them (docs/architecture.md §2.1): a
/// websocket or SPDY upgrade after `101`, a `CONNECT` tunnel after `200`. Bytes flow both ways
/// with backpressure (one bounded buffer per direction: a side is read only once the other
/// side has taken the previous bytes), a half-close is passed on (EOF on one side shuts down
/// the other's sending side), and an idle timer ends a tunnel with no traffic either way.
/// A direction waits for readability holding no buffer and borrows one from its thread's
/// spares to move bytes, so an idle tunnel costs its coroutine frames and sockets only.
namespace vallum::network {

/// One side of a tunnel: anything that reads and writes bytes (a TCP socket, a TLS stream, an
/// HTTP/2 stream). Implementations adapt their transport; calls come from the tunnel's worker.
class TunnelEnd {
 public:
  virtual ~TunnelEnd() = default;
  /// Waits until a read would not wait (bytes, EOF or an error are there), without a buffer:
  /// an idle tunnel holds none (the pump borrows one only to move bytes). False when the wait
  /// itself failed (cancelled). Ends that cannot tell (TLS over asio, whose engine may hold
  /// decrypted bytes) return true at once and read with the buffer.
  virtual boost::asio::awaitable<bool> waitReadable() { co_return true; }
  /// Reads at least one byte into `buffer`; returns 0 at EOF. Throws or returns 0 on error
  /// (an error ends the tunnel like an EOF, both directions).
  virtual boost::asio::awaitable<size_t> readSome(boost::asio::mutable_buffer buffer) = 0;
  /// Writes every byte; false when the side cannot take more (it is gone).
  virtual boost::asio::awaitable<bool> writeAll(boost::asio::const_buffer buffer) = 0;
  /// No more bytes will be written to this side (TCP: shutdown(SHUT_WR); TLS: close_notify).
  virtual void shutdownWrite() = 0;
  /// Ends every pending operation of this side (the tunnel is closing).
  virtual void cancel() = 0;
};

/// A TunnelEnd over a plain stream socket (TCP to an upstream, a Unix socket in tests).
template <class Socket>
class SocketTunnelEnd final : public TunnelEnd {
 public:
  explicit SocketTunnelEnd(Socket& socket) : socket_(socket) {}
  boost::asio::awaitable<bool> waitReadable() override {
    auto [ec] = co_await socket_.async_wait(Socket::wait_read,
                                            boost::asio::as_tuple(boost::asio::use_awaitable));
    co_return !ec;
  }
  boost::asio::awaitable<size_t> readSome(boost::asio::mutable_buffer buffer) override {
    auto [ec, n] =
        co_await socket_.async_read_some(buffer, boost::asio::as_tuple(boost::asio::use_awaitable));
    co_return ec ? 0 : n;
  }
  boost::asio::awaitable<bool> writeAll(boost::asio::const_buffer buffer) override {
    auto [ec, n] = co_await boost::asio::async_write(
        socket_, buffer, boost::asio::as_tuple(boost::asio::use_awaitable));
    co_return !ec;
  }
  void shutdownWrite() override {
    boost::system::error_code ignored;
    socket_.shutdown(Socket::shutdown_send, ignored);
  }
  void cancel() override {
    boost::system::error_code ignored;
    socket_.cancel(ignored);
  }

 private:
  Socket& socket_;
};

/// Counts and outcome of a finished tunnel (access log, metrics).
struct TunnelResult {
  uint64_t bytes_a_to_b = 0;
  uint64_t bytes_b_to_a = 0;
  bool idle_timeout = false;  ///< ended by the idle timer rather than by the ends
};

struct TunnelOptions {
  /// Bytes one direction moves at once (the buffer it borrows from the thread's spares while
  /// bytes are in flight; an idle direction holds none).
  size_t buffer_size = 16 * 1024;
  /// No byte either way for this long ends the tunnel; zero: never.
  std::chrono::milliseconds idle_timeout{0};
};

/// Pumps bytes between `a` and `b` until both directions ended (EOF passed on) or one failed,
/// or the idle timer fired. The ends stay owned by the caller and outlive the call. Runs on
/// the ends' executor (one worker). `options` is taken by value: a coroutine keeps its
/// parameters, and a reference would outlive a temporary.
boost::asio::awaitable<TunnelResult> runTunnel(TunnelEnd& a, TunnelEnd& b, TunnelOptions options);

}  // namespace vallum::network
