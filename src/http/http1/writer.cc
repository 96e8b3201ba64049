#include "http/http1/writer.h"

#include <cstring>

#include "common/strings.h"

namespace vallum::http::http1 {

namespace {

/// Copies n bytes to `to` and returns the end. Field names and values are mostly shorter than
/// 16 bytes, where two overlapping word copies beat a call to memcpy.
[[gnu::always_inline]] inline char* copyBytes(char* to, const char* from, size_t n) {
  if (n >= 8 && n <= 16) {
    std::memcpy(to, from, 8);
    std::memcpy(to + n - 8, from + n - 8, 8);
  } else if (n >= 4 && n < 8) {
    std::memcpy(to, from, 4);
    std::memcpy(to + n - 4, from + n - 4, 4);
  } else if (n < 4) {
    for (size_t i = 0; i < n; ++i) {
      to[i] = from[i];
    }
  } else {
    std::memcpy(to, from, n);
  }
  return to + n;
}

}  // namespace

void appendFields(const HeaderList& fields, std::string& out) {
  // One resize and plain copies: this runs twice per proxied request (a dozen fields each),
  // where per-piece appends (a capacity check and a call each) cost twice as much.
  size_t total = 0;
  for (size_t i = 0; i < fields.size(); ++i) {
    total += fields.name(i).size() + fields.value(i).size() + 4;
  }
  const size_t at = out.size();
  out.resize(at + total);
  char* p = out.data() + at;
  for (size_t i = 0; i < fields.size(); ++i) {
    const std::string_view name = fields.name(i);
    const std::string_view value = fields.value(i);
    p = copyBytes(p, name.data(), name.size());
    *p++ = ':';
    *p++ = ' ';
    p = copyBytes(p, value.data(), value.size());
    *p++ = '\r';
    *p++ = '\n';
  }
}

void appendRequestHead(const OutgoingRequest& request, std::string& out) {
  out += request.method;
  out += ' ';
  out += request.path;
  out += " HTTP/1.1\r\nHost: ";
  out += request.authority;
  out += "\r\n";
  appendFields(request.headers, out);
  switch (request.framing) {
    case BodyFraming::ContentLength:
      out += "Content-Length: ";
      strings::appendDecimal(out, request.content_length);
      out += "\r\n\r\n";
      break;
    case BodyFraming::Chunked:
    case BodyFraming::CloseDelimited:
      out += "Transfer-Encoding: chunked\r\n\r\n";
      break;
    case BodyFraming::None:
      out += request.announce_empty_body ? std::string_view("Content-Length: 0\r\n\r\n")
                                         : std::string_view("\r\n");
      break;
  }
}

}  // namespace vallum::http::http1
