#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostics.h"
#include "config/options.h"

namespace boost::asio::ssl {
class context;
}

namespace vallum::tls {

struct CertificateKeyPair;

/// The downstream TLS configuration of one snapshot: one OpenSSL context per certificate, TLS
/// 1.2–1.3, ALPN by `codec_type` ("h2" then "http/1.1" for auto; one of them otherwise; a
/// client that offers neither gets no ALPN answer and is served HTTP/1.1, or fails at the HTTP/2
/// preface under codec_type http2). The first context is the one handshakes start with; its SNI
/// callback switches to the certificate whose name matches the client's server name exactly,
/// else by wildcard (RFC 6125: "*.example.com" covers one label), else keeps the first
/// (as Envoy picks among Pomerium's certificates by SNI). Immutable after build(); shared by
/// all workers.
class ServerContext {
 public:
  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  /// Loads every configured pair (file path, inline PEM or base64 PEM). Problems are added to
  /// `diagnostics` at the value's position and the result is null. With no certificate at all,
  /// a self-signed one is generated (once per process, so reloads keep it) and a warning is
  /// logged by the caller when selfSigned() is true.
  static std::shared_ptr<const ServerContext> build(
      const std::vector<config::CertificateSource>& sources, config::Diagnostics& diagnostics,
      config::CodecType codec_type = config::CodecType::Auto);

  /// The context to construct server streams with. Safe to use from any worker thread.
  boost::asio::ssl::context& sslContext() const;

  bool selfSigned() const { return self_signed_; }

  /// Index (config order) of the certificate served for an SNI name (empty: no SNI).
  size_t selectCertificate(std::string_view server_name) const;

  /// Whether the certificate a connection was served (`ssl_handle`: its SSL*) covers `host`
  /// (lower-case, no port): a DNS name of its, exactly or by a one-label wildcard. True for the
  /// generated self-signed certificate, for IP literal hosts, which are not checked, and for
  /// the server name (SNI) the client sent: a connection opened for that very host was not
  /// reused for it, so there is nothing misdirected (HTTP/1.1 serves it the same way). An
  /// HTTP/2 request for a host its connection's certificate does not cover gets 421 (RFC 9110
  /// §15.5.20, RFC 9113 §9.1.2: a client reused a connection it should not have).
  bool covers(const void* ssl_handle, std::string_view host) const;

 private:
  ServerContext();
  struct Entry;
  std::vector<std::unique_ptr<Entry>> entries_;
  bool self_signed_ = false;

  friend struct SniCallback;
};

using ServerContextConstSharedPtr = std::shared_ptr<const ServerContext>;

}  // namespace vallum::tls
