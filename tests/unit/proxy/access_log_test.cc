#include "proxy/access_log.h"

#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace vallum::proxy {
namespace {

TEST(AccessLogTest, FormatsOneJsonObject) {
  AccessLogEntry e;
  e.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1796000000123));
  e.method = "POST";
  e.authority = "app.example.test:8443";
  e.path = "/a\"b?x=1";
  e.status = 201;
  e.upstream = "127.0.0.1:9001";
  e.duration_ms = 12.3456;
  e.bytes_in = 5;
  e.bytes_out = 1234567;
  e.route = "my \"route\"";
  e.request_id = "0123abcd";
  std::string line, cache;
  int64_t second = -1;
  AccessLog::format(e, line, cache, second);
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["time"], "2026-11-30T00:53:20.123Z");
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["authority"], "app.example.test:8443");
  EXPECT_EQ(j["path"], "/a\"b?x=1");
  EXPECT_EQ(j["status"], 201);
  EXPECT_EQ(j["upstream"], "127.0.0.1:9001");
  EXPECT_DOUBLE_EQ(j["duration_ms"].get<double>(), 12.346);
  EXPECT_EQ(j["bytes_in"], 5);
  EXPECT_EQ(j["bytes_out"], 1234567);
  EXPECT_EQ(j["route"], "my \"route\"");
  EXPECT_EQ(j["request_id"], "0123abcd");
}

TEST(AccessLogTest, ControlCharactersAreEscaped) {
  AccessLogEntry e;
  e.authority = "bad\x01host\n";
  std::string line, cache;
  int64_t second = -1;
  AccessLog::format(e, line, cache, second);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(line)["authority"], "bad\x01host\n");
}

TEST(DateCacheTest, ImfFixdate) {
  DateCache dates;
  std::string_view d = dates.now();
  ASSERT_EQ(d.size(), 29u);  // "Sun, 06 Nov 1994 08:49:37 GMT"
  EXPECT_EQ(d.substr(d.size() - 4), " GMT");
  EXPECT_EQ(d[3], ',');
}

}  // namespace
}  // namespace vallum::proxy

namespace vallum::proxy {
namespace {

TEST(AccessLogTest, FlushWritesWholeLinesInPipeAtomicChunks) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  {
    AccessLog log(fds[1]);
    AccessLogEntry e;
    std::string long_path(1000, 'p');
    e.path = long_path;
    for (int i = 0; i < 12; ++i) {  // ~12 KiB: below the 16 KiB auto-flush threshold
      log.append(e);
    }
    log.flush();
  }
  close(fds[1]);
  std::string all;
  char buf[65536];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) {
    all.append(buf, size_t(n));
  }
  close(fds[0]);
  size_t lines = 0;
  for (size_t pos = 0; pos < all.size();) {
    size_t nl = all.find('\n', pos);
    ASSERT_NE(nl, std::string::npos);
    EXPECT_NO_THROW(nlohmann::json::parse(all.substr(pos, nl - pos)));
    ++lines;
    pos = nl + 1;
  }
  EXPECT_EQ(lines, 12u);
}

}  // namespace
}  // namespace vallum::proxy
