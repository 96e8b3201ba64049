#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/codec.h"

struct nghttp2_session;

/// HTTP/2 server codec (RFC 9113) over nghttp2: frames in, stream events out; responses and
/// flow control out as frames. No I/O.
namespace vallum::http::http2 {

/// Limits of a downstream HTTP/2 connection: Envoy's edge defaults where Pomerium sets none.
struct ServerSettings {
  /// SETTINGS_MAX_CONCURRENT_STREAMS: streams a client may open at once. One more ends the
  /// connection (nghttp2: GOAWAY PROTOCOL_ERROR; a stream error RFC 9113 §5.1.2 lets a server
  /// treat as a connection error); until the client acknowledges our SETTINGS, the extra stream
  /// alone is refused (RST_STREAM REFUSED_STREAM).
  uint32_t max_concurrent_streams = 100;
  /// Receive windows (bytes): per stream, reopened only as the proxy passes the body on
  /// (consumeRequestData); for the connection, reopened on arrival so one stalled stream never
  /// blocks the others.
  uint32_t stream_window = 64 * 1024;
  uint32_t connection_window = 1024 * 1024;
  /// Request header list limits (name + value bytes, fields): over them the stream is answered
  /// 431 and its request is not read.
  RequestLimits limits;
  /// Decoded header bytes after which a header block is no longer read field by field: the
  /// stream is reset (nghttp2: RST_STREAM INTERNAL_ERROR) and the rest of the block only keeps
  /// the HPACK state. Above `limits` and below this, the answer is 431. Bounds what an HPACK
  /// bomb (one table entry referenced a hundred thousand times) costs: nghttp2 checks every
  /// decoded byte of every field it hands out.
  uint32_t max_decoded_header_bytes = 512 * 1024;
  /// Stream resets a client may cause: the RST_STREAMs it sends and those its errors draw
  /// from us (a malformed request, a lying content-length, a stream window overflow), from a
  /// token bucket of `reset_burst` refilled at `reset_rate_per_second`; beyond, the connection
  /// ends with GOAWAY ENHANCE_YOUR_CALM (rapid reset CVE-2023-44487, MadeYouReset
  /// CVE-2025-8671). nghttp2's own limiter (which would answer INTERNAL_ERROR) stays behind it
  /// as a backstop at twice the burst.
  uint32_t reset_burst = 1000;
  uint32_t reset_rate_per_second = 33;
  /// CONTINUATION frames accepted after one HEADERS; beyond, GOAWAY ENHANCE_YOUR_CALM
  /// (CVE-2024-27316).
  uint32_t max_continuations = 8;
  /// Frames without payload effect (empty DATA without END_STREAM, …) tolerated per
  /// connection before it ends (CVE-2019-9518).
  uint32_t max_empty_frames = 1000;
  // A flood of frames that each demand an answer (SETTINGS, PING: CVE-2019-9512/9515) is
  // nghttp2's to detect (over 1000 answers queued); the connection then ends with GOAWAY
  // ENHANCE_YOUR_CALM.
};

/// One HTTP/2 connection's server session. Streams are numbered by the client; a stream lives
/// from its request HEADERS until streamDone() after its response ended or was reset. Request
/// heads are kept per stream (valid until streamDone()). Response bodies are copied into a
/// per-stream queue and sent as the client's windows allow; pendingOutput() is what a stream
/// still holds (backpressure towards the upstream). Not thread-safe: one owning worker.
class ServerCodec final : public http::ServerCodec {
 public:
  /// Queues the server's SETTINGS and connection WINDOW_UPDATE. Throws std::bad_alloc when
  /// nghttp2 cannot allocate.
  ServerCodec(ServerCodecCallbacks& callbacks, const ServerSettings& settings);
  ~ServerCodec() override;
  ServerCodec(const ServerCodec&) = delete;
  ServerCodec& operator=(const ServerCodec&) = delete;

  /// Response bytes queued for `stream` and not yet framed (0 for an unknown stream).
  size_t pendingOutput(StreamId stream) const;
  /// The request head of an open stream (null when unknown).
  const RequestHeaders* request(StreamId stream) const;
  /// Whether nghttp2 still reads or writes (false: the connection is over).
  bool alive() const;
  /// Whether the session may wait without its connection manager (network::IdlePark): alive,
  /// not going away, no stream and no frame waiting to be sent.
  bool parkable() const;
  /// The callbacks of the connection manager that serves this session from now on (a parked
  /// session taken up by another manager).
  void rebind(ServerCodecCallbacks& callbacks);
  /// The connection has no open stream and no write in flight: frees the recycled stream
  /// states, the response-head scratch and both output buffers (nghttp2's session, HPACK
  /// tables included, stays). Returns the bytes of capacity freed. Owning worker.
  size_t releaseIdleMemory();

  // http::ServerCodec
  size_t dispatch(std::string_view bytes) override;
  void encodeContinue(StreamId stream) override;
  void encodeHeaders(StreamId stream, const OutgoingResponse& response, bool end_stream) override;
  void encodeData(StreamId stream, std::string_view data, bool end_stream) override;
  void encodeTrailers(StreamId stream, const HeaderMap& trailers) override;
  void resetStream(StreamId stream) override;
  void streamDone(StreamId stream) override;
  void consumeRequestData(StreamId stream, size_t bytes) override;
  void takeOutput(OutputPieces& out) override;
  bool wantsClose() const override;
  void goAway() override;
  size_t activeStreams() const override { return streams_.size(); }

 private:
  struct Stream;
  struct Callbacks;
  class FieldList;

  Stream* find(StreamId id) const;
  void erase(StreamId id);
  /// The connection is lost: every stream not done hears ConnectionLost.
  void fail();
  /// Queues the stream's response trailers as a HEADERS frame with END_STREAM.
  bool submitTrailers(Stream& stream);
  /// Takes a token for a RST_STREAM received; false when the bucket is empty.
  bool takeResetToken();

  ServerCodecCallbacks* callbacks_;
  ServerSettings settings_;
  nghttp2_session* session_ = nullptr;
  std::vector<std::unique_ptr<Stream>> streams_;
  std::vector<std::unique_ptr<Stream>> spare_;  ///< recycled stream states
  std::unique_ptr<FieldList> fields_;           ///< reused for every response head
  std::string out_[2];
  int out_current_ = 0;
  uint32_t empty_frames_ = 0;
  double reset_tokens_ = 0;
  std::chrono::steady_clock::time_point reset_refilled_;
  bool dead_ = false;
  bool going_away_ = false;
  bool flooded_ = false;  ///< max_empty_frames exceeded: dispatch() ends the session
};

}  // namespace vallum::http::http2
