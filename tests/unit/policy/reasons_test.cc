#include "policy/reasons.h"

#include <gtest/gtest.h>

namespace vallum::policy {
namespace {

TEST(ReasonsTest, PomeriumStrings) {
  EXPECT_EQ(reasonName(Reason::UserUnauthenticated), "user-unauthenticated");
  EXPECT_EQ(reasonName(Reason::ClientCertificateRequired), "client-certificate-required");
  EXPECT_EQ(reasonName(Reason::NonCorsRequest), "non-cors-request");
  EXPECT_EQ(reasonName(Reason::SourceIpUnauthorized), "source-ip-unauthorized");
  EXPECT_EQ(reasonName(Reason::HttpMethodOk), "http-method-ok");
  EXPECT_EQ(reasonName(Reason::RouteNotFound), "route-not-found");
  for (size_t i = 0; i < kReasonCount; ++i) {
    const auto reason = static_cast<Reason>(i);
    EXPECT_EQ(reasonFromName(reasonName(reason)), reason);
  }
  EXPECT_EQ(reasonFromName("nope"), std::nullopt);
}

TEST(ReasonSetTest, SetOperationsAndSortedText) {
  ReasonSet set;
  EXPECT_TRUE(set.empty());
  EXPECT_EQ(set.toString(), "");
  set.add(Reason::UserOk);
  set.add(Reason::EmailOk);
  set.add(Reason::UserOk);
  EXPECT_EQ(set.size(), 2u);
  EXPECT_TRUE(set.has(Reason::EmailOk));
  EXPECT_FALSE(set.has(Reason::Accept));
  EXPECT_EQ(set.toString(), "email-ok,user-ok");
  ReasonSet other(Reason::Accept);
  other.merge(set);
  EXPECT_EQ(other.toString(", "), "accept, email-ok, user-ok");
  EXPECT_EQ(other, other);
  EXPECT_NE(other, set);
}

}  // namespace
}  // namespace vallum::policy
