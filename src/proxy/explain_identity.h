#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "identity/session.h"
#include "proxy/access_users.h"
#include "proxy/snapshot.h"
#include "proxy/stream_context.h"

/// The identity part of `vallum route --as EMAIL` (explain.h): who is asking, how the route's
/// policy decides for them (policy::trace) and the identity headers the upstream would get.
/// Tool code, not the request path; any thread, one StreamContext per call.
namespace vallum::proxy {

/// Who `vallum route` explains the request for.
struct ExplainIdentity {
  /// false: an anonymous visitor (`--anonymous`); `user` is then ignored.
  bool signed_in = true;
  AccessUser user;
};

/// The session the server would hold for `who` (identity::Session): subject, email, groups,
/// claims, `name` from the "name" claim when it is a string; id "<session-id>"; issued `now`
/// (unix seconds) and valid for the config's cookie_expire.
identity::Session explainSession(const Snapshot& snapshot, const AccessUser& user, int64_t now);

/// A `Cookie` field value carrying `who`'s session sealed the way the server seals its own
/// (cookie_name, cookie_secret), so that the stage chain signs them in exactly as it would a
/// browser; "" for an anonymous visitor or when sign-in is not configured (the server then has
/// no sessions: the chain sees an anonymous request).
std::string explainSessionCookie(const Snapshot& snapshot, const ExplainIdentity& who, int64_t now);

/// Adds to `doc`, after the stage chain ran on `ctx`:
/// * `as`: the user (email, user, groups, claims), or null when anonymous;
/// * `decision`: "allow" | "deny" by the matched route's compiled policy for this user and the
///   request (method, normalized path, CORS preflight; `vallum route` has no client address, so
///   `source_ip` never matches); `reasons`: the reason strings (policy::Decision::reasons());
///   a policy that needs a signed-in user for an anonymous visitor gives "deny" with
///   ["user-unauthenticated"] and `sign_in_required: true`; no route → "deny" with
///   ["route-not-found"]; `summary`: one line ("allow (email-ok)", "deny: sign-in required
///   (user-unauthenticated)");
/// * `policy`: `trace`, one object per policy::TraceLine (kind, depth, label, key, line: the
///   config line, null when the element has none, as the legacy allow lists; result, reasons);
/// * `identity_headers`: when the route passes identity headers, `X-Pomerium-Jwt-Assertion`
///   as its claims object (identity::assertionClaims; not signed: jti "<jti>", iat now) and each
///   `jwt_claims_headers` header with its value; else null;
/// * `note` when the user is signed in, the policy needs a user and the config has no sign-in
///   (authenticate_service_url): the server could never see this user.
void describeIdentity(const Snapshot& snapshot, const StreamContext& ctx,
                      const ExplainIdentity& who, int64_t now, nlohmann::ordered_json& doc);

/// Replaces in `headers` every occurrence of the assertion the chain signed while rewriting the
/// request (X-Pomerium-Jwt-Assertion, `${pomerium.jwt}`) with a placeholder: `vallum route`
/// never prints a token the upstream would accept.
void hideSignedAssertion(StreamContext& ctx,
                         std::vector<std::pair<std::string, std::string>>& headers);

}  // namespace vallum::proxy
