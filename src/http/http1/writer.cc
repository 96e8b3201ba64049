#include "http/http1/writer.h"

#include "common/strings.h"

namespace vallum::http::http1 {

void appendFields(const HeaderList& fields, std::string& out) {
  for (size_t i = 0; i < fields.size(); ++i) {
    out += fields.name(i);
    out += ": ";
    out += fields.value(i);
    out += "\r\n";
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
      out += "\r\n";
      break;
    case BodyFraming::Chunked:
    case BodyFraming::CloseDelimited:
      out += "Transfer-Encoding: chunked\r\n";
      break;
    case BodyFraming::None:
      if (request.announce_empty_body) {
        out += "Content-Length: 0\r\n";
      }
      break;
  }
  out += "\r\n";
}

}  // namespace vallum::http::http1
