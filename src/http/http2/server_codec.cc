#include "http/http2/server_codec.h"

#include <algorithm>
#include <charconv>
#include <new>

#include <nghttp2/nghttp2.h>

#include "common/strings.h"
#include "http/http2/session_memory.h"
#include "http/trailers.h"

namespace vallum::http::http2 {

namespace {

uint8_t* asBytes(std::string_view s) {
  return reinterpret_cast<uint8_t*>(const_cast<char*>(s.data()));
}

std::string_view asView(const uint8_t* p, size_t n) {
  return {reinterpret_cast<const char*>(p), n};
}

/// Fields HTTP/2 forbids (RFC 9113 §8.2.2); the proxy removes them before encoding, this is the
/// codec's own guard.
bool isConnectionSpecific(std::string_view lower_name) {
  return lower_name == "connection" || lower_name == "keep-alive" ||
         lower_name == "proxy-connection" || lower_name == "transfer-encoding" ||
         lower_name == "upgrade" || lower_name == "te";
}

}  // namespace

struct ServerCodec::Stream {
  StreamId id = 0;
  RequestHeaders request;
  std::string cookies;       ///< `cookie` fields joined with "; " (RFC 9113 §8.2.3)
  size_t header_bytes = 0;   ///< counted as HTTP/1.1 counts them (see onHeader)
  size_t field_lines = 0;    ///< of the section being received (head, then trailers)
  size_t decoded_bytes = 0;  ///< every field HPACK decoded for this stream (bomb bound)
  bool too_large = false;
  bool head_delivered = false;
  bool request_ended = false;
  // Response.
  std::string body;  ///< queued response body bytes
  size_t body_off = 0;
  bool body_eof = false;
  bool has_body = false;  ///< a data provider was attached
  HeaderMap trailers;     ///< relayable response trailers, sent after the body
  bool submitted = false;
  bool response_done = false;
  bool close_request = false;  ///< reset the request side once the response is sent
  bool closed = false;         ///< nghttp2 closed the stream
  bool done = false;           ///< streamDone() was called

  void reset(StreamId stream_id) {
    id = stream_id;
    request.clear();
    request.version_major = 2;
    request.version_minor = 0;
    cookies.clear();
    header_bytes = field_lines = decoded_bytes = 0;
    too_large = head_delivered = request_ended = false;
    body.clear();
    body_off = 0;
    body_eof = has_body = false;
    trailers.clear();
    submitted = response_done = close_request = closed = done = false;
  }
  size_t pending() const { return body.size() - body_off; }
};

/// nghttp2's callbacks, as static functions with access to the codec's privates.
struct ServerCodec::Callbacks {
  static ServerCodec& self(void* user_data) { return *static_cast<ServerCodec*>(user_data); }

  static int onBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    ServerCodec& s = self(user_data);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
      return 0;  // trailers go to the stream that exists
    }
    std::unique_ptr<Stream> stream;
    if (!s.spare_.empty()) {
      stream = std::move(s.spare_.back());
      s.spare_.pop_back();
    } else {
      stream = std::make_unique<Stream>();
    }
    stream->reset(frame->hd.stream_id);
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, stream.get());
    s.streams_.push_back(std::move(stream));
    return 0;
  }

  static int onHeader(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
                      size_t name_len, const uint8_t* value, size_t value_len, uint8_t,
                      void* user_data) {
    ServerCodec& s = self(user_data);
    auto* stream =
        static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
    if (stream == nullptr || frame->hd.type != NGHTTP2_HEADERS) {
      return 0;
    }
    const std::string_view n = asView(name, name_len);
    const std::string_view v = asView(value, value_len);
    // Everything HPACK hands out, pseudo-header fields included, bounds the decoding work of
    // an HPACK bomb (see ServerSettings::max_decoded_header_bytes).
    stream->decoded_bytes += name_len + value_len;
    if (stream->decoded_bytes > s.settings_.max_decoded_header_bytes) {
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    // The limits count what HTTP/1.1 counts (http1/parser.cc), so one request gets one answer
    // over either protocol: field lines and their name + value lengths, `:authority` as the
    // Host field it stands for; the other pseudo-header fields are the request line, which is
    // not counted (`:path` has its own limit). The head and the trailer section each count
    // against the field-line limit; beyond the limits nothing more is stored (HPACK decoding
    // goes on, so the connection stays in sync).
    const bool pseudo = !n.empty() && n[0] == ':';
    if (!pseudo || n == ":authority") {
      stream->header_bytes += (pseudo ? std::string_view("host").size() : name_len) + value_len;
      ++stream->field_lines;
    }
    HeaderMap& fields = stream->head_delivered ? stream->request.trailers : stream->request.headers;
    if (stream->header_bytes > s.settings_.limits.max_header_bytes ||
        stream->field_lines > s.settings_.limits.max_header_count) {
      stream->too_large = true;
      return 0;
    }
    if (stream->head_delivered) {
      if (!n.empty() && n[0] != ':') {
        fields.add(n, v);
      }
      return 0;
    }
    RequestHeaders& request = stream->request;
    if (n == ":method") {
      request.method.assign(v);
    } else if (n == ":path") {
      if (value_len > s.settings_.limits.max_target_size) {
        stream->too_large = true;
        return 0;
      }
      request.target.assign(v);
    } else if (n == ":authority") {
      request.authority.assign(v);
    } else if (n == ":scheme") {
      request.scheme.assign(v);
    } else if (n == "cookie") {
      if (!stream->cookies.empty()) {
        stream->cookies += "; ";
      }
      stream->cookies.append(v);
    } else if (!n.empty() && n[0] != ':') {
      fields.add(n, v);
    }
    return 0;
  }

  static int onFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    ServerCodec& s = self(user_data);
    if (frame->hd.type == NGHTTP2_RST_STREAM && !s.takeResetToken()) {
      // Rapid reset (CVE-2023-44487): the client makes us start work it cancels at once.
      nghttp2_session_terminate_session(session, NGHTTP2_ENHANCE_YOUR_CALM);
      return 0;
    }
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) {
      return 0;
    }
    auto* stream =
        static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
    if (stream == nullptr) {
      return 0;
    }
    const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (frame->hd.type == NGHTTP2_DATA) {
      if (frame->hd.length == 0 && !end_stream &&
          ++s.empty_frames_ > s.settings_.max_empty_frames) {
        // A flood of frames that cost work and carry nothing (CVE-2019-9518): stop reading
        // now; dispatch() ends the session with GOAWAY ENHANCE_YOUR_CALM once nghttp2 has
        // returned. Never terminate from inside a callback: nghttp2 resets its inbound state
        // after this callback, which loses the termination, and the next connection error in
        // the same input then fails an assertion and aborts the process (fuzz/RESULTS.md).
        s.flooded_ = true;
        return NGHTTP2_ERR_CALLBACK_FAILURE;
      }
      if (end_stream) {
        stream->request_ended = true;
        if (stream->head_delivered && !stream->too_large) {
          s.callbacks_->onRequestData(stream->id, {}, true);
        }
      }
      return 0;
    }
    if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
      // The trailer section (it always ends the stream).
      stream->request_ended = true;
      if (stream->head_delivered && !stream->too_large) {
        s.callbacks_->onRequestTrailers(stream->id);
      }
      return 0;
    }
    if ((frame->hd.flags & NGHTTP2_FLAG_END_HEADERS) == 0) {
      return 0;
    }
    RequestHeaders& request = stream->request;
    if (!stream->cookies.empty()) {
      request.headers.add("cookie", stream->cookies);
    }
    stream->head_delivered = true;
    stream->field_lines = 0;  // the trailer section counts its own
    stream->request_ended = end_stream;
    if (stream->too_large) {
      s.callbacks_->onRequestError(stream->id, 431, "request header fields too large");
      return 0;
    }
    if (end_stream) {
      request.framing = BodyFraming::None;
    } else if (auto cl = request.headers.get(HeaderId::ContentLength)) {
      // nghttp2 has checked it is a number and will reset the stream when the DATA disagrees.
      request.framing = BodyFraming::ContentLength;
      request.content_length = strings::parseDecimal(*cl).value_or(0);
    } else {
      request.framing = BodyFraming::Chunked;
    }
    if (auto expect = request.headers.get(HeaderId::Expect)) {
      request.expect_continue = strings::iequals(*expect, "100-continue");
    }
    s.callbacks_->onRequestHeaders(stream->id, request, end_stream);
    return 0;
  }

  static int onDataChunk(nghttp2_session* session, uint8_t, int32_t stream_id, const uint8_t* data,
                         size_t len, void* user_data) {
    ServerCodec& s = self(user_data);
    // The connection window reopens on arrival: a stream whose upstream is slow holds at most
    // its own window, never the other streams' share (the stream window waits for
    // consumeRequestData).
    nghttp2_session_consume_connection(session, len);
    auto* stream = static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, stream_id));
    if (stream == nullptr || stream->too_large || !stream->head_delivered || stream->done) {
      nghttp2_session_consume_stream(session, stream_id, len);
      return 0;
    }
    s.callbacks_->onRequestData(stream_id, asView(data, len), false);
    return 0;
  }

  static int onStreamClose(nghttp2_session* session, int32_t stream_id, uint32_t error_code,
                           void* user_data) {
    ServerCodec& s = self(user_data);
    auto* stream = static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, stream_id));
    if (stream == nullptr) {
      return 0;
    }
    stream->closed = true;
    nghttp2_session_set_stream_user_data(session, stream_id, nullptr);
    if (stream->done || !stream->head_delivered) {
      // Done, or reset before its head was complete (a malformed request nghttp2 refused):
      // nobody else will ever call streamDone() for it.
      s.erase(stream_id);
      return 0;
    }
    if (!(error_code == NGHTTP2_NO_ERROR && stream->response_done)) {
      s.callbacks_->onStreamReset(stream_id, error_code == NGHTTP2_PROTOCOL_ERROR
                                                ? StreamResetReason::ProtocolError
                                                : StreamResetReason::RemoteReset);
    }
    return 0;
  }

  static int onFrameSend(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    ServerCodec& s = self(user_data);
    if (frame->hd.type != NGHTTP2_RST_STREAM) {
      return 0;
    }
    // A reset the client caused (a malformed request, content-length that lies, a stream
    // window overflow…) costs the same as one it sent: both come out of the reset budget
    // ("MadeYouReset", CVE-2025-8671). Our own resets (upstream failures) do not count.
    switch (frame->rst_stream.error_code) {
      case NGHTTP2_PROTOCOL_ERROR:
      case NGHTTP2_FLOW_CONTROL_ERROR:
      case NGHTTP2_STREAM_CLOSED:
      case NGHTTP2_FRAME_SIZE_ERROR:
      case NGHTTP2_REFUSED_STREAM:
        if (!s.takeResetToken()) {
          nghttp2_session_terminate_session(session, NGHTTP2_ENHANCE_YOUR_CALM);
        }
        break;
      default:
        break;
    }
    return 0;
  }

  static ssize_t readBody(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                          uint32_t* data_flags, nghttp2_data_source*, void* user_data) {
    ServerCodec& s = self(user_data);
    auto* stream = static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, stream_id));
    if (stream == nullptr) {
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    const size_t n = std::min(length, stream->pending());
    std::copy_n(stream->body.data() + stream->body_off, n, buf);
    stream->body_off += n;
    if (stream->body_off == stream->body.size()) {
      stream->body.clear();
      stream->body_off = 0;
      if (stream->body_eof) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        if (stream->trailers.fieldCount() > 0 && s.submitTrailers(*stream)) {
          *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;  // the trailing HEADERS ends it
        }
        return static_cast<ssize_t>(n);
      }
    }
    return n == 0 ? ssize_t{NGHTTP2_ERR_DEFERRED} : static_cast<ssize_t>(n);
  }
};

/// Header fields for one nghttp2 submit: lower-case copies of the names (HTTP/2 field names
/// are lower case, RFC 9113 §8.2.1) in one buffer, with the values they go with. nghttp2 copies
/// them when submitting. One per codec, cleared for each use, so a warm connection allocates
/// nothing here.
class ServerCodec::FieldList {
 public:
  void clear() {
    names_.clear();
    fields_.clear();
  }
  /// Appends a field; returns its lower-case name (valid until the next add()).
  std::string_view add(std::string_view name, std::string_view value) {
    const size_t offset = names_.size();
    names_.resize(offset + name.size());
    for (size_t i = 0; i < name.size(); ++i) {
      names_[offset + i] = strings::toLowerAscii(name[i]);
    }
    fields_.push_back({offset, name.size(), value});
    return std::string_view(names_).substr(offset);
  }
  /// Drops the field add() appended last.
  void dropLast() {
    names_.resize(fields_.back().offset);
    fields_.pop_back();
  }
  size_t capacity() const {
    return sizeof(FieldList) + names_.capacity() + fields_.capacity() * sizeof(Field) +
           nva_.capacity() * sizeof(nghttp2_nv);
  }
  std::vector<nghttp2_nv>& build() {
    nva_.clear();
    for (const Field& f : fields_) {
      nva_.push_back({reinterpret_cast<uint8_t*>(names_.data() + f.offset), asBytes(f.value),
                      f.length, f.value.size(), NGHTTP2_NV_FLAG_NONE});
    }
    return nva_;
  }

 private:
  struct Field {
    size_t offset;
    size_t length;
    std::string_view value;
  };
  std::string names_;
  std::vector<Field> fields_;
  std::vector<nghttp2_nv> nva_;
};

ServerCodec::ServerCodec(ServerCodecCallbacks& callbacks, const ServerSettings& settings)
    : callbacks_(&callbacks), settings_(settings), fields_(std::make_unique<FieldList>()) {
  nghttp2_session_callbacks* cbs = nullptr;
  if (nghttp2_session_callbacks_new(&cbs) != 0) {
    throw std::bad_alloc();
  }
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &Callbacks::onBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cbs, &Callbacks::onHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &Callbacks::onFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &Callbacks::onDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &Callbacks::onStreamClose);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, &Callbacks::onFrameSend);

  nghttp2_option* option = nullptr;
  if (nghttp2_option_new(&option) != 0) {
    nghttp2_session_callbacks_del(cbs);
    throw std::bad_alloc();
  }
  nghttp2_option_set_no_auto_window_update(option, 1);
  reset_tokens_ = settings_.reset_burst;
  reset_refilled_ = std::chrono::steady_clock::now();
  nghttp2_option_set_stream_reset_rate_limit(option, 2 * uint64_t{settings_.reset_burst},
                                             settings_.reset_rate_per_second);
  nghttp2_option_set_max_continuations(option, settings_.max_continuations);
  const int rv = nghttp2_session_server_new3(&session_, cbs, this, option, sessionMemory());
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) {
    throw std::bad_alloc();
  }
  const nghttp2_settings_entry entries[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, settings_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, settings_.stream_window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
       settings_.limits.max_header_bytes + 32 * settings_.limits.max_header_count},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, entries, std::size(entries));
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                        static_cast<int32_t>(settings_.connection_window));
}

ServerCodec::~ServerCodec() { nghttp2_session_del(session_); }

ServerCodec::Stream* ServerCodec::find(StreamId id) const {
  for (const auto& stream : streams_) {
    if (stream->id == id) {
      return stream.get();
    }
  }
  return nullptr;
}

void ServerCodec::erase(StreamId id) {
  for (size_t i = 0; i < streams_.size(); ++i) {
    if (streams_[i]->id == id) {
      std::unique_ptr<Stream> stream = std::move(streams_[i]);
      streams_[i] = std::move(streams_.back());
      streams_.pop_back();
      if (spare_.size() < settings_.max_concurrent_streams) {
        stream->body.clear();
        spare_.push_back(std::move(stream));
      }
      return;
    }
  }
}

size_t ServerCodec::pendingOutput(StreamId id) const {
  const Stream* stream = find(id);
  return stream == nullptr ? 0 : stream->pending();
}

const RequestHeaders* ServerCodec::request(StreamId id) const {
  const Stream* stream = find(id);
  return stream == nullptr ? nullptr : &stream->request;
}

bool ServerCodec::alive() const {
  return !dead_ &&
         (nghttp2_session_want_read(session_) != 0 || nghttp2_session_want_write(session_) != 0);
}

size_t ServerCodec::dispatch(std::string_view bytes) {
  if (dead_) {
    return bytes.size();
  }
  const ssize_t rv = nghttp2_session_mem_recv(session_, asBytes(bytes), bytes.size());
  if (flooded_) {
    // Outside every callback (see onFrameRecv): the GOAWAY is queued and nothing more is read.
    nghttp2_session_terminate_session(session_, NGHTTP2_ENHANCE_YOUR_CALM);
    return bytes.size();
  }
  if (rv < 0) {
    // A connection error nghttp2 could not answer itself: out of memory ends the connection
    // at once; a flood (frames demanding answers — SETTINGS, PING: over 1000 answers queued —
    // or CONTINUATIONs beyond max_continuations) or a protocol error leaves a GOAWAY to send
    // first (RFC 9113 §5.4.1). Once it is terminated, nghttp2 reads nothing more and queues no
    // more answers.
    if (rv == NGHTTP2_ERR_NOMEM || rv == NGHTTP2_ERR_CALLBACK_FAILURE) {
      fail();
    } else if (rv == NGHTTP2_ERR_FLOODED || rv == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS) {
      nghttp2_session_terminate_session(session_, NGHTTP2_ENHANCE_YOUR_CALM);
    } else {
      nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
    }
  }
  return bytes.size();
}

bool ServerCodec::takeResetToken() {
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - reset_refilled_).count();
  reset_refilled_ = now;
  reset_tokens_ = std::min<double>(settings_.reset_burst,
                                   reset_tokens_ + elapsed * settings_.reset_rate_per_second);
  if (reset_tokens_ < 1) {
    return false;
  }
  reset_tokens_ -= 1;
  return true;
}

void ServerCodec::fail() {
  dead_ = true;
  std::vector<StreamId> open;
  for (const auto& stream : streams_) {
    if (!stream->done) {
      open.push_back(stream->id);
    }
  }
  for (StreamId id : open) {
    callbacks_->onStreamReset(id, StreamResetReason::ConnectionLost);
  }
}

void ServerCodec::encodeContinue(StreamId id) {
  Stream* stream = find(id);
  if (dead_ || stream == nullptr || stream->submitted) {
    return;
  }
  const nghttp2_nv status{asBytes(":status"), asBytes("100"), 7, 3, NGHTTP2_NV_FLAG_NONE};
  nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, id, nullptr, &status, 1, nullptr);
}

void ServerCodec::encodeHeaders(StreamId id, const OutgoingResponse& response, bool end_stream) {
  Stream* stream = find(id);
  if (dead_ || stream == nullptr || stream->closed) {
    return;
  }
  const bool head_request = stream->request.method == "HEAD";
  const bool no_body = head_request || response.status == 204 || response.status == 304;
  FieldList& nv = *fields_;
  nv.clear();
  char status[4] = {char('0' + response.status / 100 % 10), char('0' + response.status / 10 % 10),
                    char('0' + response.status % 10), 0};
  nv.add(":status", std::string_view(status, 3));
  for (size_t i = 0; i < response.headers.size(); ++i) {
    const std::string_view lower = nv.add(response.headers.name(i), response.headers.value(i));
    if (isConnectionSpecific(lower) || lower == "content-length") {
      nv.dropLast();
    }
  }
  char digits[24];
  if (response.framing == BodyFraming::ContentLength ||
      (no_body && response.state_length && response.status != 204)) {
    const auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), response.content_length);
    (void)ec;
    nv.add("content-length", std::string_view(digits, size_t(end - digits)));
  } else if (response.framing == BodyFraming::None && !no_body && response.status >= 200 &&
             !(stream->request.method == "CONNECT" && response.status / 100 == 2)) {
    nv.add("content-length", "0");  // (a CONNECT's 2xx starts a tunnel: RFC 9110 §9.3.6)
  }
  stream->submitted = true;
  stream->close_request = response.close;
  stream->has_body = !end_stream && !no_body;
  stream->response_done = end_stream || no_body;
  nghttp2_data_provider provider{};
  provider.read_callback = &Callbacks::readBody;
  std::vector<nghttp2_nv>& nva = nv.build();
  nghttp2_submit_response(session_, id, nva.data(), nva.size(),
                          stream->has_body ? &provider : nullptr);
}

void ServerCodec::encodeData(StreamId id, std::string_view data, bool end_stream) {
  Stream* stream = find(id);
  if (dead_ || stream == nullptr || stream->closed || !stream->has_body) {
    if (stream != nullptr && end_stream) {
      stream->response_done = true;
    }
    return;
  }
  stream->body.append(data);
  if (end_stream) {
    stream->body_eof = true;
    stream->response_done = true;
  }
  nghttp2_session_resume_data(session_, id);
}

void ServerCodec::encodeTrailers(StreamId id, const HeaderMap& trailers) {
  Stream* stream = find(id);
  if (dead_ || stream == nullptr || stream->closed) {
    return;
  }
  if (stream->has_body) {
    for (size_t i = 0; i < trailers.fieldCount(); ++i) {
      if (trailers.live(i) && !isForbiddenTrailer(trailers.name(i))) {
        stream->trailers.add(trailers.name(i), trailers.value(i));
      }
    }
    stream->body_eof = true;
    nghttp2_session_resume_data(session_, id);
  }
  stream->response_done = true;
}

bool ServerCodec::submitTrailers(Stream& stream) {
  FieldList& nv = *fields_;
  nv.clear();
  for (size_t i = 0; i < stream.trailers.fieldCount(); ++i) {
    nv.add(stream.trailers.name(i), stream.trailers.value(i));
  }
  std::vector<nghttp2_nv>& nva = nv.build();
  return nghttp2_submit_trailer(session_, stream.id, nva.data(), nva.size()) == 0;
}

void ServerCodec::resetStream(StreamId id) {
  Stream* stream = find(id);
  if (dead_ || stream == nullptr || stream->closed) {
    return;
  }
  // Before the head: the request is refused (CANCEL); after it, the response broke off.
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id,
                            stream->submitted ? NGHTTP2_INTERNAL_ERROR : NGHTTP2_CANCEL);
  stream->response_done = false;
}

void ServerCodec::streamDone(StreamId id) {
  Stream* stream = find(id);
  if (stream == nullptr) {
    return;
  }
  stream->done = true;
  if (stream->closed || dead_) {
    erase(id);
    return;
  }
  if (!stream->response_done) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
  } else if (!stream->request_ended) {
    // The response is complete and the rest of the request will not be read: tell the client
    // to stop sending (RFC 9113 §8.1), once the response is out.
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR);
  }
}

void ServerCodec::consumeRequestData(StreamId id, size_t bytes) {
  if (!dead_ && bytes > 0) {
    nghttp2_session_consume_stream(session_, id, bytes);
  }
}

void ServerCodec::takeOutput(OutputPieces& out) {
  out_current_ ^= 1;
  std::string& buffer = out_[out_current_];
  buffer.clear();
  if (dead_) {
    return;
  }
  for (;;) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      fail();
      break;
    }
    if (n == 0) {
      break;
    }
    buffer.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  if (!buffer.empty()) {
    out.emplace_back(buffer);
  }
}

void ServerCodec::rebind(ServerCodecCallbacks& callbacks) { callbacks_ = &callbacks; }

bool ServerCodec::parkable() const {
  return !dead_ && !going_away_ && !flooded_ && streams_.empty() &&
         nghttp2_session_want_read(session_) != 0 && nghttp2_session_want_write(session_) == 0;
}

size_t ServerCodec::releaseIdleMemory() {
  size_t freed = 0;
  for (const auto& stream : spare_) {
    freed += sizeof(Stream) + stream->cookies.capacity() + stream->body.capacity();
  }
  spare_.clear();
  std::vector<std::unique_ptr<Stream>>().swap(spare_);
  for (std::string& buffer : out_) {
    freed += buffer.capacity();
    std::string().swap(buffer);
  }
  freed += fields_->capacity();
  fields_ = std::make_unique<FieldList>();
  return freed;
}

bool ServerCodec::wantsClose() const {
  return dead_ ||
         (nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0);
}

void ServerCodec::goAway() {
  if (dead_ || going_away_) {
    return;
  }
  going_away_ = true;
  // Streams already opened finish; new ones are refused (RFC 9113 §6.8).
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                        nullptr, 0);
}

}  // namespace vallum::http::http2
