#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "config/diagnostics.h"
#include "config/options.h"

namespace boost::asio::ssl {
class context;
}

namespace vallum::tls {

/// The upstream (client) TLS configuration of one route (Pomerium tls_* options): TLS 1.2–1.3, ALPN
/// "http/1.1", peer verification against the system trust store plus the global
/// `certificate_authority`, or only `tls_custom_ca` when the route sets one; the certificate
/// must match the server name (DNS SAN; IP SAN when the name is an IP literal; a '*' in the
/// configured name is replaced by "example", as Pomerium does); `tls_skip_verify` accepts any
/// chain and name; `tls_client_cert`/`tls_client_key` for mTLS. Immutable after build();
/// shared by all workers and the health checker.
class ClientContext {
 public:
  ~ClientContext();
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;

  /// Builds the context of a route. `global_ca` is Options::certificate_authority (may be
  /// empty). Problems (unreadable CA or client certificate, mismatched key) are added to
  /// `diagnostics` at their config positions and the result is null.
  static std::shared_ptr<const ClientContext> build(const config::UpstreamTls& route_tls,
                                                    const std::string& global_ca,
                                                    const config::SourcePos& global_ca_pos,
                                                    config::Diagnostics& diagnostics);

  boost::asio::ssl::context& sslContext() const;

  /// The SNI / verification name for an endpoint whose `to` host is `endpoint_host`:
  /// tls_upstream_server_name > tls_server_name > the URL host ('*' → "example").
  std::string serverName(std::string_view endpoint_host) const;

  /// Prepares a freshly constructed SSL handle (`SSL*` of an asio ssl::stream) for a handshake
  /// with `server_name`: sets SNI (unless it is an IP literal) and the name verification.
  void prepare(void* ssl_handle, const std::string& server_name) const;

  bool skipVerify() const { return skip_verify_; }

 private:
  ClientContext();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool skip_verify_ = false;
  std::string server_name_;
};

using ClientContextConstSharedPtr = std::shared_ptr<const ClientContext>;

}  // namespace vallum::tls
