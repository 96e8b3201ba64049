#include "proxy/identity_headers.h"

#include "common/random.h"
#include "identity/identity_jwt.h"
#include "proxy/sign_in_flow.h"
#include "proxy/sign_in_state.h"
#include "proxy/worker.h"

namespace vallum::proxy {

namespace {

/// Sign a new assertion when the cached one has less than this left (seconds).
constexpr int64_t kReuseMargin = 60;

/// A random UUIDv4 (RFC 9562 §5.4), Pomerium's `jti`.
std::string uuid4(StreamContext& ctx) {
  uint64_t hi = 0, lo = 0;
  if (ctx.worker != nullptr) {
    hi = ctx.worker->random().next();
    lo = ctx.worker->random().next();
  } else {
    FastRandom random;
    hi = random.next();
    lo = random.next();
  }
  hi = (hi & ~uint64_t{0xF000}) | 0x4000;                      // version 4
  lo = (lo & ~(uint64_t{0xC} << 60)) | (uint64_t{0x8} << 60);  // variant 10
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 15; i >= 0; --i) {
    out += kHex[(hi >> (i * 4)) & 15];
    if (i == 8 || i == 4) {
      out += '-';
    }
  }
  out += '-';
  for (int i = 15; i >= 0; --i) {
    out += kHex[(lo >> (i * 4)) & 15];
    if (i == 12) {
      out += '-';
    }
  }
  return out;
}

nlohmann::json claimsNow(StreamContext& ctx, const RouteRuntime* route, int64_t now) {
  const IdentityRuntime& id = *ctx.snapshot->identity;
  SignInState& st = signInState(ctx);
  static const std::vector<std::string> kNoFilter;
  const bool uri =
      route != nullptr ? route->jwt_issuer_uri : ctx.snapshot->options.identity.jwt_issuer_uri;
  const std::vector<std::string>& filter = route != nullptr
                                               ? route->jwt_groups_filter
                                               : ctx.snapshot->options.identity.jwt_groups_filter;
  return identity::assertionClaims(st.signed_in ? &st.session : nullptr, ctx.host, uri, now,
                                   uuid4(ctx), filter, id.claim_names);
}

}  // namespace

const std::string& identityJwt(StreamContext& ctx, const RouteRuntime* route) {
  SignInState& st = signInState(ctx);
  const int64_t now = unixNow();
  const std::string_view session_id = st.signed_in ? std::string_view(st.session.id) : "";
  if (!st.jwt.empty() && st.jwt_route == route && st.jwt_session == session_id &&
      st.jwt_host == ctx.host && now < st.jwt_refresh_after &&
      st.jwt_keys == ctx.snapshot->identity) {
    return st.jwt;
  }
  nlohmann::json claims = claimsNow(ctx, route, now);
  const IdentityRuntime& id = *ctx.snapshot->identity;
  st.claim_values.clear();
  for (const config::ClaimHeader& h : id.claim_headers) {
    st.claim_values.push_back(identity::claimHeaderValue(claims, h.claim));
  }
  st.jwt = id.signing_key.signJwt(claims);
  st.jwt_route = route;
  st.jwt_session = session_id;
  st.jwt_host = ctx.host;
  st.jwt_keys = ctx.snapshot->identity;
  st.jwt_refresh_after = now + identity::kAssertionLifetimeSeconds - kReuseMargin;
  return st.jwt;
}

std::string userInfoJson(StreamContext& ctx) {
  nlohmann::json claims = claimsNow(ctx, nullptr, unixNow());
  for (const char* drop : {"iss", "aud", "exp", "iat", "jti"}) {
    claims.erase(drop);
  }
  return claims.dump();
}

namespace detail {
const std::vector<std::string>& claimValues(StreamContext& ctx) {
  return signInState(ctx).claim_values;
}
}  // namespace detail

}  // namespace vallum::proxy
