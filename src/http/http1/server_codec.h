#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http/codec.h"
#include "http/output.h"
#include "http/http1/parser.h"

/// HTTP/1.1 server codec (RFC 9112): requests in through the strict llhttp parser, responses
/// out as HTTP/1.1 text. No I/O.
namespace vallum::http::http1 {

/// One request at a time (stream id 1). After a complete request dispatch() stops until
/// streamDone(), so pipelined requests wait their turn in the caller's buffer.
///
/// Response framing (RFC 9112 §6): a known length is stated; an unknown one (chunked or
/// close-delimited upstream body) is chunked for an HTTP/1.1 client and close-delimited for an
/// HTTP/1.0 one; no body for HEAD, 204 and 304, where a Content-Length still describes the
/// representation when known; a bodiless response otherwise says `content-length: 0`, never
/// leaving a body to the connection's end. `connection: close` when the client asked for it,
/// when the response is close-delimited, after goAway() and when OutgoingResponse::close says
/// the rest of the request will not be read; `connection: keep-alive` to an HTTP/1.0 client that
/// keeps the connection.
class ServerCodec final : public http::ServerCodec {
 public:
  explicit ServerCodec(ServerCodecCallbacks& callbacks, const RequestLimits& limits = {});

  /// Ready for a new connection: parser reset, nothing pending, not closing.
  void reset();
  /// The head of the current request (valid until streamDone()).
  const RequestHeaders& request() const { return parser_.head(); }
  /// Whether every byte of the current request has been parsed.
  bool requestComplete() const { return parser_.messageComplete(); }
  /// Whether any byte of a request has arrived since the last streamDone().
  bool requestStarted() const { return parser_.started(); }
  /// Frees buffers grown beyond `keep_bytes` (the connection is closing); returns the bytes.
  size_t releaseMemory(size_t keep_bytes);

  // http::ServerCodec
  size_t dispatch(std::string_view bytes) override;
  void encodeContinue(StreamId stream) override;
  void encodeHeaders(StreamId stream, const OutgoingResponse& response, bool end_stream) override;
  void encodeData(StreamId stream, std::string_view data, bool end_stream) override;
  void encodeTrailers(StreamId stream, const HeaderMap& trailers) override;
  void resetStream(StreamId stream) override;
  void streamDone(StreamId stream) override;
  void consumeRequestData(StreamId, size_t) override {}
  void takeOutput(OutputPieces& out) override { output_.take(out); }
  bool wantsClose() const override { return close_; }
  void goAway() override;
  size_t activeStreams() const override { return stream_open_ ? 1 : 0; }

 private:
  enum class WireFraming : uint8_t { None, Length, Chunked, Close };

  void deliverBody(const ParseEvents& ev);

  ServerCodecCallbacks& callbacks_;
  RequestParser parser_;
  std::vector<std::string_view> body_;
  Output output_;
  WireFraming framing_ = WireFraming::None;
  bool stream_open_ = false;  ///< a request head arrived and the stream has not ended
  bool paused_ = false;       ///< a complete request waits for streamDone()
  bool response_started_ = false;
  bool response_done_ = false;
  bool no_body_ = false;      ///< HEAD, 204, 304: body bytes are not sent
  bool keep_alive_ = true;    ///< the response said the connection stays
  bool draining_ = false;
  bool close_ = false;
};

}  // namespace vallum::http::http1
