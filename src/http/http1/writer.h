#pragma once

#include <string>
#include <string_view>

#include "http/header_list.h"
#include "http/message.h"

/// HTTP/1.1 text for composed messages (RFC 9112 §3, §5, §6). Pure functions; any thread.
namespace vallum::http::http1 {

/// "name: value\r\n" for every field of `fields`, names as written.
void appendFields(const HeaderList& fields, std::string& out);

/// The request head for an upstream: request line, `Host`, the fields, then the framing the
/// body needs (`Content-Length` or `Transfer-Encoding: chunked`; `Content-Length: 0` when
/// `announce_empty_body`), then the empty line.
void appendRequestHead(const OutgoingRequest& request, std::string& out);

}  // namespace vallum::http::http1
