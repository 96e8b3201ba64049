#include "http/http1/client_codec.h"

#include "common/strings.h"
#include "http/http1/writer.h"
#include "http/trailers.h"

namespace vallum::http::http1 {

void ClientCodec::encodeHeaders(const OutgoingRequest& request, bool end_stream) {
  chunked_ = request.framing == BodyFraming::Chunked;
  appendRequestHead(request, output_.begin());
  output_.commit();
  if (end_stream && chunked_) {
    output_.append("0\r\n\r\n");
  }
}

void ClientCodec::encodeData(std::string_view data, bool end_stream) {
  if (!chunked_) {
    output_.appendExternal(data);
    return;
  }
  if (!data.empty()) {
    std::string& line = output_.begin();
    strings::appendHex(line, data.size());
    line += "\r\n";
    output_.commit();
    output_.appendExternal(data);
    output_.append("\r\n");
  }
  if (end_stream) {
    output_.append("0\r\n\r\n");
  }
}

void ClientCodec::encodeTrailers(const HeaderMap& trailers) {
  if (chunked_) {
    appendLastChunk(trailers, output_.begin());
    output_.commit();
  }
}

}  // namespace vallum::http::http1
