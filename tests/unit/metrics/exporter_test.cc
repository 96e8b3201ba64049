#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "metrics/registry.h"
#include "unit/metrics/exposition.h"

namespace vallum::metrics {
namespace {

using namespace std::chrono_literals;

struct HttpResponse {
  int status = 0;
  std::string headers;  ///< lower-cased header block
  std::string body;
};

/// A plain-socket HTTP/1.1 GET (Connection: close), reading to EOF. Handles Content-Length and
/// chunked bodies.
HttpResponse httpGet(uint16_t port, const std::string& path) {
  HttpResponse response;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    ADD_FAILURE() << "socket: " << std::strerror(errno);
    return response;
  }
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ADD_FAILURE() << "connect: " << std::strerror(errno);
    ::close(fd);
    return response;
  }
  const std::string request =
      "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    ADD_FAILURE() << "send: " << std::strerror(errno);
  }
  std::string raw;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) {
      break;
    }
    raw.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);

  const size_t end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || end == std::string::npos) {
    ADD_FAILURE() << "not an HTTP response: " << raw;
    return response;
  }
  response.status = std::stoi(raw.substr(9, 3));
  response.headers = raw.substr(0, end);
  std::transform(response.headers.begin(), response.headers.end(), response.headers.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string body = raw.substr(end + 4);
  if (response.headers.find("transfer-encoding: chunked") != std::string::npos) {
    size_t pos = 0;
    for (;;) {
      const size_t line_end = body.find("\r\n", pos);
      if (line_end == std::string::npos) {
        break;
      }
      const size_t size = std::stoul(body.substr(pos, line_end - pos), nullptr, 16);
      if (size == 0) {
        break;
      }
      response.body += body.substr(line_end + 2, size);
      pos = line_end + 2 + size + 2;
    }
  } else {
    response.body = std::move(body);
  }
  return response;
}

/// The exposition without prometheus-cpp's own `exposer_*` families (the Exposer always adds
/// its scrape statistics to every endpoint), as sorted lines.
std::vector<std::string> vallumLinesSorted(const std::string& text) {
  std::vector<std::string> out;
  for (const std::string& line : testing::lines(text)) {
    if (line.rfind("exposer_", 0) == 0 || line.rfind("# HELP exposer_", 0) == 0 ||
        line.rfind("# TYPE exposer_", 0) == 0) {
      continue;
    }
    out.push_back(line);
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct FakeHostHealth {
  std::atomic<bool> healthy{true};
  std::atomic<bool> ejected{false};
  std::atomic<uint32_t> active{4};
  std::atomic<uint64_t> connect_failures{1};
};

std::shared_ptr<Registry> populatedRegistry() {
  auto registry = std::make_shared<Registry>(2);
  auto shards = registry->routeCounters("api");
  shards[0]->record(200, 10, 20, 3ms);
  shards[1]->record(200, 10, 20, 30ms);
  shards[1]->record(502, 0, 0, 2s);
  registry->routeCounters("route-7")[0]->record(0, 5, 0, std::nullopt);
  auto host = std::make_shared<FakeHostHealth>();
  EndpointView view;
  view.route = "api";
  view.endpoint = "127.0.0.1:9000";
  view.owner = host;
  view.active_healthy = &host->healthy;
  view.ejected = &host->ejected;
  view.active_requests = &host->active;
  view.connect_failures = &host->connect_failures;
  registry->setEndpoints({view});
  registry->configReloaded(true);
  return registry;
}

TEST(ExporterTest, ServesRenderAtMetricsOnAPickedPort) {
  auto registry = populatedRegistry();
  auto exporter = Exporter::start({"127.0.0.1", 0}, registry);
  ASSERT_TRUE(exporter.has_value()) << exporter.error().toString();
  const uint16_t port = (*exporter)->port();
  ASSERT_NE(port, 0);

  const HttpResponse response = httpGet(port, "/metrics");
  EXPECT_EQ(response.status, 200);
  EXPECT_THAT(response.headers, ::testing::HasSubstr("content-type: text/plain"));
  const std::string rendered = registry->render();
  EXPECT_EQ(vallumLinesSorted(response.body), vallumLinesSorted(rendered));
  // The vallum families come out exactly as render() writes them.
  EXPECT_THAT(response.body, ::testing::HasSubstr(rendered));
  EXPECT_THAT(
      response.body,
      ::testing::HasSubstr(R"(vallum_route_responses_total{route="api",code_class="2xx"} 2)"));

  // Live values: a second scrape sees new traffic.
  registry->routeCounters("api")[0]->record(200, 0, 0, std::nullopt);
  auto again = testing::samples(httpGet(port, "/metrics").body);
  EXPECT_EQ(again[R"(vallum_route_responses_total{route="api",code_class="2xx"})"], 3);
}

TEST(ExporterTest, OtherPathsAre404) {
  auto registry = populatedRegistry();
  auto exporter = Exporter::start({"127.0.0.1", 0}, registry);
  ASSERT_TRUE(exporter.has_value()) << exporter.error().toString();
  EXPECT_EQ(httpGet((*exporter)->port(), "/").status, 404);
  EXPECT_EQ(httpGet((*exporter)->port(), "/other").status, 404);
  EXPECT_EQ(httpGet((*exporter)->port(), "/metricsx").status, 404);
  // civetweb would hand everything below a handler's URI to it; we do not.
  EXPECT_EQ(httpGet((*exporter)->port(), "/metrics/").status, 404);
  EXPECT_EQ(httpGet((*exporter)->port(), "/metrics/envoy").status, 404);
  EXPECT_EQ(httpGet((*exporter)->port(), "/metrics").status, 200);
  EXPECT_EQ(httpGet((*exporter)->port(), "/metrics?name[]=x").status, 200);
}

TEST(ExporterTest, Ipv6EitherServesOrSaysWhy) {
  auto registry = populatedRegistry();
  auto exporter = Exporter::start({"::1", 0}, registry);
  if (exporter.has_value()) {
    EXPECT_NE((*exporter)->port(), 0);
  } else {
    // Debian 12's civetweb is built without IPv6.
    EXPECT_THAT(exporter.error().detail(), ::testing::HasSubstr("no IPv6 support"));
  }
}

TEST(ExporterTest, EmptyHostListensOnAnyAddress) {
  auto exporter = Exporter::start({"", 0}, populatedRegistry());
  ASSERT_TRUE(exporter.has_value()) << exporter.error().toString();
  EXPECT_EQ(httpGet((*exporter)->port(), "/metrics").status, 200);
}

TEST(ExporterTest, BindFailureIsAnError) {
  auto registry = std::make_shared<Registry>(1);
  auto first = Exporter::start({"127.0.0.1", 0}, registry);
  ASSERT_TRUE(first.has_value()) << first.error().toString();
  auto second = Exporter::start({"127.0.0.1", (*first)->port()}, registry);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().source(), ErrorSource::Config);
  EXPECT_THAT(second.error().detail(), ::testing::HasSubstr("metrics_address"));
}

TEST(ExporterTest, StopsOnDestructionAndOutlivesTheCallersRegistryPointer) {
  uint16_t port = 0;
  {
    auto exporter = Exporter::start({"127.0.0.1", 0}, populatedRegistry());
    ASSERT_TRUE(exporter.has_value()) << exporter.error().toString();
    port = (*exporter)->port();
    EXPECT_EQ(httpGet(port, "/metrics").status, 200);
  }
  // The port is free again: a new exporter can take it.
  auto again = Exporter::start({"127.0.0.1", port}, std::make_shared<Registry>(1));
  ASSERT_TRUE(again.has_value()) << again.error().toString();
  EXPECT_EQ((*again)->port(), port);
}

}  // namespace
}  // namespace vallum::metrics
