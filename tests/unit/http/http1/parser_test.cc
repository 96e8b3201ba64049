#include "http/http1/parser.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace vallum::http::http1 {
namespace {

struct Parsed {
  int error = 0;
  bool complete = false;
  size_t consumed = 0;
  std::string body;
};

/// Feeds `wire` in pieces cut at `cuts` (offsets), as separate reads would deliver it.
Parsed feed(RequestParser& p, std::string_view wire, std::vector<size_t> cuts = {}) {
  Parsed out;
  cuts.push_back(wire.size());
  size_t pos = 0;
  std::vector<std::string> chunks;  // keep each read's bytes alive like a socket buffer would
  for (size_t cut : cuts) {
    if (cut <= pos) {
      continue;
    }
    chunks.emplace_back(wire.substr(pos, cut - pos));
    std::vector<std::string_view> body;
    ParseEvents ev = p.execute(chunks.back(), body);
    for (auto piece : body) {
      out.body.append(piece);
    }
    out.consumed += ev.consumed;
    if (ev.error_status != 0) {
      out.error = ev.error_status;
      return out;
    }
    if (ev.message_complete) {
      out.complete = true;
      return out;
    }
    pos = cut;
  }
  return out;
}

Parsed parseRequest(std::string_view wire, const RequestLimits& limits = {}) {
  RequestParser p(limits);
  return feed(p, wire);
}

TEST(RequestParserTest, SimpleGet) {
  RequestParser p;
  Parsed r = feed(p, "GET /a?b=1 HTTP/1.1\r\nHost: x.test\r\nAccept: */*\r\n\r\n");
  ASSERT_EQ(r.error, 0);
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(p.head().method, "GET");
  EXPECT_EQ(p.head().target, "/a?b=1");
  EXPECT_EQ(p.head().headers.get(HeaderId::Host), "x.test");
  EXPECT_EQ(p.head().framing, BodyFraming::None);
  EXPECT_TRUE(p.head().keep_alive);
}

TEST(RequestParserTest, StopsAtTheEndOfTheFirstPipelinedRequest) {
  RequestParser p;
  std::string first = "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n";
  Parsed r = feed(p, first + "GET /2 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.consumed, first.size());
  p.reset();
  Parsed r2 = feed(p, "GET /2 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(r2.complete);
  EXPECT_EQ(p.head().target, "/2");
}

TEST(RequestParserTest, ContentLengthBody) {
  RequestParser p;
  Parsed r = feed(p, "POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world");
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(p.head().framing, BodyFraming::ContentLength);
  EXPECT_EQ(p.head().content_length, 11u);
  EXPECT_EQ(r.body, "hello world");
}

TEST(RequestParserTest, ChunkedBodyWithExtensionsAndTrailers) {
  RequestParser p;
  Parsed r = feed(p,
                  "POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n");
  ASSERT_EQ(r.error, 0);
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(p.head().framing, BodyFraming::Chunked);
  EXPECT_EQ(r.body, "hello world");
}

TEST(RequestParserTest, TrailersStayApartFromHeadersWhateverTheReadBoundaries) {
  // RFC 9110 §6.5.1: a trailer never joins the header section, whichever read the trailer
  // section arrives in (the same read as the head, or later).
  const std::string wire =
      "POST /t HTTP/1.1\r\nHost: real.test\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\nHost: evil.test\r\nX-Forwarded-For: 6.6.6.6\r\nX-Checksum: 42\r\n\r\n";
  for (size_t a = 0; a < wire.size(); ++a) {
    RequestParser p;
    Parsed r = feed(p, wire, {a});
    ASSERT_EQ(r.error, 0) << "cut at " << a;
    ASSERT_TRUE(r.complete) << "cut at " << a;
    const RequestHeaders& head = p.head();
    EXPECT_EQ(head.headers.fieldCount(), 2u) << "cut at " << a;
    EXPECT_EQ(head.headers.get(HeaderId::Host), "real.test") << "cut at " << a;
    EXPECT_FALSE(head.headers.get(HeaderId::XForwardedFor).has_value()) << "cut at " << a;
    ASSERT_EQ(head.trailers.fieldCount(), 3u) << "cut at " << a;
    EXPECT_EQ(head.trailers.get(HeaderId::Host), "evil.test") << "cut at " << a;
    EXPECT_EQ(head.trailers.get("x-checksum"), "42") << "cut at " << a;
    EXPECT_EQ(r.body, "abc") << "cut at " << a;
  }
}

TEST(RequestParserTest, TrailerSectionHasTheHeadLimits) {
  RequestLimits limits;
  limits.max_header_count = 3;
  Parsed r = parseRequest(
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\nB: 2\r\n"
      "C: 3\r\nD: 4\r\n\r\n",
      limits);
  EXPECT_EQ(r.error, 431);
  r = parseRequest(
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\n\tfold\r\n\r\n");
  EXPECT_EQ(r.error, 400);
}

TEST(RequestParserTest, ResetClearsTrailers) {
  RequestParser p;
  feed(p, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\n\r\n");
  ASSERT_EQ(p.head().trailers.fieldCount(), 1u);
  p.reset();
  feed(p, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(p.head().trailers.fieldCount(), 0u);
}

TEST(RequestParserTest, SameResultWhateverTheReadBoundaries) {
  const std::string wire =
      "POST /path HTTP/1.1\r\nHost: split.test\r\nX-Long-Header-Name: some value here\r\n"
      "Transfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n";
  for (size_t a = 1; a < wire.size(); ++a) {
    RequestParser p;
    Parsed r = feed(p, wire, {a});
    ASSERT_EQ(r.error, 0) << "cut at " << a;
    ASSERT_TRUE(r.complete) << "cut at " << a;
    EXPECT_EQ(r.body, "abcdefg") << "cut at " << a;
    EXPECT_EQ(p.head().headers.get("X-Long-Header-Name"), "some value here") << "cut at " << a;
    EXPECT_EQ(p.head().headers.get(HeaderId::Host), "split.test") << "cut at " << a;
  }
}

TEST(RequestParserTest, ObsFoldIsRejectedWhereverTheReadBoundaryFalls) {
  const std::string wire = "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n";
  for (size_t a = 1; a < wire.size(); ++a) {
    RequestParser p;
    Parsed r = feed(p, wire, {a});
    EXPECT_EQ(r.error, 400) << "cut at " << a;
  }
}

TEST(RequestParserTest, BadChunkTerminatorIsRejectedWhereverTheReadBoundaryFalls) {
  // llhttp 8.1 alone accepts any two bytes after chunk data; the parser checks them.
  const std::string wire =
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloAB1\r\nZ\r\n0\r\n\r\n";
  for (size_t a = 1; a < wire.size(); ++a) {
    RequestParser p;
    Parsed r = feed(p, wire, {a});
    EXPECT_EQ(r.error, 400) << "cut at " << a;
  }
}

TEST(ResponseParserTest, BadChunkTerminatorIsAProtocolError) {
  ResponseParser p;
  p.reset(false);
  std::vector<std::string_view> body;
  ParseEvents ev =
      p.execute("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n", body);
  EXPECT_EQ(ev.error_status, 502);
}

TEST(RequestParserTest, EmptyHeaderValuesAreValidWhereverTheReadBoundaryFalls) {
  // RFC 9110 §5.5 allows an empty field value; it is not line folding.
  const std::string wire = "GET / HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nX-Space: \r\nX-After: v\r\n\r\n";
  for (size_t a = 1; a < wire.size(); ++a) {
    RequestParser p;
    Parsed r = feed(p, wire, {a});
    ASSERT_EQ(r.error, 0) << "cut at " << a;
    EXPECT_TRUE(r.complete) << "cut at " << a;
    EXPECT_EQ(p.head().headers.get("X-Empty"), "") << "cut at " << a;
    EXPECT_EQ(p.head().headers.get("X-Space"), "") << "cut at " << a;
    EXPECT_EQ(p.head().headers.get("X-After"), "v") << "cut at " << a;
  }
}

TEST(ResponseParserTest, EmptyHeaderValueIsValid) {
  ResponseParser p;
  p.reset(false);
  std::vector<std::string_view> body;
  ParseEvents ev = p.execute("HTTP/1.1 200 OK\r\nX-Empty:\r\nContent-Length: 0\r\n\r\n", body);
  EXPECT_EQ(ev.error_status, 0);
  EXPECT_TRUE(ev.message_complete);
}

TEST(RequestParserTest, ValueSplitAfterSpaceIsNotObsFold) {
  RequestParser p;
  std::string wire = "GET / HTTP/1.1\r\nHost: x\r\nX-A: a b\r\n\r\n";
  Parsed r = feed(p, wire, {wire.find(" b")});
  EXPECT_EQ(r.error, 0);
  EXPECT_EQ(p.head().headers.get("X-A"), "a b");
}

struct BadRequestCase {
  const char* name;
  std::string wire;
  int status;
};

class BadRequestTest : public ::testing::TestWithParam<BadRequestCase> {};

TEST_P(BadRequestTest, IsRejected) {
  Parsed r = parseRequest(GetParam().wire);
  EXPECT_EQ(r.error, GetParam().status);
}

INSTANTIATE_TEST_SUITE_P(
    Hygiene, BadRequestTest,
    ::testing::Values(
        BadRequestCase{"ContentLengthAndTransferEncoding",
                       "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: "
                       "chunked\r\n\r\n0\r\n\r\n",
                       400},
        BadRequestCase{"DuplicateContentLength",
                       "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nA",
                       400},
        BadRequestCase{"ContentLengthList", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\nA",
                       400},
        BadRequestCase{"ContentLengthSign", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\nA", 400},
        BadRequestCase{"BadChunkSize",
                       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5g\r\nhello\r\n0\r\n\r\n",
                       400},
        BadRequestCase{"ChunkBareLf",
                       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n", 400},
        BadRequestCase{"ChunkSizeOverflow",
                       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff1\r\n",
                       400},
        BadRequestCase{"ChunkDataNotFollowedByCrlf",
                       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXY0\r\n\r\n",
                       400},
        BadRequestCase{"ChunkDataFollowedByBareLf",
                       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\n0\r\n\r\n",
                       400},
        BadRequestCase{"ObsFold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n", 400},
        BadRequestCase{"BareCr", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400},
        BadRequestCase{"Nul", std::string("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n", 36), 400},
        BadRequestCase{"SpaceInName", "GET / HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n", 400},
        BadRequestCase{"SpaceBeforeColon", "GET / HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n", 400},
        BadRequestCase{"UnknownTransferCoding",
                       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
        BadRequestCase{"ChunkedNotLast",
                       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400},
        BadRequestCase{"TransferEncodingInHttp10",
                       "POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
        BadRequestCase{"BadVersion", "GET / HTTP/1.12\r\nHost: x\r\n\r\n", 400},
        BadRequestCase{"Http2VersionIs505", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
        BadRequestCase{"Http09RequestLine", "GET /\r\n", 400},
        BadRequestCase{"Http09RequestLineWithHeaders", "GET /\r\nHost: x\r\n\r\n", 400},
        BadRequestCase{"EmptyTransferEncodingWithContentLength",
                       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \r\nContent-Length: 4\r\n"
                       "\r\n0\r\n\r\n",
                       400},
        BadRequestCase{"EmptyTransferEncoding",
                       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n\r\n", 400},
        BadRequestCase{"TransferEncodingOnlyCommas",
                       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ,\r\n\r\n", 400},
        BadRequestCase{"TransferEncodingGzipOnly",
                       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nContent-Length: 4\r\n"
                       "\r\nabcd",
                       400},
        BadRequestCase{"TransferEncodingIdentity",
                       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n", 400},
        BadRequestCase{"ChunkedTwice",
                       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"
                       "0\r\n\r\n",
                       400},
        BadRequestCase{"RepeatedTransferEncoding",
                       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                       400},
        BadRequestCase{"ChunkedPrefixOfAnotherCoding",
                       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunkedx\r\n\r\n", 400},
        BadRequestCase{"BareLfRequest", "GET / HTTP/1.1\nHost: x\n\n", 400}),
    [](const ::testing::TestParamInfo<BadRequestCase>& test) { return std::string(test.param.name); });

TEST(RequestParserTest, HeaderBytesLimitIsExact) {
  RequestLimits limits;
  limits.max_header_bytes = 100;
  // "Host" + "x" = 5 bytes; "X-Pad" (5) + value fills the rest.
  auto request = [](size_t value_size) {
    return "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(value_size, 'a') + "\r\n\r\n";
  };
  EXPECT_EQ(parseRequest(request(90), limits).error, 0);
  EXPECT_EQ(parseRequest(request(91), limits).error, 431);
}

TEST(RequestParserTest, DefaultLimitsArePomeriums) {
  // 128 KiB of name+value bytes pass; one more byte is 431.
  std::string base = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ";
  size_t fill = 128 * 1024 - 5 - 5;
  EXPECT_EQ(parseRequest(base + std::string(fill, 'a') + "\r\n\r\n").error, 0);
  EXPECT_EQ(parseRequest(base + std::string(fill + 1, 'a') + "\r\n\r\n").error, 431);
}

TEST(RequestParserTest, HeaderCountLimitIsExact) {
  auto request = [](int fields) {
    std::string s = "GET / HTTP/1.1\r\nHost: x\r\n";
    for (int i = 1; i < fields; ++i) {
      s += "X-" + std::to_string(i) + ": v\r\n";
    }
    return s + "\r\n";
  };
  EXPECT_EQ(parseRequest(request(1000)).error, 0);
  EXPECT_EQ(parseRequest(request(1001)).error, 431);
}

TEST(RequestParserTest, LongTargetIs414) {
  RequestLimits limits;
  limits.max_target_size = 32;
  EXPECT_EQ(parseRequest("GET /" + std::string(40, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", limits).error,
            414);
}

TEST(RequestParserTest, KeepAliveRules) {
  RequestParser p;
  feed(p, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_FALSE(p.head().keep_alive);
  p.reset();
  feed(p, "GET / HTTP/1.0\r\nHost: x\r\n\r\n");
  EXPECT_FALSE(p.head().keep_alive);
  p.reset();
  feed(p, "GET / HTTP/1.0\r\nHost: x\r\nConnection: Keep-Alive\r\n\r\n");
  EXPECT_TRUE(p.head().keep_alive);
  p.reset();
  feed(p, "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\n\r\n");
  EXPECT_TRUE(p.head().keep_alive);
}

TEST(RequestParserTest, ExpectContinue) {
  RequestParser p;
  std::vector<std::string_view> body;
  std::string wire = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
  ParseEvents ev = p.execute(wire, body);
  EXPECT_TRUE(ev.headers_complete);
  EXPECT_FALSE(ev.message_complete);
  EXPECT_TRUE(p.head().expect_continue);
}

// ----------------------------------------------------------------------------- responses

struct ParsedResponse {
  int error = 0;
  bool complete = false;
  std::string body;
};

ParsedResponse parseResponse(ResponseParser& p, std::string_view wire, bool eof = false) {
  ParsedResponse out;
  std::vector<std::string_view> body;
  ParseEvents ev = p.execute(wire, body);
  for (auto piece : body) {
    out.body.append(piece);
  }
  out.error = ev.error_status;
  out.complete = ev.message_complete;
  if (eof && !out.complete && out.error == 0) {
    out.complete = p.finish();
  }
  return out;
}

TEST(ResponseParserTest, ContentLength) {
  ResponseParser p;
  p.reset(false);
  auto r = parseResponse(p, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.body, "hi");
  EXPECT_EQ(p.head().status, 200);
  EXPECT_EQ(p.head().reason, "OK");
  EXPECT_TRUE(p.head().keep_alive);
}

TEST(ResponseParserTest, HeadResponseHasNoBody) {
  ResponseParser p;
  p.reset(true);
  auto r = parseResponse(p, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n");
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(p.head().framing, BodyFraming::None);
  EXPECT_EQ(p.head().content_length, 1234u);
}

TEST(ResponseParserTest, CloseDelimitedCompletesAtEof) {
  ResponseParser p;
  p.reset(false);
  auto r = parseResponse(p, "HTTP/1.0 200 OK\r\n\r\nall of it", /*eof=*/true);
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.body, "all of it");
  EXPECT_EQ(p.head().framing, BodyFraming::CloseDelimited);
  EXPECT_FALSE(p.head().keep_alive);
}

TEST(ResponseParserTest, TruncatedContentLengthIsNotComplete) {
  ResponseParser p;
  p.reset(false);
  auto r = parseResponse(p, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", /*eof=*/true);
  EXPECT_FALSE(r.complete);
}

TEST(ResponseParserTest, InformationalResponsesAreSkipped) {
  ResponseParser p;
  p.reset(false);
  auto r = parseResponse(p,
                         "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                         "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(p.head().status, 201);
  EXPECT_FALSE(p.head().headers.get("Link").has_value());
}

// fuzz/corpus/http1_response/crash-1xx-with-content-length: an informational response has no
// content whatever its fields say (RFC 9110 §15.2). Its "body" used to be delivered as body
// bytes of the final response: one byte more than that response's Content-Length here, and
// with a larger length an upstream could place a whole fake response in the client's stream.
TEST(ResponseParserTest, InformationalResponseFramingFieldsAreIgnored) {
  {
    ResponseParser p;
    p.reset(false);
    auto r = parseResponse(p,
                           "HTTP/1.1 100 Continue\r\nContent-Length: 1\r\n\r\n"
                           "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    EXPECT_EQ(r.error, 0);
    EXPECT_TRUE(r.complete);
    EXPECT_EQ(p.head().status, 200);
    EXPECT_EQ(r.body, "ok");
  }
  {
    ResponseParser p;
    p.reset(false);
    auto r = parseResponse(p,
                           "HTTP/1.1 103 Early Hints\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    EXPECT_EQ(r.error, 0);
    EXPECT_TRUE(r.complete);
    EXPECT_EQ(p.head().status, 200);
    EXPECT_EQ(r.body, "ok");
  }
  {
    // The 1xx head in one read, the rest in the next: no body bytes before the final head.
    ResponseParser p;
    p.reset(false);
    const std::string_view first = "HTTP/1.1 100 Continue\r\nContent-Length: 43\r\n\r\n";
    auto r1 = parseResponse(p, first);
    EXPECT_EQ(r1.error, 0);
    EXPECT_FALSE(r1.complete);
    EXPECT_EQ(r1.body, "");
    auto r2 = parseResponse(p, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nsmuggled!");
    EXPECT_EQ(r2.error, 0);
    EXPECT_TRUE(r2.complete);
    EXPECT_EQ(p.head().status, 200);
    EXPECT_EQ(r2.body, "smuggled!");
  }
}

TEST(ResponseParserTest, MalformedIsAnError) {
  ResponseParser p;
  p.reset(false);
  EXPECT_EQ(parseResponse(p, "HTTP/1.1 2x0 OK\r\n\r\n").error, 502);
  p.reset(false);
  EXPECT_EQ(parseResponse(p, "garbage\r\n\r\n").error, 502);
  p.reset(false);
  EXPECT_EQ(parseResponse(p, "HTTP/1.1 101 Switching Protocols\r\n\r\n").error, 502);
}

// RFC 9110 §15.2.2: after a 101 the connection speaks the new protocol. Asked for, it is a
// complete bodiless message and the parser stops right after its head; the bytes that follow
// (a server that speaks first) are left for the tunnel.
TEST(ResponseParserTest, SwitchingProtocolsEndsTheMessageWhenAnUpgradeWasAsked) {
  ResponseParser p;
  p.reset(false, /*upgrade=*/true);
  const std::string head =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Content-Length: 5\r\n\r\n";
  std::vector<std::string_view> body;
  const ParseEvents ev = p.execute(head + "\x81\x02hi", body);
  EXPECT_EQ(ev.error_status, 0);
  EXPECT_TRUE(ev.headers_complete);
  EXPECT_TRUE(ev.message_complete);
  EXPECT_EQ(ev.consumed, head.size());
  EXPECT_TRUE(body.empty());
  EXPECT_EQ(p.head().status, 101);
  EXPECT_EQ(p.head().framing, BodyFraming::None);
  EXPECT_FALSE(p.head().keep_alive);
  EXPECT_EQ(p.head().headers.get("upgrade"), std::optional<std::string_view>("websocket"));

  // An upgrade request may get an ordinary answer: it is parsed as one.
  p.reset(false, /*upgrade=*/true);
  auto r = parseResponse(p, "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 2\r\n\r\nno");
  EXPECT_EQ(r.error, 0);
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.body, "no");
}

TEST(ResponseParserTest, OtherTransferCodingsAreAProtocolError) {
  // Relabelling "gzip, chunked" as chunked would hand the client gzip bytes it cannot know
  // about; Vallum does not decode transfer codings, so the response is malformed (502).
  for (const char* coding : {"gzip, chunked", "gzip", "", "chunked, chunked", "identity"}) {
    ResponseParser p;
    p.reset(false);
    auto r = parseResponse(p, std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: ") + coding +
                                  "\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    EXPECT_EQ(r.error, 502) << coding;
  }
  // A HEAD response describes the GET's framing and has no body: not relayed, not an error.
  ResponseParser head;
  head.reset(true);
  auto r = parseResponse(head, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
  EXPECT_EQ(r.error, 0);
  EXPECT_TRUE(r.complete);
}

TEST(ResponseParserTest, TrailersStayApartFromHeaders) {
  const std::string wire =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n3\r\nabc\r\n0\r\n"
      "Set-Cookie: evil=1\r\nGrpc-Status: 0\r\n\r\n";
  for (size_t a = 1; a < wire.size(); ++a) {
    ResponseParser p;
    p.reset(false);
    std::vector<std::string_view> body;
    const std::string first = wire.substr(0, a);
    const std::string second = wire.substr(a);
    ParseEvents ev = p.execute(first, body);
    ASSERT_EQ(ev.error_status, 0) << a;
    if (!ev.message_complete) {
      ev = p.execute(second, body);
    }
    ASSERT_TRUE(ev.message_complete) << a;
    EXPECT_FALSE(p.head().headers.get("set-cookie").has_value()) << a;
    EXPECT_EQ(p.head().headers.get("x-a"), "1") << a;
    EXPECT_EQ(p.head().trailers.get("set-cookie"), "evil=1") << a;
    EXPECT_EQ(p.head().trailers.get("grpc-status"), "0") << a;
  }
}

TEST(ResponseParserTest, ChunkedResponse) {
  ResponseParser p;
  p.reset(false);
  auto r = parseResponse(p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.body, "abc");
  EXPECT_EQ(p.head().framing, BodyFraming::Chunked);
}

}  // namespace
}  // namespace vallum::http::http1
