#include "proxy/access_log.h"

#include <cerrno>
#include <ctime>
#include <unistd.h>

#include "common/strings.h"

namespace vallum::proxy {

namespace {
constexpr size_t kFlushThreshold = 16 * 1024;
}

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
  char millis[8];
  snprintf(millis, sizeof(millis), ".%03dZ", int(since_epoch % 1000));

  out += "{\"time\":\"";
  out += time_cache;
  out += millis;
  out += "\",\"method\":\"";
  strings::appendJsonEscaped(out, e.method);
  out += "\",\"authority\":\"";
  strings::appendJsonEscaped(out, e.authority);
  out += "\",\"path\":\"";
  strings::appendJsonEscaped(out, e.path);
  out += "\",\"status\":";
  out += std::to_string(e.status);
  out += ",\"upstream\":\"";
  strings::appendJsonEscaped(out, e.upstream);
  char duration[32];
  snprintf(duration, sizeof(duration), "%.3f", e.duration_ms);
  out += "\",\"duration_ms\":";
  out += duration;
  out += ",\"bytes_in\":";
  out += std::to_string(e.bytes_in);
  out += ",\"bytes_out\":";
  out += std::to_string(e.bytes_out);
  out += ",\"route\":\"";
  strings::appendJsonEscaped(out, e.route);
  out += "\",\"request_id\":\"";
  strings::appendJsonEscaped(out, e.request_id);
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
