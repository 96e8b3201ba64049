#include "upstream/cluster.h"

#include <gtest/gtest.h>

namespace vallum::upstream {
namespace {

config::UpstreamUrl url(std::string scheme, std::string host, std::optional<uint16_t> port,
                        std::string authority, uint32_t weight = 0) {
  config::UpstreamUrl u;
  u.scheme = std::move(scheme);
  u.host = std::move(host);
  u.port = port;
  u.effective_port = port.value_or(u.scheme == "https" ? 443 : 80);
  u.authority = std::move(authority);
  u.weight = weight;
  return u;
}

TEST(BuildClusterTest, IpLiteralsAndLocalhost) {
  Cluster c = buildCluster({url("http", "127.0.0.1", 9001, "127.0.0.1:9001", 3),
                            url("http", "localhost", std::nullopt, "localhost", 1)},
                           /*resolve=*/false, nullptr);
  ASSERT_EQ(c.endpoints.size(), 2u);
  EXPECT_TRUE(c.weighted);
  EXPECT_TRUE(c.endpoints[0].resolved);
  EXPECT_EQ(c.endpoints[0].address_text, "127.0.0.1:9001");
  EXPECT_EQ(c.endpoints[0].authority, "127.0.0.1:9001");
  EXPECT_EQ(c.endpoints[0].weight, 3u);
  // localhost means 127.0.0.1 for the socket but stays "localhost" in the Host header.
  EXPECT_TRUE(c.endpoints[1].resolved);
  EXPECT_EQ(c.endpoints[1].address_text, "127.0.0.1:80");
  EXPECT_EQ(c.endpoints[1].authority, "localhost");
}

TEST(BuildClusterTest, UnresolvedNamesStayUnresolvedWithoutDns) {
  Cluster c = buildCluster({url("http", "app.internal", 8080, "app.internal:8080")}, false, nullptr);
  ASSERT_EQ(c.endpoints.size(), 1u);
  EXPECT_FALSE(c.endpoints[0].resolved);
  EXPECT_EQ(c.endpoints[0].weight, 1u);
  EXPECT_FALSE(c.weighted);
}

TEST(BuildClusterTest, SameAddressSharesAPoolKey) {
  Cluster c = buildCluster({url("http", "127.0.0.1", 9001, "127.0.0.1:9001"),
                            url("http", "localhost", 9001, "localhost:9001")},
                           false, nullptr);
  EXPECT_EQ(c.endpoints[0].pool_key, c.endpoints[1].pool_key);
}

// Pomerium's cluster protocol rule: HTTP/2 prior knowledge only when every endpoint is h2c; a mixed
// cluster speaks HTTP/1.1 to all, its h2c endpoints included.
TEST(BuildClusterTest, Http2OnlyWhenEveryEndpointIsH2c) {
  Cluster all = buildCluster({url("h2c", "127.0.0.1", 9001, "127.0.0.1:9001"),
                              url("h2c", "127.0.0.1", 9002, "127.0.0.1:9002")},
                             false, nullptr);
  EXPECT_TRUE(all.endpoints[0].http2);
  EXPECT_TRUE(all.endpoints[1].http2);
  EXPECT_FALSE(all.endpoints[0].tls);
  EXPECT_EQ(all.endpoints[0].address_text, "127.0.0.1:9001");
  Cluster mixed = buildCluster({url("h2c", "127.0.0.1", 9001, "127.0.0.1:9001"),
                                url("http", "127.0.0.1", 9002, "127.0.0.1:9002")},
                               false, nullptr);
  EXPECT_FALSE(mixed.endpoints[0].http2);
  EXPECT_FALSE(mixed.endpoints[1].http2);
  // h2c and http connections to one address are never interchangeable.
  Cluster h1 = buildCluster({url("http", "127.0.0.1", 9001, "127.0.0.1:9001")}, false, nullptr);
  EXPECT_NE(all.endpoints[0].pool_key, h1.endpoints[0].pool_key);
}

}  // namespace
}  // namespace vallum::upstream
