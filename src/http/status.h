#pragma once

#include <string_view>

namespace vallum::http {

/// The standard reason phrase of a status code (RFC 9110 §15), "Unknown" otherwise.
std::string_view reasonPhrase(int status);

}  // namespace vallum::http
