// Fuzzes the HTTP/1 client codec (src/http/http1/client_codec.h over the strict llhttp response
// parser) as the forward step drives it: a request is encoded, then upstream bytes arrive in
// up to three reads split at positions taken from the input; unconsumed bytes are fed again
// with the next read; after a complete response on a kept-alive connection the codec is reset
// for the next exchange; when the bytes end, finish() completes a close-delimited body.
//
// Input: byte 0 = flags (bit 0: HEAD request; bit 1: chunked request body with trailers),
// bytes 1-2 = split points, the rest = the bytes the upstream sends.
//
// Invariants: status 200-999 for a complete head (1xx other than 101 are skipped); reason,
// fields and body within the input; header names are tokens and values hold no CR/LF/NUL; no
// body for HEAD, 204 and 304; a Content-Length body is exactly that long when complete;
// chunked framing only with Transfer-Encoding; the encoded request is one well-formed head.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/strings.h"
#include "fuzz_check.h"
#include "http/http1/client_codec.h"

namespace {

using namespace vallum::http;

void checkFields(const HeaderMap& map, size_t input_size) {
  for (size_t i = 0; i < map.fieldCount(); ++i) {
    FUZZ_CHECK(map.name(i).size() + map.value(i).size() <= input_size);
    FUZZ_CHECK(vallum::strings::isToken(map.name(i)));
    FUZZ_CHECK(map.value(i).find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos);
  }
}

void encodeRequest(http1::ClientCodec& codec, bool head, bool chunked) {
  OutgoingRequest request;
  request.method = head ? "HEAD" : "POST";
  request.scheme = "http";
  request.authority = "upstream.example:8080";
  request.path = "/a/b?c=d";
  request.headers.add("x-forwarded-for", "10.0.0.1");
  request.framing = chunked ? BodyFraming::Chunked : BodyFraming::None;
  codec.encodeHeaders(request, !chunked);
  if (chunked) {
    codec.encodeData("body", false);
    HeaderMap trailers;
    trailers.add("x-checksum", "1");
    trailers.add("content-length", "9");  // not relayable: dropped
    codec.encodeTrailers(trailers);
  }
  std::vector<std::string_view> out;
  codec.takeOutput(out);
  std::string bytes;
  for (std::string_view piece : out) {
    bytes.append(piece);
  }
  FUZZ_CHECK(bytes.rfind(head ? "HEAD /a/b?c=d HTTP/1.1\r\n" : "POST /a/b?c=d HTTP/1.1\r\n", 0) ==
             0);
  FUZZ_CHECK(bytes.find("\r\n\r\n") != std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3 || size > 64 * 1024) {
    return 0;
  }
  const bool head = (data[0] & 1) != 0;
  const bool chunked_request = (data[0] & 2) != 0;
  const std::string_view wire(reinterpret_cast<const char*>(data + 3), size - 3);
  size_t cut1 = wire.size() * data[1] / 255;
  size_t cut2 = wire.size() * data[2] / 255;
  if (cut1 > cut2) {
    std::swap(cut1, cut2);
  }
  const size_t cuts[] = {cut1, cut2, wire.size()};

  http1::ClientCodec codec;
  codec.reset(head);
  encodeRequest(codec, head, chunked_request);

  std::string pending;
  std::vector<std::string_view> body;
  uint64_t body_bytes = 0;
  bool failed = false;
  bool done = false;  // the connection cannot be reused
  size_t from = 0;
  for (size_t cut : cuts) {
    pending.append(wire.substr(from, cut - from));
    from = cut;
    while (!failed && !done && !pending.empty()) {
      const std::vector<char> read(pending.begin(), pending.end());
      body.clear();
      const http1::ParseEvents ev =
          codec.dispatch(std::string_view(read.data(), read.size()), body);
      FUZZ_CHECK(ev.consumed <= read.size());
      if (ev.error_status != 0) {
        FUZZ_CHECK(ev.error_status == 502);
        failed = true;
        break;
      }
      ResponseHeaders& response = codec.response();
      if (ev.headers_complete) {
        FUZZ_CHECK(response.status >= 101 && response.status <= 999);
        FUZZ_CHECK(response.status == 101 || response.status >= 200);
        FUZZ_CHECK(response.reason.size() <= wire.size());
        checkFields(response.headers, wire.size());
        if (response.headers.count(HeaderId::TransferEncoding) == 0) {
          FUZZ_CHECK(response.framing != BodyFraming::Chunked);
        }
        if (head || response.status == 204 || response.status == 304) {
          FUZZ_CHECK(response.framing == BodyFraming::None);
        }
        body_bytes = 0;
      }
      for (std::string_view piece : body) {
        FUZZ_CHECK(piece.data() >= read.data() &&
                   piece.data() + piece.size() <= read.data() + read.size());
        body_bytes += piece.size();
      }
      FUZZ_CHECK(body_bytes <= wire.size());
      if (codec.parser().headersComplete()) {
        if (response.framing == BodyFraming::None) {
          FUZZ_CHECK(body_bytes == 0);
        } else if (response.framing == BodyFraming::ContentLength) {
          FUZZ_CHECK(body_bytes <= response.content_length);
        }
      }
      pending.erase(0, ev.consumed);
      if (ev.message_complete) {
        if (response.framing == BodyFraming::ContentLength) {
          FUZZ_CHECK(body_bytes == response.content_length);
        }
        checkFields(response.trailers, wire.size());
        if (!response.keep_alive || response.status == 101) {
          done = true;
          break;
        }
        codec.reset(head);  // the next exchange on the kept-alive connection
        encodeRequest(codec, head, chunked_request);
        body_bytes = 0;
      } else if (ev.consumed == 0) {
        break;
      }
    }
  }
  if (!failed && !done && codec.parser().headersComplete()) {
    const bool complete = codec.finish();
    if (complete) {
      FUZZ_CHECK(codec.response().framing == BodyFraming::CloseDelimited);
    }
  }
  return 0;
}
