#include "network/tunnel.h"

#include <functional>
#include <optional>
#include <random>
#include <string>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>

namespace vallum::network {
namespace {

namespace asio = boost::asio;
using Socket = asio::local::stream_protocol::socket;

std::string randomBytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) {
    c = char(rng());
  }
  return s;
}

/// client_a <-> [a | tunnel | b] <-> client_b, all on one io_context.
struct Fixture {
  asio::io_context io;
  Socket client_a{io}, a{io}, b{io}, client_b{io};
  SocketTunnelEnd<Socket> end_a{a};
  SocketTunnelEnd<Socket> end_b{b};
  std::optional<TunnelResult> result;

  Fixture() {
    asio::local::connect_pair(client_a, a);
    asio::local::connect_pair(b, client_b);
  }
  /// Runs the context until the tunnel finished (or `limit` passed), then the client-side
  /// coroutines a test needs to finish (`also` until it holds).
  void runUntilDone(
      std::function<bool()> also = [] { return true; },
      std::chrono::seconds limit = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while ((!result || !also()) && std::chrono::steady_clock::now() < deadline) {
      io.run_one_for(std::chrono::milliseconds(100));
    }
  }
  void start(const TunnelOptions& options) {
    asio::co_spawn(io, runTunnel(end_a, end_b, options),
                   [this](std::exception_ptr e, TunnelResult r) {
                     EXPECT_FALSE(e);
                     result = r;
                   });
  }
};

/// Reads from `s` until EOF into `out` (a coroutine on the fixture's context).
asio::awaitable<void> readAll(Socket& s, std::string& out) {
  char buf[8192];
  for (;;) {
    auto [ec, n] =
        co_await s.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    if (ec || n == 0) {
      co_return;
    }
    out.append(buf, n);
  }
}

asio::awaitable<void> writeThenHalfClose(Socket& s, const std::string& data) {
  co_await asio::async_write(s, asio::buffer(data), asio::use_awaitable);
  s.shutdown(Socket::shutdown_send);
}

TEST(TunnelTest, BytesFlowBothWaysAndHalfClosesTravel) {
  Fixture f;
  f.start({});
  const std::string up = randomBytes(1 << 20, 1);
  const std::string down = randomBytes(300 * 1024, 2);
  std::string got_b, got_a;
  auto ignore = [](std::exception_ptr) {};
  asio::co_spawn(f.io, writeThenHalfClose(f.client_a, up), ignore);
  asio::co_spawn(f.io, writeThenHalfClose(f.client_b, down), ignore);
  bool a_done = false;
  asio::co_spawn(f.io, readAll(f.client_a, got_a), [&](std::exception_ptr) { a_done = true; });
  bool b_done = false;
  asio::co_spawn(f.io, readAll(f.client_b, got_b), [&](std::exception_ptr) { b_done = true; });
  f.runUntilDone([&] { return a_done && b_done; });
  ASSERT_TRUE(f.result.has_value());
  EXPECT_EQ(got_b, up);    // every byte, in order, then EOF (client_a's half-close)
  EXPECT_EQ(got_a, down);  // the other direction kept going after that half-close
  EXPECT_EQ(f.result->bytes_a_to_b, up.size());
  EXPECT_EQ(f.result->bytes_b_to_a, down.size());
  EXPECT_FALSE(f.result->idle_timeout);
}

TEST(TunnelTest, IdleTimerEndsATunnelWithNoTraffic) {
  Fixture f;
  TunnelOptions options;
  options.idle_timeout = std::chrono::milliseconds(100);
  f.start(options);
  std::string got_a, got_b;
  auto ignore = [](std::exception_ptr) {};
  asio::co_spawn(f.io, readAll(f.client_a, got_a), ignore);
  asio::co_spawn(f.io, readAll(f.client_b, got_b), ignore);
  const auto start = std::chrono::steady_clock::now();
  f.runUntilDone();
  ASSERT_TRUE(f.result.has_value());
  EXPECT_TRUE(f.result->idle_timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
  EXPECT_EQ(f.result->bytes_a_to_b + f.result->bytes_b_to_a, 0u);
}

TEST(TunnelTest, AClosedSideEndsBothDirections) {
  Fixture f;
  f.start({});
  std::string got_a;
  auto ignore = [](std::exception_ptr) {};
  asio::co_spawn(f.io, readAll(f.client_a, got_a), ignore);
  f.client_b.close();  // the far side goes away entirely
  const std::string up = randomBytes(4 << 20, 3);
  asio::co_spawn(f.io, writeThenHalfClose(f.client_a, up), ignore);
  f.runUntilDone();
  ASSERT_TRUE(f.result.has_value());  // the tunnel ended instead of hanging
  EXPECT_LT(f.result->bytes_a_to_b, up.size());
  EXPECT_EQ(got_a, "");
}

}  // namespace
}  // namespace vallum::network
