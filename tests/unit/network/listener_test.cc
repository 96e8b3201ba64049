#include "network/listener.h"

#include <gtest/gtest.h>

namespace vallum::network {
namespace {

namespace asio = boost::asio;

TEST(ListenerTest, PortZeroThenSharedWithReusePort) {
  asio::io_context io;
  config::ListenAddress address{"127.0.0.1", 0};
  auto endpoint = resolveListenAddress(address);
  ASSERT_TRUE(endpoint.has_value());
  auto first = openListener(io, *endpoint);
  ASSERT_TRUE(first.has_value()) << first.error().detail();
  auto bound = first->local_endpoint();
  EXPECT_NE(bound.port(), 0);
  auto second = openListener(io, bound);  // a second worker on the same port
  ASSERT_TRUE(second.has_value()) << second.error().detail();
  EXPECT_EQ(second->local_endpoint().port(), bound.port());
}

TEST(ListenerTest, AddressForms) {
  auto localhost = resolveListenAddress({"localhost", 8443});
  ASSERT_TRUE(localhost.has_value());
  EXPECT_EQ(localhost->address().to_string(), "127.0.0.1");
  auto any = resolveListenAddress({"", 443});
  ASSERT_TRUE(any.has_value());
  EXPECT_TRUE(any->address().is_unspecified());
  auto v6 = resolveListenAddress({"::1", 1});
  ASSERT_TRUE(v6.has_value());
  EXPECT_TRUE(v6->address().is_v6());
}

TEST(ListenerTest, Formatting) {
  EXPECT_EQ(formatEndpoint({asio::ip::make_address("127.0.0.1"), 8443}), "127.0.0.1:8443");
  EXPECT_EQ(formatEndpoint({asio::ip::make_address("::1"), 8443}), "[::1]:8443");
  EXPECT_EQ(clientAddressString(asio::ip::make_address("::ffff:10.1.2.3")), "10.1.2.3");
}

TEST(ListenerTest, ClientAddressMatchesInetNtopForEveryOctetWidth) {
  for (const char* text : {"0.0.0.0", "1.2.3.4", "9.10.99.100", "255.255.255.255",
                           "10.0.200.7", "127.0.0.1", "100.64.0.10"}) {
    EXPECT_EQ(clientAddressString(asio::ip::make_address(text)), text);
  }
  EXPECT_EQ(clientAddressString(asio::ip::make_address("::ffff:192.168.0.255")), "192.168.0.255");
  EXPECT_EQ(clientAddressString(asio::ip::make_address("2001:db8::1")), "2001:db8::1");
  EXPECT_EQ(clientAddressString(asio::ip::make_address("::1")), "::1");
}

}  // namespace
}  // namespace vallum::network
