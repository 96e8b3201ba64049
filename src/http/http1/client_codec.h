#pragma once

#include <string_view>
#include <vector>

#include "http/http1/parser.h"
#include "http/message.h"
#include "http/output.h"

/// HTTP/1.1 client codec (RFC 9112) for upstream connections: requests out as HTTP/1.1 text,
/// responses in through the strict llhttp parser. No I/O.
namespace vallum::http::http1 {

/// One exchange at a time on one upstream connection; reset() between exchanges (keep-alive).
class ClientCodec {
 public:
  /// Ready for the next exchange; `head_request`: the response has no body (RFC 9110 §9.3.2);
  /// `upgrade`: the request asks to switch protocols (a 101 may answer it).
  void reset(bool head_request, bool upgrade = false) {
    parser_.reset(head_request, upgrade);
    output_.clear();
    chunked_ = false;
  }

  /// The request head (appendRequestHead's framing rules); `end_stream`: no body follows.
  void encodeHeaders(const OutgoingRequest& request, bool end_stream);
  /// Request body bytes, chunked when the length is not known; `data` must stay valid until
  /// the next takeOutput(). `end_stream` writes the last chunk.
  void encodeData(std::string_view data, bool end_stream);
  /// Ends a chunked body with a trailer section (relayable fields only); a body with a known
  /// length cannot carry trailers and just ends.
  void encodeTrailers(const HeaderMap& trailers);
  /// Bytes to write, appended to `out` (views valid until the next takeOutput()).
  void takeOutput(std::vector<std::string_view>& out) { output_.take(out); }
  bool hasOutput() const { return !output_.empty(); }

  /// Feeds response bytes; body pieces are views into `bytes` (see ResponseParser).
  ParseEvents dispatch(std::string_view bytes, std::vector<std::string_view>& body) {
    return parser_.execute(bytes, body);
  }
  /// The upstream closed: completes a close-delimited body (ResponseParser::finish()).
  bool finish() { return parser_.finish(); }
  ResponseParser& parser() { return parser_; }
  ResponseHeaders& response() { return parser_.head(); }

 private:
  ResponseParser parser_;
  Output output_;
  bool chunked_ = false;
};

}  // namespace vallum::http::http1
