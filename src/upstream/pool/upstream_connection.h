#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "common/buffer.h"
#include "http/http1/client_codec.h"
#include "tls/client_context.h"

namespace vallum::upstream::pool {

using SteadyTime = std::chrono::steady_clock::time_point;

/// Read buffer size of an upstream connection (Pomerium's per-connection buffer limit).
inline constexpr size_t kUpstreamBufferSize = 32 * 1024;

/// An HTTP/1.1 connection to one endpoint, owned by one worker. It carries its read buffer and
/// client codec so that keep-alive reuse allocates nothing. An H2Connection owns one too, as
/// its transport (socket, TLS and read buffer; the codec unused): an `https://` connection
/// whose ALPN chose h2 is handed over whole.
struct UpstreamConnection {
  explicit UpstreamConnection(boost::asio::io_context& io)
      : socket(io), buffer(kUpstreamBufferSize) {}

  boost::asio::ip::tcp::socket socket;
  /// Set for `https://` endpoints: TLS over `socket`. `tls_context` keeps the SSL_CTX alive for
  /// as long as the connection (a pooled connection can outlive the snapshot that made it).
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls;
  tls::ClientContextConstSharedPtr tls_context;
  Buffer buffer;
  http::http1::ClientCodec codec;
  SteadyTime idle_since{};
  uint32_t requests = 0;  ///< requests sent so far (0 = fresh connection)
};
using UpstreamConnectionPtr = std::unique_ptr<UpstreamConnection>;

}  // namespace vallum::upstream::pool
