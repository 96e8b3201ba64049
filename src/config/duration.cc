#include "config/duration.h"

#include <cstdint>
#include <string>

#include "config/diagnostics.h"

namespace vallum::config {

namespace {

// A port of Go's time.ParseDuration (time/format.go), plus Vallum's two extra rules (no
// negative durations, which Go allows; the "missing unit" case Go already has). Go's error
// texts are kept, minus the "time: " prefix, so users can search for them.

constexpr uint64_t kMaxMagnitude = uint64_t{1} << 63;

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Consumes [0-9]*; false on overflow past 1<<63.
bool leadingInt(std::string_view& s, uint64_t& x) {
  x = 0;
  size_t i = 0;
  for (; i < s.size() && isDigit(s[i]); ++i) {
    if (x > kMaxMagnitude / 10) {
      return false;
    }
    x = x * 10 + uint64_t(s[i] - '0');
    if (x > kMaxMagnitude) {
      return false;
    }
  }
  s.remove_prefix(i);
  return true;
}

// Consumes [0-9]* after a '.', keeping as many digits as fit; the rest only scale down.
void leadingFraction(std::string_view& s, uint64_t& x, double& scale) {
  x = 0;
  scale = 1;
  bool overflow = false;
  size_t i = 0;
  for (; i < s.size() && isDigit(s[i]); ++i) {
    if (overflow) {
      continue;
    }
    if (x > (kMaxMagnitude - 1) / 10) {
      overflow = true;
      continue;
    }
    uint64_t y = x * 10 + uint64_t(s[i] - '0');
    if (y > kMaxMagnitude) {
      overflow = true;
      continue;
    }
    x = y;
    scale *= 10;
  }
  s.remove_prefix(i);
}

// Nanoseconds per unit; 0 for an unknown unit.
uint64_t unitNanos(std::string_view u) {
  if (u == "ns") return 1;
  if (u == "us" || u == "\xC2\xB5s" /* U+00B5 */ || u == "\xCE\xBCs" /* U+03BC */) return 1000;
  if (u == "ms") return 1000 * 1000;
  if (u == "s") return 1000 * 1000 * 1000;
  if (u == "m") return uint64_t{60} * 1000 * 1000 * 1000;
  if (u == "h") return uint64_t{3600} * 1000 * 1000 * 1000;
  return 0;
}

// Writes the fraction v / 10^prec (".125") before `w` in buf, without trailing zeros and
// without the point when the fraction is zero. Returns the integer part.
uint64_t formatFraction(char* buf, size_t& w, uint64_t v, int prec) {
  bool print = false;
  for (int i = 0; i < prec; ++i) {
    uint64_t digit = v % 10;
    print = print || digit != 0;
    if (print) {
      buf[--w] = char('0' + digit);
    }
    v /= 10;
  }
  if (print) {
    buf[--w] = '.';
  }
  return v;
}

void formatInt(char* buf, size_t& w, uint64_t v) {
  if (v == 0) {
    buf[--w] = '0';
    return;
  }
  while (v > 0) {
    buf[--w] = char('0' + v % 10);
    v /= 10;
  }
}

}  // namespace

Result<Duration> parseDuration(std::string_view text) {
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") {
    return Duration::zero();
  }
  auto invalid = [&] { return configError("invalid duration " + quoted(text)); };
  if (s.empty()) {
    return invalid();
  }
  uint64_t total = 0;
  while (!s.empty()) {
    if (!(s[0] == '.' || isDigit(s[0]))) {
      return invalid();
    }
    size_t before = s.size();
    uint64_t v = 0;
    if (!leadingInt(s, v)) {
      return invalid();
    }
    bool pre = before != s.size();
    uint64_t f = 0;
    double scale = 1;
    bool post = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      size_t after_point = s.size();
      leadingFraction(s, f, scale);
      post = after_point != s.size();
    }
    if (!pre && !post) {
      return invalid();
    }
    size_t i = 0;
    while (i < s.size() && s[i] != '.' && !isDigit(s[i])) {
      ++i;
    }
    if (i == 0) {
      return configError("missing unit in duration " + quoted(text));
    }
    std::string_view unit_text = s.substr(0, i);
    s.remove_prefix(i);
    uint64_t unit = unitNanos(unit_text);
    if (unit == 0) {
      return configError("unknown unit " + quoted(unit_text) + " in duration " + quoted(text));
    }
    if (v > kMaxMagnitude / unit) {
      return invalid();
    }
    v *= unit;
    if (f > 0) {
      // A double keeps nanosecond accuracy here: f * unit / scale is at most 3.6e12 (1h).
      v += uint64_t(double(f) * (double(unit) / scale));
      if (v > kMaxMagnitude) {
        return invalid();
      }
    }
    total += v;
    if (total > kMaxMagnitude) {
      return invalid();
    }
  }
  if (negative && total != 0) {
    return configError("negative duration not allowed: " + quoted(text));
  }
  if (total > kMaxMagnitude - 1) {
    return invalid();
  }
  return Duration(int64_t(total));
}

std::string formatDuration(Duration d) {
  // Go's Duration.String(): "0s", "250ms", "1.5µs", "1m30s", "2h0m0s".
  char buf[32];
  size_t w = sizeof(buf);
  int64_t n = d.count();
  bool negative = n < 0;
  uint64_t u = negative ? uint64_t(0) - uint64_t(n) : uint64_t(n);
  constexpr uint64_t kSecond = 1000 * 1000 * 1000;
  if (u < kSecond) {
    int prec = 0;
    buf[--w] = 's';
    if (u == 0) {
      buf[--w] = '0';
      return std::string(buf + w, sizeof(buf) - w);
    }
    if (u < 1000) {
      prec = 0;
      buf[--w] = 'n';
    } else if (u < 1000 * 1000) {
      prec = 3;
      buf[--w] = '\xB5';  // U+00B5 MICRO SIGN, as Go prints it
      buf[--w] = '\xC2';
    } else {
      prec = 6;
      buf[--w] = 'm';
    }
    u = formatFraction(buf, w, u, prec);
    formatInt(buf, w, u);
  } else {
    buf[--w] = 's';
    u = formatFraction(buf, w, u, 9);
    formatInt(buf, w, u % 60);
    u /= 60;
    if (u > 0) {
      buf[--w] = 'm';
      formatInt(buf, w, u % 60);
      u /= 60;
      if (u > 0) {
        buf[--w] = 'h';
        formatInt(buf, w, u);
      }
    }
  }
  if (negative) {
    buf[--w] = '-';
  }
  return std::string(buf + w, sizeof(buf) - w);
}

}  // namespace vallum::config
