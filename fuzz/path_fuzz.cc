// Fuzzes request-target splitting and path normalization (src/http/path.h): the first byte
// picks the PathOptions, the rest is a request-target as a client sends it.
//
// Invariants:
// * a normalized path starts with '/', is no longer than the input and, with normalize_path,
//   holds no "." or ".." segment (nothing can climb above the root);
// * with merge_slashes it holds no "//";
// * normalization is idempotent: normalize(normalize(p)) == normalize(p), with Ok as the result
//   (a redirect target is already unescaped, so it is served, not redirected again).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "http/path.h"

namespace {

using vallum::http::PathOptions;
using vallum::http::PathResult;

bool hasDotSegment(std::string_view path) {
  size_t pos = 0;
  while (pos < path.size()) {
    size_t start = pos + 1;  // after the '/'
    size_t end = path.find('/', start);
    std::string_view seg = path.substr(start, end == std::string_view::npos ? end : end - start);
    if (seg == "." || seg == "..") {
      return true;
    }
    if (end == std::string_view::npos) {
      break;
    }
    pos = end;
  }
  return false;
}

void checkPath(std::string_view path, const PathOptions& options) {
  std::string scratch;
  std::string_view result;
  const PathResult r = vallum::http::normalizePath(path, options, scratch, result);
  if (r != PathResult::Ok && r != PathResult::RedirectUnescaped) {
    return;
  }
  FUZZ_CHECK(!result.empty() && result.front() == '/');
  FUZZ_CHECK(result.size() <= path.size());
  if (options.normalize_path) {
    FUZZ_CHECK(!hasDotSegment(result));
  }
  if (options.merge_slashes) {
    FUZZ_CHECK(result.find("//") == std::string_view::npos);
  }
  const std::string once(result);
  std::string scratch2;
  std::string_view again;
  const PathResult r2 = vallum::http::normalizePath(once, options, scratch2, again);
  FUZZ_CHECK(r2 == PathResult::Ok);
  FUZZ_CHECK(again == once);

  std::string merged;
  vallum::http::mergeSlashes(once, merged);
  FUZZ_CHECK(merged.size() <= once.size());
  FUZZ_CHECK(merged.find("//") == std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) {
    return 0;
  }
  PathOptions options;
  options.normalize_path = (data[0] & 1) != 0;
  options.merge_slashes = (data[0] & 2) != 0;
  options.escaped_slashes = static_cast<vallum::config::EscapedSlashesAction>((data[0] >> 2) & 3);
  const std::string target(reinterpret_cast<const char*>(data + 1), size - 1);

  checkPath(target, options);

  vallum::http::RequestTarget parts;
  if (vallum::http::parseRequestTarget(target, parts)) {
    FUZZ_CHECK(!parts.path.empty() && parts.path.front() == '/');
    FUZZ_CHECK(parts.path.size() + parts.query.size() + parts.authority.size() <= target.size());
    FUZZ_CHECK(parts.path.find('#') == std::string_view::npos);
    FUZZ_CHECK(parts.path.find('?') == std::string_view::npos);
    checkPath(parts.path, options);
  }
  return 0;
}
