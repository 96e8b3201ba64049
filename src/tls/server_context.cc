#include "tls/server_context.h"

#include <mutex>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <boost/asio/ssl/context.hpp>

#include "common/strings.h"
#include "tls/certificate.h"

namespace vallum::tls {

namespace ssl = boost::asio::ssl;

struct ServerContext::Entry {
  ssl::context context{ssl::context::tls_server};
  std::vector<std::string> names;
};

struct SniCallback {
  static int onServerName(SSL* ssl_handle, int* /*alert*/, void* arg) {
    const auto* self = static_cast<const ServerContext*>(arg);
    const char* name = SSL_get_servername(ssl_handle, TLSEXT_NAMETYPE_host_name);
    if (name == nullptr) {
      return SSL_TLSEXT_ERR_OK;
    }
    size_t index = self->selectCertificate(name);
    if (index != 0) {
      SSL_set_SSL_CTX(ssl_handle, self->entries_[index]->context.native_handle());
    }
    return SSL_TLSEXT_ERR_OK;
  }
};

namespace {

/// ALPN protocol lists (RFC 7301 wire format) in the server's order of preference.
constexpr unsigned char kAlpnAuto[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
constexpr unsigned char kAlpnHttp1[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
constexpr unsigned char kAlpnHttp2[] = {2, 'h', '2'};

struct AlpnList {
  const unsigned char* data;
  unsigned int size;
};

const AlpnList* alpnFor(config::CodecType codec_type) {
  static const AlpnList kAuto{kAlpnAuto, sizeof(kAlpnAuto)};
  static const AlpnList kHttp1{kAlpnHttp1, sizeof(kAlpnHttp1)};
  static const AlpnList kHttp2{kAlpnHttp2, sizeof(kAlpnHttp2)};
  switch (codec_type) {
    case config::CodecType::Http1:
      return &kHttp1;
    case config::CodecType::Http2:
      return &kHttp2;
    case config::CodecType::Auto:
      break;
  }
  return &kAuto;
}

int selectAlpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen,
               const unsigned char* in, unsigned int inlen, void* arg) {
  // The server's preference wins (h2 first); a client offering none of ours gets no ALPN
  // answer and falls back to HTTP/1.1 (RFC 7301 §3.2 lets the server ignore ALPN).
  const auto* list = static_cast<const AlpnList*>(arg);
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, list->data, list->size, in, inlen) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

bool configureContext(ssl::context& context, const CertificateKeyPair& pair,
                      config::CodecType codec_type, std::string& error) {
  SSL_CTX* ctx = context.native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  SSL_CTX_set_alpn_select_cb(ctx, selectAlpn, const_cast<AlpnList*>(alpnFor(codec_type)));
  if (SSL_CTX_use_certificate(ctx, pair.leaf.get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx, pair.key.get()) != 1) {
    error = "cannot install certificate";
    return false;
  }
  for (const X509Ptr& extra : pair.chain) {
    X509_up_ref(extra.get());
    if (SSL_CTX_add_extra_chain_cert(ctx, extra.get()) != 1) {
      X509_free(extra.get());
      error = "cannot install certificate chain";
      return false;
    }
  }
  return true;
}

/// The self-signed fallback is generated once per process so that reloads (and every worker)
/// serve the same certificate.
const CertificateKeyPair* selfSignedPair() {
  static std::once_flag once;
  static std::unique_ptr<CertificateKeyPair> pair;
  std::call_once(once, [] {
    auto generated = generateSelfSigned({});
    if (generated) {
      pair = std::make_unique<CertificateKeyPair>(std::move(*generated));
    }
  });
  return pair.get();
}

}  // namespace

ServerContext::ServerContext() = default;
ServerContext::~ServerContext() = default;

std::shared_ptr<const ServerContext> ServerContext::build(
    const std::vector<config::CertificateSource>& sources, config::Diagnostics& diagnostics,
    config::CodecType codec_type) {
  std::shared_ptr<ServerContext> result(new ServerContext());
  bool ok = true;
  auto add_pair = [&](const CertificateKeyPair& pair, const config::SourcePos& pos,
                      const std::string& key) {
    auto entry = std::make_unique<Entry>();
    std::string error;
    if (!configureContext(entry->context, pair, codec_type, error)) {
      diagnostics.error(pos, key, error);
      ok = false;
      return;
    }
    entry->names = pair.dns_names;
    result->entries_.push_back(std::move(entry));
  };

  for (const config::CertificateSource& source : sources) {
    auto cert_pem = resolvePem(source.cert);
    if (!cert_pem) {
      diagnostics.error(source.cert_pos, source.cert_key, cert_pem.error().detail());
      ok = false;
    }
    auto key_pem = resolvePem(source.key);
    if (!key_pem) {
      diagnostics.error(source.key_pos, source.key_key, key_pem.error().detail());
      ok = false;
    }
    if (!cert_pem || !key_pem) {
      continue;
    }
    PairPart failed = PairPart::Certificate;
    auto pair = loadCertificateKeyPair(*cert_pem, *key_pem, &failed);
    if (!pair) {
      if (failed == PairPart::Key) {
        diagnostics.error(source.key_pos, source.key_key, pair.error().detail());
      } else {
        diagnostics.error(source.cert_pos, source.cert_key, pair.error().detail());
      }
      ok = false;
      continue;
    }
    add_pair(*pair, source.cert_pos, source.cert_key);
  }
  if (!ok) {
    return nullptr;
  }
  if (result->entries_.empty()) {
    const CertificateKeyPair* pair = selfSignedPair();
    if (pair == nullptr) {
      diagnostics.error({}, "certificates", "cannot generate a self-signed certificate");
      return nullptr;
    }
    add_pair(*pair, {}, "certificates");
    result->self_signed_ = true;
  }
  SSL_CTX* first = result->entries_.front()->context.native_handle();
  SSL_CTX_set_tlsext_servername_callback(first, SniCallback::onServerName);
  SSL_CTX_set_tlsext_servername_arg(first, result.get());
  return result;
}

boost::asio::ssl::context& ServerContext::sslContext() const { return entries_.front()->context; }

size_t ServerContext::selectCertificate(std::string_view server_name) const {
  if (server_name.empty()) {
    return 0;
  }
  std::string name = strings::lowerAscii(server_name);
  for (size_t i = 0; i < entries_.size(); ++i) {
    for (const std::string& n : entries_[i]->names) {
      if (n == name) {
        return i;
      }
    }
  }
  for (size_t i = 0; i < entries_.size(); ++i) {
    for (const std::string& n : entries_[i]->names) {
      if (n.size() > 2 && n[0] == '*' && certificateNameMatches(n, name)) {
        return i;
      }
    }
  }
  return 0;
}

bool ServerContext::covers(const void* ssl_handle, std::string_view host) const {
  if (self_signed_ || host.empty() || host.find(':') != std::string_view::npos ||
      (host.back() >= '0' && host.back() <= '9')) {
    return true;  // generated certificate; IPv6 or IPv4 literal (no DNS name to compare)
  }
  const SSL* ssl = static_cast<const SSL*>(ssl_handle);
  // The name the client opened the connection for is not a reused connection: whether the
  // certificate it accepted fits is between it and the TLS layer, as on HTTP/1.1.
  if (const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
      sni != nullptr && strings::iequals(sni, host)) {
    return true;
  }
  const SSL_CTX* served = SSL_get_SSL_CTX(ssl);
  for (const auto& entry : entries_) {
    if (entry->context.native_handle() != served) {
      continue;
    }
    for (const std::string& name : entry->names) {
      if (name == host ||
          (name.size() > 2 && name[0] == '*' && certificateNameMatches(name, host))) {
        return true;
      }
    }
    return false;
  }
  return true;
}

}  // namespace vallum::tls
