#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"

struct llhttp__internal_s;

/// Sans-I/O HTTP/1.1 parsing on top of llhttp (strict mode: no lenient flag is ever set).
/// Bytes go in, a message head and body pieces come out; no sockets. Body pieces are views into
/// the caller's input and stay valid as long as the caller keeps that input.
namespace vallum::http::http1 {

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

namespace detail {

/// What both parsers keep per message besides the head (parser.cc's shared steps use it).
struct ParseState {
  std::unique_ptr<llhttp__internal_s> llhttp;
  std::vector<std::string_view>* body = nullptr;  ///< execute()'s output
  const char* exec_begin = nullptr;               ///< the input of the running execute()
  const char* exec_end = nullptr;
  char prev_last_byte = '\n';  ///< the last byte of the previous input (obs-fold detection)
  int chunk_crlf_pending = 0;  ///< CRLF bytes after a chunk's data still to check (2, 1, 0)
  bool started = false;
  bool headers_complete = false;
  bool message_complete = false;
  bool new_headers_complete = false;  ///< during this execute()
  int error_status = 0;
  const char* error_reason = "";
  uint32_t max_field_count = 0;  ///< per section (head, trailers)
  uint32_t max_field_bytes = 0;  ///< names + values, per section

  ParseState(uint32_t max_count, uint32_t max_bytes);
  ~ParseState();
  /// Back to the start of a message (llhttp included).
  void reset(void* owner);
};

template <typename Parser>
struct FieldCallbacks;

}  // namespace detail

/// Parses one request at a time. Not thread-safe; one per connection.
///
/// Strictness beyond llhttp's (each answered with error_status and the connection closed):
/// * a version other than HTTP/1.x → 505 (RFC 9110 §15.6.6); an HTTP/0.9 request line → 400;
/// * Transfer-Encoding (RFC 9112 §6.1, §6.3): in an HTTP/1.0 request, repeated, empty, or
///   with a final coding other than exactly `chunked` (or `chunked` twice) → 400; another
///   coding before `chunked` (`gzip, chunked`) → 501;
/// * obs-fold → 400; a chunk's data not followed by CRLF → 400;
/// * trailer fields go to RequestHeaders::trailers, under the same limits as the head.
class RequestParser {
 public:
  explicit RequestParser(const RequestLimits& limits = {});
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
  bool started() const { return state_.started; }
  bool headersComplete() const { return state_.headers_complete; }
  bool messageComplete() const { return state_.message_complete; }

  RequestHeaders& head() { return head_; }
  const RequestHeaders& head() const { return head_; }

 private:
  friend struct RequestCallbacks;
  friend struct detail::FieldCallbacks<RequestParser>;

  RequestLimits limits_;
  detail::ParseState state_;
  RequestHeaders head_;
};

/// Parses upstream responses. Call reset() before each response (HEAD responses have no
/// body). 1xx informational responses other than 101 are consumed and skipped. A `101
/// Switching Protocols` is an error unless the request asked for an upgrade; then it is a
/// complete message with no body, and parsing stops right after its head (the bytes that
/// follow belong to the new protocol, RFC 9110 §15.2.2). A response with
/// a body whose Transfer-Encoding is anything but exactly `chunked` is malformed (502): Vallum
/// does not decode transfer codings, and relabelling `gzip, chunked` would corrupt the body.
/// Trailer fields go to ResponseHeaders::trailers.
class ResponseParser {
 public:
  ResponseParser();
  ~ResponseParser();
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  /// `upgrade`: the request asked to switch protocols (a 101 may answer it).
  void reset(bool head_request, bool upgrade = false);

  ParseEvents execute(std::string_view data, std::vector<std::string_view>& body);

  /// The upstream closed the connection: completes a close-delimited body. Returns true when
  /// the message is complete (then `message_complete` is set), false when it was truncated.
  bool finish();

  bool started() const { return state_.started; }
  bool headersComplete() const { return state_.headers_complete; }
  bool messageComplete() const { return state_.message_complete; }
  ResponseHeaders& head() { return head_; }

 private:
  friend struct ResponseCallbacks;
  friend struct detail::FieldCallbacks<ResponseParser>;

  detail::ParseState state_;
  ResponseHeaders head_;
  bool head_request_ = false;
  bool upgrade_ = false;
};

}  // namespace vallum::http::http1
