#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/diagnostics.h"
#include "policy/ast.h"
#include "policy/reasons.h"

/// Evaluates a compiled policy for one request (the semantics of Pomerium's PPL generator:
/// and/or/not/nor, criteria, matchers). Pure functions of their arguments: any thread (workers
/// evaluate the shared, immutable Policy of their snapshot concurrently).
namespace vallum::policy {

/// The signed-in user. Views are borrowed for the duration of the call.
struct Identity {
  bool signed_in = false;  ///< false = anonymous: session criteria give user-unauthenticated
  std::string_view user;   ///< IdP subject (`user`, `authenticated_user`)
  std::string_view email;  ///< `email`, and `domain` (the text after the first '@')
  std::span<const std::string> groups;     ///< group ids (`groups`)
  const nlohmann::json* claims = nullptr;  ///< ID-token / userinfo claims object (`claim/…`)
};

/// Client-certificate facts for `invalid_client_certificate` (Pomerium authorize
/// isValidClientCertificate). Vallum does not request client certificates yet.
enum class ClientCertificateState : uint8_t {
  NotRequired,  ///< no client CA configured: counts as valid (Pomerium: "not required")
  Missing,      ///< a CA is configured and no certificate was presented
  Invalid,      ///< presented but did not verify
  Valid,        ///< presented and verified
};

/// What the policy may ask about the request. Views are borrowed for the call.
struct RequestFacts {
  std::string_view method;     ///< "GET" (compared case-sensitively)
  std::string_view path;       ///< normalized path, no query
  std::string_view client_ip;  ///< textual IPv4/IPv6 (no brackets, no port); unparsable → no match
  /// OPTIONS with Origin and Access-Control-Request-Method (the caller computes it).
  bool cors_preflight = false;
  ClientCertificateState client_certificate = ClientCertificateState::NotRequired;
};

/// The `allow` and `deny` action results with their reasons.
struct Decision {
  bool allow = false, deny = false;
  ReasonSet allow_reasons, deny_reasons;

  /// Deny wins; otherwise allowed when allow is true.
  bool allowed() const { return !deny && allow; }
  /// `user-unauthenticated` in the allow or deny reasons: the login flow comes first (§7).
  bool needsSignIn() const {
    return allow_reasons.has(Reason::UserUnauthenticated) ||
           deny_reasons.has(Reason::UserUnauthenticated);
  }
  /// The reasons to log/show: deny's when denied by deny, else allow's (§7).
  ReasonSet reasons() const { return deny ? deny_reasons : allow_reasons; }
};

/// Evaluates `policy`. Each action ORs all operator blocks of all its rules (no blocks → false,
/// no reasons); blocks combine criteria per §8.2 (`not` = NOR, `nor` = NAND). Session criteria
/// give false + user-unauthenticated when !who.signed_in. Never allocates.
Decision evaluate(const Policy& policy, const Identity& who, const RequestFacts& request);

/// One line of an evaluation trace (`vallum route --as`).
struct TraceLine {
  enum class Kind : uint8_t { Action, Block, Criterion, Decision };
  Kind kind = Kind::Criterion;
  int depth = 0;      ///< 0 action/decision, 1 operator block, 2 criterion
  std::string label;  ///< "allow", "or", "claim/groups", "decision"
  std::string key;    ///< YAML path of the rule element ("" for actions and the decision)
  config::SourcePos pos;
  bool result = false;  ///< for Decision: allowed()
  ReasonSet reasons;
};

/// The same evaluation as evaluate(), recording every action, block and criterion result in
/// evaluation order (each action's line precedes its blocks), then one Decision line.
/// Allocates; meant for tools and debugging, not the request path.
std::vector<TraceLine> trace(const Policy& policy, const Identity& who,
                             const RequestFacts& request);

/// trace() as indented text, one line per TraceLine:
/// "  or routes[0].policy.allow.or: false [email-unauthorized]".
std::string explain(const Policy& policy, const Identity& who, const RequestFacts& request);

}  // namespace vallum::policy
