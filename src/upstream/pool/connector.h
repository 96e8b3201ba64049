#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "tls/client_context.h"

/// Opening a transport to an upstream endpoint (docs/architecture.md §2.1: the pool owns connecting),
/// for requests and active health checks alike.
namespace vallum::upstream::pool {

using TlsClientStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>;

/// Why a connect failed: the TCP connect or the TLS handshake, with the error.
struct ConnectFailure {
  enum class Stage : uint8_t { Tcp, Tls } stage = Stage::Tcp;
  boost::system::error_code ec;
};

/// What to connect to and how.
struct ConnectTarget {
  boost::asio::ip::tcp::endpoint address;
  /// A `unix://` endpoint's socket path (Pomerium v0.33 unix upstreams): connected instead of
  /// `address`. The socket object stays an asio tcp::socket holding the AF_UNIX descriptor
  /// (reads, writes and waits are the same system calls), so pools, codecs and health checks
  /// serve both.
  std::string_view unix_path;
  /// TLS with this client context (SNI and name verification by `server_name`, as Pomerium);
  /// null: plain TCP.
  const tls::ClientContext* tls = nullptr;
  std::string_view server_name;
  /// ALPN protocols to offer (wire format, e.g. "\x02h2"); empty: the context's (http/1.1).
  std::string_view alpn;
};

/// ALPN "h2, http/1.1" in wire format: what an `https://` endpoint of an all-TLS cluster is
/// offered (as Pomerium, Envoy's auto_config).
inline constexpr std::string_view kAlpnH2Http11{"\x02h2\x08http/1.1", 12};

/// Whether the handshake of `tls_stream` chose h2 by ALPN (RFC 7301).
bool alpnChoseH2(TlsClientStream& tls_stream);

/// Connects `socket` (closed or fresh) to `target.address` (or `target.unix_path`: a local
/// connect, done at once or refused), sets TCP_NODELAY, and with
/// `target.tls` runs the client TLS handshake over it into `tls_stream`. Returns nullopt on
/// success. Not bounded by itself: the caller's deadline cancels `socket`. Worker or control
/// thread, whichever owns the socket.
boost::asio::awaitable<std::optional<ConnectFailure>> connectTransport(
    boost::asio::ip::tcp::socket& socket, std::unique_ptr<TlsClientStream>& tls_stream,
    const ConnectTarget& target);

}  // namespace vallum::upstream::pool
