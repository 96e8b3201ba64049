#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "http/http2/client_codec.h"
#include "upstream/pool/upstream_connection.h"

namespace vallum::upstream::pool {

/// A request waiting for an H2Connection that another request is connecting.
class H2Waiter {
 public:
  virtual ~H2Waiter() = default;
  /// The connection left State::Connecting (now Ready or Closed). Called on the worker thread;
  /// must not call back into the connection.
  virtual void onConnectionSettled() = 0;
};

/// One multiplexed HTTP/2 connection to one endpoint — prior knowledge for `h2c://` (RFC 9113
/// §3.3), or TLS whose ALPN chose h2 for `https://` (§3.2) —
/// owned by one worker's EndpointPool and shared by every request of that worker to that
/// endpoint, up to http::http2::ClientSettings::max_concurrent_streams at once (Pomerium's upstream
/// limit); a further request opens another connection.
///
/// Lifecycle: New → (the first request connects the socket: beginConnect, then ready() or
/// fail()) → Ready → Closed. While Ready a reader coroutine feeds the session and a writer
/// coroutine sends what the session queues (flush()). Streams are opened by requests directly
/// on session(); their handlers hear everything. The connection closes when the transport
/// fails, the session is done (after GOAWAY, once its streams ended) or the pool sweeps it
/// idle. Worker thread only.
class H2Connection : public std::enable_shared_from_this<H2Connection> {
 public:
  enum class State : uint8_t { New, Connecting, Ready, Closed };

  /// `transport`: a connected one (TLS with ALPN h2) to adopt; null: a fresh socket that the
  /// first requester connects.
  H2Connection(boost::asio::io_context& io, const http::http2::ClientSettings& settings,
               UpstreamConnectionPtr transport = nullptr);
  ~H2Connection();
  H2Connection(const H2Connection&) = delete;
  H2Connection& operator=(const H2Connection&) = delete;

  State state() const { return state_; }
  /// Whether the origin's SETTINGS have arrived (its stream limit is known).
  bool settingsReceived() const { return session_.settingsReceived(); }
  boost::asio::ip::tcp::socket& socket() { return transport_->socket; }
  /// The socket, TLS stream and TLS context (the connector fills them).
  UpstreamConnection& transport() { return *transport_; }
  http::http2::ClientCodec& session() { return session_; }

  /// A request will use the connection: it counts toward the stream cap until release().
  void acquire() { ++users_; }
  /// The request is done with the connection; `now` starts its idle time when it was the last.
  void release(std::chrono::steady_clock::time_point now);
  uint32_t users() const { return users_; }
  std::chrono::steady_clock::time_point idleSince() const { return idle_since_; }
  /// Whether one more request may use it: not closed, no GOAWAY received, users below the cap.
  bool available() const;

  /// The requester that found it New connects the socket itself: Connecting until ready()
  /// (Ready: the I/O coroutines start and the preface goes out) or fail() (Closed).
  void beginConnect() { state_ = State::Connecting; }
  void ready();
  void fail();
  /// Waiters hear when a Connecting connection settles. remove is a no-op when absent.
  void addWaiter(H2Waiter* waiter) { waiters_.push_back(waiter); }
  void removeWaiter(H2Waiter* waiter);

  /// Sends whatever the session has queued (the writer coroutine does the I/O). Call after any
  /// session call that may queue frames.
  void flush();
  /// Closes the socket; every open stream hears http::http2::kConnectionLost. Idempotent.
  void close();

 private:
  boost::asio::awaitable<void> readLoop(std::shared_ptr<H2Connection> self);
  boost::asio::awaitable<void> writeLoop(std::shared_ptr<H2Connection> self);
  void settle();

  UpstreamConnectionPtr transport_;
  http::http2::ClientCodec session_;
  boost::asio::steady_timer write_signal_;
  std::vector<char> read_buffer_;
  std::string out_;
  std::vector<H2Waiter*> waiters_;
  std::chrono::steady_clock::time_point idle_since_{};
  uint32_t users_ = 0;
  uint32_t max_users_;
  State state_ = State::New;
  bool want_write_ = false;
  bool writer_waiting_ = false;
};
using H2ConnectionSharedPtr = std::shared_ptr<H2Connection>;

}  // namespace vallum::upstream::pool
