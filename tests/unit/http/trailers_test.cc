#include "http/trailers.h"

#include <gtest/gtest.h>

namespace vallum::http {
namespace {

TEST(TrailersTest, FieldsThatWouldChangeFramingRoutingOrIdentityAreNeverRelayed) {
  for (const char* name : {"Content-Length",
                           "transfer-encoding",
                           "Host",
                           "Connection",
                           "TE",
                           "Trailer",
                           "Upgrade",
                           "Authorization",
                           "Cookie",
                           "Set-Cookie",
                           "Content-Type",
                           "Content-Encoding",
                           "Location",
                           "X-Forwarded-For",
                           "x-forwarded-host",
                           "X-Forwarded-Proto",
                           "Forwarded",
                           "Via",
                           "X-Request-Id",
                           "X-Pomerium-Jwt-Assertion",
                           "X-Pomerium-Claim-Email",
                           "X-Envoy-Original-Path",
                           "Max-Forwards",
                           "Expect",
                           "If-None-Match",
                           "Range",
                           ":path"}) {
    EXPECT_TRUE(isForbiddenTrailer(name)) << name;
  }
  for (const char* name :
       {"grpc-status", "grpc-message", "X-Checksum", "Server-Timing", "Digest", "X-Custom"}) {
    EXPECT_FALSE(isForbiddenTrailer(name)) << name;
  }
}

TEST(TrailersTest, LastChunkCarriesOnlyRelayableFields) {
  HeaderMap trailers;
  trailers.add("Grpc-Status", "0");
  trailers.add("Set-Cookie", "evil=1");
  trailers.add("X-Forwarded-For", "6.6.6.6");
  trailers.add("X-Checksum", "abc");
  std::string out;
  appendLastChunk(trailers, out);
  EXPECT_EQ(out, "0\r\nGrpc-Status: 0\r\nX-Checksum: abc\r\n\r\n");
  HeaderMap none;
  out.clear();
  appendLastChunk(none, out);
  EXPECT_EQ(out, "0\r\n\r\n");
}

}  // namespace
}  // namespace vallum::http
