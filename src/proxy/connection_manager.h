#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/buffer.h"
#include "http/codec.h"
#include "http/http1/server_codec.h"
#include "http/http2/server_codec.h"
#include "network/connection_registry.h"
#include "network/downstream_connection.h"
#include "proxy/active_stream.h"
#include "proxy/worker.h"

/// The connection manager (docs/architecture.md §2.1; Envoy's HCM): one per downstream connection. It
/// owns the transport (network::DownstreamConnection), picks the codec (HTTP/1.1 or HTTP/2 by
/// ALPN or the prior-knowledge preface), feeds it the client's bytes, and runs one ActiveStream
/// per request — one at a time on HTTP/1.1, many at once on HTTP/2. Everything above the codec
/// is the same for both protocols.
namespace vallum::proxy {

class ConnectionManager final : public network::TrackedConnection,
                                public http::ServerCodecCallbacks {
 public:
  using tcp = boost::asio::ip::tcp;

  /// A keep-alive connection idle this long gives back what a busy one needs: its whole
  /// manager (the connection is parked in the worker's IdlePark; HTTP/2 with its session).
  /// Not at once: a client that sends its next request within the delay costs no park/resume.
  static constexpr auto kParkAfter = std::chrono::seconds(1);
  /// How long a closing connection keeps reading (and discarding) so that the client receives
  /// our last response instead of a reset (Envoy's delayed_close_timeout is 1 s).
  static constexpr auto kLingerTimeout = std::chrono::seconds(1);

  /// A manager without a client; attach() gives it one. Objects are recycled through the
  /// worker's spare list so the buffers a connection grew serve the next one.
  explicit ConnectionManager(Worker& worker);
  ~ConnectionManager() override;

  /// Takes a client connection; every per-connection field starts fresh. `resumed`: a parked
  /// keep-alive connection coming back (TLS long negotiated; HTTP/2 when it brings its
  /// session) — else a new one.
  /// `hold` keeps the snapshot (and its TLS context) alive while the manager serves it.
  void attach(network::IdleConnection&& connection, bool resumed, WorkerSnapshotSharedPtr hold);
  /// After run(): whether the connection went idle long enough to be parked; then
  /// takeIdle() gives it away (to the worker's IdlePark) with the deadline it closes at.
  bool parked() const { return parked_; }
  network::IdleConnection takeIdle();
  SteadyTime idleDeadline() const { return idle_deadline_; }
  /// Drops the client and what the last connection referenced, returning grown buffers.
  void detach();
  /// Serves the connection until it closes.
  boost::asio::awaitable<void> run();

  // network::TrackedConnection
  void onDeadline() override;
  void onDrain() override;

  // http::ServerCodecCallbacks
  void onRequestHeaders(http::StreamId stream, http::RequestHeaders& headers,
                        bool end_stream) override;
  void onRequestData(http::StreamId stream, std::string_view data, bool end_stream) override;
  void onRequestTrailers(http::StreamId stream) override;
  void onRequestError(http::StreamId stream, int status, std::string_view reason) override;
  void onStreamReset(http::StreamId stream, http::StreamResetReason reason) override;

  // -- Used by the streams.
  http::ServerCodec& codec() { return *codec_; }
  bool http2() const { return http2_; }
  bool tls() const { return transport_.tls(); }
  bool draining() const { return draining_; }
  const std::string& peerIp() const { return peer_ip_; }
  /// Takes what the codec holds as one gather list (TLS: coalesced into one record when small),
  /// valid until the next call. Empty when there is nothing to write.
  network::BufferSpan takeWriteBuffers();
  network::DownstreamConnection& transport() { return transport_; }
  /// HTTP/2: the writer sends what the codec holds.
  void wakeWriter();
  /// HTTP/1: reads more of the current request and feeds the codec (the body arrives through
  /// onRequestData). False when the client closed or a timer fired.
  boost::asio::awaitable<bool> readMore();
  /// A stream's deadline moved to `t` (no later than before: cheaper to scan than to track).
  void noteDeadline(SteadyTime t) {
    if (t < deadline()) {
      setDeadline(t);
    }
  }
  /// HTTP/1 client hang-up watch (a readiness wait, then poll(POLLRDHUP); nothing is read).
  void armClientWatch();
  void disarmClientWatch();
  /// Cancels the downstream socket's pending operations (HTTP/1: they are the stream's).
  void cancelTransport() { transport_.cancel(); }
  /// HTTP/1 after an upgrade: the bytes the client sent after the request head (they belong to
  /// the new protocol), and dropping them (and the read buffer) once the tunnel took them.
  std::string_view unreadInput() const { return in_.readable(); }
  void dropUnreadInput() {
    in_.consume(in_.readable().size());
    in_.release();  // the tunnel reads the socket itself: the HTTP buffer is not needed
  }
  /// HTTP/2: a stream's queued response fell under the watermark or the stream ended.
  size_t pendingOutput(http::StreamId stream) const;
  /// A snapshot for new streams (the worker's current one).
  const WorkerSnapshotSharedPtr& currentSnapshot() const;

 private:
  boost::asio::awaitable<void> serveHttp1();
  boost::asio::awaitable<void> serveHttp2();
  boost::asio::awaitable<void> writeLoop();
  boost::asio::awaitable<void> runStream(ActiveStream* stream);
  boost::asio::awaitable<bool> readSome();
  boost::asio::awaitable<void> closeConnection(bool linger);
  ActiveStream* findStream(http::StreamId id);
  ActiveStream* newStream(http::StreamId id);
  void releaseStream(ActiveStream* stream);
  void onClientReadable(boost::system::error_code ec, uint32_t generation);
  void setPhaseDeadline(SteadyTime t);
  /// Keep-alive idle from now: the idle timeout (`timeout_idle`, 0 = none) and the time to
  /// park (HTTP/1) or free the buffers (HTTP/2) start.
  void enterIdle(config::Duration timeout_idle);
  /// HTTP/2, idle with no stream: frees the read buffer, the spare streams and the write
  /// scratch (they come back with the next frame).
  void releaseIdleMemory();

  Worker& worker_;
  WorkerSnapshotSharedPtr hold_;
  network::DownstreamConnection transport_;
  std::string peer_ip_;
  Buffer in_;
  http::http1::ServerCodec h1_codec_;
  std::unique_ptr<http::http2::ServerCodec> h2_codec_;
  http::ServerCodec* codec_ = nullptr;
  bool http2_ = false;
  /// HTTP/1's one stream, reused request after request.
  ActiveStream h1_stream_;
  /// HTTP/2's open streams, and spares to recycle.
  std::vector<std::unique_ptr<ActiveStream>> streams_;
  std::vector<std::unique_ptr<ActiveStream>> spare_streams_;
  std::vector<std::string_view> out_;
  std::vector<boost::asio::const_buffer> write_buffers_;
  std::string coalesced_;
  boost::asio::steady_timer write_signal_;
  SteadyTime phase_deadline_ = kNoDeadline;
  bool idle_ = false;  ///< waiting for the first byte of a request
  bool tls_failed_ = false;  ///< OpenSSL could not start the connection
  bool resumed_ = false;     ///< a parked connection came back (see attach())
  bool park_wanted_ = false;  ///< the idle read was cancelled to park the connection
  bool parked_ = false;
  tcp::endpoint peer_;
  SteadyTime idle_deadline_ = kNoDeadline;  ///< keep-alive idle: when timeout_idle closes it
  SteadyTime park_at_ = kNoDeadline;        ///< keep-alive idle: when it is parked
  bool draining_ = false;
  bool closed_ = false;
  bool phase_expired_ = false;
  bool writing_ = false;
  bool write_failed_ = false;
  bool write_in_flight_ = false;  ///< HTTP/2: the writer waits on the socket
  size_t running_streams_ = 0;  ///< HTTP/2 stream coroutines not finished yet
  bool client_watch_armed_ = false;
  /// A watch handler is queued (it refers to this object: run() waits for it before the object
  /// can be recycled or freed).
  bool client_watch_pending_ = false;
  uint32_t client_watch_generation_ = 0;
};

/// Starts serving one accepted downstream connection on `worker` (its thread): a coroutine
/// owns a (recycled) ConnectionManager for the connection's life; it registers with the
/// worker's ConnectionRegistry for deadlines and drain. `peer`: the client's address, as
/// accept() gave it.
void startConnection(Worker& worker, boost::asio::ip::tcp::socket socket,
                     const boost::asio::ip::tcp::endpoint& peer);
/// Serves a parked connection that became readable again (the worker's IdlePark calls this).
void resumeConnection(Worker& worker, network::IdleConnection&& connection);

}  // namespace vallum::proxy
