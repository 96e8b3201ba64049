#include "proxy/local_reply.h"

#include <gtest/gtest.h>

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

TEST(RenderLocalReplyTest, JsonHasStatusAsString) {
  std::string out;
  LocalReply reply;
  reply.status = 404;
  reply.request_id = "abc123";
  renderLocalReply(reply, ReplyFormat::Json, "Sun, 29 Nov 2026 21:00:00 GMT", out);
  std::string body = out.substr(out.find("\r\n\r\n") + 4);
  EXPECT_EQ(body, "{\"requestId\":\"abc123\",\"status\":\"404\",\"statusText\":\"Not Found\"}\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u);
  EXPECT_NE(out.find("content-type: application/json\r\n"), std::string::npos);
  EXPECT_NE(out.find("content-length: " + std::to_string(body.size()) + "\r\n"), std::string::npos);
  EXPECT_NE(out.find("x-pomerium-intercepted-response: true\r\n"), std::string::npos);
  EXPECT_EQ(out.find("connection: close"), std::string::npos);
}

TEST(RenderLocalReplyTest, HtmlEscapesDetailsAndShowsTheRequestId) {
  std::string out;
  LocalReply reply;
  reply.status = 503;
  reply.details = "<script>";
  reply.request_id = "rid";
  reply.close = true;
  renderLocalReply(reply, ReplyFormat::Html, "d", out);
  EXPECT_NE(out.find("<title>503 Service Unavailable</title>"), std::string::npos);
  EXPECT_NE(out.find("&lt;script&gt;"), std::string::npos);
  EXPECT_EQ(out.find("<script>"), std::string::npos);
  EXPECT_NE(out.find("Request ID: rid"), std::string::npos);
  EXPECT_NE(out.find("connection: close\r\n"), std::string::npos);
}

TEST(RenderLocalReplyTest, HeadOmitsTheBodyButKeepsItsLength) {
  std::string with_body, head_only;
  LocalReply reply;
  reply.status = 403;
  renderLocalReply(reply, ReplyFormat::Plain, "d", with_body);
  reply.head_request = true;
  renderLocalReply(reply, ReplyFormat::Plain, "d", head_only);
  EXPECT_EQ(head_only, with_body.substr(0, with_body.find("\r\n\r\n") + 4));
}

TEST(RenderTextResponseTest, Ping) {
  std::string out;
  LocalReply reply;
  reply.status = 200;
  renderTextResponse(reply, "OK\n", "d", out);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 3\r\n"
            "date: d\r\n\r\nOK\n");
}

TEST(RenderTextResponseTest, RedirectWithConfiguredHeaders) {
  std::string out;
  std::vector<std::pair<std::string, std::string>> headers = {{"X-Frame-Options", "SAMEORIGIN"}};
  LocalReply reply;
  reply.status = 302;
  reply.location = "https://docs.example.net/guide";
  reply.headers = &headers;
  renderTextResponse(reply, "", "d", out);
  EXPECT_EQ(out,
            "HTTP/1.1 302 Found\r\ncontent-length: 0\r\ndate: d\r\n"
            "location: https://docs.example.net/guide\r\nX-Frame-Options: SAMEORIGIN\r\n\r\n");
}

}  // namespace
}  // namespace vallum::proxy

namespace vallum::proxy {
namespace {

TEST(RenderTextResponseTest, NoContentStatusesSendNoBodyAndNoLength) {
  for (int status : {204, 304}) {
    std::string out;
    LocalReply reply;
    reply.status = status;
    renderTextResponse(reply, "should not be sent", "d", out);
    EXPECT_EQ(out.find("should not be sent"), std::string::npos) << status;
    EXPECT_EQ(out.find("content-length"), std::string::npos) << status;
    EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n") << status;
  }
}

}  // namespace
}  // namespace vallum::proxy
