#include "tls/client_context.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <mutex>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <boost/asio/ssl/context.hpp>

#include "common/strings.h"
#include "tls/certificate.h"
#include "tls/openssl_error.h"

namespace vallum::tls {

namespace ssl = boost::asio::ssl;

struct ClientContext::Impl {
  ssl::context context{ssl::context::tls_client};
  /// The configured server name when it contains '*' (the SAN check is then a pattern match,
  /// Pomerium's WildcardToRegex), and the SNI derived from it.
  std::string wildcard_pattern;
  std::string wildcard_sni;
};

namespace {

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

struct X509InfoStackDeleter {
  void operator()(STACK_OF(X509_INFO) * s) const { sk_X509_INFO_pop_free(s, X509_INFO_free); }
};
using X509InfoStackPtr = std::unique_ptr<STACK_OF(X509_INFO), X509InfoStackDeleter>;

constexpr unsigned char kAlpnHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

bool isIpLiteral(const std::string& name) {
  in6_addr buf{};
  return inet_pton(AF_INET, name.c_str(), &buf) == 1 ||
         inet_pton(AF_INET6, name.c_str(), &buf) == 1;
}

std::string replaceStars(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == '*') {
      out += "example";
    } else {
      out += c;
    }
  }
  return out;
}

/// Pomerium turns a server name containing '*' into the regex `^` + quoted text with each '*'
/// as `(.*)` + `$` (config.WildcardToRegex) and matches it against the certificate's DNS SAN
/// strings. This is that match without a regex engine: '*' matches any run of characters,
/// dots included; the rest is literal (ASCII case-insensitive, as DNS names are).
bool globMatches(std::string_view pattern, std::string_view text) {
  size_t p = 0;
  size_t t = 0;
  size_t star = std::string_view::npos;
  size_t star_text = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_text = t;
    } else if (p < pattern.size() &&
               strings::toLowerAscii(pattern[p]) == strings::toLowerAscii(text[t])) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') {
    ++p;
  }
  return p == pattern.size();
}

bool leafMatchesPattern(X509* leaf, std::string_view pattern) {
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr));
  if (sans == nullptr) {
    return false;
  }
  bool matched = false;
  for (int i = 0; i < sk_GENERAL_NAME_num(sans) && !matched; ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
    if (gn->type != GEN_DNS) {
      continue;
    }
    const unsigned char* data = ASN1_STRING_get0_data(gn->d.dNSName);
    int len = ASN1_STRING_length(gn->d.dNSName);
    matched =
        globMatches(pattern, std::string_view(reinterpret_cast<const char*>(data), size_t(len)));
  }
  GENERAL_NAMES_free(sans);
  return matched;
}

void freePattern(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/, long /*argl*/,
                 void* /*argp*/) {
  delete static_cast<std::string*>(ptr);
}

/// SSL ex_data slot holding a heap copy of the SAN pattern of one handshake; owned by the SSL
/// handle (freed with it), so a handshake outlives a replaced ClientContext safely.
int patternIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, freePattern);
  return index;
}

/// Verify callback used for '*' server names: the chain checks stay OpenSSL's; at the leaf
/// (depth 0, called last with preverify_ok = 1 once the chain is trusted) one DNS SAN must
/// match the pattern.
int verifyPattern(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok != 1 || X509_STORE_CTX_get_error_depth(store) != 0) {
    return preverify_ok;
  }
  auto* ssl_handle =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  const auto* pattern =
      ssl_handle == nullptr
          ? nullptr
          : static_cast<const std::string*>(SSL_get_ex_data(ssl_handle, patternIndex()));
  X509* leaf = X509_STORE_CTX_get_current_cert(store);
  if (pattern != nullptr && leaf != nullptr && leafMatchesPattern(leaf, *pattern)) {
    return 1;
  }
  X509_STORE_CTX_set_error(store, X509_V_ERR_HOSTNAME_MISMATCH);
  return 0;
}

struct StoreDeleter {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};
using StorePtr = std::unique_ptr<X509_STORE, StoreDeleter>;

/// Adds every certificate of a PEM text to `store`; returns an error message, empty on success.
std::string addPemCertificates(X509_STORE* store, std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), int(pem.size())));
  X509InfoStackPtr infos(PEM_X509_INFO_read_bio(bio.get(), nullptr, nullptr, nullptr));
  if (!infos) {
    return takeOpensslError("bad PEM");
  }
  int added = 0;
  for (int i = 0; i < sk_X509_INFO_num(infos.get()); ++i) {
    X509_INFO* info = sk_X509_INFO_value(infos.get(), i);
    if (info->x509 == nullptr) {
      continue;
    }
    if (X509_STORE_add_cert(store, info->x509) != 1) {
      return takeOpensslError("cannot add a certificate");
    }
    ++added;
  }
  ERR_clear_error();
  return added == 0 ? "no certificate in the PEM data" : "";
}

/// The trust store of routes without a custom CA: the system roots plus the global CA PEM.
/// Loading the system bundle costs milliseconds and ~150 certificates per copy, so the last
/// store built is shared (X509_STORE is reference counted and locks its own lookups) by every
/// context built with the same global CA text; a reload with the same CA reuses it too.
StorePtr systemStore(const std::string& global_ca_pem, std::string& error) {
  static std::mutex mutex;
  static std::string cached_pem;
  static StorePtr cached;
  std::lock_guard<std::mutex> lock(mutex);
  if (cached && cached_pem == global_ca_pem) {
    X509_STORE_up_ref(cached.get());
    return StorePtr(cached.get());
  }
  StorePtr store(X509_STORE_new());
  if (!store) {
    error = takeOpensslError("cannot create a certificate store");
    return nullptr;
  }
  // A missing system bundle is not an error: only the global CA (if any) is trusted then.
  X509_STORE_set_default_paths(store.get());
  ERR_clear_error();
  if (!global_ca_pem.empty()) {
    error = addPemCertificates(store.get(), global_ca_pem);
    if (!error.empty()) {
      return nullptr;
    }
  }
  X509_STORE_up_ref(store.get());
  cached.reset(store.get());
  cached_pem = global_ca_pem;
  return store;
}

/// Loads tls_client_cert / tls_client_key. A key that cannot be read or parsed is reported at
/// the key's option (at the certificate's when the key's position is unknown); everything else,
/// a key that does not match the certificate included, at the certificate's.
bool useClientCertificate(SSL_CTX* ctx, const config::UpstreamTls& tls,
                          config::Diagnostics& diagnostics) {
  const config::SourcePos& pos = tls.client_cert_pos;
  const std::string& key = tls.client_cert_key;
  const bool key_known = !tls.client_key_key.empty();
  const config::SourcePos& key_pos = key_known ? tls.client_key_pos : pos;
  const std::string& key_key = key_known ? tls.client_key_key : key;
  if (tls.client_cert.empty() != tls.client_key.empty()) {
    diagnostics.error(pos, key, "client certificate key and cert both must be non-empty");
    return false;
  }
  if (tls.client_cert.empty()) {
    return true;
  }
  auto cert_pem = resolvePem(tls.client_cert);
  if (!cert_pem) {
    diagnostics.error(pos, key, "client certificate: " + cert_pem.error().detail());
  }
  auto key_pem = resolvePem(tls.client_key);
  if (!key_pem) {
    diagnostics.error(key_pos, key_key, "client key: " + key_pem.error().detail());
  }
  if (!cert_pem || !key_pem) {
    return false;
  }
  PairPart failed = PairPart::Certificate;
  auto pair = loadCertificateKeyPair(*cert_pem, *key_pem, &failed);
  if (!pair) {
    if (failed == PairPart::Key) {
      diagnostics.error(key_pos, key_key, "client key: " + pair.error().detail());
    } else {
      diagnostics.error(pos, key, "client certificate: " + pair.error().detail());
    }
    return false;
  }
  if (SSL_CTX_use_certificate(ctx, pair->leaf.get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx, pair->key.get()) != 1) {
    diagnostics.error(pos, key, takeOpensslError("client certificate: cannot install"));
    return false;
  }
  for (const X509Ptr& extra : pair->chain) {
    X509_up_ref(extra.get());
    if (SSL_CTX_add_extra_chain_cert(ctx, extra.get()) != 1) {
      X509_free(extra.get());
      diagnostics.error(pos, key, takeOpensslError("client certificate: cannot install chain"));
      return false;
    }
  }
  return true;
}

}  // namespace

ClientContext::ClientContext() : impl_(std::make_unique<Impl>()) {}
ClientContext::~ClientContext() = default;

std::shared_ptr<const ClientContext> ClientContext::build(const config::UpstreamTls& route_tls,
                                                          const std::string& global_ca,
                                                          const config::SourcePos& global_ca_pos,
                                                          config::Diagnostics& diagnostics) {
  std::shared_ptr<ClientContext> result(new ClientContext());
  result->skip_verify_ = route_tls.skip_verify;
  result->server_name_ = route_tls.server_name;
  if (route_tls.server_name.find('*') != std::string::npos) {
    result->impl_->wildcard_pattern = route_tls.server_name;
    result->impl_->wildcard_sni = replaceStars(route_tls.server_name);
  }

  SSL_CTX* ctx = result->impl_->context.native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  // HTTP/1.1 only until the upstream h2 codec exists (Pomerium offers h2 to all-TLS clusters,
  // Envoy's auto_config). Note the inverted return convention: 0 is success.
  if (SSL_CTX_set_alpn_protos(ctx, kAlpnHttp11, sizeof(kAlpnHttp11)) != 0) {
    diagnostics.error({}, "tls", takeOpensslError("cannot set ALPN"));
    return nullptr;
  }

  bool ok = true;
  // Trust (Pomerium `tls_custom_ca`): the route's custom CA alone, else the system roots plus
  // the global certificate_authority. The CAs are loaded even with tls_skip_verify so that a
  // broken value is still reported.
  if (!route_tls.custom_ca.empty()) {
    auto pem = resolvePem(route_tls.custom_ca);
    std::string error =
        pem ? addPemCertificates(SSL_CTX_get_cert_store(ctx), *pem) : pem.error().detail();
    if (!error.empty()) {
      diagnostics.error(route_tls.custom_ca_pos, route_tls.custom_ca_key,
                        "certificate authority: " + error);
      ok = false;
    }
  } else {
    std::string global_pem;
    std::string error;
    if (!global_ca.empty()) {
      auto pem = resolvePem(global_ca);
      if (pem) {
        // Trimmed, so that a file and the same PEM inline share one store.
        global_pem = std::string(strings::trimSpace(*pem));
      } else {
        error = pem.error().detail();
      }
    }
    StorePtr store = error.empty() ? systemStore(global_pem, error) : nullptr;
    if (store) {
      SSL_CTX_set_cert_store(ctx, store.release());  // takes the reference
    } else {
      diagnostics.error(global_ca_pos, "certificate_authority", "certificate authority: " + error);
      ok = false;
    }
  }
  SSL_CTX_set_verify(ctx, route_tls.skip_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nullptr);
  ok &= useClientCertificate(ctx, route_tls, diagnostics);
  if (!ok) {
    return nullptr;
  }
  return result;
}

boost::asio::ssl::context& ClientContext::sslContext() const { return impl_->context; }

std::string ClientContext::serverName(std::string_view endpoint_host) const {
  std::string_view name = server_name_.empty() ? endpoint_host : std::string_view(server_name_);
  // A URL host may spell an IPv6 literal in brackets; SNI/IP checks want the bare address.
  if (name.size() >= 2 && name.front() == '[' && name.back() == ']') {
    name = name.substr(1, name.size() - 2);
  }
  return replaceStars(name);
}

void ClientContext::prepare(void* ssl_handle, const std::string& server_name) const {
  SSL* ssl_ptr = static_cast<SSL*>(ssl_handle);
  bool ip = isIpLiteral(server_name);
  // RFC 6066 §3: literal IP addresses are not sent as SNI.
  if (!ip && !server_name.empty()) {
    SSL_set_tlsext_host_name(ssl_ptr, server_name.c_str());
  }
  if (skip_verify_) {
    return;
  }
  bool use_pattern = server_name.empty() ||
                     (!impl_->wildcard_pattern.empty() && server_name == impl_->wildcard_sni);
  if (use_pattern) {
    // An empty name gets an empty pattern, which no SAN matches: fail closed.
    std::string pattern = server_name.empty() ? std::string() : impl_->wildcard_pattern;
    delete static_cast<std::string*>(SSL_get_ex_data(ssl_ptr, patternIndex()));
    SSL_set_ex_data(ssl_ptr, patternIndex(), new std::string(std::move(pattern)));
    SSL_set_verify(ssl_ptr, SSL_VERIFY_PEER, verifyPattern);
  } else if (ip) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_ptr), server_name.c_str());
  } else {
    // Envoy's DNS SAN matching: exact or a full-label leftmost wildcard, SANs only (no CN).
    SSL_set_hostflags(ssl_ptr,
                      X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
    SSL_set1_host(ssl_ptr, server_name.c_str());
  }
}

}  // namespace vallum::tls
