#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/message.h"

struct nghttp2_session;

/// The client side of an HTTP/2 connection (RFC 9113) for `h2c://` upstreams, over nghttp2:
/// bytes in, events out, no sockets (docs/architecture.md §3). One session per upstream connection,
/// driven by one worker thread.
namespace vallum::http::http2 {

/// RFC 9113 §7 error codes Vallum looks at, plus one of its own.
inline constexpr uint32_t kNoError = 0x0;
inline constexpr uint32_t kProtocolError = 0x1;
inline constexpr uint32_t kRefusedStream = 0x7;
inline constexpr uint32_t kCancel = 0x8;
/// Not a wire code: the connection died (read/write error, peer closed, connection error)
/// while the stream was open.
inline constexpr uint32_t kConnectionLost = 0xffffffff;

/// What one request stream hears from its session. Every call comes from inside a session
/// method (receive(), takeOutput(), connectionLost()) on the owning thread. A handler must
/// stay alive until onStreamClose() or until it is detached (ClientCodec::detach /
/// resetStream).
class ClientStreamHandler {
 public:
  virtual ~ClientStreamHandler() = default;

  /// The final response head (1xx heads are dropped). `head.framing` is ContentLength when the
  /// response carried a valid content-length, None when END_STREAM came with the head, and
  /// CloseDelimited otherwise (the body ends with the stream).
  virtual void onResponseHead(ResponseHeaders& head) = 0;
  /// A piece of the response body. The bytes count against the stream's flow-control window
  /// until the owner calls ClientCodec::consume() for them (that is the backpressure); the
  /// connection window is given back on arrival, so one stalled stream never blocks the others.
  virtual void onResponseData(std::string_view data) = 0;
  /// The response ended (END_STREAM received). The stream may stay open while the request
  /// body is still being sent; onStreamClose follows once both sides are done.
  virtual void onResponseComplete() = 0;
  /// The stream ended. `error_code` kNoError = the response is complete; otherwise the
  /// RST_STREAM code, kRefusedStream for a stream refused by GOAWAY, or kConnectionLost.
  /// `protocol_error` is true when Vallum reset the stream because the response was malformed
  /// (invalid header, bad content-length).
  virtual void onStreamClose(uint32_t error_code, bool protocol_error) = 0;
  /// Request body: copies up to `max` bytes to `out` and returns how many; sets `*eof` when the
  /// body ends with them. Returning 0 without eof defers the stream until resumeBody().
  virtual size_t readRequestBody(uint8_t* out, size_t max, bool* eof) = 0;
  /// The request's trailer section, asked for once the body has ended (eof): its relayable
  /// fields (http::isForbiddenTrailer) are sent as a trailing HEADERS frame that ends the
  /// stream. Null or empty: the last DATA frame ends it.
  virtual const HeaderMap* requestTrailers() const { return nullptr; }

  /// Scratch the session fills while a response head arrives (and, after it, the trailer
  /// section into pending_head.trailers). Owned by the handler so that a reused handler reuses
  /// its buffers.
  ResponseHeaders pending_head;
  bool pending_protocol_error = false;
  bool head_delivered = false;
};

/// Limits of a session (Pomerium's upstream HTTP/2 settings, as its cluster builder sets them).
struct ClientSettings {
  /// Streams Vallum opens on one connection at most (the peer's SETTINGS may lower it).
  uint32_t max_concurrent_streams = 100;
  /// The peer's stream limit assumed until its SETTINGS arrive (RFC 9113 §6.5.2 lets a client
  /// assume 100; the pool passes what the endpoint advertised last).
  uint32_t assumed_peer_streams = 100;
  /// SETTINGS_INITIAL_WINDOW_SIZE Vallum advertises (bytes per stream).
  uint32_t stream_window = 64 * 1024;
  /// Connection-level receive window (bytes).
  uint32_t connection_window = 1024 * 1024;
};

/// An nghttp2 client session. Not thread-safe: one owning thread.
class ClientCodec {
 public:
  /// Queues the connection preface, SETTINGS and the connection WINDOW_UPDATE.
  /// Throws std::bad_alloc when nghttp2 cannot allocate.
  explicit ClientCodec(const ClientSettings& settings = {});
  ~ClientCodec();
  ClientCodec(const ClientCodec&) = delete;
  ClientCodec& operator=(const ClientCodec&) = delete;

  /// Opens a stream for a request. `headers` are (name, value) pairs with names in lower case,
  /// pseudo-headers first (:method, :scheme, :authority, :path); `has_body` says whether DATA
  /// follows (read through handler->readRequestBody). Returns the stream id (> 0), or a
  /// negative nghttp2 error (no stream was opened; the handler is not called).
  int32_t submitRequest(const std::vector<std::pair<std::string_view, std::string_view>>& headers,
                        bool has_body, ClientStreamHandler* handler);

  /// Feeds bytes read from the transport. Returns false when the session reads no more — a
  /// connection error, or a GOAWAY after which every stream ended: the session is dead and
  /// every stream still open was closed with kConnectionLost.
  bool receive(std::string_view bytes);

  /// Appends every frame ready to send to `out`. Returns false when nghttp2 failed (the
  /// session is dead, as for receive()).
  bool takeOutput(std::string& out);

  /// The request body of `stream_id` has more bytes (or its end) ready.
  void resumeBody(int32_t stream_id);
  /// The owner has passed on `bytes` of the stream's response body: open its window again.
  void consume(int32_t stream_id, size_t bytes);
  /// Resets an open stream with `error_code` and detaches its handler (no more calls).
  void resetStream(int32_t stream_id, uint32_t error_code);
  /// Detaches the handler of a stream that is closed or being closed; data still arriving for
  /// it is consumed and dropped.
  void detach(int32_t stream_id);

  /// Closes every open stream with kConnectionLost (the transport died).
  void connectionLost();

  /// Whether a new stream may be opened: alive, no GOAWAY received, fewer open streams than
  /// min(settings.max_concurrent_streams, the peer's SETTINGS_MAX_CONCURRENT_STREAMS).
  bool canOpenStream() const;
  /// Whether the session still has anything to read or write (false: close the transport).
  bool alive() const;
  /// Whether the peer's first SETTINGS frame has arrived.
  bool settingsReceived() const { return settings_received_; }
  /// Streams with a handler attached.
  size_t openStreams() const { return streams_.size(); }
  uint32_t maxConcurrentStreams() const;

 private:
  struct Callbacks;
  ClientStreamHandler* handlerFor(int32_t stream_id) const;
  void forget(int32_t stream_id);

  nghttp2_session* session_ = nullptr;
  ClientSettings settings_;
  /// Open streams and their handlers (at most max_concurrent_streams; a vector beats a map).
  std::vector<std::pair<int32_t, ClientStreamHandler*>> streams_;
  bool dead_ = false;
  bool settings_received_ = false;
};

}  // namespace vallum::http::http2
