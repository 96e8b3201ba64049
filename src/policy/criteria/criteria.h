#pragma once

#include "policy/ast.h"
#include "policy/evaluator.h"
#include "policy/ip_range.h"
#include "policy/reasons.h"

/// Internal to the policy component: one criterion's result (Pomerium `pkg/policy/criteria/`,
/// one file per family). Never allocates; any thread.
namespace vallum::policy::criteria {

struct Result {
  bool value = false;
  Reason reason = Reason::Reject;
};

/// The request as the criteria see it: the facts plus the client IP parsed once per request.
struct RequestView {
  const RequestFacts& facts;
  bool ip_valid = false;
  IpAddress ip;
};

/// `authenticated_user`, `user`, `email`, `domain`, `groups`, `claim/…` (criteria/session.cc).
Result evaluateSession(const Criterion& c, const Identity& who);

/// `accept`, `reject`, `http_method`, `http_path`, `source_ip`, `cors_preflight`,
/// `client_certificate`, `invalid_client_certificate` (criteria/request.cc).
Result evaluateRequest(const Criterion& c, const RequestView& request);

/// Dispatches on isSessionCriterion(c.kind).
inline Result evaluateCriterion(const Criterion& c, const Identity& who,
                                const RequestView& request) {
  return isSessionCriterion(c.kind) ? evaluateSession(c, who) : evaluateRequest(c, request);
}

/// True for criteria whose result depends on the request rather than the user
/// (access matrix, policy/access.h).
bool isRequestDependent(CriterionKind kind);

}  // namespace vallum::policy::criteria
