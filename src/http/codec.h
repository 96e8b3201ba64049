#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "http/message.h"

/// The server side of a protocol, without I/O (docs/architecture.md §2.1: codecs take bytes and emit
/// events; they never touch a socket, so they are fuzzable on their own). One implementation per
/// protocol: http1::ServerCodec (llhttp) and http2::ServerCodec (nghttp2). The connection
/// manager above them is the same for both.
namespace vallum::http {

/// A stream on one connection: always 1 on HTTP/1 (one request at a time), the HTTP/2 stream
/// id otherwise.
using StreamId = int32_t;

/// Why a stream ended without completing (the peer's reset, or the codec's).
enum class StreamResetReason : uint8_t {
  RemoteReset,     ///< HTTP/2 RST_STREAM from the client
  ProtocolError,   ///< the request was malformed after its head (e.g. content-length disagrees)
  ConnectionLost,  ///< the connection ended (transport error, GOAWAY, codec error)
};

/// What a server codec reports while it parses. Every call comes from inside
/// ServerCodec::dispatch() on the owning worker; a callback may call the codec's encode*
/// methods (a local reply) but never dispatch().
class ServerCodecCallbacks {
 public:
  virtual ~ServerCodecCallbacks() = default;

  /// A request head arrived. `end_stream`: no body follows. `headers` belongs to the codec
  /// and stays valid (and unchanged) until the stream ends.
  virtual void onRequestHeaders(StreamId stream, RequestHeaders& headers, bool end_stream) = 0;
  /// Body bytes of the request, a view into the codec's input or buffers, valid only during
  /// the call. Count against the stream's receive window (HTTP/2) until
  /// ServerCodec::consumeRequestData().
  virtual void onRequestData(StreamId stream, std::string_view data, bool end_stream) = 0;
  /// The trailer section ended the request (in `headers.trailers` of onRequestHeaders).
  virtual void onRequestTrailers(StreamId stream) = 0;
  /// The request cannot be parsed: answer `status` (400, 413, 414, 431, 501, 505) with
  /// `reason`. On HTTP/1 the connection closes after that answer; `stream` may not have seen
  /// onRequestHeaders yet.
  virtual void onRequestError(StreamId stream, int status, std::string_view reason) = 0;
  /// The stream ended abnormally; nothing more is sent or received on it.
  virtual void onStreamReset(StreamId stream, StreamResetReason reason) = 0;
};

/// Bytes ready to be written to the client, in order. Each view stays valid until the next
/// ServerCodec::takeOutput() call; data views given to encodeData() must stay valid as long.
using OutputPieces = std::vector<std::string_view>;

class ServerCodec {
 public:
  virtual ~ServerCodec() = default;

  /// Feeds bytes read from the client; callbacks fire from inside. Returns how many bytes were
  /// used: an HTTP/1 codec stops after a complete request (pipelining) until the stream has
  /// ended (its response complete), and keeps the rest for the caller to feed again.
  virtual size_t dispatch(std::string_view bytes) = 0;

  /// `100 Continue` for a request that sent `Expect: 100-continue` (RFC 9110 §10.1.1), once
  /// the proxy is ready for its body.
  virtual void encodeContinue(StreamId stream) = 0;
  /// The response head of `stream`. `end_stream`: no body follows.
  virtual void encodeHeaders(StreamId stream, const OutgoingResponse& response,
                             bool end_stream) = 0;
  /// Response body bytes; `data` must stay valid until the next takeOutput() (see OutputPieces).
  /// `end_stream` ends the response (trailers, if any, come through encodeTrailers instead).
  virtual void encodeData(StreamId stream, std::string_view data, bool end_stream) = 0;
  /// Ends the response with a trailer section (relayable fields only: isForbiddenTrailer);
  /// a codec that cannot carry trailers for this response drops them and just ends it.
  virtual void encodeTrailers(StreamId stream, const HeaderMap& trailers) = 0;
  /// Abandons a response: HTTP/2 resets the stream (CANCEL, or INTERNAL_ERROR after the
  /// head); HTTP/1 can only close the connection (wantsClose() turns true), never completing
  /// the message.
  virtual void resetStream(StreamId stream) = 0;
  /// The stream is done on the proxy's side (response complete or reset): the codec forgets
  /// it; an HTTP/1 codec may parse the next pipelined request.
  virtual void streamDone(StreamId stream) = 0;
  /// The proxy has passed on `bytes` of the stream's request body: HTTP/2 opens its receive
  /// window again (backpressure: a slow upstream slows only its stream).
  virtual void consumeRequestData(StreamId stream, size_t bytes) = 0;

  /// Bytes to write, appended to `out`.
  virtual void takeOutput(OutputPieces& out) = 0;
  /// Whether the connection should close once the pending output is written (HTTP/1:
  /// `Connection: close`, a framing error, an aborted response; HTTP/2: a connection error or
  /// a finished GOAWAY).
  virtual bool wantsClose() const = 0;
  /// Graceful shutdown: HTTP/2 sends GOAWAY (streams in flight finish); HTTP/1 answers the
  /// current request with `Connection: close`.
  virtual void goAway() = 0;
  /// Streams open (HTTP/1: 0 or 1).
  virtual size_t activeStreams() const = 0;
};

}  // namespace vallum::http
