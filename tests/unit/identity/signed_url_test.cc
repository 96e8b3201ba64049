#include "identity/signed_url.h"

#include <gtest/gtest.h>

namespace vallum::identity {
namespace {

constexpr int64_t kIssued = 1574117851;

TEST(SignedUrlTest, MatchesPomeriumKnownAnswer) {
  // Pomerium's sign-in flow / pomerium internal/urlutil/signed_test.go.
  const std::string signed_url = signUrl("test-key", "https://pomerium.io", kIssued);
  EXPECT_EQ(signed_url,
            "https://pomerium.io?pomerium_expiry=1574118151&pomerium_issued=1574117851"
            "&pomerium_signature=XtvM-Y-oPvoGGV2Q5G0vrQ_CgNeYhVyTG5dHIqLsBOU%3D");
  EXPECT_TRUE(signed_url.find("pomerium_signature=XtvM-Y-oPvoGGV2Q") != std::string::npos);
  EXPECT_TRUE(verifySignedUrl("test-key", signed_url, kIssued));
}

TEST(SignedUrlTest, QueryIsReencodedSortedGoStyle) {
  const std::string url =
      signUrl("k", "https://a.example.com/p/x?z=1&b=two+words&a=%2F&b=first#frag", kIssued);
  EXPECT_TRUE(
      url.starts_with("https://a.example.com/p/x?a=%2F&b=two+words&b=first&"
                      "pomerium_expiry=1574118151&pomerium_issued=1574117851&"
                      "pomerium_signature="))
      << url;
  EXPECT_TRUE(url.ends_with("&z=1#frag")) << url;
  EXPECT_TRUE(verifySignedUrl("k", url, kIssued + 10));
}

TEST(SignedUrlTest, ResigningReplacesOldParameters) {
  const std::string once = signUrl("k", "https://a.example.com/?x=1", kIssued);
  const std::string twice = signUrl("k", once, kIssued + 100);
  EXPECT_EQ(twice.find("pomerium_issued=1574117851"), std::string::npos);
  EXPECT_TRUE(verifySignedUrl("k", twice, kIssued + 100));
}

TEST(SignedUrlTest, ExpiryAndLeeway) {
  const std::string url = signUrl("k", "https://a.example.com/", kIssued);
  const int64_t expiry = kIssued + 300;
  EXPECT_EQ(checkSignedUrl("k", url, expiry + 60), SignedUrlStatus::Ok);
  EXPECT_EQ(checkSignedUrl("k", url, expiry + 61), SignedUrlStatus::Expired);
  EXPECT_EQ(checkSignedUrl("k", url, kIssued - 60), SignedUrlStatus::Ok);
  EXPECT_EQ(checkSignedUrl("k", url, kIssued - 61), SignedUrlStatus::IssuedInFuture);
}

TEST(SignedUrlTest, TamperIsRejected) {
  const std::string url = signUrl("k", "https://a.example.com/cb?redirect=x", kIssued);
  EXPECT_EQ(checkSignedUrl("other", url, kIssued), SignedUrlStatus::BadSignature);
  std::string changed = url;
  changed.replace(changed.find("redirect=x"), 10, "redirect=y");
  EXPECT_EQ(checkSignedUrl("k", changed, kIssued), SignedUrlStatus::BadSignature);
  std::string host = url;
  host.replace(host.find("a.example"), 1, "b");
  EXPECT_EQ(checkSignedUrl("k", host, kIssued), SignedUrlStatus::BadSignature);
  std::string added = url + "&extra=1";
  EXPECT_EQ(checkSignedUrl("k", added, kIssued), SignedUrlStatus::BadSignature);
  std::string issued = url;
  issued.replace(issued.find("pomerium_issued=1574117851"), 26, "pomerium_issued=1574117852");
  EXPECT_EQ(checkSignedUrl("k", issued, kIssued), SignedUrlStatus::BadSignature);
}

TEST(SignedUrlTest, MalformedParameters) {
  EXPECT_EQ(checkSignedUrl("k", "https://a/", kIssued), SignedUrlStatus::Malformed);
  EXPECT_EQ(checkSignedUrl("k", "https://a/?pomerium_signature=abc", kIssued),
            SignedUrlStatus::Malformed);
  EXPECT_EQ(checkSignedUrl("k",
                           "https://a/?pomerium_signature=AAAA&pomerium_issued=x&"
                           "pomerium_expiry=1",
                           kIssued),
            SignedUrlStatus::Malformed);
  EXPECT_EQ(checkSignedUrl("k",
                           "https://a/?pomerium_signature=AAAA&pomerium_issued=1574117851&"
                           "pomerium_expiry=1574118151",
                           kIssued),
            SignedUrlStatus::BadSignature);
}

TEST(SignedUrlTest, GoQueryEscape) {
  EXPECT_EQ(goQueryEscape("a b/c?d=e&f~g-h_i.j"), "a+b%2Fc%3Fd%3De%26f~g-h_i.j");
  EXPECT_EQ(goQueryEscape("\xc3\xa9"), "%C3%A9");
}

}  // namespace
}  // namespace vallum::identity
