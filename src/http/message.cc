#include "http/message.h"

namespace vallum::http {

void RequestHeaders::clear() {
  method.clear();
  target.clear();
  authority.clear();
  scheme.clear();
  version_major = 1;
  version_minor = 1;
  headers.clear();
  trailers.clear();
  framing = BodyFraming::None;
  content_length = 0;
  keep_alive = true;
  expect_continue = false;
}

void ResponseHeaders::clear() {
  status = 0;
  reason.clear();
  version_major = 1;
  version_minor = 1;
  headers.clear();
  trailers.clear();
  framing = BodyFraming::None;
  content_length = 0;
  keep_alive = true;
}

}  // namespace vallum::http
