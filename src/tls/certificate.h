#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/error.h"

namespace vallum::tls {

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

/// A leaf certificate, its intermediates and its private key, plus the DNS names it serves
/// (subjectAltName dNSName entries, or the subject CN when there are none), lower-cased.
struct CertificateKeyPair {
  X509Ptr leaf;
  std::vector<X509Ptr> chain;
  PkeyPtr key;
  std::vector<std::string> dns_names;
};

/// Resolves a config value that may be a file path, inline PEM, or base64 of PEM (Pomerium's
/// certificate options; an existing file path is tried first). Returns the PEM text or an
/// error saying which forms were tried.
Result<std::string> resolvePem(std::string_view value);

/// Which input of loadCertificateKeyPair() a failure is about, so that callers report it at
/// that config key: Key when the private key does not parse; Certificate otherwise (the
/// certificate does not parse, or the key does not belong to it).
enum class PairPart { Certificate, Key };

/// Parses a PEM certificate chain (leaf first) and a PEM private key, and checks that the key
/// belongs to the leaf (X509_check_private_key). On failure, `failed_part` (when not null) says
/// which input the error is about.
Result<CertificateKeyPair> loadCertificateKeyPair(std::string_view cert_pem,
                                                  std::string_view key_pem,
                                                  PairPart* failed_part = nullptr);

/// A fresh ECDSA P-256 self-signed certificate valid for one year, with subjectAltName
/// DNS:localhost, IP:127.0.0.1, IP:::1 and the given extra DNS names.
Result<CertificateKeyPair> generateSelfSigned(const std::vector<std::string>& extra_dns_names);

/// True when `name` (lower-case) is covered by `pattern` as in RFC 6125 §6.4.3: exact, or
/// "*.example.com" covering exactly one extra leftmost label.
bool certificateNameMatches(std::string_view pattern, std::string_view name);

}  // namespace vallum::tls
