#include "proxy/sign_in_flow.h"

#include <gtest/gtest.h>

namespace vallum::proxy {
namespace {

TEST(SignInFlowTest, QueryParamsAreFormDecoded) {
  const std::string_view q = "a=1&pomerium_redirect_uri=https%3A%2F%2Fapp.test%2Fx%3Fy%3D1&b=c+d&e";
  EXPECT_EQ(queryParam(q, "pomerium_redirect_uri"), "https://app.test/x?y=1");
  EXPECT_EQ(queryParam(q, "b"), "c d");
  EXPECT_EQ(queryParam(q, "a"), "1");
  EXPECT_EQ(queryParam(q, "e"), "");
  EXPECT_FALSE(queryParam(q, "missing"));
  EXPECT_FALSE(queryParam("", "a"));
  // A broken escape stays as written.
  EXPECT_EQ(queryParam("x=%zz%4", "x"), "%zz%4");
}

}  // namespace
}  // namespace vallum::proxy
