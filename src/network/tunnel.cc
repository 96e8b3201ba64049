#include "network/tunnel.h"

#include <array>
#include <memory>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>

namespace vallum::network {

namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

/// What the two pumps and the watcher share; lives in runTunnel's frame, which outlives them.
struct Shared {
  explicit Shared(const asio::any_io_executor& ex) : wake(ex) {}
  std::array<TunnelEnd*, 2> ends{};
  std::array<uint64_t, 2> bytes{};  ///< [0]: a → b, [1]: b → a
  std::array<bool, 2> done{};
  bool failed = false;
  Clock::time_point last_activity = Clock::now();
  asio::steady_timer wake;  ///< cancelled when a pump ends
  size_t buffer_size = 0;
};

/// Buffers of the default size that a thread's tunnels lend each other (worker thread only:
/// no lock). At most kMaxSpares are kept.
class SpareBuffers {
 public:
  static constexpr size_t kSize = 16 * 1024;
  static constexpr size_t kMaxSpares = 64;
  std::unique_ptr<char[]> take(size_t size) {
    if (size != kSize || spares_.empty()) {
      return std::unique_ptr<char[]>(new char[size]);
    }
    std::unique_ptr<char[]> b = std::move(spares_.back());
    spares_.pop_back();
    return b;
  }
  void give(std::unique_ptr<char[]> b, size_t size) {
    if (size == kSize && spares_.size() < kMaxSpares) {
      spares_.push_back(std::move(b));
    }
  }

 private:
  std::vector<std::unique_ptr<char[]>> spares_;
};

SpareBuffers& spareBuffers() {
  thread_local SpareBuffers spares;
  return spares;
}

/// Moves bytes from ends[from] to ends[1 - from] until EOF (passed on as a half-close) or an
/// error (which ends both directions). Idle, it waits for readability with no buffer.
asio::awaitable<void> pump(Shared& s, int from) {
  TunnelEnd& in = *s.ends[from];
  TunnelEnd& out = *s.ends[1 - from];
  std::unique_ptr<char[]> buffer;
  bool error = false;
  for (;;) {
    size_t n = 0;
    try {
      if (buffer) {
        spareBuffers().give(std::move(buffer), s.buffer_size);
      }
      const bool ready = co_await in.waitReadable();
      if (!ready) {
        error = true;
        break;
      }
      buffer = spareBuffers().take(s.buffer_size);
      n = co_await in.readSome(asio::buffer(buffer.get(), s.buffer_size));
    } catch (const std::exception&) {
      error = true;
      break;
    }
    if (n == 0) {
      break;
    }
    s.last_activity = Clock::now();
    bool written = false;
    try {
      written = co_await out.writeAll(asio::buffer(buffer.get(), n));
    } catch (const std::exception&) {
      written = false;
    }
    if (!written) {
      error = true;
      break;
    }
    s.bytes[size_t(from)] += n;
  }
  if (buffer) {
    spareBuffers().give(std::move(buffer), s.buffer_size);
  }
  if (error) {
    s.failed = true;
    in.cancel();
    out.cancel();
  } else {
    out.shutdownWrite();  // EOF travels on; the other direction keeps going
  }
  s.done[size_t(from)] = true;
  s.wake.cancel();
}

}  // namespace

asio::awaitable<TunnelResult> runTunnel(TunnelEnd& a, TunnelEnd& b, TunnelOptions options) {
  const asio::any_io_executor ex = co_await asio::this_coro::executor;
  Shared s(ex);
  s.ends = {&a, &b};
  s.buffer_size = options.buffer_size;
  asio::co_spawn(ex, pump(s, 0), asio::detached);
  asio::co_spawn(ex, pump(s, 1), asio::detached);
  TunnelResult result;
  while (!(s.done[0] && s.done[1])) {
    if (options.idle_timeout.count() > 0 && !result.idle_timeout) {
      const Clock::time_point deadline = s.last_activity + options.idle_timeout;
      if (Clock::now() >= deadline) {
        result.idle_timeout = true;  // nothing either way for too long: end both directions
        a.cancel();
        b.cancel();
        continue;
      }
      s.wake.expires_at(deadline);
    } else {
      s.wake.expires_at(Clock::time_point::max());
    }
    auto [ec] = co_await s.wake.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;
  }
  result.bytes_a_to_b = s.bytes[0];
  result.bytes_b_to_a = s.bytes[1];
  co_return result;
}

}  // namespace vallum::network
