#include "proxy/google_id_tokens.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/logging.h"
#include "identity/service_account.h"
#include "identity/signed_url.h"

// GCC 12 at -O2 reports -Wmismatched-new-delete on asio coroutine frames: a false positive
// (see oidc_client.cc).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace vallum::proxy {

namespace {

constexpr auto kFetchTimeout = std::chrono::seconds(10);
/// Pomerium reads at most 10 MiB of the metadata server's answer.
constexpr size_t kMaxTokenBody = 10 << 20;

/// The token out of a fetch, or "" with `error` set.
std::string tokenFrom(const upstream::FetchResponse& response, bool metadata, std::string& error) {
  if (response.status != 200) {
    error = response.status == 0 ? response.error : "status " + std::to_string(response.status);
    return {};
  }
  if (metadata) {
    std::string_view body = response.body;
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) {
      body.remove_suffix(1);
    }
    if (body.empty() || body.find_first_of("\r\n") != std::string_view::npos) {
      error = body.empty() ? "empty token" : "the answer is more than one line";
      return {};
    }
    return std::string(body);
  }
  const auto doc = nlohmann::json::parse(response.body, nullptr, false);
  auto it = doc.is_object() ? doc.find("id_token") : doc.end();
  if (!doc.is_object() || it == doc.end() || !it->is_string() ||
      it->get_ref<const std::string&>().empty()) {
    error = "no id_token in the answer";
    return {};
  }
  return it->get<std::string>();
}

}  // namespace

std::string_view GoogleIdTokens::accountOf(const IdentityRuntime& rt) {
  return rt.gcp_account ? std::string_view(rt.gcp_account->client_email) : std::string_view();
}

const std::string* GoogleIdTokens::find(const IdentityRuntime& rt, std::string_view audience,
                                        std::optional<int64_t> now) const {
  const std::string_view account = accountOf(rt);
  for (const Entry& e : entries_) {
    if (e.audience == audience && e.account == account) {
      return !now || *now < e.usable_until ? &e.token : nullptr;
    }
  }
  return nullptr;
}

boost::asio::awaitable<void> GoogleIdTokens::fetch(const IdentityRuntime& rt,
                                                   std::string audience) {
  upstream::FetchRequest request;
  const bool metadata = !rt.gcp_account;
  if (metadata) {
    request.url = rt.gcp_metadata_origin +
                  "/computeMetadata/v1/instance/service-accounts/default/identity?format=full&"
                  "audience=" +
                  identity::goQueryEscape(audience);
    request.headers.emplace_back("Metadata-Flavor", "Google");
  } else {
    request.method = "POST";
    request.url = rt.gcp_account->token_uri;
    request.body = identity::jwtBearerGrantBody(
        identity::serviceAccountAssertion(*rt.gcp_account, audience, unixNow()));
    request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    request.headers.emplace_back("Accept", "application/json");
  }
  const upstream::FetchResponse response = co_await upstream::fetch(
      executor_, post_, request, rt.idp_tls.get(), kFetchTimeout, kMaxTokenBody);
  std::string error;
  std::string token = tokenFrom(response, metadata, error);
  const std::string account(accountOf(rt));
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) {
    return e.audience == audience && e.account == account;
  });
  if (token.empty()) {
    VALLUM_LOG_ERROR(
        "google cloud serverless authentication: no ID token for audience {} from "
        "{}: {}",
        audience, metadata ? "the metadata server" : "the token endpoint", error);
    if (it != entries_.end()) {
      entries_.erase(it);
    }
    co_return;
  }
  if (it == entries_.end()) {
    it = entries_.insert(entries_.end(), Entry{account, audience, {}, 0});
  }
  const int64_t now = unixNow();
  it->usable_until = identity::googleTokenUsableUntil(token, now);
  it->token = std::move(token);
}

}  // namespace vallum::proxy
