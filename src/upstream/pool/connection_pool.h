#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "upstream/pool/h2_connection.h"
#include "upstream/pool/upstream_connection.h"

namespace vallum::upstream::pool {

/// Idle keep-alive connections to one endpoint, on one worker (docs/architecture.md §4: pools are
/// per worker per endpoint, so no locks). Most recently used first, which keeps the set of
/// warm connections small under light load.
class EndpointPool {
 public:
  explicit EndpointPool(size_t max_idle) : max_idle_(max_idle) {}

  /// Returns an idle connection whose peer has not closed it (checked with a non-blocking
  /// MSG_PEEK; stale ones are closed and dropped), or null.
  UpstreamConnectionPtr takeIdle();

  /// Returns a connection for reuse; closes it instead when the pool is full.
  void putIdle(UpstreamConnectionPtr connection, SteadyTime now);

  /// Closes idle connections unused since before `cutoff` (HTTP/2 ones: without a request
  /// since then).
  void closeIdleBefore(SteadyTime cutoff);

  size_t idleCount() const { return idle_.size(); }

  /// An HTTP/2 connection (`h2c://` clusters) with room for one more request: the first
  /// available one, else a new one in State::New that the caller connects. A new connection
  /// assumes the stream limit the endpoint's last connection advertised
  /// (SETTINGS_MAX_CONCURRENT_STREAMS, capped at 100) until its own SETTINGS arrive, so a full
  /// first flight never exceeds it. Closed connections are dropped from the pool here. The
  /// caller acquire()s the result.
  H2ConnectionSharedPtr h2Connection(boost::asio::io_context& io);
  size_t h2ConnectionCount() const { return h2_.size(); }

  /// An `https://` endpoint's answer to ALPN "h2, http/1.1" (all-TLS clusters negotiate, as in
  /// Pomerium), as last seen on this worker: which codec its next request starts with.
  enum class Alpn : uint8_t { Unknown, Http1, Http2 };
  Alpn alpn() const { return alpn_; }
  void noteAlpn(bool h2) { alpn_ = h2 ? Alpn::Http2 : Alpn::Http1; }
  /// Makes a connected transport whose TLS handshake chose h2 a Ready HTTP/2 connection of this
  /// pool (it sends its preface now); the caller acquire()s the result.
  H2ConnectionSharedPtr adoptH2(boost::asio::io_context& io, UpstreamConnectionPtr transport);

 private:
  size_t max_idle_;
  std::vector<UpstreamConnectionPtr> idle_;
  std::vector<H2ConnectionSharedPtr> h2_;
  uint32_t h2_stream_limit_ = http::http2::ClientSettings{}.max_concurrent_streams;
  Alpn alpn_ = Alpn::Unknown;
};

/// All endpoint pools of one worker, keyed by Endpoint::pool_key. Pools outlive snapshots, so a
/// reload keeps warm connections to unchanged endpoints.
class ConnectionPools {
 public:
  explicit ConnectionPools(size_t max_idle_per_endpoint = 256) : max_idle_(max_idle_per_endpoint) {}

  /// The pool for a key, created on first use. The reference stays valid for the life of this
  /// object.
  EndpointPool& forKey(const std::string& key);

  /// Closes connections idle for longer than `idle_timeout`.
  void sweep(SteadyTime now, std::chrono::steady_clock::duration idle_timeout);

 private:
  size_t max_idle_;
  std::unordered_map<std::string, std::unique_ptr<EndpointPool>> pools_;
};

}  // namespace vallum::upstream::pool
