#pragma once

#include <nghttp2/nghttp2.h>

/// The allocator Vallum gives nghttp2 sessions (nghttp2_session_server_new3's `mem`). Small
/// blocks come from malloc; blocks of 8 KiB and more — the session's 16 KiB outbound frame
/// buffer, large inbound frames — are their own anonymous mappings, so only the pages nghttp2
/// writes are resident. An idle HTTP/2 connection then holds one page of its frame buffer
/// instead of all of it (~12 KB less per connection; bench/RESULTS.md, "Lean connections").
/// Stateless and thread-safe.
namespace vallum::http::http2 {

nghttp2_mem* sessionMemory();

}  // namespace vallum::http::http2
