#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/header_map.h"

struct llhttp__internal_s;

/// Sans-I/O HTTP/1.1 parsing on top of llhttp (strict mode: no lenient flag is ever set).
/// Bytes go in, a message head and body pieces come out; no sockets. Body pieces are views into
/// the caller's input and stay valid as long as the caller keeps that input.
namespace vallum::http {

/// How a message body is delimited (RFC 9112 §6).
enum class BodyFraming : uint8_t {
  None,            ///< no body
  ContentLength,   ///< exactly content_length bytes
  Chunked,         ///< chunked transfer coding
  CloseDelimited,  ///< responses only: until the connection closes
};

struct RequestHead {
  std::string method;
  std::string target;  ///< the raw request-target as received
  uint8_t version_major = 1;
  uint8_t version_minor = 1;
  HeaderMap headers;
  /// The trailer section of a chunked body (RFC 9110 §6.5), complete once the message is.
  /// Never merged into `headers`: a trailer cannot change routing, Host or framing.
  HeaderMap trailers;
  BodyFraming framing = BodyFraming::None;
  uint64_t content_length = 0;
  /// Whether the client allows another request on this connection (RFC 9112 §9.3):
  /// HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
  bool keep_alive = true;
  bool expect_continue = false;  ///< `Expect: 100-continue`

  void clear();
};

struct ResponseHead {
  int status = 0;
  std::string reason;
  uint8_t version_major = 1;
  uint8_t version_minor = 1;
  HeaderMap headers;
  /// The trailer section (a chunked body's, or an HTTP/2 trailing HEADERS block), complete
  /// once the message is; never merged into `headers`.
  HeaderMap trailers;
  BodyFraming framing = BodyFraming::None;
  uint64_t content_length = 0;
  bool keep_alive = true;  ///< the upstream allows reuse of the connection

  void clear();
};

/// Upstream response head limits (name + value bytes summed, and fields), for HTTP/1.1 and
/// HTTP/2 origins alike; over them the response is malformed (502, dataplane-semantics §7.3).
inline constexpr uint32_t kMaxResponseHeaderBytes = 128 * 1024;
inline constexpr uint32_t kMaxResponseHeaderCount = 1000;

/// Request limits (Pomerium's, dataplane-semantics §7.3).
struct ParserLimits {
  /// Sum over all fields of name size + value size (request line, ": " and CRLF not counted).
  uint32_t max_header_bytes = 128 * 1024;
  /// Field lines, duplicates counted separately.
  uint32_t max_header_count = 1000;
  /// Request-target size; over it → 414.
  uint32_t max_target_size = 64 * 1024;
};

/// What one execute() call did. `consumed` is how much input was used; after a complete
/// message the rest of the input belongs to the next message (pipelining) and the parser must
/// be reset() before it is fed again.
struct ParseEvents {
  size_t consumed = 0;
  bool headers_complete = false;  ///< the head became complete during this call
  bool message_complete = false;  ///< the message (head and body) is complete
  /// Requests: the status to answer with (400, 414, 431, 501, 505); responses: 502.
  /// 0 = no error.
  int error_status = 0;
  const char* error_reason = "";
};

/// Parses one request at a time. Not thread-safe; one per connection.
///
/// Strictness beyond llhttp's (each answered with error_status and the connection closed):
/// * a version other than HTTP/1.x → 505 (RFC 9110 §15.6.6); an HTTP/0.9 request line → 400;
/// * Transfer-Encoding (RFC 9112 §6.1, §6.3): in an HTTP/1.0 request, repeated, empty, or
///   with a final coding other than exactly `chunked` (or `chunked` twice) → 400; another
///   coding before `chunked` (`gzip, chunked`) → 501;
/// * obs-fold → 400; a chunk's data not followed by CRLF → 400;
/// * trailer fields go to RequestHead::trailers, under the same limits as the head.
class RequestParser {
 public:
  explicit RequestParser(const ParserLimits& limits = {});
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  /// Prepares for the next message (clears the head).
  void reset();
  /// reset(), and frees head buffers grown beyond `keep_bytes` (the connection is closing).
  /// Returns the bytes given back to the allocator.
  size_t releaseMemory(size_t keep_bytes);

  /// Feeds bytes; appends views of body bytes to `body`.
  ParseEvents execute(std::string_view data, std::vector<std::string_view>& body);

  /// True once any byte of the current message has been seen.
  bool started() const { return started_; }
  bool headersComplete() const { return headers_complete_; }
  bool messageComplete() const { return message_complete_; }

  RequestHead& head() { return head_; }
  const RequestHead& head() const { return head_; }

 private:
  friend struct RequestCallbacks;

  ParserLimits limits_;
  std::unique_ptr<llhttp__internal_s> parser_;
  RequestHead head_;
  std::vector<std::string_view>* body_ = nullptr;
  const char* exec_begin_ = nullptr;
  const char* exec_end_ = nullptr;
  char prev_last_byte_ = '\n';
  int chunk_crlf_pending_ = 0;
  bool started_ = false;
  bool headers_complete_ = false;
  bool message_complete_ = false;
  bool new_headers_complete_ = false;
  int error_status_ = 0;
  const char* error_reason_ = "";
};

/// Parses upstream responses. Call reset() before each response (HEAD responses have no
/// body). 1xx informational responses other than 101 are consumed and skipped. A response with
/// a body whose Transfer-Encoding is anything but exactly `chunked` is malformed (502): Vallum
/// does not decode transfer codings, and relabelling `gzip, chunked` would corrupt the body.
/// Trailer fields go to ResponseHead::trailers.
class ResponseParser {
 public:
  ResponseParser();
  ~ResponseParser();
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  void reset(bool head_request);

  ParseEvents execute(std::string_view data, std::vector<std::string_view>& body);

  /// The upstream closed the connection: completes a close-delimited body. Returns true when
  /// the message is complete (then `message_complete` is set), false when it was truncated.
  bool finish();

  bool started() const { return started_; }
  bool headersComplete() const { return headers_complete_; }
  bool messageComplete() const { return message_complete_; }
  ResponseHead& head() { return head_; }

 private:
  friend struct ResponseCallbacks;

  std::unique_ptr<llhttp__internal_s> parser_;
  ResponseHead head_;
  std::vector<std::string_view>* body_ = nullptr;
  const char* exec_begin_ = nullptr;
  const char* exec_end_ = nullptr;
  char prev_last_byte_ = '\n';
  int chunk_crlf_pending_ = 0;
  bool head_request_ = false;
  bool started_ = false;
  bool headers_complete_ = false;
  bool message_complete_ = false;
  bool new_headers_complete_ = false;
  const char* error_reason_ = "";
};

}  // namespace vallum::http
