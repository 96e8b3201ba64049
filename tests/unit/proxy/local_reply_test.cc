#include "proxy/local_reply.h"

#include <gtest/gtest.h>

#include "http/http1/server_codec.h"

namespace vallum::proxy {
namespace {

TEST(NegotiateReplyFormatTest, Table) {
  struct Case {
    std::optional<std::string_view> accept;
    ReplyFormat expected;
  };
  std::vector<Case> cases = {
      {std::nullopt, ReplyFormat::Html},
      {"", ReplyFormat::Html},
      {"*/*", ReplyFormat::Html},  // ties go to HTML, as Pomerium's negotiation
      {"application/json", ReplyFormat::Json},
      {"Application/JSON", ReplyFormat::Json},
      {"text/plain", ReplyFormat::Plain},
      {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", ReplyFormat::Html},
      {"application/json, text/plain, */*", ReplyFormat::Json},
      {"text/html;q=0.5, application/json;q=0.9", ReplyFormat::Json},
      {"application/*", ReplyFormat::Json},
      {"text/*", ReplyFormat::Html},
      {"text/*;q=0.3, text/plain", ReplyFormat::Plain},
      {"image/png", ReplyFormat::Html},             // nothing acceptable: HTML
      {"application/json;q=0", ReplyFormat::Html},  // explicitly refused
      {"garbage", ReplyFormat::Html},               // unparsable
  };
  for (const Case& c : cases) {
    EXPECT_EQ(negotiateReplyFormat(c.accept), c.expected) << (c.accept ? *c.accept : "(none)");
  }
}

/// Composes `reply` and renders it the way an HTTP/1.1 client on `method` gets it.
struct Rendered : http::ServerCodecCallbacks {
  http::http1::ServerCodec codec{*this};
  http::OutgoingResponse response;
  std::string body;
  std::string wire;

  Rendered(const LocalReply& reply, ReplyFormat format, std::string_view method = "GET",
           const std::vector<std::pair<std::string, std::string>>* headers = nullptr,
           bool grpc = false) {
    const std::string request = std::string(method) + " / HTTP/1.1\r\nHost: h\r\n\r\n";
    codec.dispatch(request);
    LocalReplyContext context;
    context.format = format;
    context.request_id = "rid";
    context.date = "d";
    context.response_headers = headers;
    context.grpc = grpc;
    composeLocalReply(reply, context, response, body);
    codec.encodeHeaders(1, response, body.empty());
    if (!body.empty()) {
      codec.encodeData(1, body, true);
    }
    http::OutputPieces pieces;
    codec.takeOutput(pieces);
    for (std::string_view p : pieces) {
      wire += p;
    }
  }
  void onRequestHeaders(http::StreamId, http::RequestHeaders&, bool) override {}
  void onRequestData(http::StreamId, std::string_view, bool) override {}
  void onRequestTrailers(http::StreamId) override {}
  void onRequestError(http::StreamId, int, std::string_view) override {}
  void onStreamReset(http::StreamId, http::StreamResetReason) override {}
};

TEST(ComposeLocalReplyTest, JsonHasStatusAsString) {
  LocalReply reply;
  reply.status = 404;
  Rendered r(reply, ReplyFormat::Json);
  const std::string& out = r.wire;
  std::string body = out.substr(out.find("\r\n\r\n") + 4);
  EXPECT_EQ(body, "{\"requestId\":\"rid\",\"status\":\"404\",\"statusText\":\"Not Found\"}\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u);
  EXPECT_NE(out.find("content-type: application/json\r\n"), std::string::npos);
  EXPECT_NE(out.find("content-length: " + std::to_string(body.size()) + "\r\n"), std::string::npos);
  EXPECT_NE(out.find("x-pomerium-intercepted-response: true\r\n"), std::string::npos);
  EXPECT_NE(out.find("x-request-id: rid\r\n"), std::string::npos);
  EXPECT_EQ(out.find("connection: close"), std::string::npos);
}

TEST(ComposeLocalReplyTest, HtmlEscapesDetailsAndShowsTheRequestId) {
  LocalReply reply;
  reply.status = 503;
  reply.details = "<script>";
  reply.close = true;
  Rendered r(reply, ReplyFormat::Html);
  const std::string& out = r.wire;
  EXPECT_NE(out.find("<title>503 Service Unavailable</title>"), std::string::npos);
  EXPECT_NE(out.find("&lt;script&gt;"), std::string::npos);
  EXPECT_EQ(out.find("<script>"), std::string::npos);
  EXPECT_NE(out.find("Request ID: rid"), std::string::npos);
  EXPECT_NE(out.find("connection: close\r\n"), std::string::npos);
}

TEST(ComposeLocalReplyTest, HeadOmitsTheBodyButKeepsItsLength) {
  LocalReply reply;
  reply.status = 403;
  Rendered with_body(reply, ReplyFormat::Plain);
  Rendered head_only(reply, ReplyFormat::Plain, "HEAD");
  EXPECT_EQ(head_only.wire, with_body.wire.substr(0, with_body.wire.find("\r\n\r\n") + 4));
}

TEST(ComposeLocalReplyTest, Ping) {
  LocalReply reply;
  reply.kind = LocalReply::Kind::Text;
  reply.status = 200;
  reply.body = "OK\n";
  Rendered r(reply, ReplyFormat::Html);
  EXPECT_EQ(r.wire,
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ndate: d\r\n"
            "content-length: 3\r\n\r\nOK\n");
}

TEST(ComposeLocalReplyTest, RedirectWithConfiguredHeadersAndSetCookie) {
  std::vector<std::pair<std::string, std::string>> headers = {{"X-Frame-Options", "SAMEORIGIN"}};
  LocalReply reply;
  reply.kind = LocalReply::Kind::Redirect;
  reply.status = 302;
  reply.location = "https://docs.example.net/guide";
  reply.headers.add("Set-Cookie", "_pomerium=abc; Path=/; Secure");
  Rendered r(reply, ReplyFormat::Html, "GET", &headers);
  EXPECT_EQ(r.wire,
            "HTTP/1.1 302 Found\r\ndate: d\r\nlocation: https://docs.example.net/guide\r\n"
            "Set-Cookie: _pomerium=abc; Path=/; Secure\r\nX-Frame-Options: SAMEORIGIN\r\n"
            "content-length: 0\r\n\r\n");
}

TEST(ComposeLocalReplyTest, NoContentStatusesSendNoBodyAndNoLength) {
  for (int status : {204, 304}) {
    LocalReply reply;
    reply.kind = LocalReply::Kind::Text;
    reply.status = status;
    reply.body = "should not be sent";
    Rendered r(reply, ReplyFormat::Html);
    EXPECT_EQ(r.wire.find("should not be sent"), std::string::npos) << status;
    EXPECT_EQ(r.wire.find("content-length"), std::string::npos) << status;
    EXPECT_EQ(r.wire.substr(r.wire.size() - 4), "\r\n\r\n") << status;
  }
}

TEST(IsGrpcContentTypeTest, Table) {
  struct Case {
    std::optional<std::string_view> content_type;
    bool expected;
  };
  std::vector<Case> cases = {
      {"application/grpc", true},
      {"application/grpc+proto", true},
      {"application/grpc+json", true},
      {"application/grpc;charset=utf-8", true},
      {"Application/GRPC", true},
      {"application/grpc-web", false},  // gRPC-Web reads errors its own way
      {"application/grpc-web+proto", false},
      {"application/grpc-web-text", false},
      {"application/grpcx", false},
      {"application/json", false},
      {"application/grp", false},
      {"", false},
      {std::nullopt, false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(isGrpcContentType(c.content_type), c.expected)
        << (c.content_type ? *c.content_type : "(none)");
  }
}

TEST(GrpcStatusForHttpStatusTest, Table) {
  const std::vector<std::pair<int, int>> cases = {
      {400, 13},  // INTERNAL
      {401, 16},  // UNAUTHENTICATED
      {403, 7},   // PERMISSION_DENIED
      {404, 12},  // UNIMPLEMENTED
      {429, 14},  // UNAVAILABLE
      {502, 14},  // UNAVAILABLE
      {503, 14},  // UNAVAILABLE
      {504, 4},   // DEADLINE_EXCEEDED: Vallum's 504s are timeouts
      {405, 2},   // UNKNOWN
      {408, 2},   // UNKNOWN
      {413, 2},   // UNKNOWN
      {431, 2},   // UNKNOWN
      {500, 2},   // UNKNOWN
      {501, 2},   // UNKNOWN
  };
  for (const auto& [http_status, grpc_status] : cases) {
    EXPECT_EQ(grpcStatusForHttpStatus(http_status), grpc_status) << http_status;
  }
}

TEST(ComposeLocalReplyTest, GrpcErrorIsTrailersOnlyWithItsHttpStatus) {
  std::vector<std::pair<std::string, std::string>> headers = {{"X-Frame-Options", "SAMEORIGIN"}};
  LocalReply reply;
  reply.status = 503;
  reply.details = "no healthy upstream";
  Rendered r(reply, ReplyFormat::Json, "POST", &headers, /*grpc=*/true);
  EXPECT_EQ(r.wire,
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/grpc\r\n"
            "grpc-status: 14\r\ngrpc-message: no healthy upstream\r\ndate: d\r\n"
            "x-pomerium-intercepted-response: true\r\nx-request-id: rid\r\n"
            "X-Frame-Options: SAMEORIGIN\r\ncontent-length: 0\r\n\r\n");
  EXPECT_EQ(r.body, "");  // END_STREAM on the HEADERS frame over HTTP/2
  EXPECT_EQ(r.response.status, 503);
  EXPECT_EQ(r.response.framing, http::BodyFraming::ContentLength);
  EXPECT_EQ(r.response.content_length, 0u);
}

TEST(ComposeLocalReplyTest, GrpcMessageIsPercentEncodedAndDefaultsToTheReasonPhrase) {
  LocalReply timeout;
  timeout.status = 504;
  Rendered empty_details(timeout, ReplyFormat::Html, "POST", nullptr, /*grpc=*/true);
  EXPECT_NE(empty_details.wire.find("grpc-status: 4\r\ngrpc-message: Gateway Timeout\r\n"),
            std::string::npos)
      << empty_details.wire;

  LocalReply denied;
  denied.status = 403;
  denied.details = "d\xc3\xa9j\xc3\xa0 100% \"denied\"\n\x7f~";
  Rendered r(denied, ReplyFormat::Html, "POST", nullptr, /*grpc=*/true);
  EXPECT_NE(
      r.wire.find("grpc-status: 7\r\ngrpc-message: d%C3%A9j%C3%A0 100%25 \"denied\"%0A%7F~\r\n"),
      std::string::npos)
      << r.wire;
  EXPECT_EQ(r.body, "");
}

TEST(ComposeLocalReplyTest, GrpcLeavesDirectResponsesAndRedirectsAlone) {
  LocalReply text;
  text.kind = LocalReply::Kind::Text;
  text.status = 200;
  text.body = "OK\n";
  Rendered plain(text, ReplyFormat::Html);
  Rendered grpc(text, ReplyFormat::Html, "GET", nullptr, /*grpc=*/true);
  EXPECT_EQ(grpc.wire, plain.wire);

  LocalReply redirect;
  redirect.kind = LocalReply::Kind::Redirect;
  redirect.status = 302;
  redirect.location = "https://auth.example.net/";
  Rendered plain_redirect(redirect, ReplyFormat::Html, "POST");
  Rendered grpc_redirect(redirect, ReplyFormat::Html, "POST", nullptr, /*grpc=*/true);
  EXPECT_EQ(grpc_redirect.wire, plain_redirect.wire);
  EXPECT_EQ(grpc_redirect.wire.find("grpc-"), std::string::npos);
}

TEST(ComposeLocalReplyTest, NonGrpcErrorPageHasNoGrpcFields) {
  LocalReply reply;
  reply.status = 503;
  Rendered r(reply, ReplyFormat::Plain, "POST");
  EXPECT_EQ(r.wire.find("grpc-"), std::string::npos);
  EXPECT_NE(r.wire.find("content-type: text/plain; charset=utf-8\r\n"), std::string::npos);
}

}  // namespace
}  // namespace vallum::proxy
