#include "identity/signed_url.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <utility>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "identity/base64url.h"

namespace vallum::identity {
namespace {

constexpr std::string_view kIssued = "pomerium_issued";
constexpr std::string_view kExpiry = "pomerium_expiry";
constexpr std::string_view kSignature = "pomerium_signature";

using QueryParams = std::vector<std::pair<std::string, std::string>>;

struct SplitUrl {
  std::string_view head;      // everything before '?'
  std::string_view query;     // between '?' and '#'
  std::string_view fragment;  // from '#' (inclusive) to the end, or empty
};

SplitUrl splitUrl(std::string_view url) {
  SplitUrl out;
  const size_t hash = url.find('#');
  if (hash != std::string_view::npos) {
    out.fragment = url.substr(hash);
    url = url.substr(0, hash);
  }
  const size_t q = url.find('?');
  out.head = url.substr(0, q);
  if (q != std::string_view::npos) {
    out.query = url.substr(q + 1);
  }
  return out;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// Go url.QueryUnescape: '+' → space, %XX decoded, a bad escape is an error.
std::optional<std::string> queryUnescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= s.size()) {
        return std::nullopt;
      }
      const int hi = hexValue(s[i + 1]);
      const int lo = hexValue(s[i + 2]);
      if (hi < 0 || lo < 0) {
        return std::nullopt;
      }
      out.push_back(char(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Go url.ParseQuery: '&'-separated; empty pieces skipped; a key containing ';' or a bad escape
// drops that pair (Go reports an error but keeps the rest, and Query() ignores the error).
QueryParams parseQuery(std::string_view query) {
  QueryParams params;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty() || pair.find(';') != std::string_view::npos) {
      continue;
    }
    const size_t eq = pair.find('=');
    std::optional<std::string> key = queryUnescape(pair.substr(0, eq));
    std::optional<std::string> value =
        queryUnescape(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!key || !value) {
      continue;
    }
    params.emplace_back(std::move(*key), std::move(*value));
  }
  return params;
}

// Go url.Values.Encode: stable sort by key keeps each key's values in order.
std::string encodeQuery(QueryParams params) {
  std::stable_sort(params.begin(), params.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out;
  for (const auto& [key, value] : params) {
    if (!out.empty()) {
      out.push_back('&');
    }
    out += goQueryEscape(key);
    out.push_back('=');
    out += goQueryEscape(value);
  }
  return out;
}

void erase(QueryParams& params, std::string_view key) {
  std::erase_if(params, [key](const auto& p) { return p.first == key; });
}

const std::string* first(const QueryParams& params, std::string_view key) {
  for (const auto& p : params) {
    if (p.first == key) {
      return &p.second;
    }
  }
  return nullptr;
}

std::string assemble(const SplitUrl& parts, const std::string& query) {
  std::string out(parts.head);
  if (!query.empty()) {
    out.push_back('?');
    out += query;
  }
  out.append(parts.fragment);
  return out;
}

std::string hmacSha512_256(std::string_view key, std::string_view message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA512-256", nullptr);
  static constexpr char kNoKey[1] = {};
  const bool ok =
      md != nullptr && HMAC(md, key.empty() ? kNoKey : key.data(), static_cast<int>(key.size()),
                            reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                            mac, &len) != nullptr;
  EVP_MD_free(md);
  return ok ? std::string(reinterpret_cast<const char*>(mac), len) : std::string();
}

std::string signatureMessage(const std::string& url, int64_t issued, int64_t expiry) {
  // fmt.Sprint(url, issued, expiry): no space after the string operand, one between the two
  // numbers.
  return url + std::to_string(issued) + " " + std::to_string(expiry);
}

// Go strconv.ParseInt(s, 10, 64).
std::optional<int64_t> parseInt(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) {
    return std::nullopt;
  }
  uint64_t magnitude = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), magnitude);
  if (ec != std::errc() || ptr != s.data() + s.size()) {
    return std::nullopt;
  }
  if (negative) {
    if (magnitude > uint64_t(INT64_MAX) + 1) {
      return std::nullopt;
    }
    return magnitude == uint64_t(INT64_MAX) + 1 ? INT64_MIN : -int64_t(magnitude);
  }
  if (magnitude > uint64_t(INT64_MAX)) {
    return std::nullopt;
  }
  return int64_t(magnitude);
}

}  // namespace

std::string goQueryEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved) {
      out.push_back(c);
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[uint8_t(c) >> 4]);
      out.push_back(kHex[uint8_t(c) & 15]);
    }
  }
  return out;
}

std::string signUrl(std::string_view key, std::string_view url, int64_t now_unix) {
  const SplitUrl parts = splitUrl(url);
  QueryParams params = parseQuery(parts.query);
  const int64_t issued = now_unix;
  const int64_t expiry = now_unix + kSignedUrlLifetimeSeconds;
  erase(params, kIssued);
  erase(params, kExpiry);
  erase(params, kSignature);
  params.emplace_back(std::string(kIssued), std::to_string(issued));
  params.emplace_back(std::string(kExpiry), std::to_string(expiry));
  const std::string unsigned_url = assemble(parts, encodeQuery(params));
  const std::string mac = hmacSha512_256(key, signatureMessage(unsigned_url, issued, expiry));
  params.emplace_back(std::string(kSignature), base64UrlEncodePadded(mac));
  return assemble(parts, encodeQuery(std::move(params)));
}

SignedUrlStatus checkSignedUrl(std::string_view key, std::string_view url, int64_t now_unix) {
  const SplitUrl parts = splitUrl(url);
  QueryParams params = parseQuery(parts.query);
  const std::string* signature_text = first(params, kSignature);
  std::optional<std::string> signature =
      base64UrlDecodePadded(signature_text != nullptr ? *signature_text : std::string());
  if (!signature) {
    return SignedUrlStatus::Malformed;
  }
  erase(params, kSignature);
  const std::string* issued_text = first(params, kIssued);
  const std::string* expiry_text = first(params, kExpiry);
  const std::optional<int64_t> issued = parseInt(issued_text ? *issued_text : std::string());
  const std::optional<int64_t> expiry = parseInt(expiry_text ? *expiry_text : std::string());
  if (!issued || !expiry) {
    return SignedUrlStatus::Malformed;
  }
  // Go: now.Add(-leeway).After(expiry) and now.Add(leeway).Before(issued).
  if (now_unix - kSignedUrlLeewaySeconds > *expiry) {
    return SignedUrlStatus::Expired;
  }
  if (now_unix + kSignedUrlLeewaySeconds < *issued) {
    return SignedUrlStatus::IssuedInFuture;
  }
  const std::string unsigned_url = assemble(parts, encodeQuery(std::move(params)));
  const std::string expected =
      hmacSha512_256(key, signatureMessage(unsigned_url, *issued, *expiry));
  // cryptutil.CheckHMAC is hmac.Equal: lengths differ → false, else constant time.
  if (expected.empty() || expected.size() != signature->size() ||
      CRYPTO_memcmp(expected.data(), signature->data(), expected.size()) != 0) {
    return SignedUrlStatus::BadSignature;
  }
  return SignedUrlStatus::Ok;
}

bool verifySignedUrl(std::string_view key, std::string_view url, int64_t now_unix) {
  return checkSignedUrl(key, url, now_unix) == SignedUrlStatus::Ok;
}

}  // namespace vallum::identity
