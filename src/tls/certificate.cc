#include "tls/certificate.h"

#include <sys/stat.h>
#include <fstream>
#include <sstream>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "common/strings.h"
#include "tls/openssl_error.h"

namespace vallum::tls {

namespace {

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

Error tlsError(std::string what) {
  return Error(Errc::TlsError, ErrorSource::Config, takeOpensslError(std::move(what)));
}

bool looksLikePem(std::string_view s) { return s.find("-----BEGIN ") != std::string_view::npos; }

void collectNames(X509* cert, std::vector<std::string>& names) {
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
      if (gn->type == GEN_DNS) {
        const unsigned char* data = ASN1_STRING_get0_data(gn->d.dNSName);
        int len = ASN1_STRING_length(gn->d.dNSName);
        names.push_back(strings::lowerAscii(
            std::string_view(reinterpret_cast<const char*>(data), size_t(len))));
      }
    }
    GENERAL_NAMES_free(sans);
  }
  if (!names.empty()) {
    return;
  }
  X509_NAME* subject = X509_get_subject_name(cert);
  int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (idx >= 0) {
    ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
    const unsigned char* data = ASN1_STRING_get0_data(cn);
    names.push_back(strings::lowerAscii(
        std::string_view(reinterpret_cast<const char*>(data), size_t(ASN1_STRING_length(cn)))));
  }
}

}  // namespace

Result<std::string> resolvePem(std::string_view value) {
  std::string_view trimmed = strings::trimSpace(value);
  if (trimmed.empty()) {
    return Error(Errc::InvalidArgument, ErrorSource::Config, "empty value");
  }
  if (!looksLikePem(trimmed) && trimmed.find('\n') == std::string_view::npos) {
    struct stat st {};
    std::string path(trimmed);
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        return Error(Errc::NotFound, ErrorSource::Config, "cannot read file " + path);
      }
      std::stringstream ss;
      ss << in.rdbuf();
      std::string content = ss.str();
      if (!looksLikePem(content)) {
        return Error(Errc::ParseError, ErrorSource::Config, "file " + path + " holds no PEM data");
      }
      return content;
    }
  }
  if (looksLikePem(trimmed)) {
    return std::string(trimmed);
  }
  if (auto decoded = strings::base64Decode(trimmed); decoded && looksLikePem(*decoded)) {
    return *decoded;
  }
  if (trimmed.find('/') != std::string_view::npos && trimmed.size() < 4096) {
    return Error(Errc::NotFound, ErrorSource::Config,
                 "no such file, and not inline PEM or base64 PEM: " + std::string(trimmed));
  }
  return Error(Errc::ParseError, ErrorSource::Config,
               "not a file path, inline PEM, or base64-encoded PEM");
}

Result<CertificateKeyPair> loadCertificateKeyPair(std::string_view cert_pem,
                                                  std::string_view key_pem, PairPart* failed_part) {
  if (failed_part != nullptr) {
    *failed_part = PairPart::Certificate;
  }
  CertificateKeyPair pair;
  BioPtr cert_bio(BIO_new_mem_buf(cert_pem.data(), int(cert_pem.size())));
  pair.leaf.reset(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!pair.leaf) {
    return tlsError("bad certificate PEM");
  }
  for (;;) {
    X509* extra = PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr);
    if (extra == nullptr) {
      ERR_clear_error();  // end of input
      break;
    }
    pair.chain.emplace_back(extra);
  }
  BioPtr key_bio(BIO_new_mem_buf(key_pem.data(), int(key_pem.size())));
  pair.key.reset(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!pair.key) {
    if (failed_part != nullptr) {
      *failed_part = PairPart::Key;
    }
    return tlsError("bad private key PEM");
  }
  if (X509_check_private_key(pair.leaf.get(), pair.key.get()) != 1) {
    return tlsError("private key does not match the certificate");
  }
  collectNames(pair.leaf.get(), pair.dns_names);
  return pair;
}

Result<CertificateKeyPair> generateSelfSigned(const std::vector<std::string>& extra_dns_names) {
  CertificateKeyPair pair;
  pair.key.reset(EVP_EC_gen("P-256"));
  if (!pair.key) {
    return tlsError("cannot generate EC key");
  }
  pair.leaf.reset(X509_new());
  X509* x = pair.leaf.get();
  X509_set_version(x, 2);
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) {
    return tlsError("RAND_bytes");
  }
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 365L * 24 * 3600);
  X509_set_pubkey(x, pair.key.get());
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("Vallum"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("Vallum self-signed"), -1, -1,
                             0);
  X509_set_issuer_name(x, name);
  std::string san = "DNS:localhost,IP:127.0.0.1,IP:::1";
  for (const std::string& dns : extra_dns_names) {
    san += ",DNS:" + dns;
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str());
  if (ext == nullptr) {
    return tlsError("cannot build subjectAltName");
  }
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  if (X509_sign(x, pair.key.get(), EVP_sha256()) == 0) {
    return tlsError("cannot sign self-signed certificate");
  }
  collectNames(x, pair.dns_names);
  return pair;
}

bool certificateNameMatches(std::string_view pattern, std::string_view name) {
  if (pattern.size() > 2 && pattern[0] == '*' && pattern[1] == '.') {
    std::string_view suffix = pattern.substr(1);  // ".example.com"
    if (name.size() <= suffix.size() ||
        !strings::iequals(name.substr(name.size() - suffix.size()), suffix)) {
      return false;
    }
    std::string_view label = name.substr(0, name.size() - suffix.size());
    return label.find('.') == std::string_view::npos;
  }
  return strings::iequals(pattern, name);
}

}  // namespace vallum::tls
