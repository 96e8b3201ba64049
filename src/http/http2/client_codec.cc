#include "http/http2/client_codec.h"

#include <algorithm>
#include <charconv>
#include <new>

#include <nghttp2/nghttp2.h>

#include "common/strings.h"
#include "http/trailers.h"

namespace vallum::http::http2 {

namespace {

uint8_t* asBytes(std::string_view s) {
  return reinterpret_cast<uint8_t*>(const_cast<char*>(s.data()));
}

/// Content-length as RFC 9110 §8.6: digits only; nghttp2 has already checked that a response's
/// DATA matches it.
bool parseLength(std::string_view v, uint64_t& out) {
  if (v.empty()) {
    return false;
  }
  const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc() && ptr == v.data() + v.size();
}

}  // namespace

/// nghttp2's callbacks, as static functions with access to the session's privates.
struct ClientCodec::Callbacks {
  static ClientCodec& self(void* user_data) { return *static_cast<ClientCodec*>(user_data); }

  static int onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS) {
      return 0;
    }
    ClientStreamHandler* h = self(user_data).handlerFor(frame->hd.stream_id);
    if (h != nullptr && !h->head_delivered) {
      h->pending_head.clear();  // the response head, or the head after a 1xx
      h->pending_head.version_major = 2;
      h->pending_head.version_minor = 0;
    }
    return 0;
  }

  static int onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t name_len, const uint8_t* value, size_t value_len, uint8_t,
                      void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS) {
      return 0;
    }
    ClientStreamHandler* h = self(user_data).handlerFor(frame->hd.stream_id);
    if (h == nullptr) {
      return 0;
    }
    const std::string_view n(reinterpret_cast<const char*>(name), name_len);
    const std::string_view v(reinterpret_cast<const char*>(value), value_len);
    if (h->head_delivered) {
      // The trailer section: kept apart from the head (RFC 9110 §6.5.1), same limits.
      HeaderMap& trailers = h->pending_head.trailers;
      if (trailers.fieldCount() >= kMaxResponseHeaderCount ||
          trailers.byteSize() + name_len + value_len > kMaxResponseHeaderBytes) {
        h->pending_protocol_error = true;
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
      }
      trailers.add(n, v);
      return 0;
    }
    ResponseHeaders& head = h->pending_head;
    if (head.headers.fieldCount() >= kMaxResponseHeaderCount ||
        head.headers.byteSize() + name_len + value_len > kMaxResponseHeaderBytes) {
      h->pending_protocol_error = true;  // oversized head: reset the stream, 502
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    if (n == ":status") {
      int status = 0;
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), status);
      if (ec != std::errc() || end != v.data() + v.size() || status < 100 || status > 999) {
        h->pending_protocol_error = true;  // RFC 9110 §15: a status is 100-999
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
      }
      h->pending_head.status = status;
    } else if (!n.empty() && n[0] != ':') {
      h->pending_head.headers.add(n, v);
    }
    return 0;
  }

  static int onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type == NGHTTP2_SETTINGS && (frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) {
      self(user_data).settings_received_ = true;
      return 0;
    }
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) {
      return 0;
    }
    ClientStreamHandler* h = self(user_data).handlerFor(frame->hd.stream_id);
    if (h == nullptr) {
      return 0;
    }
    if (frame->hd.type == NGHTTP2_HEADERS) {
      deliverHead(*h, *frame);
    }
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0 && h->head_delivered) {
      h->onResponseComplete();
    }
    return 0;
  }

  /// A HEADERS frame ended: the final response head goes to the handler (1xx are dropped;
  /// a later block is the trailer section, already in pending_head.trailers).
  static void deliverHead(ClientStreamHandler& handler, const nghttp2_frame& frame_ref) {
    ClientStreamHandler* h = &handler;
    const nghttp2_frame* frame = &frame_ref;
    if (h->head_delivered || h->pending_head.status == 0) {
      return;
    }
    ResponseHeaders& head = h->pending_head;
    if (head.status < 200) {
      head.status = 0;  // 1xx: wait for the final head
      head.headers.clear();
      return;
    }
    uint64_t length = 0;
    const auto cl = head.headers.get(HeaderId::ContentLength);
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
      head.framing = cl && parseLength(*cl, length) ? BodyFraming::ContentLength : BodyFraming::None;
      head.content_length = length;
    } else if (cl && parseLength(*cl, length)) {
      head.framing = BodyFraming::ContentLength;
      head.content_length = length;
    } else {
      head.framing = BodyFraming::CloseDelimited;
    }
    h->head_delivered = true;
    h->onResponseHead(head);
  }

  static int onDataChunk(nghttp2_session* session, uint8_t, int32_t stream_id, const uint8_t* data,
                         size_t len, void* user_data) {
    // The connection window reopens at once: a stream whose client stops reading holds at most
    // its own stream window, never the other streams' share of the connection. The stream
    // window reopens as the owner passes the bytes on (consume()).
    nghttp2_session_consume_connection(session, len);
    if (ClientStreamHandler* h = self(user_data).handlerFor(stream_id)) {
      h->onResponseData(std::string_view(reinterpret_cast<const char*>(data), len));
    }
    return 0;
  }

  static int onStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code,
                           void* user_data) {
    ClientCodec& s = self(user_data);
    ClientStreamHandler* h = s.handlerFor(stream_id);
    s.forget(stream_id);
    if (h != nullptr) {
      const bool protocol_error = h->pending_protocol_error;
      h->pending_protocol_error = false;
      h->onStreamClose(error_code, protocol_error);
    }
    return 0;
  }

  static int onInvalidFrame(nghttp2_session*, const nghttp2_frame* frame, int, void* user_data) {
    if (ClientStreamHandler* h = self(user_data).handlerFor(frame->hd.stream_id)) {
      h->pending_protocol_error = true;
    }
    return 0;
  }

  static int onInvalidHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t*, size_t,
                             const uint8_t*, size_t, uint8_t, void* user_data) {
    if (ClientStreamHandler* h = self(user_data).handlerFor(frame->hd.stream_id)) {
      h->pending_protocol_error = true;
    }
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // reset the stream (RFC 9113 §8.2.1)
  }

  /// Queues the relayable fields of `trailers` as a HEADERS frame with END_STREAM (names in
  /// lower case, RFC 9113 §8.2.2). False when there is nothing to send.
  static bool submitTrailers(nghttp2_session* session, int32_t stream_id,
                             const HeaderMap* trailers) {
    if (trailers == nullptr) {
      return false;
    }
    std::vector<std::string> names;
    std::vector<nghttp2_nv> nva;
    names.reserve(trailers->fieldCount());
    for (size_t i = 0; i < trailers->fieldCount(); ++i) {
      if (!trailers->live(i) || isForbiddenTrailer(trailers->name(i))) {
        continue;
      }
      names.push_back(strings::lowerAscii(trailers->name(i)));
    }
    size_t next = 0;
    for (size_t i = 0; i < trailers->fieldCount(); ++i) {
      if (!trailers->live(i) || isForbiddenTrailer(trailers->name(i))) {
        continue;
      }
      const std::string& n = names[next++];
      const std::string_view v = trailers->value(i);
      nva.push_back({asBytes(n), asBytes(v), n.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
    }
    // nghttp2 copies the fields; a failure leaves the stream to end with the last DATA frame.
    return !nva.empty() &&
           nghttp2_submit_trailer(session, stream_id, nva.data(), nva.size()) == 0;
  }

  static ssize_t readBody(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                          uint32_t* data_flags, nghttp2_data_source*, void* user_data) {
    ClientStreamHandler* h = self(user_data).handlerFor(stream_id);
    if (h == nullptr) {
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    bool eof = false;
    const size_t n = h->readRequestBody(buf, length, &eof);
    if (eof) {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      if (submitTrailers(session, stream_id, h->requestTrailers())) {
        *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;  // the trailing HEADERS ends it
      }
      return static_cast<ssize_t>(n);
    }
    return n == 0 ? ssize_t{NGHTTP2_ERR_DEFERRED} : static_cast<ssize_t>(n);
  }
};

ClientCodec::ClientCodec(const ClientSettings& settings) : settings_(settings) {
  nghttp2_session_callbacks* callbacks = nullptr;
  if (nghttp2_session_callbacks_new(&callbacks) != 0) {
    throw std::bad_alloc();
  }
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &Callbacks::onBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &Callbacks::onHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &Callbacks::onFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &Callbacks::onDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &Callbacks::onStreamClose);
  nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(callbacks,
                                                              &Callbacks::onInvalidFrame);
  nghttp2_session_callbacks_set_on_invalid_header_callback(callbacks, &Callbacks::onInvalidHeader);

  nghttp2_option* option = nullptr;
  if (nghttp2_option_new(&option) != 0) {
    nghttp2_session_callbacks_del(callbacks);
    throw std::bad_alloc();
  }
  // Windows open only as the client side drains the body (backpressure).
  nghttp2_option_set_no_auto_window_update(option, 1);
  nghttp2_option_set_peer_max_concurrent_streams(option, settings_.assumed_peer_streams);
  const int rv = nghttp2_session_client_new2(&session_, callbacks, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);
  if (rv != 0) {
    throw std::bad_alloc();
  }
  const nghttp2_settings_entry entries[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, settings_.stream_window},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, entries, std::size(entries));
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                        static_cast<int32_t>(settings_.connection_window));
}

ClientCodec::~ClientCodec() { nghttp2_session_del(session_); }

int32_t ClientCodec::submitRequest(
    const std::vector<std::pair<std::string_view, std::string_view>>& headers, bool has_body,
    ClientStreamHandler* handler) {
  if (dead_) {
    return NGHTTP2_ERR_INVALID_STATE;
  }
  std::vector<nghttp2_nv> nva;
  nva.reserve(headers.size());
  for (const auto& [name, value] : headers) {
    nva.push_back(nghttp2_nv{asBytes(name), asBytes(value), name.size(), value.size(),
                             NGHTTP2_NV_FLAG_NONE});
  }
  nghttp2_data_provider provider{};
  provider.read_callback = &Callbacks::readBody;
  handler->pending_head.clear();
  handler->pending_protocol_error = false;
  handler->head_delivered = false;
  const int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(),
                                            has_body ? &provider : nullptr, nullptr);
  if (id > 0) {
    streams_.emplace_back(id, handler);
  }
  return id;
}

bool ClientCodec::receive(std::string_view bytes) {
  if (dead_) {
    return false;
  }
  const ssize_t rv = nghttp2_session_mem_recv(session_, asBytes(bytes), bytes.size());
  // A connection error (bad frame, wrong preface) terminates the session without a negative
  // return: nghttp2 then reads no more. The same holds after a GOAWAY once every stream ended.
  if (rv < 0 || nghttp2_session_want_read(session_) == 0) {
    connectionLost();
    return false;
  }
  return true;
}

bool ClientCodec::takeOutput(std::string& out) {
  for (;;) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      connectionLost();
      return false;
    }
    if (n == 0) {
      // A connection error makes nghttp2 queue a GOAWAY and read nothing more once it is sent;
      // streams still open will never complete.
      if (!dead_ && nghttp2_session_want_read(session_) == 0 &&
          nghttp2_session_want_write(session_) == 0 && !streams_.empty()) {
        connectionLost();
      }
      return !dead_;
    }
    out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
}

void ClientCodec::resumeBody(int32_t stream_id) {
  if (!dead_) {
    nghttp2_session_resume_data(session_, stream_id);
  }
}

void ClientCodec::consume(int32_t stream_id, size_t bytes) {
  if (!dead_ && bytes > 0) {
    nghttp2_session_consume_stream(session_, stream_id, bytes);  // closed stream: a no-op
  }
}

void ClientCodec::resetStream(int32_t stream_id, uint32_t error_code) {
  forget(stream_id);
  if (!dead_) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, error_code);
  }
}

void ClientCodec::detach(int32_t stream_id) { forget(stream_id); }

void ClientCodec::connectionLost() {
  dead_ = true;
  std::vector<std::pair<int32_t, ClientStreamHandler*>> open;
  open.swap(streams_);
  for (const auto& [id, handler] : open) {
    // A head already found malformed stays a protocol error even when the connection goes
    // before the stream's reset was sent.
    const bool malformed = handler->pending_protocol_error;
    handler->pending_protocol_error = false;
    handler->onStreamClose(kConnectionLost, malformed);
  }
}

bool ClientCodec::canOpenStream() const {
  return !dead_ && nghttp2_session_check_request_allowed(session_) != 0 &&
         streams_.size() < maxConcurrentStreams();
}

bool ClientCodec::alive() const {
  return !dead_ && (nghttp2_session_want_read(session_) != 0 ||
                    nghttp2_session_want_write(session_) != 0);
}

uint32_t ClientCodec::maxConcurrentStreams() const {
  const uint32_t peer =
      nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  return std::min(peer, settings_.max_concurrent_streams);
}

ClientStreamHandler* ClientCodec::handlerFor(int32_t stream_id) const {
  for (const auto& [id, handler] : streams_) {
    if (id == stream_id) {
      return handler;
    }
  }
  return nullptr;
}

void ClientCodec::forget(int32_t stream_id) {
  for (size_t i = 0; i < streams_.size(); ++i) {
    if (streams_[i].first == stream_id) {
      streams_[i] = streams_.back();
      streams_.pop_back();
      return;
    }
  }
}

}  // namespace vallum::http::http2
