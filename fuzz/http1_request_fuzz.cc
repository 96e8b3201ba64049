// Fuzzes the HTTP/1 server codec (src/http/http1/server_codec.h over the strict llhttp request
// parser) the way the connection manager drives it: client bytes arrive in up to three reads,
// split at positions taken from the input; each complete request is answered (a response head,
// a body, sometimes trailers) and the next pipelined request parsed, until the codec wants the
// connection closed.
//
// Input: byte 0 = answer flags, bytes 1-2 = the two split points (scaled to the wire size),
// the rest = the bytes the client sends.
//
// Invariants: every parsed field (method, target, header and trailer names and values) and the
// body delivered are within the input; header names are tokens, values hold no CR, LF or NUL
// (no smuggled field lines); a request's framing agrees with its fields (Transfer-Encoding ⇒
// chunked, Content-Length alone ⇒ exactly that many body bytes); the response bytes start with
// a status line.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/strings.h"
#include "fuzz_check.h"
#include "http/http1/server_codec.h"

namespace {

using namespace vallum::http;

void checkFields(const HeaderMap& map, size_t input_size) {
  for (size_t i = 0; i < map.fieldCount(); ++i) {
    const std::string_view name = map.name(i);
    const std::string_view value = map.value(i);
    FUZZ_CHECK(name.size() + value.size() <= input_size);
    FUZZ_CHECK(vallum::strings::isToken(name));
    FUZZ_CHECK(value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos);
  }
}

class Client final : public ServerCodecCallbacks {
 public:
  explicit Client(size_t input_size) : input_size_(input_size) {}

  void onRequestHeaders(StreamId stream, RequestHeaders& headers, bool end_stream) override {
    FUZZ_CHECK(stream == 1);
    FUZZ_CHECK(!open_);
    open_ = true;
    head_ = &headers;
    body_bytes_ = 0;
    ended_ = end_stream;
    FUZZ_CHECK(!headers.method.empty() && headers.method.size() <= input_size_);
    FUZZ_CHECK(vallum::strings::isToken(headers.method));
    FUZZ_CHECK(!headers.target.empty() && headers.target.size() <= input_size_);
    FUZZ_CHECK(headers.version_major == 1 && headers.version_minor <= 1);
    checkFields(headers.headers, input_size_);
    const bool has_te = headers.headers.count(HeaderId::TransferEncoding) > 0;
    const bool has_cl = headers.headers.count(HeaderId::ContentLength) > 0;
    if (has_te) {
      FUZZ_CHECK(headers.framing == BodyFraming::Chunked);
    } else if (has_cl) {
      FUZZ_CHECK(headers.framing == BodyFraming::ContentLength ||
                 (headers.framing == BodyFraming::None && headers.content_length == 0));
      FUZZ_CHECK(headers.content_length <= input_size_ || !end_stream);
    } else {
      FUZZ_CHECK(headers.framing == BodyFraming::None);
    }
    ++requests_;
  }
  void onRequestData(StreamId stream, std::string_view data, bool end_stream) override {
    FUZZ_CHECK(stream == 1 && open_ && !ended_);
    body_bytes_ += data.size();
    FUZZ_CHECK(body_bytes_ <= input_size_);
    if (head_->framing == BodyFraming::ContentLength) {
      FUZZ_CHECK(body_bytes_ <= head_->content_length);
      if (end_stream) {
        FUZZ_CHECK(body_bytes_ == head_->content_length);
      }
    }
    ended_ = end_stream;
  }
  void onRequestTrailers(StreamId stream) override {
    FUZZ_CHECK(stream == 1 && open_ && !ended_);
    FUZZ_CHECK(head_->framing == BodyFraming::Chunked);
    checkFields(head_->trailers, input_size_);
    ended_ = true;
  }
  void onRequestError(StreamId stream, int status, std::string_view reason) override {
    FUZZ_CHECK(stream == 1);
    FUZZ_CHECK(status >= 400 && status <= 505);
    FUZZ_CHECK(!reason.empty());
    error_status_ = status;
  }
  void onStreamReset(StreamId, StreamResetReason) override { open_ = false; }

  size_t input_size_;
  RequestHeaders* head_ = nullptr;
  size_t body_bytes_ = 0;
  int requests_ = 0;
  int error_status_ = 0;
  bool open_ = false;
  bool ended_ = false;
};

/// Answers the current request (or the parse error) and ends the stream.
void answer(http1::ServerCodec& codec, Client& client, uint8_t flags, std::string& wire_out) {
  OutgoingResponse response;
  static const std::string kBody = "hello, fuzzer";
  if (client.error_status_ != 0) {
    response.status = client.error_status_;
    response.framing = BodyFraming::ContentLength;
    response.content_length = kBody.size();
    response.close = true;
  } else {
    response.status = (flags & 0x20) != 0 ? 204 : 200;
    switch ((flags >> 1) & 3) {
      case 0:
        response.framing = BodyFraming::None;
        break;
      case 1:
        response.framing = BodyFraming::ContentLength;
        break;
      case 2:
        response.framing = BodyFraming::Chunked;
        break;
      default:
        response.framing = BodyFraming::CloseDelimited;
        break;
    }
    response.content_length = kBody.size();
    response.close = !client.ended_;
    response.headers.add("x-fuzz", "1");
    if ((flags & 0x10) != 0 && client.head_ != nullptr && client.head_->expect_continue) {
      codec.encodeContinue(1);
    }
  }
  const bool no_body = response.framing == BodyFraming::None;
  codec.encodeHeaders(1, response, no_body);
  if (!no_body) {
    if ((flags & 0x08) != 0 && client.head_ != nullptr) {
      codec.encodeData(1, kBody, false);
      codec.encodeTrailers(1, client.head_->trailers);
    } else {
      codec.encodeData(1, kBody, true);
    }
  }
  OutputPieces out;
  codec.takeOutput(out);
  std::string bytes;
  for (std::string_view piece : out) {
    bytes.append(piece);
  }
  FUZZ_CHECK(bytes.rfind("HTTP/1.1 ", 0) == 0);
  wire_out += bytes;
  codec.streamDone(1);
  client.open_ = false;
  client.head_ = nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3 || size > 64 * 1024) {
    return 0;
  }
  const uint8_t flags = data[0];
  const std::string_view wire(reinterpret_cast<const char*>(data + 3), size - 3);
  size_t cut1 = wire.size() * data[1] / 255;
  size_t cut2 = wire.size() * data[2] / 255;
  if (cut1 > cut2) {
    std::swap(cut1, cut2);
  }
  const size_t cuts[] = {cut1, cut2, wire.size()};

  RequestLimits limits;
  if ((flags & 0x40) != 0) {  // small limits, so that 414 and 431 are reachable
    limits.max_header_bytes = 256;
    limits.max_header_count = 8;
    limits.max_target_size = 64;
  }
  Client client(wire.size());
  http1::ServerCodec codec(client, limits);
  std::string pending;  // read but not yet used (pipelined requests wait here)
  std::string wire_out;
  size_t from = 0;
  for (size_t cut : cuts) {
    // Each read: a fresh copy of exactly the bytes read, so over-reads are caught.
    pending.append(wire.substr(from, cut - from));
    from = cut;
    for (int guard = 0; guard < 1000 && !codec.wantsClose(); ++guard) {
      const std::vector<char> read(pending.begin(), pending.end());
      const size_t used = codec.dispatch(std::string_view(read.data(), read.size()));
      FUZZ_CHECK(used <= read.size());
      pending.erase(0, used);
      const bool respond = client.error_status_ != 0 ||
                           (client.open_ && (codec.requestComplete() || (flags & 1) != 0));
      if (!respond) {
        break;
      }
      answer(codec, client, flags, wire_out);
      if (client.error_status_ != 0) {
        FUZZ_CHECK(codec.wantsClose());
      }
    }
    if (codec.wantsClose()) {
      break;
    }
  }
  FUZZ_CHECK(static_cast<size_t>(client.requests_) <= wire.size() / 16 + 1);
  codec.releaseMemory(0);
  return 0;
}
