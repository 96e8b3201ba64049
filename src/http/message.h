#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "http/header_list.h"
#include "http/header_map.h"

/// Structured HTTP messages, whatever the protocol on the wire (RFC 9110 §6): codecs parse into
/// them and serialize from them; stages and the forward step never see HTTP/1 text or HTTP/2
/// frames. Plain data; owned by one stream on one worker.
namespace vallum::http {

/// How a message body is delimited (RFC 9112 §6; RFC 9113 §8.1).
enum class BodyFraming : uint8_t {
  None,            ///< no body
  ContentLength,   ///< exactly content_length bytes
  Chunked,         ///< length not known ahead: chunked on HTTP/1.1, DATA frames on HTTP/2
  CloseDelimited,  ///< HTTP/1 responses only: until the connection closes
};

/// A request head as a server codec parsed it from a client.
struct RequestHeaders {
  std::string method;
  /// HTTP/1: the request-target as received (origin-, absolute-, authority- or asterisk-form);
  /// HTTP/2: `:path`.
  std::string target;
  /// HTTP/2 `:authority` (RFC 9113 §8.3.1); empty on HTTP/1, where Host is a field.
  std::string authority;
  /// HTTP/2 `:scheme`; empty on HTTP/1.
  std::string scheme;
  uint8_t version_major = 1;
  uint8_t version_minor = 1;
  HeaderMap headers;
  /// The trailer section (a chunked body's, or an HTTP/2 trailing HEADERS block), complete once
  /// the message is. Never merged into `headers`: a trailer cannot change routing, Host or
  /// framing (RFC 9110 §6.5.1).
  HeaderMap trailers;
  BodyFraming framing = BodyFraming::None;
  uint64_t content_length = 0;
  /// Whether the client allows another request on this connection (RFC 9112 §9.3):
  /// HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
  /// Always true on HTTP/2 (streams end, the connection stays).
  bool keep_alive = true;
  bool expect_continue = false;  ///< `Expect: 100-continue`

  bool http2() const { return version_major == 2; }
  void clear();
};

/// A response head as a client codec parsed it from an upstream.
struct ResponseHeaders {
  int status = 0;
  std::string reason;  ///< HTTP/1 reason phrase as received; empty on HTTP/2
  uint8_t version_major = 1;
  uint8_t version_minor = 1;
  HeaderMap headers;
  /// The trailer section, complete once the message is; never merged into `headers`.
  HeaderMap trailers;
  BodyFraming framing = BodyFraming::None;
  uint64_t content_length = 0;
  bool keep_alive = true;  ///< the upstream allows reuse of the connection

  void clear();
};

/// A request head composed for an upstream (the forward step builds it, a client codec writes
/// it): `Host`/`:authority`, path and fields as the route rewrote them. `headers` holds no
/// framing or hop-by-hop field; the codec states the framing from `framing`.
struct OutgoingRequest {
  std::string_view method;
  std::string_view scheme;     ///< "http" or "https" (HTTP/2 `:scheme`)
  std::string_view authority;  ///< HTTP/1 `Host`, HTTP/2 `:authority`
  std::string path;            ///< origin-form: path and query
  HeaderList headers;
  BodyFraming framing = BodyFraming::None;
  uint64_t content_length = 0;
  /// A bodiless request that announced `Content-Length: 0` keeps announcing it (a POST).
  bool announce_empty_body = false;

  void clear() {
    method = scheme = authority = {};
    path.clear();
    headers.clear();
    framing = BodyFraming::None;
    content_length = 0;
    announce_empty_body = false;
  }
};

/// A response head composed for a client (from an upstream's response or a local reply); a
/// server codec writes it. `headers` holds no framing or hop-by-hop field.
struct OutgoingResponse {
  int status = 200;
  std::string_view reason;  ///< HTTP/1 reason phrase; empty → the standard one
  HeaderList headers;
  /// The body that follows: its framing and, for ContentLength, its size. For a HEAD request or
  /// a 304 this still describes the representation (RFC 9110 §8.6) though no body is sent.
  BodyFraming framing = BodyFraming::None;
  uint64_t content_length = 0;
  /// `framing` None on a HEAD/304 answer: whether a Content-Length is to be stated anyway.
  bool state_length = false;
  /// The proxy will not read the rest of this request (a local reply before its body arrived,
  /// a framing error): HTTP/1 answers `Connection: close` and closes after the response;
  /// HTTP/2 resets the request side once the response is sent (RFC 9113 §8.1).
  bool close = false;

  void clear() {
    status = 200;
    reason = {};
    headers.clear();
    framing = BodyFraming::None;
    content_length = 0;
    state_length = false;
    close = false;
  }
};

/// Upstream response head limits (name + value bytes summed, and fields), for HTTP/1.1 and
/// HTTP/2 origins alike; over them the response is malformed (502, Envoy's upstream protocol
/// error).
inline constexpr uint32_t kMaxResponseHeaderBytes = 128 * 1024;
inline constexpr uint32_t kMaxResponseHeaderCount = 1000;

/// Request limits (Pomerium's: 128 KiB and 1000 fields, pomerium/pomerium#6449), for every
/// protocol.
struct RequestLimits {
  /// Sum over all fields of name size + value size (request line, ": " and CRLF not counted).
  uint32_t max_header_bytes = 128 * 1024;
  /// Field lines, duplicates counted separately.
  uint32_t max_header_count = 1000;
  /// Request-target size; over it → 414.
  uint32_t max_target_size = 64 * 1024;
};

}  // namespace vallum::http
