#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/diagnostics.h"
#include "policy/ip_range.h"

/// The compiled form of one route's policy (Pomerium Policy Language, docs/decisions.md
/// "Identity and sign-in"): rules → actions → operator blocks → criteria with their matcher data.
///
/// Built once per config snapshot by compilePolicy() (policy/parser.h) on the main thread, then
/// immutable: any number of workers evaluate it concurrently (policy/evaluator.h) without
/// locks and without allocating.
namespace vallum::policy {

/// A rule's action (Pomerium PPL `allow` / `deny`).
enum class Action : uint8_t { Allow, Deny };

/// A rule's logical operator (Pomerium PPL). Beware the names: `not` is true when *no*
/// criterion is true (NOR) and `nor` when *at least one* is false (NAND), Pomerium Policy Language
/// docs
enum class Operator : uint8_t { And, Or, Not, Nor };

/// The criteria Vallum implements (Pomerium PPL, `pkg/policy/criteria/`).
enum class CriterionKind : uint8_t {
  Accept,                    ///< `accept`: always true
  Reject,                    ///< `reject`: always false
  AuthenticatedUser,         ///< `authenticated_user`: signed in with a non-empty user id
  User,                      ///< `user`: string matcher on the IdP subject
  Email,                     ///< `email`: string matcher on the email
  Domain,                    ///< `domain`: string matcher on the email's domain
  Groups,                    ///< `groups`: string-list matcher on the group ids
  Claim,                     ///< `claim/<path>`: string-list matcher on a claim's values
  HttpMethod,                ///< `http_method`: string matcher on the request method
  HttpPath,                  ///< `http_path`: string matcher on the request path
  SourceIp,                  ///< `source_ip`: client IP inside any listed range
  CorsPreflight,             ///< `cors_preflight`: request is a CORS preflight
  ClientCertificate,         ///< `client_certificate`: certificate matcher
  InvalidClientCertificate,  ///< `invalid_client_certificate`
};

std::string_view actionName(Action action);       ///< "allow", "deny"
std::string_view operatorName(Operator op);       ///< "and", "or", "not", "nor"
std::string_view criterionName(CriterionKind k);  ///< "email", "claim", ...

/// True for the criteria that read the session (they need a signed-in user).
bool isSessionCriterion(CriterionKind kind);

/// One condition of a string matcher (Pomerium PPL string matcher, Pomerium Policy Language docs).
enum class StringOp : uint8_t { Is, Not, StartsWith, EndsWith, Contains, In, NotIn };

struct StringCondition {
  StringOp op = StringOp::Is;
  /// False when the YAML value was not a string (a plain `123` or `true`): Pomerium compares
  /// JSON values, so such a value never equals the string input (`is` false, `not` true).
  bool is_string = true;
  std::string value;                ///< Is, Not, StartsWith, EndsWith, Contains
  std::vector<std::string> values;  ///< In, NotIn: the string members (others never match)
};

/// All conditions must hold (an empty matcher matches everything, as in Pomerium).
struct StringMatcher {
  std::vector<StringCondition> conditions;

  bool matches(std::string_view input) const;
};

/// One condition of a string-list matcher (Pomerium PPL, Pomerium Policy Language docs).
enum class ListOp : uint8_t { Has, Is, Exclude };

struct ListCondition {
  ListOp op = ListOp::Has;
  /// The JSON value the YAML node stands for: a plain `true` is a bool, `"true"` a string.
  nlohmann::json value;
};

struct ListMatcher {
  std::vector<ListCondition> conditions;
};

/// `client_certificate` data (Pomerium PPL certificate matcher). Parsed and validated now;
/// evaluated as "no certificate" until Vallum terminates client certificates.
struct CertificateMatcher {
  std::vector<std::string> fingerprints;  ///< canonical: 64 lowercase hex characters
  std::vector<std::string> spki_hashes;   ///< base64 of a SHA-256 digest, as written
  bool has_san_email = false, has_san_dns = false, has_san_uri = false;
  StringMatcher san_email, san_dns, san_uri;
};

struct Criterion {
  CriterionKind kind = CriterionKind::Accept;
  std::string name;  ///< as written: "email", "claim/groups"
  /// Claim: the path after `claim/` and, when it has 2..5 segments split at `.` or `/`, the
  /// segments for the nested lookup (Pomerium's object_get tries the whole path first).
  std::string claim_path;
  std::vector<std::string> claim_segments;
  StringMatcher string_matcher;    ///< User, Email, Domain, HttpMethod, HttpPath
  ListMatcher list_matcher;        ///< Groups, Claim
  std::vector<IpRange> ip_ranges;  ///< SourceIp
  CertificateMatcher certificate;  ///< ClientCertificate
  config::SourcePos pos;           ///< the criterion's key in the config
  std::string key;                 ///< its YAML path ("routes[0].policy.allow.or[1]")
};

struct OperatorBlock {
  Operator op = Operator::And;
  std::vector<Criterion> criteria;  ///< never empty (empty lists contribute nothing)
  config::SourcePos pos;
  std::string key;  ///< "routes[0].policy.allow.or"
};

struct Rule {
  Action action = Action::Allow;
  std::vector<OperatorBlock> blocks;
  config::SourcePos pos;
  std::string key;  ///< "routes[0].policy.allow", or the route key for the legacy rule
  bool legacy =
      false;  ///< folded from allowed_users, allowed_domains, ... (Pomerium Policy Language docs)
};

/// A route's whole policy. No rules = every request denied with no reasons (403).
struct Policy {
  std::vector<Rule> rules;
};

}  // namespace vallum::policy
