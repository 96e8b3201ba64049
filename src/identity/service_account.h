#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"
#include "identity/signing_key.h"

/// Google Cloud serverless authentication (Pomerium route option
/// enable_google_cloud_serverless_authentication): the Google-signed ID token an upstream on
/// Cloud Run or Cloud Functions expects in `Authorization: Bearer`. Two sources, as Pomerium's
/// google.golang.org/api/idtoken: a service-account key (Pomerium's
/// google_cloud_serverless_authentication_service_account) signs an assertion that Google's
/// token endpoint exchanges for an ID token (RFC 7523 §2.1, JWT bearer grant, with Google's
/// `target_audience` claim); without a key, the metadata server of the machine issues one.
/// Pure functions; safe from any thread.
namespace vallum::identity {

/// A Google service-account key file (the JSON that `gcloud iam service-accounts keys create`
/// writes): only the members the token exchange needs.
struct ServiceAccount {
  std::string client_email;    ///< the assertion's `iss`
  std::string private_key_id;  ///< the assertion header's `kid`
  std::string token_uri;       ///< where the assertion is exchanged (the key file's token_uri)
  SigningKey key;              ///< the RSA private key of `private_key` (RS256)
};

/// Reads the option's value: the key file's JSON as is (it starts with '{'), or that JSON in
/// standard base64 (as Pomerium documents it). `type` must be "service_account"; client_email
/// and private_key are required; token_uri defaults to https://oauth2.googleapis.com/token.
/// Errors (Errc::ParseError / NotSupported) name the member at fault, never key bytes.
Result<ServiceAccount> parseServiceAccount(std::string_view text);

/// The signed assertion for the token endpoint: header {"alg":"RS256","kid":private_key_id},
/// claims iss = client_email, aud = token_uri, iat = now − 10 s, exp = iat + 1 h (the clock
/// skew allowance of golang.org/x/oauth2/jwt) and target_audience = `audience`.
/// `now`: Unix seconds.
std::string serviceAccountAssertion(const ServiceAccount& account, std::string_view audience,
                                    int64_t now);

/// The form body of the exchange (RFC 7523 §2.1): grant_type=urn:ietf:params:oauth:grant-type:
/// jwt-bearer and the assertion.
std::string jwtBearerGrantBody(std::string_view assertion);

/// Google ID tokens live an hour; Pomerium uses one for 45 minutes. Returns until when (Unix
/// seconds) `token` may be sent: now + 45 min, or sooner when the token's own `exp` (read
/// without verification — we are its bearer, not its audience) leaves less than a minute of
/// margin; `now` when it has expired or is about to. A token that is not a JWT gets 45 min.
int64_t googleTokenUsableUntil(std::string_view token, int64_t now);

}  // namespace vallum::identity
