#include "http/header_map.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <utility>

namespace vallum::http {
namespace {

TEST(HeaderMapTest, KeepsOrderCaseAndDuplicates) {
  HeaderMap h;
  h.add("X-A", "1");
  h.add("x-a", "2");
  h.add("Host", "example.com");
  ASSERT_EQ(h.fieldCount(), 3u);
  EXPECT_EQ(h.name(0), "X-A");
  EXPECT_EQ(h.value(1), "2");
  EXPECT_EQ(h.get("X-a"), "1");
  EXPECT_EQ(h.get(HeaderId::Host), "example.com");
  EXPECT_EQ(h.byteSize(), 3u + 1 + 3 + 1 + 4 + 11);
}

TEST(HeaderMapTest, IncrementalPiecesAreJoinedAndTrimmed) {
  HeaderMap h;
  h.appendNamePiece("Conte");
  h.appendNamePiece("nt-Length");
  h.appendValuePiece("  4");
  h.appendValuePiece("2 \t");
  h.finishField();
  h.appendNamePiece("X-Empty");
  h.finishField();
  ASSERT_EQ(h.fieldCount(), 2u);
  EXPECT_EQ(h.name(0), "Content-Length");
  EXPECT_EQ(h.value(0), "42");
  EXPECT_EQ(h.id(0), HeaderId::ContentLength);
  EXPECT_EQ(h.name(1), "X-Empty");
  EXPECT_EQ(h.value(1), "");
}

TEST(HeaderMapTest, RemoveMarksFieldsDead) {
  HeaderMap h;
  h.add("Connection", "close");
  h.add("X-Forwarded-For", "1.1.1.1");
  h.add("x-forwarded-for", "2.2.2.2");
  EXPECT_EQ(h.count(HeaderId::XForwardedFor), 2u);
  EXPECT_EQ(h.removeAll(HeaderId::XForwardedFor), 2u);
  EXPECT_FALSE(h.get(HeaderId::XForwardedFor).has_value());
  EXPECT_EQ(h.removeAll("CONNECTION"), 1u);
  EXPECT_FALSE(h.live(0));
}

TEST(HeaderMapTest, ClassifiesKnownNamesInAnyCase) {
  EXPECT_EQ(classifyHeader("TRANSFER-ENCODING"), HeaderId::TransferEncoding);
  EXPECT_EQ(classifyHeader("te"), HeaderId::Te);
  EXPECT_EQ(classifyHeader("Proxy-Connection"), HeaderId::ProxyConnection);
  EXPECT_EQ(classifyHeader("x-forwarded-host"), HeaderId::XForwardedHost);
  EXPECT_EQ(classifyHeader("X-Forwarded-Hos"), HeaderId::Other);
}

// Every tracked name in three spellings, and names of the same size that differ in the first
// byte or elsewhere.
TEST(HeaderMapTest, ClassifiesEveryTrackedNameAndNothingElse) {
  const std::pair<std::string, HeaderId> tracked[] = {
      {"te", HeaderId::Te},
      {"host", HeaderId::Host},
      {"expect", HeaderId::Expect},
      {"accept", HeaderId::Accept},
      {"upgrade", HeaderId::Upgrade},
      {"trailer", HeaderId::Trailer},
      {"connection", HeaderId::Connection},
      {"keep-alive", HeaderId::KeepAlive},
      {"x-request-id", HeaderId::XRequestId},
      {"content-length", HeaderId::ContentLength},
      {"x-forwarded-for", HeaderId::XForwardedFor},
      {"proxy-connection", HeaderId::ProxyConnection},
      {"x-forwarded-host", HeaderId::XForwardedHost},
      {"transfer-encoding", HeaderId::TransferEncoding},
      {"x-forwarded-proto", HeaderId::XForwardedProto},
  };
  for (const auto& [name, id] : tracked) {
    std::string upper = name;
    for (char& c : upper) {
      c = char(std::toupper(static_cast<unsigned char>(c)));
    }
    std::string mixed = name;
    mixed[0] = upper[0];
    EXPECT_EQ(classifyHeader(name), id) << name;
    EXPECT_EQ(classifyHeader(upper), id) << upper;
    EXPECT_EQ(classifyHeader(mixed), id) << mixed;
    std::string other_first = name;
    other_first[0] = 'z';
    EXPECT_EQ(classifyHeader(other_first), HeaderId::Other) << other_first;
    std::string other_last = name;
    other_last.back() = '~';
    EXPECT_EQ(classifyHeader(other_last), HeaderId::Other) << other_last;
  }
  EXPECT_EQ(classifyHeader(""), HeaderId::Other);
  EXPECT_EQ(classifyHeader("content-type"), HeaderId::Other);
}

}  // namespace
}  // namespace vallum::http
