#include "proxy/local_reply.h"

#include <array>

#include "common/strings.h"
#include "http/status.h"

namespace vallum::proxy {

namespace {

struct MediaRange {
  std::string_view type;
  std::string_view subtype;
  double q = 1.0;
};

bool parseMediaRange(std::string_view element, MediaRange& out) {
  std::string_view range = element;
  std::string_view params;
  if (size_t semi = element.find(';'); semi != std::string_view::npos) {
    range = strings::trimOws(element.substr(0, semi));
    params = element.substr(semi + 1);
  }
  size_t slash = range.find('/');
  if (slash == std::string_view::npos) {
    return false;
  }
  out.type = range.substr(0, slash);
  out.subtype = range.substr(slash + 1);
  out.q = 1.0;
  while (!params.empty()) {
    size_t next = params.find(';');
    std::string_view param = strings::trimOws(params.substr(0, next));
    if (param.size() > 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
      std::string value(param.substr(2));
      char* end = nullptr;
      double q = std::strtod(value.c_str(), &end);
      if (end == value.c_str() || q < 0 || q > 1) {
        return false;
      }
      out.q = q;
    }
    if (next == std::string_view::npos) {
      break;
    }
    params.remove_prefix(next + 1);
  }
  return !out.type.empty() && !out.subtype.empty();
}

}  // namespace

ReplyFormat negotiateReplyFormat(std::optional<std::string_view> accept) {
  if (!accept || strings::trimOws(*accept).empty()) {
    return ReplyFormat::Html;
  }
  struct Candidate {
    std::string_view type;
    std::string_view subtype;
    ReplyFormat format;
    double q = -1;        // best q found
    int specificity = -1;  // of the range that set q
  };
  std::array<Candidate, 3> candidates{{{"text", "html", ReplyFormat::Html},
                                       {"application", "json", ReplyFormat::Json},
                                       {"text", "plain", ReplyFormat::Plain}}};
  bool any = false;
  bool bad = false;
  strings::forEachListElement(*accept, [&](std::string_view element) {
    MediaRange range;
    if (!parseMediaRange(element, range)) {
      bad = true;
      return false;
    }
    any = true;
    for (Candidate& c : candidates) {
      int specificity = -1;
      if (strings::iequals(range.type, c.type) && strings::iequals(range.subtype, c.subtype)) {
        specificity = 2;
      } else if (strings::iequals(range.type, c.type) && range.subtype == "*") {
        specificity = 1;
      } else if (range.type == "*" && range.subtype == "*") {
        specificity = 0;
      }
      if (specificity > c.specificity) {
        c.specificity = specificity;
        c.q = range.q;
      }
    }
    return true;
  });
  if (bad || !any) {
    return ReplyFormat::Html;
  }
  const Candidate* best = nullptr;
  for (const Candidate& c : candidates) {
    if (c.q <= 0) {
      continue;
    }
    if (best == nullptr || c.q > best->q ||
        (c.q == best->q && c.specificity > best->specificity)) {
      best = &c;
    }
  }
  return best == nullptr ? ReplyFormat::Html : best->format;
}

bool isGrpcContentType(std::optional<std::string_view> content_type) {
  constexpr std::string_view kGrpc = "application/grpc";
  if (!content_type || !strings::istartsWith(*content_type, kGrpc)) {
    return false;
  }
  return content_type->size() == kGrpc.size() || (*content_type)[kGrpc.size()] == '+' ||
         (*content_type)[kGrpc.size()] == ';';
}

int grpcStatusForHttpStatus(int http_status) {
  // gRPC status codes (grpc/include/grpcpp/impl/codegen/status_code_enum.h).
  constexpr int kUnknown = 2;
  constexpr int kDeadlineExceeded = 4;
  constexpr int kPermissionDenied = 7;
  constexpr int kUnimplemented = 12;
  constexpr int kInternal = 13;
  constexpr int kUnavailable = 14;
  constexpr int kUnauthenticated = 16;
  switch (http_status) {
    case 400:
      return kInternal;
    case 401:
      return kUnauthenticated;
    case 403:
      return kPermissionDenied;
    case 404:
      return kUnimplemented;
    case 429:
    case 502:
    case 503:
      return kUnavailable;
    case 504:
      return kDeadlineExceeded;  // Vallum's 504s are its timeouts (Envoy's table: UNAVAILABLE)
    default:
      return kUnknown;
  }
}

namespace {

/// gRPC's Percent-Encoded (grpc/doc/PROTOCOL-HTTP2.md, Status-Message): every byte outside
/// 0x20-0x7E, and `%` itself, as %XX.
void appendGrpcPercentEncoded(std::string& out, std::string_view s) {
  constexpr std::string_view kHex = "0123456789ABCDEF";
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b <= 0x7e && b != '%') {
      out += c;
    } else {
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    }
  }
}

void renderHtml(const LocalReply& r, std::string_view request_id, std::string& body) {
  std::string_view text = http::reasonPhrase(r.status);
  body += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>";
  body += std::to_string(r.status);
  body += ' ';
  body += text;
  body += "</title>\n<style>body{font-family:system-ui,-apple-system,sans-serif;background:#f6f7f9;"
          "color:#1f2933;margin:0;display:flex;min-height:100vh;align-items:center;"
          "justify-content:center}main{background:#fff;border-radius:8px;padding:2rem 2.5rem;"
          "box-shadow:0 1px 4px rgba(0,0,0,.12);max-width:36rem}h1{margin:0;font-size:3rem}"
          "h2{margin:.25rem 0 1rem;font-weight:500}p{margin:.5rem 0}.id{color:#616e7c;"
          "font-size:.85rem}</style>\n</head>\n<body>\n<main>\n<h1>";
  body += std::to_string(r.status);
  body += "</h1>\n<h2>";
  body += text;
  body += "</h2>\n";
  if (!r.details.empty()) {
    body += "<p>";
    strings::appendHtmlEscaped(body, r.details);
    body += "</p>\n";
  }
  body += "<p class=\"id\">Request ID: ";
  strings::appendHtmlEscaped(body, request_id);
  body += "</p>\n</main>\n</body>\n</html>\n";
}

void renderJson(const LocalReply& r, std::string_view request_id, std::string& body) {
  body += "{\"requestId\":\"";
  strings::appendJsonEscaped(body, request_id);
  body += "\",\"status\":\"";
  body += std::to_string(r.status);
  body += "\",\"statusText\":\"";
  strings::appendJsonEscaped(body, http::reasonPhrase(r.status));
  body += "\"}\n";
}

void renderPlain(const LocalReply& r, std::string_view request_id, std::string& body) {
  body += std::to_string(r.status);
  body += ' ';
  body += http::reasonPhrase(r.status);
  body += '\n';
  if (!r.details.empty()) {
    body += r.details;
    body += '\n';
  }
  body += "request id: ";
  body += request_id;
  body += '\n';
}

}  // namespace

void composeLocalReply(const LocalReply& reply, const LocalReplyContext& context,
                       http::OutgoingResponse& out, std::string& body) {
  out.clear();
  out.status = reply.status;
  const size_t body_start = body.size();
  std::string_view content_type;
  // An error for a gRPC call: a trailers-only response, no body (gRPC's PROTOCOL-HTTP2.md).
  const bool grpc = context.grpc && reply.kind == LocalReply::Kind::ErrorPage;
  if (grpc) {
    content_type = "application/grpc";
  } else if (reply.kind == LocalReply::Kind::ErrorPage) {
    switch (context.format) {
      case ReplyFormat::Html:
        renderHtml(reply, context.request_id, body);
        content_type = "text/html; charset=utf-8";
        break;
      case ReplyFormat::Json:
        renderJson(reply, context.request_id, body);
        content_type = "application/json";
        break;
      case ReplyFormat::Plain:
        renderPlain(reply, context.request_id, body);
        content_type = "text/plain; charset=utf-8";
        break;
    }
  } else if (reply.status != 204 && reply.status != 304) {
    // 204 and 304 have no content (RFC 9110 §15.3.5, §15.4.5).
    body.append(reply.body);
    if (!reply.body.empty()) {
      content_type = reply.content_type.empty() ? std::string_view("text/plain; charset=utf-8")
                                                : reply.content_type;
    }
  }
  if (!content_type.empty()) {
    out.headers.add("content-type", content_type);
  }
  if (grpc) {
    strings::appendDecimal(out.headers.beginOwned(),
                           uint64_t(grpcStatusForHttpStatus(reply.status)));
    out.headers.commitOwned("grpc-status");
    const std::string_view message =
        reply.details.empty() ? http::reasonPhrase(reply.status) : reply.details;
    appendGrpcPercentEncoded(out.headers.beginOwned(), message);
    out.headers.commitOwned("grpc-message");
  }
  out.headers.add("date", context.date);
  if (reply.kind == LocalReply::Kind::ErrorPage) {
    out.headers.add("x-pomerium-intercepted-response", "true");
    if (!context.request_id.empty()) {
      out.headers.add("x-request-id", context.request_id);
    }
  }
  if (!reply.allow.empty()) {
    out.headers.add("allow", reply.allow);
  }
  if (!reply.location.empty()) {
    out.headers.add("location", reply.location);
  }
  for (size_t i = 0; i < reply.headers.size(); ++i) {
    out.headers.add(reply.headers.name(i), reply.headers.value(i));
  }
  if (context.response_headers != nullptr) {
    for (const auto& [name, value] : *context.response_headers) {
      out.headers.add(name, value);
    }
  }
  if (reply.status != 204 && reply.status != 304) {
    out.framing = http::BodyFraming::ContentLength;
    out.content_length = body.size() - body_start;
  }
  out.close = reply.close;
}

}  // namespace vallum::proxy
