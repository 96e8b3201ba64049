#include "http/path.h"

#include <array>

#include "common/ip_literal.h"
#include "common/strings.h"

namespace vallum::http {

namespace {

bool isHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/// Bytes allowed raw in a path (RFC 3986 pchar and '/', plus a few that browsers and curl send
/// unescaped and every major proxy forwards: '"', '<', '>', '^', '`', '{', '|', '}' and '[' ']').
/// Excluded: controls, space, DEL, non-ASCII, '\\' (a path separator on some upstreams), '#'.
constexpr std::array<bool, 256> makePathTable() {
  std::array<bool, 256> t{};
  for (int c = 0x21; c < 0x7f; ++c) {
    t[c] = true;
  }
  t['\\'] = false;
  t['#'] = false;
  return t;
}
constexpr auto kPathChar = makePathTable();

int hexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  return (c | 0x20) - 'a' + 10;
}

/// The byte a "%XY" escape stands for; both digits already checked with isHex().
char decodeEscape(char hi, char lo) { return char(hexValue(hi) * 16 + hexValue(lo)); }

/// RFC 3986 §2.3 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~".
constexpr std::array<bool, 256> makeUnreservedTable() {
  std::array<bool, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c) {
    t[c] = true;
    t[c - 'a' + 'A'] = true;
  }
  for (int c = '0'; c <= '9'; ++c) {
    t[c] = true;
  }
  t['-'] = t['.'] = t['_'] = t['~'] = true;
  return t;
}
constexpr auto kUnreserved = makeUnreservedTable();

bool isDotSegment(std::string_view seg) {
  return seg == "." || strings::iequals(seg, "%2e");
}

bool isDotDotSegment(std::string_view seg) {
  return seg == ".." || strings::iequals(seg, ".%2e") || strings::iequals(seg, "%2e.") ||
         strings::iequals(seg, "%2e%2e");
}

/// RFC 3986 §5.2.4 over '/'-separated segments; `in` starts with '/'.
void removeDotSegments(std::string_view in, bool merge_slashes, std::string& out) {
  out.clear();
  out.reserve(in.size());
  size_t pos = 1;  // skip the leading '/'
  for (;;) {
    size_t end = in.find('/', pos);
    bool last = end == std::string_view::npos;
    std::string_view seg = in.substr(pos, last ? std::string_view::npos : end - pos);
    if (isDotSegment(seg)) {
      if (last) {
        out.push_back('/');
      }
    } else if (isDotDotSegment(seg)) {
      size_t cut = out.rfind('/');
      out.resize(cut == std::string::npos ? 0 : cut);
      if (last) {
        out.push_back('/');
      }
    } else if (seg.empty() && merge_slashes && !last) {
      // "//" run: drop the empty segment.
    } else {
      out.push_back('/');
      out.append(seg);
    }
    if (last) {
      break;
    }
    pos = end + 1;
  }
  if (out.empty()) {
    out.push_back('/');
  }
}

}  // namespace

bool parseRequestTarget(std::string_view target, RequestTarget& out) {
  out = RequestTarget{};
  if (target.empty()) {
    return false;
  }
  std::string_view rest = target;
  if (target.front() != '/') {
    // absolute-form: http(s)://authority[path-abempty][?query]
    size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos) {
      return false;
    }
    std::string_view scheme = target.substr(0, scheme_end);
    if (!strings::iequals(scheme, "http") && !strings::iequals(scheme, "https")) {
      return false;
    }
    std::string_view after = target.substr(scheme_end + 3);
    size_t auth_end = after.find_first_of("/?#");
    out.authority = after.substr(0, auth_end);
    if (out.authority.empty() || out.authority.find('@') != std::string_view::npos) {
      return false;  // userinfo is not allowed in http(s) targets (RFC 9110 §4.2.4)
    }
    out.absolute_form = true;
    rest = auth_end == std::string_view::npos ? std::string_view("/") : after.substr(auth_end);
    if (rest.front() != '/') {
      // "http://h?q": empty path means "/".
      static constexpr std::string_view kSlash = "/";
      size_t q = rest.find('?');
      out.path = kSlash;
      if (q != std::string_view::npos) {
        size_t frag = rest.find('#', q);
        out.has_query = true;
        out.query = rest.substr(q + 1, frag == std::string_view::npos ? frag : frag - q - 1);
      }
      return true;
    }
  }
  size_t frag = rest.find('#');
  if (frag != std::string_view::npos) {
    rest = rest.substr(0, frag);  // a fragment is never sent to the origin (RFC 9110 §4.2.5)
  }
  size_t q = rest.find('?');
  if (q == std::string_view::npos) {
    out.path = rest;
  } else {
    out.path = rest.substr(0, q);
    out.query = rest.substr(q + 1);
    out.has_query = true;
  }
  return true;
}

bool parseAuthority(std::string_view text, Authority& out) {
  out = Authority{};
  if (text.empty()) {
    return false;
  }
  std::string_view host = text;
  std::string_view port;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return false;
    }
    host = text.substr(0, close + 1);
    std::string_view after = text.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return false;
      }
      port = after.substr(1);
    }
    for (char c : host.substr(1, host.size() - 2)) {
      if (!(isHex(c) || c == ':' || c == '.')) {
        return false;
      }
    }
  } else {
    size_t colon = text.rfind(':');
    if (colon != std::string_view::npos) {
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
    }
    if (host.empty()) {
      return false;
    }
    for (char c : host) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '.' || c == '_' || c == '~' || c == '%' || c == '!' ||
                c == '$' || c == '&' || c == '\'' || c == '(' || c == ')' || c == '*' ||
                c == '+' || c == ',' || c == ';' || c == '=';
      if (!ok) {
        return false;
      }
    }
  }
  out.host = host;
  if (text.size() > host.size()) {  // a ':' was present
    auto value = strings::parseDecimal(port);
    if (!value || *value > 65535) {
      return false;
    }
    out.port = uint16_t(*value);
  }
  return true;
}

bool canonicalHost(std::string_view host, std::string& out) {
  if (!host.empty() && host.front() == '[') {
    return ip::canonicalIpv6(host.substr(1, host.size() - 2), out);
  }
  out.assign(host);
  strings::lowerAsciiInPlace(out);
  return true;
}

PathResult normalizePath(std::string_view path, const PathOptions& options, std::string& scratch,
                         std::string_view& result) {
  result = path;
  if (path.empty() || path.front() != '/') {
    return PathResult::Invalid;
  }
  bool escaped_slash = false;
  bool unreserved_escape = false;
  bool dot_candidate = false;
  bool double_slash = false;
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (!kPathChar[static_cast<unsigned char>(c)]) {
      return PathResult::Invalid;
    }
    if (c == '%') {
      if (i + 2 >= path.size() || !isHex(path[i + 1]) || !isHex(path[i + 2])) {
        return PathResult::Invalid;
      }
      const char decoded = decodeEscape(path[i + 1], path[i + 2]);
      if (decoded == '/' || decoded == '\\') {
        escaped_slash = true;
      } else if (kUnreserved[static_cast<unsigned char>(decoded)]) {
        unreserved_escape = true;
      }
      i += 2;
    } else if (c == '.' && path[i - 1] == '/') {
      dot_candidate = true;
    } else if (c == '/' && i > 0 && path[i - 1] == '/') {
      double_slash = true;
    }
  }

  bool decode_slashes = false;
  if (escaped_slash) {
    switch (options.escaped_slashes) {
      case config::EscapedSlashesAction::RejectRequest:
        return PathResult::RejectEscapedSlash;
      case config::EscapedSlashesAction::KeepUnchanged:
        break;
      case config::EscapedSlashesAction::UnescapeAndForward:
      case config::EscapedSlashesAction::UnescapeAndRedirect:
        decode_slashes = true;
        break;
    }
  }
  // Percent-encoded unreserved characters are decoded as part of normalization (RFC 3986
  // §6.2.2.2, Envoy normalize_path): "/%61dmin" is "/admin" for matching and forwarding alike,
  // so an encoded letter cannot slip past a prefix route. Other escapes keep their bytes.
  const bool decode_unreserved = unreserved_escape && options.normalize_path;

  std::string_view current = path;
  std::string unescape_buffer;
  if (decode_slashes || decode_unreserved) {
    unescape_buffer.reserve(path.size());
    for (size_t i = 0; i < path.size(); ++i) {
      if (path[i] == '%') {
        const char decoded = decodeEscape(path[i + 1], path[i + 2]);
        if (decode_slashes && (decoded == '/' || decoded == '\\')) {
          unescape_buffer.push_back('/');
          i += 2;
          continue;
        }
        if (decode_unreserved && kUnreserved[static_cast<unsigned char>(decoded)]) {
          unescape_buffer.push_back(decoded);
          i += 2;
          continue;
        }
      }
      unescape_buffer.push_back(path[i]);
    }
    current = unescape_buffer;
    dot_candidate = true;  // new segments or dots may have appeared
    double_slash = double_slash || decode_slashes;
  }

  bool must_normalize =
      (options.normalize_path && dot_candidate) || (options.merge_slashes && double_slash);
  if (must_normalize) {
    if (options.normalize_path) {
      removeDotSegments(current, options.merge_slashes, scratch);
    } else {
      mergeSlashes(current, scratch);
    }
    result = scratch;
  } else if (current.data() != path.data()) {
    scratch = std::move(unescape_buffer);
    result = scratch;
  }
  if (decode_slashes && options.escaped_slashes == config::EscapedSlashesAction::UnescapeAndRedirect) {
    return PathResult::RedirectUnescaped;
  }
  return PathResult::Ok;
}

void mergeSlashes(std::string_view path, std::string& out) {
  out.clear();
  out.reserve(path.size());
  for (char c : path) {
    if (!(c == '/' && !out.empty() && out.back() == '/')) {
      out.push_back(c);
    }
  }
}

}  // namespace vallum::http
