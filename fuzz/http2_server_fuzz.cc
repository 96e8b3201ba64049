// Fuzzes the HTTP/2 server codec (src/http/http2/server_codec.h over nghttp2) the way the
// connection manager drives it: after the client preface and an empty SETTINGS frame (added by
// the target, so every input is a frame sequence), client bytes arrive in up to three reads
// split at positions taken from the input; after each read every stream with a request head
// is answered (100 Continue, response head, body, trailers or a reset, as the flags say), its
// request body consumed, streams that ended marked done, and the output taken.
//
// Input: byte 0 = flags (see Flags), bytes 1-2 = split points, the rest = client frames.
//
// Invariants: callbacks name client (odd) streams that are open and not done; a head comes
// once per stream; the body is within the input and the head within the request limits
// (HPACK can name a large table entry with one byte); field names are lower-case
// tokens and values hold no CR/LF/NUL (nghttp2 checks, the codec must not undo it); a
// Content-Length body never exceeds its length; after every stream is done and the codec is
// destroyed nothing leaks (ASan).

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/strings.h"
#include "fuzz_check.h"
#include "http/http2/server_codec.h"

namespace {

using namespace vallum::http;

enum Flags : uint8_t {
  kAnswerEarly = 1,   ///< answer once the head arrived (else once the request ended)
  kFramingShift = 1,  ///< bits 1-2: response framing None / ContentLength / Chunked / Chunked
  kTrailers = 8,      ///< end responses with trailers
  kResetSome = 16,    ///< resetStream() every stream whose id % 3 == 0
  kGoAway = 32,       ///< goAway() after the first read
  kSmallLimits = 64,  ///< small header limits, windows and concurrency
  kHoldBody = 128,    ///< never consumeRequestData (backpressure)
};

struct StreamState {
  RequestHeaders* head = nullptr;
  uint64_t body_bytes = 0;
  uint64_t unconsumed = 0;
  int error_status = 0;
  bool ended = false;
  bool reset = false;
  bool answered = false;
  bool done = false;
};

class Proxy final : public ServerCodecCallbacks {
 public:
  Proxy(size_t input_size, const RequestLimits& limits)
      : input_size_(input_size), limits_(limits) {}

  StreamState& open(StreamId id) {
    FUZZ_CHECK(id > 0 && id % 2 == 1);
    StreamState& s = streams_[id];
    FUZZ_CHECK(!s.done);
    return s;
  }

  void onRequestHeaders(StreamId id, RequestHeaders& headers, bool end_stream) override {
    FUZZ_CHECK(streams_.count(id) == 0);
    StreamState& s = open(id);
    s.head = &headers;
    s.ended = end_stream;
    FUZZ_CHECK(headers.http2());
    FUZZ_CHECK(!headers.method.empty());
    FUZZ_CHECK(headers.target.size() <= limits_.max_target_size);
    FUZZ_CHECK(headers.method.size() + headers.target.size() + headers.authority.size() <=
               limits_.max_header_bytes);
    // HPACK lets one byte name a dynamic-table entry, so fields are bounded by the request
    // limits, not by the input.
    size_t field_bytes = 0;
    FUZZ_CHECK(headers.headers.fieldCount() <= limits_.max_header_count + 1);  // + joined cookie
    for (size_t i = 0; i < headers.headers.fieldCount(); ++i) {
      const std::string_view name = headers.headers.name(i);
      const std::string_view value = headers.headers.value(i);
      field_bytes += name.size() + value.size();
      FUZZ_CHECK(field_bytes <= limits_.max_header_bytes + 2 * limits_.max_header_count);
      FUZZ_CHECK(vallum::strings::isToken(name));
      FUZZ_CHECK(vallum::strings::lowerAscii(name) == name);
      FUZZ_CHECK(value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos);
    }
    if (end_stream) {
      FUZZ_CHECK(headers.framing == BodyFraming::None);
    }
  }
  void onRequestData(StreamId id, std::string_view data, bool end_stream) override {
    StreamState& s = open(id);
    FUZZ_CHECK(s.head != nullptr && !s.ended && !s.reset);
    s.body_bytes += data.size();
    s.unconsumed += data.size();
    FUZZ_CHECK(s.body_bytes <= input_size_);
    if (s.head->framing == BodyFraming::ContentLength) {
      FUZZ_CHECK(s.body_bytes <= s.head->content_length);
    }
    s.ended = end_stream;
  }
  void onRequestTrailers(StreamId id) override {
    StreamState& s = open(id);
    FUZZ_CHECK(s.head != nullptr && !s.ended && !s.reset);
    s.ended = true;
  }
  void onRequestError(StreamId id, int status, std::string_view reason) override {
    StreamState& s = open(id);
    FUZZ_CHECK(status == 431 || (status >= 400 && status <= 505));
    FUZZ_CHECK(!reason.empty());
    s.error_status = status;
  }
  void onStreamReset(StreamId id, StreamResetReason) override {
    StreamState& s = open(id);
    s.reset = true;
  }

  size_t input_size_;
  RequestLimits limits_;
  std::map<StreamId, StreamState> streams_;
};

void answer(http2::ServerCodec& codec, StreamId id, StreamState& s, uint8_t flags) {
  static const std::string kBody(300, 'b');
  OutgoingResponse response;
  response.headers.add("x-fuzz", "1");
  response.headers.add("Connection", "close");  // connection-specific: the codec drops it
  if (s.error_status != 0) {
    response.status = s.error_status;
    response.framing = BodyFraming::None;
    response.close = true;
    codec.encodeHeaders(id, response, true);
    s.answered = true;
    return;
  }
  if (s.head->expect_continue) {
    codec.encodeContinue(id);
  }
  if ((flags & kResetSome) != 0 && id % 3 == 0) {
    codec.resetStream(id);
    s.answered = true;
    return;
  }
  switch ((flags >> kFramingShift) & 3) {
    case 0:
      response.framing = BodyFraming::None;
      break;
    case 1:
      response.framing = BodyFraming::ContentLength;
      response.content_length = kBody.size();
      break;
    default:
      response.framing = BodyFraming::Chunked;
      break;
  }
  response.close = !s.ended;
  const bool no_body = response.framing == BodyFraming::None;
  codec.encodeHeaders(id, response, no_body);
  if (!no_body) {
    codec.encodeData(id, std::string_view(kBody).substr(0, 100), false);
    if ((flags & kTrailers) != 0) {
      codec.encodeData(id, std::string_view(kBody).substr(100), false);
      HeaderMap trailers = s.head->trailers;
      trailers.add("grpc-status", "0");
      trailers.add("content-length", "1");  // forbidden in trailers: dropped
      codec.encodeTrailers(id, trailers);
    } else {
      codec.encodeData(id, std::string_view(kBody).substr(100), true);
    }
  }
  s.answered = true;
}

void drive(http2::ServerCodec& codec, Proxy& proxy, uint8_t flags, size_t& output_bytes) {
  for (auto& [id, s] : proxy.streams_) {
    if (s.done) {
      continue;
    }
    if (!s.answered && !s.reset &&
        (s.error_status != 0 || (flags & kAnswerEarly) != 0 || s.ended)) {
      answer(codec, id, s, flags);
    }
    if (s.unconsumed > 0 && (flags & kHoldBody) == 0) {
      codec.consumeRequestData(id, s.unconsumed);
      s.unconsumed = 0;
    }
    if (s.reset || (s.answered && (s.ended || codec.pendingOutput(id) == 0))) {
      codec.streamDone(id);
      s.done = true;
    }
  }
  OutputPieces out;
  codec.takeOutput(out);
  for (std::string_view piece : out) {
    output_bytes += piece.size();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3 || size > 64 * 1024) {
    return 0;
  }
  const uint8_t flags = data[0];
  static const std::string kPrefix =
      std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + std::string("\0\0\0\4\0\0\0\0\0", 9);
  const std::string wire = kPrefix + std::string(reinterpret_cast<const char*>(data + 3), size - 3);
  size_t cut1 = kPrefix.size() + (size - 3) * data[1] / 255;
  size_t cut2 = kPrefix.size() + (size - 3) * data[2] / 255;
  if (cut1 > cut2) {
    std::swap(cut1, cut2);
  }
  const size_t cuts[] = {cut1, cut2, wire.size()};

  http2::ServerSettings settings;
  if ((flags & kSmallLimits) != 0) {
    settings.max_concurrent_streams = 4;
    settings.stream_window = 1024;
    settings.connection_window = 4096;
    settings.limits.max_header_bytes = 256;
    settings.limits.max_header_count = 8;
    settings.limits.max_target_size = 64;
    settings.max_continuations = 2;
    settings.max_empty_frames = 4;
    settings.reset_burst = 4;
  }
  Proxy proxy(wire.size(), settings.limits);
  size_t output_bytes = 0;
  {
    http2::ServerCodec codec(proxy, settings);
    size_t from = 0;
    for (size_t cut : cuts) {
      const std::vector<char> read(wire.begin() + static_cast<std::ptrdiff_t>(from),
                                   wire.begin() + static_cast<std::ptrdiff_t>(cut));
      from = cut;
      const size_t used = codec.dispatch(std::string_view(read.data(), read.size()));
      FUZZ_CHECK(used == read.size());
      drive(codec, proxy, flags, output_bytes);
      if ((flags & kGoAway) != 0) {
        codec.goAway();
      }
      if (codec.wantsClose()) {
        break;
      }
    }
    drive(codec, proxy, flags, output_bytes);
    // The connection ends: every stream still open is done.
    for (auto& [id, s] : proxy.streams_) {
      if (!s.done) {
        codec.streamDone(id);
        s.done = true;
      }
    }
    FUZZ_CHECK(codec.activeStreams() <= proxy.streams_.size() + 1000);
    OutputPieces out;
    codec.takeOutput(out);
  }
  return 0;
}
