#include "upstream/health/active_health_checker.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace vallum::upstream::health {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::awaitable;
using asio::ip::tcp;
using namespace std::chrono_literals;

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

// ---------------------------------------------------------------------------------------------
// A scripted loopback upstream on the test's io_context.

enum class BodyMode { ContentLength, Chunked, CloseDelimited };

/// What the fake upstream does and what it saw. Shared with its coroutines, so the server can
/// go away while their aborted operations are still queued.
struct ServerState {
  explicit ServerState(asio::io_context& io)
      : acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}

  tcp::acceptor acceptor;
  std::vector<std::shared_ptr<tcp::socket>> sockets;
  bool closed = false;
  ssl::context* tls = nullptr;

  // Observations.
  int accepts = 0;
  int eofs = 0;  ///< connections the client closed
  std::vector<std::string> requests;
  /// When each request was read (on the io_context's thread, like the checker).
  std::vector<std::chrono::steady_clock::time_point> request_times;
  std::vector<int> responses;  ///< statuses sent, in order
  int hung = 0;                ///< requests left unanswered
  std::string tcp_received;
  std::string sni;

  // HTTP script.
  int status = 200;
  std::map<std::string, int> path_status;  ///< overrides `status` for a request path
  bool hang = false;
  bool connection_close_header = false;
  bool close_after_response = false;  ///< close silently (a keep-alive idle close)
  std::string before_close;           ///< with close_after_response: sent before closing
  BodyMode body_mode = BodyMode::ContentLength;

  // TCP script: on each connection, once `tcp_expect` has been received (at once when empty),
  // send `tcp_reply` one piece per write with a pause in between (separate segments).
  bool tcp_mode = false;
  std::string tcp_expect;
  std::vector<std::string> tcp_reply;
  bool tcp_close_after_reply = false;
};
using ServerStatePtr = std::shared_ptr<ServerState>;

std::string responseFor(ServerState& s, int status) {
  std::string r = "HTTP/1.1 " + std::to_string(status) + " Scripted\r\n";
  if (s.connection_close_header) {
    r += "Connection: close\r\n";
  }
  switch (s.body_mode) {
    case BodyMode::ContentLength:
      r += "Content-Length: 2\r\n\r\nok";
      break;
    case BodyMode::Chunked:
      r += "Transfer-Encoding: chunked\r\n\r\n1\r\no\r\n1\r\nk\r\n0\r\n\r\n";
      break;
    case BodyMode::CloseDelimited:
      r += "\r\nok";
      break;
  }
  return r;
}

template <class Stream>
awaitable<void> serveHttp(ServerStatePtr s, std::shared_ptr<tcp::socket> socket, Stream& stream) {
  std::string pending;
  std::array<char, 4096> chunk;
  while (true) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(chunk), kUse);
    if (ec) {
      if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
        ++s->eofs;
      }
      co_return;
    }
    pending.append(chunk.data(), n);
    size_t end;
    while ((end = pending.find("\r\n\r\n")) != std::string::npos) {
      std::string head = pending.substr(0, end + 4);
      pending.erase(0, end + 4);
      s->requests.push_back(head);
      s->request_times.push_back(std::chrono::steady_clock::now());
      if (s->hang) {
        ++s->hung;
        continue;
      }
      const size_t path_begin = head.find(' ') + 1;
      const std::string path = head.substr(path_begin, head.find(' ', path_begin) - path_begin);
      auto it = s->path_status.find(path);
      const int status = it != s->path_status.end() ? it->second : s->status;
      s->responses.push_back(status);
      const std::string response = responseFor(*s, status);
      auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(response), kUse);
      if (!wec && s->close_after_response && !s->before_close.empty()) {
        asio::steady_timer pause(socket->get_executor());
        pause.expires_after(2ms);
        co_await pause.async_wait(kUse);
        std::tie(wec, wn) = co_await asio::async_write(stream, asio::buffer(s->before_close), kUse);
      }
      if (wec || s->connection_close_header || s->close_after_response ||
          s->body_mode == BodyMode::CloseDelimited) {
        boost::system::error_code ignored;
        socket->close(ignored);
        co_return;
      }
    }
  }
}

awaitable<void> serveTcp(ServerStatePtr s, std::shared_ptr<tcp::socket> socket) {
  auto reply = [&]() -> awaitable<bool> {
    asio::steady_timer pause(socket->get_executor());
    for (const std::string& piece : s->tcp_reply) {
      auto [ec, n] = co_await asio::async_write(*socket, asio::buffer(piece), kUse);
      if (ec) {
        co_return false;
      }
      pause.expires_after(3ms);
      co_await pause.async_wait(kUse);
    }
    co_return true;
  };
  if (s->tcp_expect.empty()) {
    const bool sent = co_await reply();
    if (!sent) {
      co_return;
    }
  }
  std::string received;
  std::array<char, 4096> chunk;
  while (true) {
    auto [ec, n] = co_await socket->async_read_some(asio::buffer(chunk), kUse);
    if (ec) {
      if (ec == asio::error::eof) {
        ++s->eofs;
      }
      co_return;
    }
    s->tcp_received.append(chunk.data(), n);
    received.append(chunk.data(), n);
    if (!s->tcp_expect.empty() && received.find(s->tcp_expect) != std::string::npos) {
      received.clear();
      const bool sent = co_await reply();
      if (!sent) {
        co_return;
      }
      if (s->tcp_close_after_reply) {
        boost::system::error_code ignored;
        socket->close(ignored);
        co_return;
      }
    }
  }
}

awaitable<void> serveConnection(ServerStatePtr s, std::shared_ptr<tcp::socket> socket) {
  if (s->tcp_mode) {
    co_await serveTcp(s, socket);
  } else if (s->tls != nullptr) {
    ssl::stream<tcp::socket&> stream(*socket, *s->tls);
    auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, kUse);
    if (!ec) {
      co_await serveHttp(s, socket, stream);
    }
  } else {
    co_await serveHttp(s, socket, *socket);
  }
}

awaitable<void> acceptLoop(ServerStatePtr s) {
  while (!s->closed) {
    auto [ec, socket] = co_await s->acceptor.async_accept(kUse);
    if (ec) {
      co_return;
    }
    ++s->accepts;
    auto shared = std::make_shared<tcp::socket>(std::move(socket));
    s->sockets.push_back(shared);
    asio::co_spawn(s->acceptor.get_executor(), serveConnection(s, shared), asio::detached);
  }
}

class FakeServer {
 public:
  explicit FakeServer(asio::io_context& io) : state_(std::make_shared<ServerState>(io)) {
    asio::co_spawn(io, acceptLoop(state_), asio::detached);
  }
  ~FakeServer() { close(); }

  ServerState* operator->() { return state_.get(); }
  tcp::endpoint endpoint() const { return state_->acceptor.local_endpoint(); }

  /// Closes the listener and every connection: later connects are refused.
  void close() {
    state_->closed = true;
    boost::system::error_code ignored;
    state_->acceptor.close(ignored);
    for (auto& socket : state_->sockets) {
      socket->close(ignored);
    }
  }

 private:
  ServerStatePtr state_;
};

/// A loopback port nothing listens on.
tcp::endpoint refusedEndpoint(asio::io_context& io) {
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint();
}

// ---------------------------------------------------------------------------------------------
// Harness

struct Change {
  size_t host;
  bool healthy;
  std::string reason;
};

/// Short intervals keep the tests fast; the timeout is generous so that a loaded machine
/// (sanitizers, parallel ctest) does not turn slow answers into failures. Tests about timeouts
/// use kShortTimeout.
constexpr auto kShortTimeout = 300ms;

config::HealthCheck httpCheck(const std::string& path = "/healthz") {
  config::HealthCheck check;
  check.timeout = 2s;
  check.interval = 20ms;
  check.healthy_threshold = 2;
  check.unhealthy_threshold = 3;
  check.kind = config::HealthCheck::Kind::Http;
  check.http_path = path;
  return check;
}

config::HealthCheck tcpCheck() {
  config::HealthCheck check = httpCheck();
  check.kind = config::HealthCheck::Kind::Tcp;
  check.http_path.clear();
  return check;
}

class ActiveHealthCheckerTest : public ::testing::Test {
 protected:
  CheckTarget target(const tcp::endpoint& address, const std::string& authority = "") {
    CheckTarget t;
    t.address = address;
    t.authority = authority.empty() ? "127.0.0.1:" + std::to_string(address.port()) : authority;
    t.health = std::make_shared<HostHealth>();
    cluster_->hosts.push_back(t.health);
    return t;
  }

  void start(std::vector<config::HealthCheck> checks, std::vector<CheckTarget> targets) {
    checker_ = std::make_unique<ActiveHealthChecker>(
        io_, std::move(checks), std::move(targets), cluster_,
        [this](size_t host, bool healthy, const std::string& reason) {
          changes_.push_back({host, healthy, reason});
          if (on_change_hook_) {
            on_change_hook_(host, healthy);
          }
        },
        /*seed=*/1);
    checker_->setOnPass([this](size_t host) { passes_.push_back(host); });
    checker_->start();
  }

  /// Runs the io_context until `done` holds or `limit` passes.
  bool runUntil(const std::function<bool()>& done, std::chrono::milliseconds limit = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) {
        return false;
      }
      if (io_.stopped()) {
        io_.restart();
      }
      io_.run_for(2ms);
    }
    return true;
  }
  void runFor(std::chrono::milliseconds d) {
    runUntil([] { return false; }, d);
  }
  bool waitChanges(size_t n) {
    return runUntil([&] { return changes_.size() >= n; });
  }
  bool hostHealthy(size_t i) const {
    return cluster_->hosts[i]->active_healthy.load(std::memory_order_relaxed);
  }
  uint64_t epoch() const { return cluster_->epoch.load(); }

  asio::io_context io_;
  ClusterHealthSharedPtr cluster_ = std::make_shared<ClusterHealth>();
  std::vector<Change> changes_;
  std::vector<size_t> passes_;
  std::function<void(size_t, bool)> on_change_hook_;
  std::unique_ptr<ActiveHealthChecker> checker_;
};

int countOf(const std::vector<int>& v, int value) {
  return static_cast<int>(std::count(v.begin(), v.end(), value));
}

// ---------------------------------------------------------------------------------------------
// HTTP

TEST_F(ActiveHealthCheckerTest, StartMarksHostsUnhealthyAndFirstSuccessMakesHealthy) {
  FakeServer server(io_);
  start({httpCheck()}, {target(server.endpoint())});
  // Before any check: unhealthy, one epoch bump.
  EXPECT_FALSE(hostHealthy(0));
  EXPECT_EQ(epoch(), 1u);
  ASSERT_TRUE(waitChanges(1));
  EXPECT_EQ(server->requests.size(), 1u);  // the first pass flips at once
  EXPECT_EQ(changes_[0].host, 0u);
  EXPECT_TRUE(changes_[0].healthy);
  EXPECT_EQ(changes_[0].reason, "first check passed");
  EXPECT_TRUE(hostHealthy(0));
  EXPECT_EQ(epoch(), 2u);
  // Checks keep running every interval; a healthy host stays put.
  ASSERT_TRUE(runUntil([&] { return server->requests.size() >= 5; }));
  EXPECT_EQ(changes_.size(), 1u);
  EXPECT_EQ(epoch(), 2u);
}

TEST_F(ActiveHealthCheckerTest, RequestUsesEndpointAuthorityWithoutConfiguredHost) {
  FakeServer server(io_);
  start({httpCheck()}, {target(server.endpoint(), "backend.internal:9001")});
  ASSERT_TRUE(runUntil([&] { return !server->requests.empty(); }));
  EXPECT_EQ(
      server->requests[0],
      "GET /healthz HTTP/1.1\r\nHost: backend.internal:9001\r\nUser-Agent: Vallum/HC\r\n\r\n");
}

TEST_F(ActiveHealthCheckerTest, RequestUsesConfiguredHost) {
  FakeServer server(io_);
  config::HealthCheck check = httpCheck("/status?probe=1");
  check.http_host = "probe.example.test";
  start({check}, {target(server.endpoint(), "backend.internal:9001")});
  ASSERT_TRUE(runUntil([&] { return !server->requests.empty(); }));
  EXPECT_EQ(server->requests[0],
            "GET /status?probe=1 HTTP/1.1\r\nHost: probe.example.test\r\nUser-Agent: Vallum/HC"
            "\r\n\r\n");
}

TEST_F(ActiveHealthCheckerTest, UnexpectedStatusFlipsAHealthyHostAtOnce) {
  FakeServer server(io_);
  start({httpCheck()}, {target(server.endpoint())});
  ASSERT_TRUE(waitChanges(1));
  server->status = 404;
  ASSERT_TRUE(waitChanges(2));
  EXPECT_FALSE(changes_[1].healthy);
  EXPECT_EQ(changes_[1].reason, "http status 404");
  EXPECT_EQ(countOf(server->responses, 404), 1);  // unhealthy_threshold 3 does not apply
  EXPECT_FALSE(hostHealthy(0));
  EXPECT_EQ(epoch(), 3u);
}

// successful_active_health_check_uneject_host needs every pass of a healthy host, not only the
// transition: the outlier detector un-ejects on the next pass after an ejection.
TEST_F(ActiveHealthCheckerTest, OnPassHearsEveryPassOfAHealthyHostOnly) {
  FakeServer server(io_);
  start({httpCheck()}, {target(server.endpoint())});
  ASSERT_TRUE(runUntil([&] { return passes_.size() >= 3; }));
  // One per 200 the server sent (the last may still be on its way to the checker).
  EXPECT_LE(passes_.size(), size_t(countOf(server->responses, 200)));
  EXPECT_GE(passes_.size() + 1, size_t(countOf(server->responses, 200)));
  EXPECT_EQ(std::count(passes_.begin(), passes_.end(), size_t{0}), std::ptrdiff_t(passes_.size()));
  server->status = 503;
  ASSERT_TRUE(waitChanges(2));
  const size_t before = passes_.size();
  runFor(60ms);
  EXPECT_EQ(passes_.size(), before);  // failing checks and an unhealthy host: none
  // Back: healthy_threshold (2 here) successes flip it; only then do passes count again.
  server->status = 200;
  ASSERT_TRUE(waitChanges(3));
  EXPECT_TRUE(changes_[2].healthy);
  EXPECT_EQ(passes_.size(), before + 1);
}

TEST_F(ActiveHealthCheckerTest, ReturnsAfterHealthyThresholdSuccesses) {
  FakeServer server(io_);
  server->status = 503;
  start({httpCheck()}, {target(server.endpoint())});
  // The first check failed: no first-check shortcut any more.
  ASSERT_TRUE(runUntil([&] { return server->responses.size() >= 3; }));
  EXPECT_TRUE(changes_.empty());
  server->status = 200;
  ASSERT_TRUE(waitChanges(1));
  EXPECT_TRUE(changes_[0].healthy);
  EXPECT_EQ(changes_[0].reason, "2 consecutive successes");
  EXPECT_EQ(countOf(server->responses, 200), 2);
  // And back after a failure: again 2.
  server->status = 500;
  ASSERT_TRUE(waitChanges(2));
  EXPECT_EQ(changes_[1].reason, "http status 500");
  server->status = 200;
  ASSERT_TRUE(waitChanges(3));
  EXPECT_EQ(countOf(server->responses, 200), 4);
  EXPECT_EQ(epoch(), 4u);
}

TEST_F(ActiveHealthCheckerTest, TimeoutsNeedUnhealthyThreshold) {
  FakeServer server(io_);
  config::HealthCheck check = httpCheck();
  check.timeout = kShortTimeout;
  start({check}, {target(server.endpoint())});
  ASSERT_TRUE(waitChanges(1));
  server->hang = true;
  ASSERT_TRUE(waitChanges(2));
  EXPECT_FALSE(changes_[1].healthy);
  EXPECT_EQ(changes_[1].reason, "timeout after 300ms, 3 consecutive failures");
  EXPECT_EQ(server->hung, 3);
  // Each timed-out check closed its connection.
  ASSERT_TRUE(runUntil([&] { return server->eofs >= 3; }));
  server->hang = false;
  ASSERT_TRUE(waitChanges(3));
  EXPECT_TRUE(changes_[2].healthy);
  EXPECT_EQ(countOf(server->responses, 200), 1 + 2);
}

TEST_F(ActiveHealthCheckerTest, ExpectedStatusRangesAreHalfOpen) {
  FakeServer server(io_);
  server->status = 299;
  config::HealthCheck check = httpCheck();
  check.expected_statuses = {{200, 300}};
  start({check}, {target(server.endpoint())});
  ASSERT_TRUE(waitChanges(1));
  EXPECT_TRUE(changes_[0].healthy);
  server->status = 300;
  ASSERT_TRUE(waitChanges(2));
  EXPECT_FALSE(changes_[1].healthy);
  EXPECT_EQ(changes_[1].reason, "http status 300");
  EXPECT_EQ(countOf(server->responses, 300), 1);
}

TEST_F(ActiveHealthCheckerTest, DefaultExpectsOnly200) {
  FakeServer server(io_);
  server->status = 201;
  start({httpCheck()}, {target(server.endpoint())});
  ASSERT_TRUE(runUntil([&] { return server->responses.size() >= 3; }));
  EXPECT_TRUE(changes_.empty());
  EXPECT_FALSE(hostHealthy(0));
}

TEST_F(ActiveHealthCheckerTest, RetriableStatusesCountTowardTheThreshold) {
  FakeServer server(io_);
  config::HealthCheck check = httpCheck();
  check.unhealthy_threshold = 2;
  check.retriable_statuses = {{200, 600}};  // overlaps expected: expected wins for 200
  start({check}, {target(server.endpoint())});
  ASSERT_TRUE(waitChanges(1));
  EXPECT_TRUE(changes_[0].healthy);
  server->status = 503;
  ASSERT_TRUE(waitChanges(2));
  EXPECT_FALSE(changes_[1].healthy);
  EXPECT_EQ(changes_[1].reason, "http status 503 (retriable), 2 consecutive failures");
  EXPECT_EQ(countOf(server->responses, 503), 2);
  // A retriable status does not break the connection.
  EXPECT_EQ(server->accepts, 1);
}

TEST_F(ActiveHealthCheckerTest, ReusesTheConnectionAcrossChecks) {
  FakeServer server(io_);
  start({httpCheck()}, {target(server.endpoint())});
  ASSERT_TRUE(runUntil([&] { return server->responses.size() >= 4; }));
  EXPECT_EQ(server->accepts, 1);
}

TEST_F(ActiveHealthCheckerTest, ChunkedBodyIsConsumedAndTheConnectionReused) {
  FakeServer server(io_);
  server->body_mode = BodyMode::Chunked;
  start({httpCheck()}, {target(server.endpoint())});
  ASSERT_TRUE(runUntil([&] { return server->responses.size() >= 3; }));
  EXPECT_EQ(server->accepts, 1);
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_TRUE(changes_[0].healthy);
}

TEST_F(ActiveHealthCheckerTest, CloseDelimitedBodyPassesWithoutReuse) {
  FakeServer server(io_);
  server->body_mode = BodyMode::CloseDelimited;
  start({httpCheck()}, {target(server.endpoint())});
  ASSERT_TRUE(runUntil([&] { return server->responses.size() >= 3; }));
  EXPECT_EQ(server->accepts, static_cast<int>(server->requests.size()));
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_TRUE(changes_[0].healthy);
}

TEST_F(ActiveHealthCheckerTest, NoReuseWithReuseConnectionFalse) {
  FakeServer server(io_);
  config::HealthCheck check = httpCheck();
  check.reuse_connection = false;
  start({check}, {target(server.endpoint())});
  ASSERT_TRUE(runUntil([&] { return server->responses.size() >= 3; }));
  EXPECT_EQ(server->accepts, static_cast<int>(server->requests.size()));
  // The checker closed each connection itself.
  ASSERT_TRUE(runUntil([&] { return server->eofs >= 2; }));
}

TEST_F(ActiveHealthCheckerTest, NoReuseAfterConnectionClose) {
  FakeServer server(io_);
  server->connection_close_header = true;
  start({httpCheck()}, {target(server.endpoint())});
  ASSERT_TRUE(runUntil([&] { return server->responses.size() >= 3; }));
  EXPECT_EQ(server->accepts, static_cast<int>(server->requests.size()));
  EXPECT_EQ(changes_.size(), 1u);
}

TEST_F(ActiveHealthCheckerTest, IdleCloseOfAKeptConnectionIsNotAFailure) {
  FakeServer server(io_);
  server->close_after_response = true;  // closes without saying so
  config::HealthCheck check = httpCheck();
  check.unhealthy_threshold = 1;
  start({check}, {target(server.endpoint())});
  ASSERT_TRUE(runUntil([&] { return server->responses.size() >= 4; }));
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_TRUE(changes_[0].healthy);
  EXPECT_TRUE(hostHealthy(0));
}

TEST_F(ActiveHealthCheckerTest, BytesOnAnIdleConnectionAreNotTheNextResponse) {
  FakeServer server(io_);
  server->close_after_response = true;
  server->before_close = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n";
  start({httpCheck()}, {target(server.endpoint())});
  ASSERT_TRUE(runUntil([&] { return server->responses.size() >= 4; }));
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_TRUE(changes_[0].healthy);
  EXPECT_EQ(server->accepts, static_cast<int>(server->requests.size()));
}

TEST_F(ActiveHealthCheckerTest, ConnectRefusedIsANetworkFailure) {
  FakeServer server(io_);
  config::HealthCheck check = httpCheck();
  check.unhealthy_threshold = 2;
  start({check}, {target(server.endpoint())});
  ASSERT_TRUE(waitChanges(1));
  server.close();
  ASSERT_TRUE(waitChanges(2));
  EXPECT_FALSE(changes_[1].healthy);
  EXPECT_EQ(changes_[1].reason, "connect refused, 2 consecutive failures");
}

TEST_F(ActiveHealthCheckerTest, RefusedFromTheStartStaysUnhealthy) {
  start({httpCheck()}, {target(refusedEndpoint(io_))});
  runFor(200ms);
  EXPECT_TRUE(changes_.empty());
  EXPECT_FALSE(hostHealthy(0));
  EXPECT_EQ(epoch(), 1u);
}

TEST_F(ActiveHealthCheckerTest, AltPortOverridesTheEndpointPort) {
  FakeServer server(io_);
  config::HealthCheck check = httpCheck();
  check.alt_port = server.endpoint().port();
  start({check}, {target(refusedEndpoint(io_), "app.internal")});
  ASSERT_TRUE(waitChanges(1));
  EXPECT_TRUE(changes_[0].healthy);
  EXPECT_NE(server->requests[0].find("Host: app.internal\r\n"), std::string::npos);
}

TEST_F(ActiveHealthCheckerTest, EveryCheckMustPass) {
  FakeServer server(io_);
  server->path_status = {{"/a", 200}, {"/b", 503}};
  start({httpCheck("/a"), httpCheck("/b")}, {target(server.endpoint())});
  ASSERT_TRUE(runUntil([&] { return countOf(server->responses, 503) >= 3; }));
  EXPECT_TRUE(changes_.empty());
  EXPECT_FALSE(hostHealthy(0));
  server->path_status["/b"] = 200;
  ASSERT_TRUE(waitChanges(1));
  EXPECT_TRUE(changes_[0].healthy);
  EXPECT_EQ(changes_[0].reason, "health_checks[1]: 2 consecutive successes");
  server->path_status["/a"] = 500;
  ASSERT_TRUE(waitChanges(2));
  EXPECT_FALSE(changes_[1].healthy);
  EXPECT_EQ(changes_[1].reason, "health_checks[0]: http status 500");
  EXPECT_EQ(epoch(), 3u);
}

TEST_F(ActiveHealthCheckerTest, HostsAreCheckedIndependently) {
  FakeServer a(io_);
  FakeServer b(io_);
  b->status = 503;
  start({httpCheck()}, {target(a.endpoint()), target(b.endpoint())});
  ASSERT_TRUE(runUntil([&] { return b->responses.size() >= 3; }));
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_EQ(changes_[0].host, 0u);
  EXPECT_TRUE(hostHealthy(0));
  EXPECT_FALSE(hostHealthy(1));
  b->status = 200;
  ASSERT_TRUE(waitChanges(2));
  EXPECT_EQ(changes_[1].host, 1u);
  EXPECT_TRUE(changes_[1].healthy);
  EXPECT_TRUE(hostHealthy(1));
  EXPECT_EQ(epoch(), 3u);
}

TEST_F(ActiveHealthCheckerTest, InvalidResponseIsANetworkFailure) {
  FakeServer server(io_);
  config::HealthCheck check = httpCheck();
  check.unhealthy_threshold = 1;
  start({check}, {target(server.endpoint())});
  ASSERT_TRUE(waitChanges(1));
  server->status = 42;  // "HTTP/1.1 42 ..." is not a valid status line
  ASSERT_TRUE(waitChanges(2));
  EXPECT_FALSE(changes_[1].healthy);
  EXPECT_EQ(changes_[1].reason.rfind("invalid http response", 0), 0u) << changes_[1].reason;
}

TEST_F(ActiveHealthCheckerTest, NextCheckStartsAnIntervalAfterTheResult) {
  FakeServer server(io_);
  config::HealthCheck check = httpCheck();
  check.interval = 60ms;
  start({check}, {target(server.endpoint())});
  ASSERT_TRUE(runUntil([&] { return server->requests.size() >= 4; }));
  // Timestamps taken by the server as each request is read: a check can only start after the
  // previous response was sent, so a late wake-up of this thread never shortens a gap (polling
  // from the test loop did, under a loaded ctest -j).
  const auto& times = server->request_times;
  for (size_t i = 1; i < times.size(); ++i) {
    EXPECT_GE(times[i] - times[i - 1], 60ms) << i;
  }
}

/// Case BR-19 with the clock scaled down 10x (interval = timeout = 100 ms): probe headers,
/// a 404 removes the host after one probe, 2 good probes bring it back, hanging probes remove
/// it only after the 3rd timeout, and 300 is outside [200, 300).
TEST_F(ActiveHealthCheckerTest, Br19Scaled) {
  FakeServer a(io_);
  FakeServer b(io_);
  config::HealthCheck check = httpCheck();
  check.timeout = 100ms;
  check.interval = 100ms;
  check.unhealthy_threshold = 3;
  check.healthy_threshold = 2;
  check.http_path = "/healthz";
  check.http_host = "probe.example.test";
  check.expected_statuses = {{200, 300}};
  start({check}, {target(a.endpoint(), "127.0.0.1:9001"), target(b.endpoint(), "127.0.0.1:9002")});
  ASSERT_TRUE(runUntil([&] { return hostHealthy(0) && hostHealthy(1); }));
  EXPECT_EQ(b->requests[0],
            "GET /healthz HTTP/1.1\r\nHost: probe.example.test\r\nUser-Agent: Vallum/HC\r\n\r\n");
  const size_t base = changes_.size();

  b->status = 404;
  ASSERT_TRUE(waitChanges(base + 1));
  EXPECT_EQ(changes_[base].host, 1u);
  EXPECT_FALSE(changes_[base].healthy);
  EXPECT_EQ(countOf(b->responses, 404), 1);

  b->status = 200;
  ASSERT_TRUE(waitChanges(base + 2));
  EXPECT_TRUE(changes_[base + 1].healthy);
  EXPECT_EQ(changes_[base + 1].reason, "2 consecutive successes");

  const int ok_before = countOf(b->responses, 200);
  b->hang = true;
  const auto hang_start = std::chrono::steady_clock::now();
  ASSERT_TRUE(waitChanges(base + 3));
  const auto removed_after = std::chrono::steady_clock::now() - hang_start;
  EXPECT_FALSE(changes_[base + 2].healthy);
  EXPECT_EQ(changes_[base + 2].reason, "timeout after 100ms, 3 consecutive failures");
  EXPECT_EQ(b->hung, 3);
  // 3 timeouts and the 2 intervals between them at least; 3 x (interval + timeout) plus up to
  // one interval of phase at most (generous bound for loaded machines).
  EXPECT_GE(removed_after, 490ms);
  EXPECT_LT(removed_after, 3000ms);
  EXPECT_EQ(countOf(b->responses, 200), ok_before);

  b->hang = false;
  ASSERT_TRUE(waitChanges(base + 4));
  EXPECT_TRUE(changes_[base + 3].healthy);
  b->status = 300;
  ASSERT_TRUE(waitChanges(base + 5));
  EXPECT_FALSE(changes_[base + 4].healthy);
  EXPECT_EQ(changes_[base + 4].reason, "http status 300");
  EXPECT_EQ(countOf(b->responses, 300), 1);
  // Host 0 stayed healthy throughout.
  EXPECT_TRUE(hostHealthy(0));
  for (size_t i = base; i < changes_.size(); ++i) {
    EXPECT_EQ(changes_[i].host, 1u);
  }
}

// ---------------------------------------------------------------------------------------------
// TCP

TEST_F(ActiveHealthCheckerTest, TcpSendsBytesAndFindsPayloadsInOrder) {
  FakeServer server(io_);
  server->tcp_mode = true;
  server->tcp_expect = std::string("\x00\x01PING", 6);
  server->tcp_reply = {"xxP", "O", "\xff garbage ", "N", "G!"};
  config::HealthCheck check = tcpCheck();
  check.tcp_send = std::string("\x00\x01PING", 6);  // hex "000150494e47", decoded
  check.tcp_receive = {"PO", "NG"};
  start({check}, {target(server.endpoint())});
  ASSERT_TRUE(waitChanges(1));
  EXPECT_TRUE(changes_[0].healthy);
  EXPECT_EQ(server->tcp_received.substr(0, 6), std::string("\x00\x01PING", 6));
  // Reused across checks by default.
  ASSERT_TRUE(runUntil([&] { return server->tcp_received.size() >= 18; }));
  EXPECT_EQ(server->accepts, 1);
}

TEST_F(ActiveHealthCheckerTest, TcpPayloadsOutOfOrderTimeOut) {
  FakeServer server(io_);
  server->tcp_mode = true;
  server->tcp_expect = "PING";
  server->tcp_reply = {"PONG"};
  config::HealthCheck check = tcpCheck();
  check.tcp_send = "PING";
  check.tcp_receive = {"NG", "PO"};
  check.timeout = kShortTimeout;
  start({check}, {target(server.endpoint())});
  ASSERT_TRUE(runUntil([&] { return server->accepts >= 3; }));  // each timeout reconnects
  EXPECT_TRUE(changes_.empty());
  EXPECT_FALSE(hostHealthy(0));
}

TEST_F(ActiveHealthCheckerTest, TcpReceiveOnlyWaitsForTheServer) {
  FakeServer server(io_);
  server->tcp_mode = true;
  server->tcp_reply = {"220 ", "ready\r\n"};  // a banner, sent on connect
  config::HealthCheck check = tcpCheck();
  check.tcp_receive = {"220", "ready"};
  check.reuse_connection = false;
  start({check}, {target(server.endpoint())});
  ASSERT_TRUE(waitChanges(1));
  EXPECT_TRUE(changes_[0].healthy);
  EXPECT_TRUE(server->tcp_received.empty());
  ASSERT_TRUE(runUntil([&] { return server->accepts >= 3; }));
}

TEST_F(ActiveHealthCheckerTest, TcpConnectOnlyClosesAtOnce) {
  FakeServer server(io_);
  server->tcp_mode = true;
  start({tcpCheck()}, {target(server.endpoint())});
  ASSERT_TRUE(waitChanges(1));
  EXPECT_TRUE(changes_[0].healthy);
  EXPECT_EQ(changes_[0].reason, "first check passed");
  ASSERT_TRUE(runUntil([&] { return server->eofs >= 3; }));
  EXPECT_GE(server->accepts, 3);
  EXPECT_TRUE(server->tcp_received.empty());
}

TEST_F(ActiveHealthCheckerTest, TcpServerClosingBeforeTheMatchFails) {
  FakeServer server(io_);
  server->tcp_mode = true;
  server->tcp_expect = "PING";
  server->tcp_reply = {"PONG"};
  config::HealthCheck check = tcpCheck();
  check.tcp_send = "PING";
  check.tcp_receive = {"PONG"};
  check.unhealthy_threshold = 1;
  start({check}, {target(server.endpoint())});
  ASSERT_TRUE(waitChanges(1));
  server->tcp_reply = {"PO"};
  server->tcp_close_after_reply = true;
  ASSERT_TRUE(waitChanges(2));
  EXPECT_FALSE(changes_[1].healthy);
  EXPECT_EQ(changes_[1].reason, "connection closed");
}

// ---------------------------------------------------------------------------------------------
// TLS

struct TestTls {
  ssl::context server{ssl::context::tls_server};
  /// The client side as routes build it: the certificate as the route's custom CA.
  tls::ClientContextConstSharedPtr client;
};

int recordSni(SSL* ssl, int*, void* arg) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  static_cast<ServerState*>(arg)->sni = name != nullptr ? name : "";
  return SSL_TLSEXT_ERR_OK;
}

/// A self-signed certificate for `dns_name`, served by `server` and trusted by `client`.
std::unique_ptr<TestTls> makeTls(const std::string& dns_name) {
  auto tls = std::make_unique<TestTls>();
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* subject = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("hc-test"), -1, -1, 0);
  X509_set_issuer_name(cert, subject);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  const std::string san = "DNS:" + dns_name;
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str());
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  X509_sign(cert, key, EVP_sha256());
  SSL_CTX_use_certificate(tls->server.native_handle(), cert);
  SSL_CTX_use_PrivateKey(tls->server.native_handle(), key);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* pem = nullptr;
  const long pem_size = BIO_get_mem_data(bio, &pem);
  config::UpstreamTls route_tls;
  route_tls.custom_ca.assign(pem, size_t(pem_size));
  BIO_free(bio);
  config::Diagnostics diagnostics;
  tls->client = tls::ClientContext::build(route_tls, "", {}, diagnostics);
  EXPECT_NE(tls->client, nullptr) << diagnostics.formatAll();
  X509_free(cert);
  EVP_PKEY_free(key);
  return tls;
}

TEST_F(ActiveHealthCheckerTest, TlsCheckSendsSniAndVerifiesTheName) {
  auto tls = makeTls("hc.example.test");
  FakeServer server(io_);
  server->tls = &tls->server;
  SSL_CTX_set_tlsext_servername_callback(tls->server.native_handle(), recordSni);
  SSL_CTX_set_tlsext_servername_arg(tls->server.native_handle(), server.operator->());
  CheckTarget t = target(server.endpoint(), "hc.example.test:8443");
  t.tls = tls->client;
  t.tls_server_name = "hc.example.test";
  start({httpCheck()}, {t});
  ASSERT_TRUE(waitChanges(1));
  EXPECT_TRUE(changes_[0].healthy);
  EXPECT_EQ(server->sni, "hc.example.test");
  ASSERT_TRUE(runUntil([&] { return server->responses.size() >= 3; }));
  EXPECT_EQ(server->accepts, 1);
}

TEST_F(ActiveHealthCheckerTest, TlsNameMismatchFails) {
  auto tls = makeTls("hc.example.test");
  FakeServer server(io_);
  server->tls = &tls->server;
  CheckTarget t = target(server.endpoint());
  t.tls = tls->client;
  t.tls_server_name = "other.example.test";
  start({httpCheck()}, {t});
  ASSERT_TRUE(runUntil([&] { return server->accepts >= 3; }));
  EXPECT_TRUE(changes_.empty());
  EXPECT_TRUE(server->requests.empty());
}

// ---------------------------------------------------------------------------------------------
// Lifetime

TEST_F(ActiveHealthCheckerTest, StopThenDestroyMidCheck) {
  FakeServer server(io_);
  server->hang = true;
  start({httpCheck(), tcpCheck()}, {target(server.endpoint()), target(refusedEndpoint(io_))});
  ASSERT_TRUE(runUntil([&] { return server->hung >= 1; }));  // a check awaits its response
  const int eofs = server->eofs;
  checker_->stop();
  checker_.reset();
  runFor(300ms);  // aborted operations complete against the shared state
  EXPECT_TRUE(changes_.empty());
  EXPECT_EQ(server->hung, 1);
  EXPECT_GT(server->eofs, eofs);  // stop() closed the hung connection
}

TEST_F(ActiveHealthCheckerTest, DestroyWithoutStopMidCheck) {
  FakeServer server(io_);
  server->hang = true;
  start({httpCheck()}, {target(server.endpoint())});
  ASSERT_TRUE(runUntil([&] { return server->hung >= 1; }));
  checker_.reset();
  runFor(200ms);
  EXPECT_EQ(server->hung, 1);
}

TEST_F(ActiveHealthCheckerTest, DestroyBeforeTheFirstCheckRuns) {
  FakeServer server(io_);
  start({httpCheck()}, {target(server.endpoint())});
  checker_.reset();
  runFor(100ms);
  EXPECT_EQ(server->accepts, 0);
  EXPECT_TRUE(changes_.empty());
}

TEST_F(ActiveHealthCheckerTest, StopDuringTheIntervalWait) {
  FakeServer server(io_);
  config::HealthCheck check = httpCheck();
  check.interval = 10s;
  start({check}, {target(server.endpoint())});
  ASSERT_TRUE(waitChanges(1));
  checker_->stop();
  runFor(50ms);
  checker_.reset();
  runFor(50ms);
  EXPECT_EQ(server->requests.size(), 1u);
}

TEST_F(ActiveHealthCheckerTest, StopFromOnChange) {
  FakeServer server(io_);
  on_change_hook_ = [this](size_t, bool) { checker_->stop(); };
  start({httpCheck(), httpCheck("/other")}, {target(server.endpoint())});
  ASSERT_TRUE(waitChanges(1));
  runFor(100ms);
  EXPECT_EQ(changes_.size(), 1u);
  EXPECT_LE(server->requests.size(), 2u);
}

TEST_F(ActiveHealthCheckerTest, IoContextDestroyedWithPendingChecks) {
  // The checker goes first, then the io_context with its aborted operations still queued.
  auto io = std::make_unique<asio::io_context>();
  auto cluster = std::make_shared<ClusterHealth>();
  CheckTarget t;
  t.address = refusedEndpoint(*io);
  t.health = std::make_shared<HostHealth>();
  cluster->hosts.push_back(t.health);
  auto checker = std::make_unique<ActiveHealthChecker>(*io, std::vector{httpCheck()},
                                                       std::vector{t}, cluster, nullptr, 3);
  checker->start();
  io->run_for(30ms);
  checker.reset();
  io.reset();
  EXPECT_FALSE(t.health->active_healthy.load());
}

}  // namespace
}  // namespace vallum::upstream::health
