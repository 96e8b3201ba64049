#include "proxy/access_log.h"

#include <cerrno>
#include <ctime>
#include <unistd.h>

#include <charconv>

#include "common/strings.h"

namespace vallum::proxy {

namespace {

constexpr size_t kFlushThreshold = 16 * 1024;

void appendUint(std::string& out, uint64_t v) {
  char buf[24];
  auto result = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, size_t(result.ptr - buf));
}

/// Appends v with exactly `digits` digits, zero-padded.
void appendPadded(std::string& out, uint64_t v, int digits) {
  char buf[20];
  for (int i = digits - 1; i >= 0; --i) {
    buf[i] = char('0' + v % 10);
    v /= 10;
  }
  out.append(buf, size_t(digits));
}

}  // namespace

void AccessLog::format(const AccessLogEntry& e, std::string& out, std::string& time_cache,
                       int64_t& time_cache_second) {
  using namespace std::chrono;
  auto since_epoch = duration_cast<milliseconds>(e.time.time_since_epoch()).count();
  int64_t second = since_epoch / 1000;
  if (second != time_cache_second) {
    time_t t = time_t(second);
    struct tm tm {};
    gmtime_r(&t, &tm);
    char buf[32];
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    time_cache.assign(buf, n);
    time_cache_second = second;
  }
  out += "{\"time\":\"";
  out += time_cache;
  out += '.';
  appendPadded(out, uint64_t(since_epoch % 1000), 3);
  out += 'Z';
  // method (one of llhttp's fixed method names), upstream (an address from the config) and
  // request_id (hex) contain nothing JSON must escape; authority, path and route may (a
  // rejected request logs its Host as received).
  out += "\",\"method\":\"";
  out += e.method;
  out += "\",\"authority\":\"";
  strings::appendJsonEscaped(out, e.authority);
  out += "\",\"path\":\"";
  strings::appendJsonEscaped(out, e.path);
  out += "\",\"status\":";
  appendUint(out, uint64_t(e.status));
  out += ",\"upstream\":\"";
  out += e.upstream;
  // Milliseconds with three decimals, without printf's floating-point path.
  uint64_t micros = e.duration_ms > 0 ? uint64_t(e.duration_ms * 1000.0 + 0.5) : 0;
  out += "\",\"duration_ms\":";
  appendUint(out, micros / 1000);
  out += '.';
  appendPadded(out, micros % 1000, 3);
  out += ",\"bytes_in\":";
  appendUint(out, e.bytes_in);
  out += ",\"bytes_out\":";
  appendUint(out, e.bytes_out);
  out += ",\"route\":\"";
  strings::appendJsonEscaped(out, e.route);
  out += "\",\"request_id\":\"";
  out += e.request_id;
  out += "\"}";
}

void AccessLog::append(const AccessLogEntry& entry) {
  format(entry, buffer_, time_cache_, time_cache_second_);
  buffer_.push_back('\n');
  if (buffer_.size() >= kFlushThreshold) {
    flush();
  }
}

void AccessLog::flush() {
  size_t written = 0;
  while (written < buffer_.size()) {
    ssize_t n = ::write(fd_, buffer_.data() + written, buffer_.size() - written);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;  // stdout gone: drop the lines rather than block the worker
    }
    written += size_t(n);
  }
  buffer_.clear();
}

std::string_view DateCache::now() {
  time_t t = time(nullptr);
  if (t != second_) {
    struct tm tm {};
    gmtime_r(&t, &tm);
    size_ = strftime(text_, sizeof(text_), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    second_ = t;
  }
  return {text_, size_};
}

}  // namespace vallum::proxy
