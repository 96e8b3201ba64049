#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "proxy/identity_runtime.h"
#include "upstream/http_fetch.h"

/// The Google-signed ID tokens of routes with enable_google_cloud_serverless_authentication
/// (Pomerium route option; docs/decisions.md "Google Cloud serverless authentication"). One
/// per worker (no locks): each worker fetches its own tokens and keeps them per (service
/// account, audience) until identity::googleTokenUsableUntil. A failed fetch is logged and
/// leaves no token: the request goes upstream without the header, as in Pomerium.
namespace vallum::proxy {

class GoogleIdTokens {
 public:
  GoogleIdTokens(boost::asio::any_io_executor executor, upstream::PostToOwner post)
      : executor_(std::move(executor)), post_(std::move(post)) {}

  /// The token for `audience` under `rt`'s service account (or the metadata server), or null.
  /// `now` (Unix seconds): only a token still usable then; nullopt: the one kept, whatever its
  /// age (the stream that just fetched it sends it even when it expires within the minute).
  /// Allocation-free; the pointer is valid until the next fetch.
  const std::string* find(const IdentityRuntime& rt, std::string_view audience,
                          std::optional<int64_t> now) const;

  /// Fetches a token for `audience` and keeps it (replacing an older one): with a service
  /// account, its signed assertion exchanged at the key file's token_uri (RFC 7523 §2.1);
  /// else `GET <metadata>/computeMetadata/v1/instance/service-accounts/default/identity
  /// ?format=full&audience=<audience>` with `Metadata-Flavor: Google`, whose body is the token
  /// (a non-200 answer, an empty body or more than one line is a failure). A failure drops the
  /// token kept for the audience.
  boost::asio::awaitable<void> fetch(const IdentityRuntime& rt, std::string audience);

 private:
  struct Entry {
    std::string account;  ///< client_email, or "" for the metadata server
    std::string audience;
    std::string token;
    int64_t usable_until = 0;  ///< Unix seconds
  };
  static std::string_view accountOf(const IdentityRuntime& rt);

  boost::asio::any_io_executor executor_;
  upstream::PostToOwner post_;
  std::vector<Entry> entries_;  ///< few: one per audience in use
};

}  // namespace vallum::proxy
