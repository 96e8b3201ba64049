#include "http/http1/server_codec.h"

#include "common/strings.h"
#include "http/http1/writer.h"
#include "http/status.h"
#include "http/trailers.h"

namespace vallum::http::http1 {

namespace {
constexpr StreamId kStream = 1;
constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
}  // namespace

ServerCodec::ServerCodec(ServerCodecCallbacks& callbacks, const RequestLimits& limits)
    : callbacks_(callbacks), parser_(limits) {}

void ServerCodec::reset() {
  parser_.reset();
  body_.clear();
  output_.clear();
  framing_ = WireFraming::None;
  stream_open_ = paused_ = response_started_ = response_done_ = no_body_ = false;
  keep_alive_ = true;
  draining_ = close_ = false;
}

size_t ServerCodec::releaseMemory(size_t keep_bytes) {
  size_t freed = parser_.releaseMemory(keep_bytes) + output_.release(keep_bytes);
  if (body_.capacity() > 256) {
    freed += body_.capacity() * sizeof(std::string_view);
    std::vector<std::string_view>().swap(body_);
  }
  return freed;
}

size_t ServerCodec::dispatch(std::string_view bytes) {
  size_t used = 0;
  while (!paused_ && !close_ && used < bytes.size()) {
    body_.clear();
    const ParseEvents ev = parser_.execute(bytes.substr(used), body_);
    if (ev.error_status != 0) {
      // A malformed request: the rest of the stream cannot be trusted (RFC 9112 §9.3). The
      // answer is the last thing on this connection.
      close_ = true;
      stream_open_ = true;
      callbacks_.onRequestError(kStream, ev.error_status, ev.error_reason);
      return bytes.size();
    }
    used += ev.consumed;
    if (ev.headers_complete) {
      stream_open_ = true;
      RequestHeaders& head = parser_.head();
      const bool no_body = ev.message_complete && body_.empty() && head.trailers.fieldCount() == 0 &&
                           head.framing != BodyFraming::Chunked;
      callbacks_.onRequestHeaders(kStream, head, no_body);
      if (no_body) {
        paused_ = true;
        break;
      }
    }
    deliverBody(ev);
    if (ev.message_complete) {
      paused_ = true;
    }
    if (ev.consumed == 0) {
      break;
    }
  }
  return used;
}

void ServerCodec::deliverBody(const ParseEvents& ev) {
  if (!parser_.headersComplete()) {
    return;
  }
  const bool trailers = ev.message_complete && parser_.head().trailers.fieldCount() > 0;
  for (size_t i = 0; i < body_.size(); ++i) {
    const bool last = i + 1 == body_.size();
    callbacks_.onRequestData(kStream, body_[i], last && ev.message_complete && !trailers);
  }
  if (ev.message_complete) {
    if (trailers) {
      callbacks_.onRequestTrailers(kStream);
    } else if (body_.empty()) {
      callbacks_.onRequestData(kStream, {}, true);  // a chunked body ends with its last chunk
    }
  }
}

void ServerCodec::encodeContinue(StreamId) {
  const RequestHeaders& request = parser_.head();
  if (request.version_major == 1 && request.version_minor == 0) {
    return;  // HTTP/1.0 clients do not understand 1xx (RFC 9110 §15.2)
  }
  output_.append(kContinue);
}

void ServerCodec::encodeHeaders(StreamId, const OutgoingResponse& response, bool end_stream) {
  const RequestHeaders& request = parser_.head();
  const bool client_http10 = request.version_major == 1 && request.version_minor == 0;
  const bool head_request = parser_.headersComplete() && request.method == "HEAD";
  no_body_ = head_request || response.status == 204 || response.status == 304;
  switch (response.framing) {
    case BodyFraming::None:
      framing_ = WireFraming::None;
      break;
    case BodyFraming::ContentLength:
      framing_ = WireFraming::Length;
      break;
    case BodyFraming::Chunked:
    case BodyFraming::CloseDelimited:
      framing_ = client_http10 ? WireFraming::Close : WireFraming::Chunked;
      break;
  }
  if (no_body_ && framing_ != WireFraming::Length) {
    framing_ = WireFraming::None;
  }
  // After a 101, or a 2xx to a CONNECT, the connection speaks the new protocol (a tunnel): no
  // further HTTP message on it, and a CONNECT's 2xx carries no framing (RFC 9110 §9.3.6).
  const bool switching = response.status == 101;
  const bool connected = request.method == "CONNECT" && response.status / 100 == 2;
  if (connected) {
    framing_ = WireFraming::None;
    no_body_ = true;
  }
  keep_alive_ = parser_.headersComplete() && request.keep_alive && !draining_ &&
                !response.close && framing_ != WireFraming::Close && !switching && !connected;
  std::string& out = output_.begin();
  const int status = response.status;
  const char status_line[13] = {'H', 'T', 'T', 'P', '/', '1', '.', '1', ' ',
                                char('0' + status / 100 % 10), char('0' + status / 10 % 10),
                                char('0' + status % 10), ' '};
  out.append(status_line, sizeof(status_line));
  out += response.reason.empty() ? reasonPhrase(status) : response.reason;
  out += kCrlf;
  appendFields(response.headers, out);
  if (framing_ == WireFraming::Length ||
      (framing_ == WireFraming::None && no_body_ && response.state_length)) {
    // With no body (HEAD, 304) it describes the representation (RFC 9110 §8.6).
    out += "content-length: ";
    strings::appendDecimal(out, response.content_length);
    out += kCrlf;
  } else if (framing_ == WireFraming::Chunked) {
    out += "transfer-encoding: chunked\r\n";
  } else if (framing_ == WireFraming::None && !no_body_ && response.status >= 200) {
    out += "content-length: 0\r\n";  // never leave an empty body close-delimited
  }
  if (switching) {
    out += "connection: upgrade\r\n";
  } else if (connected) {
    // nothing: the tunnel starts after the blank line
  } else if (!keep_alive_) {
    out += "connection: close\r\n";
  } else if (client_http10) {
    out += "connection: keep-alive\r\n";
  }
  out += kCrlf;
  output_.commit();
  response_started_ = true;
  if (end_stream) {
    response_done_ = true;
  }
}

void ServerCodec::encodeData(StreamId, std::string_view data, bool end_stream) {
  if (!no_body_ && framing_ != WireFraming::None) {
    if (framing_ == WireFraming::Chunked) {
      if (!data.empty()) {
        std::string& line = output_.begin();
        strings::appendHex(line, data.size());
        line += kCrlf;
        output_.commit();
        output_.appendExternal(data);
        output_.append(kCrlf);
      }
      if (end_stream) {
        output_.append(kLastChunk);
      }
    } else {
      output_.appendExternal(data);
    }
  }
  if (end_stream) {
    response_done_ = true;
  }
}

void ServerCodec::encodeTrailers(StreamId, const HeaderMap& trailers) {
  // Trailers travel only in a chunked body (RFC 9112 §7.1.2); otherwise they are dropped.
  if (!no_body_ && framing_ == WireFraming::Chunked) {
    appendLastChunk(trailers, output_.begin());
    output_.commit();
  }
  response_done_ = true;
}

void ServerCodec::resetStream(StreamId) {
  // HTTP/1 has no stream reset: closing without finishing the message is the only way to tell
  // the client the response is incomplete (a chunked body lacks its last chunk, a
  // content-length body is short).
  close_ = true;
}

void ServerCodec::streamDone(StreamId) {
  if (!response_done_ || !keep_alive_ || !parser_.messageComplete()) {
    // Unread request bytes would be taken for the next request; an unfinished response or a
    // response that said close ends the connection.
    close_ = true;
  }
  stream_open_ = paused_ = false;
  response_started_ = response_done_ = no_body_ = false;
  framing_ = WireFraming::None;
  keep_alive_ = true;
  if (!close_) {
    parser_.reset();
  }
}

void ServerCodec::goAway() {
  draining_ = true;
  if (!stream_open_ && !parser_.started()) {
    close_ = true;
  }
}

}  // namespace vallum::http::http1
