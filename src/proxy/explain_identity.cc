#include "proxy/explain_identity.h"

#include <algorithm>

#include "identity/identity_jwt.h"
#include "policy/evaluator.h"
#include "proxy/sign_in_state.h"

namespace vallum::proxy {

namespace {

using json = nlohmann::ordered_json;

constexpr std::string_view kHiddenAssertion = "<not signed by vallum route: see identity_headers>";

json reasonsJson(policy::ReasonSet reasons) {
  json out = json::array();
  reasons.forEach([&out](policy::Reason r) { out.push_back(policy::reasonName(r)); });
  return out;
}

std::string_view kindName(policy::TraceLine::Kind kind) {
  switch (kind) {
    case policy::TraceLine::Kind::Action:
      return "action";
    case policy::TraceLine::Kind::Block:
      return "block";
    case policy::TraceLine::Kind::Criterion:
      return "criterion";
    case policy::TraceLine::Kind::Decision:
      break;
  }
  return "decision";
}

/// As the authorize stage: OPTIONS with Origin and Access-Control-Request-Method.
bool corsPreflight(const http::RequestHeaders& request) {
  return request.method == "OPTIONS" && request.headers.get("origin").has_value() &&
         request.headers.get("access-control-request-method").has_value();
}

json userJson(const AccessUser& user) {
  return {{"email", user.email},
          {"user", user.user},
          {"groups", user.groups},
          {"claims", json(user.claims)}};
}

}  // namespace

identity::Session explainSession(const Snapshot& snapshot, const AccessUser& user, int64_t now) {
  identity::Session session;
  session.id = "<session-id>";
  session.user = user.user;
  session.email = user.email;
  session.groups = user.groups;
  session.claims = user.claims;
  if (auto it = user.claims.find("name"); it != user.claims.end() && it->is_string()) {
    session.name = it->get<std::string>();
  }
  session.issued_at = now;
  const int64_t lifetime =
      snapshot.identity != nullptr ? snapshot.identity->cookie_expire_seconds : 14 * 3600;
  session.expires_at = now + std::max<int64_t>(lifetime, 60);
  session.refresh_at = session.expires_at;
  return session;
}

std::string explainSessionCookie(const Snapshot& snapshot, const ExplainIdentity& who,
                                 int64_t now) {
  const IdentityRuntime* id = snapshot.identity.get();
  if (!who.signed_in || id == nullptr || !id->sign_in) {
    return {};
  }
  return id->cookie_name + "=" +
         identity::sealSession(id->cipher, explainSession(snapshot, who.user, now),
                               id->cookie_name);
}

void describeIdentity(const Snapshot& snapshot, const StreamContext& ctx,
                      const ExplainIdentity& who, int64_t now, nlohmann::ordered_json& doc) {
  doc["as"] = who.signed_in ? userJson(who.user) : json(nullptr);
  if (ctx.route == nullptr) {
    const policy::ReasonSet reasons(policy::Reason::RouteNotFound);
    doc["decision"] = "deny";
    doc["reasons"] = reasonsJson(reasons);
    doc["summary"] = "deny (route-not-found)";
    return;
  }
  const RouteRuntime& route = *ctx.route;
  policy::Identity identity;
  if (who.signed_in) {
    identity = policyIdentity(who.user);
  }
  policy::RequestFacts facts;
  facts.method = ctx.request->method;
  facts.path = ctx.path;
  facts.client_ip = ctx.client_ip;
  facts.cors_preflight = corsPreflight(*ctx.request);

  const policy::Decision decision = policy::evaluate(*route.policy, identity, facts);
  const bool sign_in_required = decision.needsSignIn() && !who.signed_in;
  const bool allowed = !sign_in_required && decision.allowed();
  const policy::ReasonSet reasons = sign_in_required
                                        ? policy::ReasonSet(policy::Reason::UserUnauthenticated)
                                        : decision.reasons();
  doc["decision"] = allowed ? "allow" : "deny";
  doc["reasons"] = reasonsJson(reasons);
  if (sign_in_required) {
    doc["sign_in_required"] = true;
  }
  std::string summary = allowed ? "allow" : "deny";
  summary += sign_in_required ? ": sign-in required" : "";
  if (!reasons.empty()) {
    summary += " (" + reasons.toString(", ") + ")";
  }
  doc["summary"] = summary;

  json trace = json::array();
  for (const policy::TraceLine& line : policy::trace(*route.policy, identity, facts)) {
    trace.push_back({{"kind", kindName(line.kind)},
                     {"depth", line.depth},
                     {"label", line.label},
                     {"key", line.key},
                     {"line", line.pos.line > 0 ? json(line.pos.line) : json(nullptr)},
                     {"result", line.result},
                     {"reasons", reasonsJson(line.reasons)}});
  }
  doc["policy"] = {{"trace", std::move(trace)}};

  const IdentityRuntime* id = snapshot.identity.get();
  if (route.pass_identity_headers && id != nullptr) {
    identity::Session session;
    if (who.signed_in) {
      session = explainSession(snapshot, who.user, now);
    }
    nlohmann::json claims = identity::assertionClaims(who.signed_in ? &session : nullptr, ctx.host,
                                                      route.jwt_issuer_uri, now, "<jti>",
                                                      route.jwt_groups_filter, id->claim_names);
    json headers = {{"X-Pomerium-Jwt-Assertion", json(claims)}};
    for (const config::ClaimHeader& h : id->claim_headers) {
      headers[h.header] = identity::claimHeaderValue(claims, h.claim);
    }
    doc["identity_headers"] = std::move(headers);
  } else {
    doc["identity_headers"] = nullptr;
  }

  if (who.signed_in && (id == nullptr || !id->sign_in)) {
    const policy::Decision anonymous = policy::evaluate(*route.policy, policy::Identity{}, facts);
    if (anonymous.needsSignIn()) {
      doc["note"] =
          "sign-in is not configured (authenticate_service_url): the server never sees a "
          "signed-in user and answers 401 where this policy needs one";
    }
  }
}

void hideSignedAssertion(StreamContext& ctx,
                         std::vector<std::pair<std::string, std::string>>& headers) {
  if (ctx.sign_in == nullptr || ctx.sign_in->jwt.empty()) {
    return;
  }
  const std::string& jwt = ctx.sign_in->jwt;
  for (auto& [name, value] : headers) {
    for (size_t at = value.find(jwt); at != std::string::npos; at = value.find(jwt, at)) {
      value.replace(at, jwt.size(), kHiddenAssertion);
      at += kHiddenAssertion.size();
    }
  }
}

}  // namespace vallum::proxy
