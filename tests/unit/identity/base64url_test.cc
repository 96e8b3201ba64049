#include "identity/base64url.h"

#include <gtest/gtest.h>

namespace vallum::identity {
namespace {

TEST(Base64UrlTest, EncodesRfc4648Vectors) {
  EXPECT_EQ(base64UrlEncode(""), "");
  EXPECT_EQ(base64UrlEncode("f"), "Zg");
  EXPECT_EQ(base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(base64UrlEncode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(base64UrlEncodePadded("f"), "Zg==");
  EXPECT_EQ(base64UrlEncodePadded("fo"), "Zm8=");
  EXPECT_EQ(base64UrlEncodePadded("\xfb\xff"), "-_8=");
}

TEST(Base64UrlTest, RoundTripsAllLengths) {
  std::string data;
  for (int i = 0; i < 70; ++i) {
    EXPECT_EQ(base64UrlDecode(base64UrlEncode(data)), data);
    EXPECT_EQ(base64UrlDecodePadded(base64UrlEncodePadded(data)), data);
    data.push_back(char(i * 37));
  }
}

TEST(Base64UrlTest, UnpaddedDecodeIsStrict) {
  EXPECT_EQ(base64UrlDecode("Zm8"), "fo");
  EXPECT_FALSE(base64UrlDecode("Zm8="));   // padding
  EXPECT_FALSE(base64UrlDecode("Zm+v"));   // standard alphabet
  EXPECT_FALSE(base64UrlDecode("Zm9 v"));  // whitespace
  EXPECT_FALSE(base64UrlDecode("Zm9vY"));  // 4k+1 length
  EXPECT_FALSE(base64UrlDecode("Zm9"));    // non-zero trailing bits
}

TEST(Base64UrlTest, PaddedDecodeNeedsExactPadding) {
  EXPECT_EQ(base64UrlDecodePadded("Zm8="), "fo");
  EXPECT_FALSE(base64UrlDecodePadded("Zm8"));
  EXPECT_FALSE(base64UrlDecodePadded("Zg="));
  EXPECT_FALSE(base64UrlDecodePadded("Z==="));
  EXPECT_FALSE(base64UrlDecodePadded("Zm+v"));
}

TEST(Base64UrlTest, StdDecodeSkipsLineBreaksLikeGo) {
  EXPECT_EQ(base64StdDecode("Zm9v\r\nYmFy"), "foobar");
  EXPECT_EQ(base64StdDecode("+/8="), "\xfb\xff");
  EXPECT_FALSE(base64StdDecode("-_8="));
  EXPECT_FALSE(base64StdDecode("Zm8"));
  EXPECT_FALSE(base64StdDecode("-----BEGIN"));
}

}  // namespace
}  // namespace vallum::identity
