#include "http/http1/parser.h"

#include <llhttp.h>

#include "common/strings.h"

namespace vallum::http::http1 {

namespace {

/// Connection-option tokens of one message (RFC 9112 §9.3, §9.6).
struct ConnectionTokens {
  bool close = false;
  bool keep_alive = false;
};

ConnectionTokens scanConnection(const HeaderMap& headers) {
  ConnectionTokens t;
  for (size_t i = 0; i < headers.fieldCount(); ++i) {
    if (headers.id(i) != HeaderId::Connection) {
      continue;
    }
    strings::forEachListElement(headers.value(i), [&](std::string_view token) {
      if (strings::iequals(token, "close")) {
        t.close = true;
      } else if (strings::iequals(token, "keep-alive")) {
        t.keep_alive = true;
      }
      return true;
    });
  }
  return t;
}

bool computeKeepAlive(uint8_t major, uint8_t minor, const HeaderMap& headers) {
  ConnectionTokens t = scanConnection(headers);
  if (t.close) {
    return false;
  }
  if (major == 1 && minor == 0) {
    return t.keep_alive;
  }
  return true;
}

/// obs-fold (RFC 9112 §5.2): a value piece that starts right after a line break is a
/// continuation line. llhttp 8 accepts folding, so we detect it: a genuine value piece starts
/// after ':'/OWS or, when split across reads, right after another value byte.
bool startsAfterLineBreak(const char* at, size_t n, const char* exec_begin, char prev_last_byte) {
  if (n == 0) {
    return false;  // llhttp reports an empty value as a 0-byte piece after its CRLF
  }
  char before = (at > exec_begin) ? at[-1] : prev_last_byte;
  return before == '\n';
}

bool validHeaderName(std::string_view name) { return strings::isToken(name); }

/// How a message's Transfer-Encoding fields frame it (RFC 9112 §6.1, §6.3).
enum class TransferCoding : uint8_t {
  Absent,
  Chunked,      ///< exactly one field whose only coding is `chunked`
  Unsupported,  ///< `chunked` last, other codings before it (`gzip, chunked`)
  Invalid,      ///< repeated, empty, `chunked` twice, or a final coding other than `chunked`
};

TransferCoding classifyTransferEncoding(const HeaderMap& headers) {
  const size_t fields = headers.count(HeaderId::TransferEncoding);
  if (fields == 0) {
    return TransferCoding::Absent;
  }
  if (fields > 1) {
    return TransferCoding::Invalid;
  }
  size_t codings = 0;
  size_t chunked = 0;
  bool last_chunked = false;
  strings::forEachListElement(*headers.get(HeaderId::TransferEncoding), [&](std::string_view c) {
    ++codings;
    last_chunked = strings::iequals(c, "chunked");
    chunked += last_chunked ? 1 : 0;
    return true;
  });
  if (codings == 0 || !last_chunked || chunked > 1) {
    return TransferCoding::Invalid;
  }
  return codings == 1 ? TransferCoding::Chunked : TransferCoding::Unsupported;
}

/// llhttp 8.1 steps over the two bytes after a chunk's data without checking that they are
/// CRLF ("5\r\nhelloXY0\r\n\r\n" parses as a complete body), a framing difference a
/// smuggler can use against a stricter hop. This checks them, including when they arrive in a
/// later read. `pending` counts the terminator bytes still to see (2, 1 or 0).
bool checkChunkTerminator(int& pending, const char*& pos, const char* end) {
  while (pending > 0 && pos < end) {
    const char expected = pending == 2 ? '\r' : '\n';
    if (*pos != expected) {
      return false;
    }
    ++pos;
    --pending;
  }
  return true;
}

}  // namespace

namespace detail {

ParseState::ParseState(uint32_t max_count, uint32_t max_bytes)
    : llhttp(std::make_unique<llhttp_t>()),
      max_field_count(max_count),
      max_field_bytes(max_bytes) {}

/// How a parser words and answers the faults the shared callbacks find.
struct Faults {
  int too_large_status;  ///< a section over its limits
  int malformed_status;  ///< anything else
  const char* too_many_fields;
  const char* too_large;
  const char* obs_fold;
  const char* bad_name;
  const char* bad_chunk_end;
  const char* malformed;  ///< llhttp gave no reason
};

template <typename Parser>
inline constexpr Faults kFaults{};

template <>
inline constexpr Faults kFaults<RequestParser>{431,
                                               400,
                                               "too many header fields",
                                               "header block too large",
                                               "obsolete line folding in header value",
                                               "invalid header field name",
                                               "invalid chunk terminator",
                                               "malformed request"};

template <>
inline constexpr Faults kFaults<ResponseParser>{502,
                                                502,
                                                "upstream response head too large",
                                                "upstream response head too large",
                                                "obsolete line folding in upstream response",
                                                "invalid header field name in upstream response",
                                                "invalid chunk terminator in upstream response",
                                                "malformed upstream response"};
ParseState::~ParseState() = default;

void ParseState::reset(void* owner) {
  llhttp_reset(llhttp.get());
  llhttp->data = owner;
  started = false;
  headers_complete = false;
  message_complete = false;
  error_status = 0;
  error_reason = "";
  prev_last_byte = '\n';
  chunk_crlf_pending = 0;
}

/// The llhttp callbacks both parsers share: field lines (head, then trailer section) under
/// limits, obs-fold and field-name checks, body pieces with the chunk-terminator check.
/// `Parser` supplies `state_` and `head_`; kFaults<Parser> says how faults are answered.
template <typename Parser>
struct FieldCallbacks {
  static Parser& self(llhttp_t* p) { return *static_cast<Parser*>(p->data); }

  static int fail(llhttp_t* p, int status, const char* reason) {
    ParseState& st = self(p).state_;
    st.error_status = status;
    st.error_reason = reason;
    llhttp_set_error_reason(p, reason);
    return -1;
  }

  /// Fields before the body are the head; after it, the trailer section.
  static HeaderMap& fields(Parser& s) {
    return s.state_.headers_complete ? s.head_.trailers : s.head_.headers;
  }

  static int onHeaderField(llhttp_t* p, const char* at, size_t n) {
    Parser& s = self(p);
    HeaderMap& h = fields(s);
    if (h.fieldCount() >= s.state_.max_field_count) {
      return fail(p, kFaults<Parser>.too_large_status, kFaults<Parser>.too_many_fields);
    }
    if (h.byteSize() + n > s.state_.max_field_bytes) {
      return fail(p, kFaults<Parser>.too_large_status, kFaults<Parser>.too_large);
    }
    h.appendNamePiece({at, n});
    return 0;
  }

  static int onHeaderValue(llhttp_t* p, const char* at, size_t n) {
    Parser& s = self(p);
    if (startsAfterLineBreak(at, n, s.state_.exec_begin, s.state_.prev_last_byte)) {
      return fail(p, kFaults<Parser>.malformed_status, kFaults<Parser>.obs_fold);
    }
    HeaderMap& h = fields(s);
    // Memory bound while a value is pending; the exact limit is checked when it completes.
    if (h.byteSize() + n > size_t(s.state_.max_field_bytes) + 4096) {
      return fail(p, kFaults<Parser>.too_large_status, kFaults<Parser>.too_large);
    }
    h.appendValuePiece({at, n});
    return 0;
  }

  static int onHeaderValueComplete(llhttp_t* p) {
    Parser& s = self(p);
    HeaderMap& h = fields(s);
    h.finishField();
    if (!validHeaderName(h.name(h.fieldCount() - 1))) {
      return fail(p, kFaults<Parser>.malformed_status, kFaults<Parser>.bad_name);
    }
    if (h.byteSize() > s.state_.max_field_bytes) {
      return fail(p, kFaults<Parser>.too_large_status, kFaults<Parser>.too_large);
    }
    return 0;
  }

  static int onBody(llhttp_t* p, const char* at, size_t n) {
    ParseState& st = self(p).state_;
    st.body->emplace_back(at, n);
    if ((p->flags & F_CHUNKED) && p->content_length == 0) {
      st.chunk_crlf_pending = 2;
      const char* pos = at + n;
      if (!checkChunkTerminator(st.chunk_crlf_pending, pos, st.exec_end)) {
        return fail(p, kFaults<Parser>.malformed_status, kFaults<Parser>.bad_chunk_end);
      }
    }
    return 0;
  }

  static void install(llhttp_settings_t& st) {
    llhttp_settings_init(&st);
    st.on_header_field = onHeaderField;
    st.on_header_value = onHeaderValue;
    st.on_header_value_complete = onHeaderValueComplete;
    st.on_body = onBody;
  }

  /// One execute() for either parser: the pending chunk terminator, llhttp, then the events.
  /// `http09` answers an HTTP/0.9 request line at once (requests only).
  static ParseEvents execute(Parser& s, std::string_view data, std::vector<std::string_view>& body,
                             bool http09) {
    ParseEvents ev;
    if (data.empty()) {
      return ev;
    }
    ParseState& st = s.state_;
    st.body = &body;
    st.exec_begin = data.data();
    st.exec_end = data.data() + data.size();
    st.new_headers_complete = false;
    if (st.chunk_crlf_pending > 0) {
      const char* pos = data.data();
      if (!checkChunkTerminator(st.chunk_crlf_pending, pos, st.exec_end)) {
        ev.consumed = data.size();
        ev.error_status = kFaults<Parser>.malformed_status;
        ev.error_reason = kFaults<Parser>.bad_chunk_end;
        return ev;
      }
    }
    llhttp_t* p = st.llhttp.get();
    const llhttp_errno_t err = llhttp_execute(p, data.data(), data.size());
    if (http09 && err == HPE_OK && !st.headers_complete && p->http_major == 0 &&
        p->http_minor == 9) {
      // "GET /\r\n" (HTTP/0.9): llhttp then waits for header fields that never come; answer
      // at once instead of at the read timeout. Only its 0.9 path sets minor 9 with major 0.
      ev.consumed = data.size();
      ev.error_status = 400;
      ev.error_reason = "HTTP/0.9 request";
      return ev;
    }
    if (err == HPE_OK) {
      ev.consumed = data.size();
    } else if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
      ev.consumed = size_t(llhttp_get_error_pos(p) - data.data());
    } else {
      ev.consumed = data.size();
      ev.error_status = st.error_status != 0 ? st.error_status : kFaults<Parser>.malformed_status;
      ev.error_reason = st.error_status != 0 ? st.error_reason : llhttp_get_error_reason(p);
      if (ev.error_reason == nullptr) {
        ev.error_reason = kFaults<Parser>.malformed;
      }
    }
    st.prev_last_byte = data[ev.consumed > 0 ? ev.consumed - 1 : 0];
    ev.headers_complete = st.new_headers_complete;
    ev.message_complete = st.message_complete;
    return ev;
  }
};

}  // namespace detail

// ------------------------------------------------------------------------------ requests

struct RequestCallbacks : detail::FieldCallbacks<RequestParser> {
  static int onMessageBegin(llhttp_t* p) {
    self(p).state_.started = true;
    return 0;
  }

  static int onUrl(llhttp_t* p, const char* at, size_t n) {
    RequestParser& s = self(p);
    if (s.head_.target.size() + n > s.limits_.max_target_size) {
      return fail(p, 414, "request-target too long");
    }
    s.head_.target.append(at, n);
    return 0;
  }

  static int onHeadersComplete(llhttp_t* p) {
    RequestParser& s = self(p);
    RequestHeaders& head = s.head_;
    head.method = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
    head.version_major = p->http_major;
    head.version_minor = p->http_minor;
    if (head.target.empty()) {
      return fail(p, 400, "empty request-target");
    }
    if (head.version_major != 1) {
      // llhttp reads "HTTP/2.0" (and 0.9) as versions: never forward one as HTTP/1.1.
      return head.version_major == 0 ? fail(p, 400, "HTTP/0.9 request")
                                     : fail(p, 505, "HTTP version not supported");
    }
    switch (classifyTransferEncoding(head.headers)) {
      case TransferCoding::Absent:
        break;
      case TransferCoding::Chunked:
        // RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
        if (head.version_minor == 0) {
          return fail(p, 400, "Transfer-Encoding in an HTTP/1.0 request");
        }
        if ((p->flags & F_CHUNKED) == 0) {
          return fail(p, 400, "invalid Transfer-Encoding");
        }
        break;
      case TransferCoding::Unsupported:
        // RFC 9112 §6.1: 501 for a transfer coding the server does not understand.
        return fail(p, 501, "unsupported transfer coding");
      case TransferCoding::Invalid:
        // An empty or non-chunked final coding leaves the length to guesswork (RFC 9112 §6.3
        // rule 4): "Transfer-Encoding: \r\nContent-Length: 4" must never frame by length.
        return fail(p, 400, "invalid Transfer-Encoding");
    }
    if (p->flags & F_CHUNKED) {
      head.framing = BodyFraming::Chunked;
    } else if (p->flags & F_CONTENT_LENGTH) {
      head.content_length = p->content_length;
      head.framing = head.content_length > 0 ? BodyFraming::ContentLength : BodyFraming::None;
    } else {
      head.framing = BodyFraming::None;
    }
    head.keep_alive = computeKeepAlive(head.version_major, head.version_minor, head.headers);
    if (auto expect = head.headers.get(HeaderId::Expect)) {
      head.expect_continue = strings::iequals(*expect, "100-continue");
    }
    s.state_.headers_complete = true;
    s.state_.new_headers_complete = true;
    return 0;
  }

  static int onMessageComplete(llhttp_t* p) {
    self(p).state_.message_complete = true;
    return HPE_PAUSED;  // stop at the message boundary: the rest is the next request
  }

  static const llhttp_settings_t& settings() {
    static const llhttp_settings_t s = [] {
      llhttp_settings_t st;
      install(st);
      st.on_message_begin = onMessageBegin;
      st.on_url = onUrl;
      st.on_headers_complete = onHeadersComplete;
      st.on_message_complete = onMessageComplete;
      return st;
    }();
    return s;
  }
};

RequestParser::RequestParser(const RequestLimits& limits)
    : limits_(limits), state_(limits.max_header_count, limits.max_header_bytes) {
  llhttp_init(state_.llhttp.get(), HTTP_REQUEST, &RequestCallbacks::settings());
  state_.llhttp->data = this;
}

RequestParser::~RequestParser() = default;

void RequestParser::reset() {
  state_.reset(this);
  head_.clear();
}

size_t RequestParser::releaseMemory(size_t keep_bytes) {
  reset();
  size_t released = head_.headers.release(keep_bytes) + head_.trailers.release(keep_bytes);
  if (head_.target.capacity() > keep_bytes) {
    released += head_.target.capacity();
    std::string().swap(head_.target);
  }
  return released;
}

ParseEvents RequestParser::execute(std::string_view data, std::vector<std::string_view>& body) {
  return RequestCallbacks::execute(*this, data, body, /*http09=*/true);
}

// ----------------------------------------------------------------------------- responses

struct ResponseCallbacks : detail::FieldCallbacks<ResponseParser> {
  static int fail(llhttp_t* p, const char* reason) { return FieldCallbacks::fail(p, 502, reason); }

  static int onMessageBegin(llhttp_t* p) {
    ResponseParser& s = self(p);
    s.state_.started = true;
    s.head_.clear();  // after a skipped 1xx response
    return 0;
  }

  static int onStatus(llhttp_t* p, const char* at, size_t n) {
    self(p).head_.reason.append(at, n);
    return 0;
  }

  static int onHeadersComplete(llhttp_t* p) {
    ResponseParser& s = self(p);
    ResponseHeaders& head = s.head_;
    head.status = p->status_code;
    head.version_major = p->http_major;
    head.version_minor = p->http_minor;
    if (head.status < 100 || head.status > 999) {
      return fail(p, "invalid status code");
    }
    if (head.status == 101) {
      if (!s.upgrade_) {
        return fail(p, "unexpected 101 Switching Protocols");
      }
      head.framing = BodyFraming::None;
      head.keep_alive = false;  // the connection now speaks the new protocol
      s.state_.headers_complete = true;
      s.state_.new_headers_complete = true;
      return 1;
    }
    if (head.status < 200) {
      // Informational: no content, whatever its fields say (RFC 9110 §15.2), so a
      // Content-Length or Transfer-Encoding must not make its "body" part of the final
      // response's; skipped in onMessageComplete.
      return 1;
    }
    bool no_body = s.head_request_ || head.status == 204 || head.status == 304;
    if (no_body) {
      head.framing = BodyFraming::None;
      if (p->flags & F_CONTENT_LENGTH) {
        head.content_length = p->content_length;
      }
    } else if (classifyTransferEncoding(head.headers) != TransferCoding::Absent) {
      // Only exactly `chunked` is relayed; Vallum does not decode other codings, and dropping
      // their label while the bytes stay coded would corrupt the body silently.
      if (classifyTransferEncoding(head.headers) != TransferCoding::Chunked ||
          (p->flags & F_CHUNKED) == 0) {
        return fail(p, "unsupported Transfer-Encoding in upstream response");
      }
      head.framing = BodyFraming::Chunked;
    } else if (p->flags & F_CONTENT_LENGTH) {
      head.content_length = p->content_length;
      head.framing = head.content_length > 0 ? BodyFraming::ContentLength : BodyFraming::None;
    } else {
      head.framing = BodyFraming::CloseDelimited;
    }
    head.keep_alive = head.framing != BodyFraming::CloseDelimited &&
                      computeKeepAlive(head.version_major, head.version_minor, head.headers);
    s.state_.headers_complete = true;
    s.state_.new_headers_complete = true;
    return no_body ? 1 : 0;
  }

  static int onMessageComplete(llhttp_t* p) {
    ResponseParser& s = self(p);
    if (s.head_.status < 200 && s.head_.status != 101) {
      return 0;  // 1xx: keep parsing for the final response
    }
    s.state_.message_complete = true;
    return HPE_PAUSED;
  }

  static const llhttp_settings_t& settings() {
    static const llhttp_settings_t s = [] {
      llhttp_settings_t st;
      install(st);
      st.on_message_begin = onMessageBegin;
      st.on_status = onStatus;
      st.on_headers_complete = onHeadersComplete;
      st.on_message_complete = onMessageComplete;
      return st;
    }();
    return s;
  }
};

ResponseParser::ResponseParser() : state_(kMaxResponseHeaderCount, kMaxResponseHeaderBytes) {
  llhttp_init(state_.llhttp.get(), HTTP_RESPONSE, &ResponseCallbacks::settings());
  state_.llhttp->data = this;
}

ResponseParser::~ResponseParser() = default;

void ResponseParser::reset(bool head_request, bool upgrade) {
  state_.reset(this);
  head_.clear();
  head_request_ = head_request;
  upgrade_ = upgrade;
}

ParseEvents ResponseParser::execute(std::string_view data, std::vector<std::string_view>& body) {
  return ResponseCallbacks::execute(*this, data, body, /*http09=*/false);
}

bool ResponseParser::finish() {
  if (state_.message_complete) {
    return true;
  }
  if (!state_.headers_complete || head_.framing != BodyFraming::CloseDelimited) {
    return false;
  }
  const llhttp_errno_t err = llhttp_finish(state_.llhttp.get());
  if (err == HPE_OK || err == HPE_PAUSED) {
    state_.message_complete = true;
  }
  return state_.message_complete;
}

}  // namespace vallum::http::http1
