#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/options.h"

/// Request-target parsing, authority parsing and path normalization (Envoy HCM normalize_path,
/// merge_slashes, path_with_escaped_slashes_action; RFC 9112 §3.2, RFC 3986 §3.2.2/§5.2.4).
/// Pure functions, no allocation unless the path must change.
namespace vallum::http {

/// The parts of a request-target. Views into the target.
struct RequestTarget {
  std::string_view path;       ///< starts with '/'; fragment (if any) stripped
  std::string_view query;      ///< without the '?'
  bool has_query = false;      ///< '?' present (even with an empty query)
  std::string_view authority;  ///< absolute-form only (RFC 9112 §3.2.2), else empty
  bool absolute_form = false;
};

/// Splits an origin-form ("/p?q") or absolute-form ("http://h/p?q") target. Returns false for
/// anything else (asterisk-form, authority-form, garbage): the caller answers 400.
bool parseRequestTarget(std::string_view target, RequestTarget& out);

/// host[:port] from a Host header or an absolute-form target. `host` keeps its case and, for
/// IPv6 literals, its brackets. Returns false when the syntax is invalid (RFC 3986 §3.2.2).
struct Authority {
  std::string_view host;
  std::optional<uint16_t> port;
};
bool parseAuthority(std::string_view text, Authority& out);

/// The route-matching form of Authority::host: ASCII lower-case; an IPv6 literal without its
/// brackets, in RFC 5952 canonical text ("[0:0:0:0:0:0:0:1]" → "::1"). False for a malformed
/// IP literal ("[:::1]", "[v1.x]", a zone id): the request gets 400.
bool canonicalHost(std::string_view host, std::string& out);

/// Options from the Pomerium global options of the same names.
struct PathOptions {
  bool normalize_path = true;
  bool merge_slashes = false;
  config::EscapedSlashesAction escaped_slashes = config::EscapedSlashesAction::RejectRequest;
};

enum class PathResult {
  Ok,
  /// %2F/%5C present and the action is RejectRequest → 400.
  RejectEscapedSlash,
  /// %2F/%5C were unescaped and the action is UnescapeAndRedirect → redirect to `out`.
  RedirectUnescaped,
  /// A byte not allowed in a path (control, space, non-ASCII, '\\') or a bad %-escape → 400.
  Invalid,
};

/// Validates and normalizes `path` (no query). On Ok/RedirectUnescaped, `result` views either
/// `path` itself (nothing changed) or `scratch` (which then holds the new path):
/// * %2F/%2f/%5C/%5c (checked before normalization): RejectRequest → RejectEscapedSlash;
///   KeepUnchanged → left as is; UnescapeAndForward/Redirect → both become '/'.
/// * normalize_path: percent-encoded unreserved characters (ALPHA, DIGIT, "-", ".", "_", "~",
///   either hex case) decoded (RFC 3986 §6.2.2.2, Envoy `normalize_path`), so "/%61dmin" is
///   "/admin"; every other escape keeps its bytes ("%20", "%3F", "%25"; "%2F"/"%5C" as above);
///   then dot segments removed (RFC 3986 §5.2.4): "/a/./b/../c" → "/a/c", "/.." → "/".
/// * merge_slashes: runs of '/' become one '/'.
PathResult normalizePath(std::string_view path, const PathOptions& options, std::string& scratch,
                         std::string_view& result);

/// `path` with every run of '/' replaced by one '/' (what `merge_slashes` does), into `out`.
void mergeSlashes(std::string_view path, std::string& out);

}  // namespace vallum::http
