#include "http/http2/server_codec.h"

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

// The downstream HTTP/2 codec fed raw client frames: crash inputs found by fuzz/http2_server
// (fuzz/corpus/http2_server/crash-*), replayed with their exact bytes.

namespace vallum::http::http2 {
namespace {

/// A frame: 9-byte header then the payload (RFC 9113 §4.1).
std::string frame(uint8_t type, uint8_t flags, uint32_t stream, const std::string& payload) {
  std::string f;
  const size_t n = payload.size();
  f += char(n >> 16);
  f += char(n >> 8);
  f += char(n);
  f += char(type);
  f += char(flags);
  f += char(stream >> 24);
  f += char(stream >> 16);
  f += char(stream >> 8);
  f += char(stream);
  return f + payload;
}

constexpr uint8_t kData = 0, kHeaders = 1, kPriority = 2, kSettings = 4, kGoaway = 7;
constexpr uint8_t kEndHeaders = 4;
constexpr uint32_t kEnhanceYourCalm = 0xb;

/// Preface, empty SETTINGS, and HEADERS for `POST /` on stream 1 without END_STREAM (HPACK:
/// indexed :method POST, :scheme http, :path /, literal :authority "a").
std::string openPost() {
  return std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + frame(kSettings, 0, 0, "") +
         frame(kHeaders, kEndHeaders, 1,
               std::string("\x83\x86\x84\x41\x01"
                           "a",
                           6));
}

std::string emptyData(int count) {
  std::string out;
  for (int i = 0; i < count; ++i) {
    out += frame(kData, 0, 1, "");
  }
  return out;
}

class Recorder final : public ServerCodecCallbacks {
 public:
  void onRequestHeaders(StreamId, RequestHeaders&, bool) override { ++heads; }
  void onRequestData(StreamId, std::string_view, bool) override {}
  void onRequestTrailers(StreamId) override {}
  void onRequestError(StreamId, int, std::string_view) override {}
  void onStreamReset(StreamId, StreamResetReason) override { ++resets; }
  int heads = 0;
  int resets = 0;
};

/// The error code of the GOAWAY among the server's frames, or -1.
int64_t goawayCode(const std::string& out) {
  size_t pos = 0;
  while (pos + 9 <= out.size()) {
    const size_t len = (size_t(uint8_t(out[pos])) << 16) | (size_t(uint8_t(out[pos + 1])) << 8) |
                       uint8_t(out[pos + 2]);
    if (uint8_t(out[pos + 3]) == kGoaway && len >= 8 && pos + 9 + len <= out.size()) {
      uint32_t code = 0;
      for (int i = 0; i < 4; ++i) {
        code = (code << 8) | uint8_t(out[pos + 9 + 4 + i]);
      }
      return code;
    }
    pos += 9 + len;
  }
  return -1;
}

std::string drain(ServerCodec& codec) {
  OutputPieces pieces;
  codec.takeOutput(pieces);
  std::string out;
  for (std::string_view p : pieces) {
    out.append(p);
  }
  return out;
}

ServerSettings defaults() { return ServerSettings{}; }

// fuzz/corpus/http2_server/crash-empty-data-flood-then-bad-frame: one empty DATA frame more
// than max_empty_frames, then a PRIORITY frame of length 0 (a connection error) in the same
// read. The codec used to end the session from inside nghttp2's frame callback; nghttp2 then
// reset its inbound state, and the second connection error failed nghttp2's assertion
// `iframe->state == NGHTTP2_IB_IGN_ALL`: abort() of the whole process, every connection lost.
TEST(Http2ServerCodec, EmptyDataFloodThenBadFrameEndsTheConnectionWithoutAborting) {
  const ServerSettings settings = defaults();
  Recorder rec;
  ServerCodec codec(rec, settings);
  const std::string input =
      openPost() + emptyData(int(settings.max_empty_frames) + 1) + frame(kPriority, 0, 1, "");
  EXPECT_EQ(codec.dispatch(input), input.size());
  EXPECT_EQ(rec.heads, 1);
  const std::string out = drain(codec);
  EXPECT_EQ(goawayCode(out), kEnhanceYourCalm);
  EXPECT_TRUE(codec.wantsClose());
  // Later bytes are ignored, not parsed.
  const std::string more = frame(kHeaders, kEndHeaders, 3,
                                 std::string("\x82\x86\x84\x41\x01"
                                             "a",
                                             6));
  EXPECT_EQ(codec.dispatch(more), more.size());
  EXPECT_EQ(rec.heads, 1);
}

// The same flood without the malformed frame, and split over two reads: still GOAWAY
// ENHANCE_YOUR_CALM, and max_empty_frames empty frames alone are tolerated.
TEST(Http2ServerCodec, EmptyDataFloodGetsGoawayEnhanceYourCalm) {
  const ServerSettings settings = defaults();
  {
    Recorder rec;
    ServerCodec codec(rec, settings);
    const std::string input = openPost() + emptyData(int(settings.max_empty_frames));
    codec.dispatch(input);
    EXPECT_EQ(goawayCode(drain(codec)), -1);
    EXPECT_FALSE(codec.wantsClose());
  }
  Recorder rec;
  ServerCodec codec(rec, settings);
  codec.dispatch(openPost() + emptyData(int(settings.max_empty_frames)));
  drain(codec);
  const std::string second = emptyData(1) + frame(kPriority, 0, 1, "");
  EXPECT_EQ(codec.dispatch(second), second.size());
  EXPECT_EQ(goawayCode(drain(codec)), kEnhanceYourCalm);
  EXPECT_TRUE(codec.wantsClose());
}

/// An HPACK integer with an `prefix_bits`-bit prefix (RFC 7541 §5.1); `first` holds the
/// representation's flag bits.
std::string hpackInt(uint8_t first, int prefix_bits, size_t value) {
  const size_t max = (size_t{1} << prefix_bits) - 1;
  std::string out;
  if (value < max) {
    out += char(first | value);
    return out;
  }
  out += char(first | max);
  value -= max;
  while (value >= 128) {
    out += char(0x80 | (value & 0x7f));
    value >>= 7;
  }
  out += char(value);
  return out;
}

class HeadRecorder final : public ServerCodecCallbacks {
 public:
  void onRequestHeaders(StreamId, RequestHeaders& headers, bool) override {
    ++heads;
    for (size_t i = 0; i < headers.headers.fieldCount(); ++i) {
      field_bytes += headers.headers.name(i).size() + headers.headers.value(i).size();
    }
  }
  void onRequestData(StreamId, std::string_view, bool) override {}
  void onRequestTrailers(StreamId) override {}
  void onRequestError(StreamId, int status, std::string_view) override { error = status; }
  void onStreamReset(StreamId, StreamResetReason) override {}
  int heads = 0;
  int error = 0;
  size_t field_bytes = 0;
};

/// One HEADERS frame (END_STREAM, END_HEADERS) whose block adds a 4000-byte field to the HPACK
/// dynamic table, then names it `repeats` more times with one byte each.
std::string amplifiedHeaders(uint32_t stream, int repeats) {
  std::string block(
      "\x82\x86\x84\x41\x01"
      "a",
      6);           // GET http / authority "a"
  block += '\x40';  // literal, incremental indexing, new name
  block += hpackInt(0, 7, 5) + "x-big";
  block += hpackInt(0, 7, 3995) + std::string(3995, 'v');
  for (int i = 0; i < repeats; ++i) {
    block += '\xbe';  // indexed: dynamic table entry 62, the field just added
  }
  return frame(kHeaders, kEndHeaders | 1, stream, block);
}

// fuzz/corpus/http2_server/crash-hpack-table-reuse-harness (an invariant of the fuzz target
// that was wrong, not a codec bug): one byte of HPACK can name a 4 KB table entry, so a small
// frame can carry a huge head. The request limits count the decoded fields: 20 copies (80 KB)
// are delivered, 40 (160 KB, over the 128 KiB max_header_bytes) are answered 431 and never
// delivered as a head.
TEST(Http2ServerCodec, HpackAmplifiedHeadIsBoundedByTheRequestLimits) {
  const ServerSettings settings = defaults();
  {
    HeadRecorder rec;
    ServerCodec codec(rec, settings);
    const std::string input = openPost().substr(0, 24 + 9) + amplifiedHeaders(1, 20);
    ASSERT_LT(input.size(), 4200u);
    codec.dispatch(input);
    EXPECT_EQ(rec.heads, 1);
    EXPECT_EQ(rec.error, 0);
    EXPECT_EQ(rec.field_bytes, 21u * 4000u);
  }
  HeadRecorder rec;
  ServerCodec codec(rec, settings);
  codec.dispatch(openPost().substr(0, 24 + 9) + amplifiedHeaders(1, 40));
  EXPECT_EQ(rec.heads, 0);
  EXPECT_EQ(rec.error, 431);
}


// An idle connection's codec gives back its scratch (recycled stream states, the response-head
// list, both output buffers) and keeps nghttp2's session: the next request may name an HPACK
// table entry an earlier one added, and the next response is framed as usual.
TEST(Http2ServerCodec, ReleasingIdleMemoryKeepsTheHpackState) {
  const ServerSettings settings = defaults();
  HeadRecorder rec;
  ServerCodec codec(rec, settings);
  codec.dispatch(openPost().substr(0, 24 + 9) + amplifiedHeaders(1, 0));
  ASSERT_EQ(rec.heads, 1);
  OutgoingResponse response;
  response.headers.add("content-type", "text/plain");
  response.framing = BodyFraming::ContentLength;
  response.content_length = 2;
  codec.encodeHeaders(1, response, false);
  codec.encodeData(1, "hi", true);
  const std::string first = drain(codec);
  ASSERT_GT(first.size(), 20u);
  codec.streamDone(1);
  EXPECT_GT(codec.releaseIdleMemory(), 0u);

  // Stream 3: GET http / authority "a" (added to the table again), then dynamic table entry
  // 63: x-big, which stream 1 added before its authority.
  codec.dispatch(frame(kHeaders, kEndHeaders | 1, 3,
                       std::string("\x82\x86\x84\x41\x01"
                                   "a\xbf",
                                   7)));
  EXPECT_EQ(rec.heads, 2);
  EXPECT_EQ(rec.error, 0);
  EXPECT_EQ(rec.field_bytes, 2u * (5u + 3995u));  // x-big in both requests
  codec.encodeHeaders(3, response, false);
  codec.encodeData(3, "hi", true);
  const std::string second = drain(codec);
  EXPECT_GT(second.size(), 20u);
  EXPECT_EQ(goawayCode(second), -1);
  EXPECT_TRUE(codec.alive());
}

}  // namespace
}  // namespace vallum::http::http2
