#pragma once

#include <iosfwd>
#include <string>

/// `vallum tcp`: the client side of tcp+https routes, as `pomerium-cli tcp` works. It listens
/// on a local address and, for each connection accepted there, opens a TLS connection to the
/// proxy, sends `CONNECT host:port HTTP/1.1` (RFC 9110 §9.3.6) and, on `200`, relays bytes both
/// ways until either side ends. So `psql -h 127.0.0.1 -p PORT` or `redis-cli -p PORT` reach a
/// database through Vallum. Called from main() only; runs until SIGINT/SIGTERM.
namespace vallum::server {

struct TcpOptions {
  /// `tcp+https://host:port` (CONNECT host:port via host:443) or
  /// `tcp+https://proxy.example.com[:port]/db.internal:5432` (CONNECT db.internal:5432 via
  /// proxy.example.com).
  std::string route_url;
  /// Local address to listen on; port 0 picks one (printed as "listening on ADDR").
  std::string listen = "127.0.0.1:0";
  /// Where the proxy is reached instead of the route URL's host (`https://host:port`), as
  /// pomerium-cli's --pomerium-url. The TLS server name is this URL's host.
  std::string proxy_url;
  /// PEM file of the CA that signs the proxy's certificate; empty → the system store.
  std::string ca_cert;
};

/// Runs the listener. Returns 0 after a signal, 1 when it cannot start (bad URL, busy port,
/// unreadable CA file), with the problem on `err`. Each tunnel's failure (proxy unreachable,
/// certificate refused, CONNECT answered other than 200) is reported on `err` and closes that
/// local connection only.
int tcp(const TcpOptions& options, std::ostream& out, std::ostream& err);

}  // namespace vallum::server
