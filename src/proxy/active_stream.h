#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "http/codec.h"
#include "network/connection_registry.h"
#include "network/downstream_connection.h"
#include "proxy/forward.h"
#include "proxy/stages/stage.h"
#include "proxy/stream_context.h"
#include "proxy/worker.h"

/// One request/response exchange on a downstream connection, whatever the protocol: it runs
/// the stage chain, holds the request body the client has sent and the forward step has not
/// taken yet, writes the response through the connection's codec, keeps its own deadlines, and
/// logs the exchange (docs/architecture.md §2.1: the connection manager's ActiveStream).
namespace vallum::proxy {

class ConnectionManager;

using SteadyClock = std::chrono::steady_clock;
using network::kNoDeadline;
using network::SteadyTime;

/// Which timer ended a stream (Envoy's timeouts: route, stream idle, request, max duration).
enum class Expiry : uint8_t {
  None,
  Request,     ///< timeout_read: the whole request must arrive within it
  Connect,     ///< upstream connect timeout → 503
  Route,       ///< route timeout → 504
  StreamIdle,  ///< no activity either way for kStreamIdleTimeout
  MaxStream,   ///< timeout_write (max stream duration)
};

/// Pomerium's fixed upstream connect timeout (its clusters' connect_timeout).
inline constexpr auto kConnectTimeout = std::chrono::seconds(10);
/// Envoy's default stream idle timeout (HCM stream_idle_timeout, 5 min; Pomerium keeps it).
inline constexpr auto kStreamIdleTimeout = std::chrono::minutes(5);

/// Facts of one exchange (access log, metrics, outlier detection).
struct ExchangeFacts {
  WorkerSnapshotSharedPtr snapshot;
  SteadyTime start{};
  std::chrono::system_clock::time_point wall_start{};
  int status = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  bool response_started = false;  ///< a response head went to the client
};

/// Owned by its ConnectionManager and reused from request to request (HTTP/1) or recycled
/// across streams (HTTP/2). Worker thread only.
class ActiveStream {
 public:
  ActiveStream(ConnectionManager& manager, Worker& worker);
  ~ActiveStream();
  ActiveStream(const ActiveStream&) = delete;
  ActiveStream& operator=(const ActiveStream&) = delete;

  // -- Driven by the connection manager.
  /// A new exchange starts (its timers from now).
  void begin(http::StreamId id);
  http::StreamId id() const { return id_; }
  /// The request head arrived: runs the stage chain. Afterwards either replyPending() or
  /// forwardPending() holds (the chain's own Pending is resumed by the stage's I/O).
  void onHeaders(http::RequestHeaders& request, bool end_stream);
  void onData(std::string_view data, bool end_stream);
  void onTrailers();
  /// The request cannot be parsed: answer `status` and end the connection (HTTP/1) or the
  /// stream (HTTP/2).
  void onRequestError(int status, std::string_view reason);
  /// The client reset the stream or the connection went: every pending operation of the
  /// stream ends; nothing more is written.
  void onReset(http::StreamResetReason reason);
  bool headersSeen() const { return next_ != Next::None; }
  /// A stage started I/O (sign-in): runPendingStages() must run before respond()'s steps.
  bool stagePending() const { return next_ == Next::Pending; }
  /// Awaits the pending stage's I/O and runs the rest of the chain, as often as stages ask.
  boost::asio::awaitable<void> runPendingStages();
  /// Runs what onHeaders decided: the local reply, or the forward step. Returns when the
  /// response is complete or abandoned. (HTTP/1 runs the same three steps inline — see
  /// ConnectionManager::serveHttp1 — to save a coroutine frame per request.)
  boost::asio::awaitable<void> respond();
  /// respond()'s steps: whether the forward step runs (the endpoint is picked; false: a local
  /// reply is due), then what its result means (a local reply, or an abort), then the local
  /// reply composed into the codec (false: none is due, nothing to flush).
  bool startForward();
  Forwarder& forwarder() { return forwarder_; }
  void endForward(Step step);
  bool encodeLocalReply();
  /// The exchange is over: access log, metrics, the codec told. Then reusable.
  void finish();
  /// Checks this stream's deadlines against `now`: an expired one interrupts the stream's
  /// operations. Returns the stream's next deadline.
  SteadyTime checkDeadlines(SteadyTime now);
  /// Releases buffers grown beyond `keep` bytes (the connection closes); returns the bytes.
  size_t releaseMemory(size_t keep);

  // -- Used by the forward step.
  StreamContext& ctx() { return ctx_; }
  Worker& worker() { return worker_; }
  ExchangeFacts& facts() { return facts_; }
  WorkerSnapshot& workerSnapshot() { return *facts_.snapshot; }
  std::string_view clientIp() const;
  http::RequestHeaders& request() { return *ctx_.request; }
  bool headRequest() const { return head_request_; }
  /// The whole request body has arrived (it may not have been taken yet).
  bool requestComplete() const { return body_end_; }
  /// Request body received and not taken yet.
  std::string_view bodyQueued() const { return std::string_view(body_).substr(body_off_); }
  /// The forward step passed on `bytes` of bodyQueued() (HTTP/2: the client may send more).
  void consumeBody(size_t bytes);
  /// Waits until more request body arrives, the body ends, or the exchange is interrupted.
  /// False when the body cannot complete (the client went, the request was malformed, a timer
  /// fired); bodyFailureStatus() then tells a malformed body.
  boost::asio::awaitable<bool> waitBody();
  int bodyFailureStatus() const { return body_bad_status_; }
  /// `100 Continue` to a client that waits for it, once the request goes upstream.
  void sendContinue();
  /// The upstream's response head becomes the client's (composeResponse + the codec).
  void startResponse(const http::ResponseHeaders& head, bool end_stream = false);
  void sendData(std::string_view data, bool end_stream);
  void sendTrailers(const http::HeaderMap& trailers);
  /// Writes what the codec holds (HTTP/1), or waits until this stream's queued response bytes
  /// fall under the watermark (HTTP/2). Completes with an error when the client is gone or a
  /// timer fired. An asynchronous operation, not a coroutine: no frame per write on HTTP/1.
  template <class Token>
  auto flush(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
        [this](auto handler) { startFlush(std::move(handler)); }, token);
  }
  /// The response cannot complete after its head: HTTP/2 resets the stream, HTTP/1 closes the
  /// connection without finishing the message.
  void abort();
  /// Fills the local reply the stream ends with (an upstream failure before the head).
  void setReply(int status, std::string_view details, bool close);
  /// flush()'s initiation (HTTP/1: the write; HTTP/2: a wait for room in the stream's queue).
  template <class Handler>
  void startFlush(Handler&& handler);
  /// HTTP/2: waits until the stream's queued response is under the watermark.
  boost::asio::awaitable<bool> waitOutputRoom();
  /// Ends a pending waitBody() (the body pump is being stopped).
  void interruptBodyRead();
  /// HTTP/2 tunnel: waitBody() returns false from now on (the tunnel is closing), and a
  /// pending one wakes.
  void stopBodyWait() {
    body_wait_stopped_ = true;
    wake();
  }
  /// HTTP/2 tunnel: the response's END_STREAM (the upstream ended its bytes), sent now.
  void endResponseBody();
  void setTimeoutReply();
  int timeoutStatus() const;
  Expiry expired() const { return expired_; }
  bool clientGone() const { return client_gone_; }
  /// The HTTP/1 client hung up while the stream waited for its response (the client watch).
  void clientHungUp();
  /// Starts the route timeout (the whole request is in: Envoy's route timeout runs from the
  /// end of the downstream request to the end of the response).
  void startRouteTimer();
  void setConnectDeadline(bool on);
  void touchActivity();
  /// While a complete request waits for its response: start watching the client for a
  /// hang-up after a short delay (HTTP/1; HTTP/2 hears resets from its reader).
  void watchClient();
  void stopWatchingClient();
  /// A CONNECT's `200`: no fields, no framing (RFC 9110 §9.3.6); the connection becomes a
  /// tunnel.
  void startTunnelResponse();
  /// HTTP/1 upgrade: the connection becomes a tunnel. Every stream timer stops except the max
  /// stream duration (`timeout_write`, which ends tunnels too); the tunnel keeps its own idle
  /// timer.
  void enterTunnel();
  /// The client's connection (the tunnel's downstream side).
  network::DownstreamConnection& downstream() { return transport(); }
  /// HTTP/1: bytes the client sent after the request head, not parsed (a tunnel's first bytes),
  /// and dropping them.
  std::string_view unreadInput() const;
  void dropUnreadInput();
  /// Wakes whatever the stream waits on (its signal timer).
  void wake() { signal_.cancel(); }
  boost::asio::steady_timer& signal() { return signal_; }

 private:
  enum class Next : uint8_t { None, Reply, Forward, Pending };

  // The connection's, for flush() (defined in active_stream.cc: the manager is incomplete here).
  bool manager_http2() const;
  network::DownstreamConnection& transport();
  network::BufferSpan takeWriteBuffers();

  void noteDeadline(SteadyTime t);
  void nextFromStages(StageStatus status);
  void interrupt();

  ConnectionManager& manager_;
  Worker& worker_;
  http::StreamId id_ = 0;
  StreamContext ctx_;
  ExchangeFacts facts_;
  Forwarder forwarder_;
  std::string request_id_;
  http::OutgoingResponse response_;
  std::string reply_body_;
  std::string details_;
  std::string body_;  ///< request body received, not taken yet (from body_off_)
  size_t body_off_ = 0;
  bool body_end_ = false;
  int body_bad_status_ = 0;
  boost::asio::steady_timer signal_;
  Next next_ = Next::None;
  bool head_request_ = false;
  bool reset_ = false;        ///< the client reset the stream / the connection went
  bool client_gone_ = false;  ///< the client hung up while the stream waited upstream
  bool aborted_ = false;
  bool body_wait_stopped_ = false;
  Expiry expired_ = Expiry::None;
  config::Duration route_timeout_{};
  SteadyTime request_deadline_ = kNoDeadline;
  SteadyTime connect_deadline_ = kNoDeadline;
  SteadyTime route_deadline_ = kNoDeadline;
  SteadyTime activity_deadline_ = kNoDeadline;
  SteadyTime max_stream_deadline_ = kNoDeadline;
  SteadyTime watch_deadline_ = kNoDeadline;

  friend class ConnectionManager;
};

template <class Handler>
void ActiveStream::startFlush(Handler&& handler) {
  if (reset_) {
    boost::asio::post(worker_.io(), [h = std::forward<Handler>(handler)]() mutable {
      std::move(h)(boost::asio::error::operation_aborted, size_t{0});
    });
    return;
  }
  if (!manager_http2()) {
    transport().asyncWrite(takeWriteBuffers(), std::forward<Handler>(handler));
    return;
  }
  boost::asio::co_spawn(worker_.io(), waitOutputRoom(),
                        [h = std::forward<Handler>(handler)](std::exception_ptr, bool ok) mutable {
                          std::move(h)(ok ? boost::system::error_code()
                                          : boost::system::error_code(
                                                boost::asio::error::operation_aborted),
                                       size_t{0});
                        });
}

}  // namespace vallum::proxy
