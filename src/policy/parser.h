#pragma once

#include <string>
#include <vector>

#include "config/diagnostics.h"
#include "config/yaml_tree.h"
#include "policy/ast.h"

/// Compiles a route's policy: the PPL document under `policy:` plus the legacy allow keys
/// (Pomerium `pkg/policy/parser` + `config/policy_ppl.go` ToPPL; Pomerium Policy Language docs).
///
/// Runs on the main thread while a config snapshot is built; the result is immutable.
namespace vallum::policy {

/// What a route says about access, as config::Route carries it. Pointers are borrowed for the
/// duration of compilePolicy() only.
struct RouteRules {
  /// Route `policy:` as written: a rule map, a list of rule maps, or a string holding the
  /// YAML/JSON text of either. Null (or a Null node) = absent.
  const config::yaml::Node* ppl = nullptr;
  std::string file;  ///< config file name for diagnostics (SourcePos.file)
  std::string key;   ///< YAML path of the route ("routes[3]"); diagnostics use key + ".policy…"
  bool allow_public_unauthenticated_access = false;
  bool allow_any_authenticated_user = false;
  bool cors_allow_preflight = false;
  std::vector<std::string> allowed_users, allowed_domains;
  /// Map claim → list of values (or one value). Null = absent.
  const config::yaml::Node* allowed_idp_claims = nullptr;
  /// Spec §8.1: a downstream client CA is configured and enforcement is not `policy` → append
  /// `deny: {or: [invalid_client_certificate]}`. Vallum has no client certificates yet, so the
  /// caller leaves this false for now.
  bool deny_invalid_client_certificate = false;
};

/// Compiles `in` into `out` (replacing its contents).
///
/// Rule order: the legacy allow rule first (omitted when empty), then the optional client
/// certificate deny rule, then the PPL rules in document order — Pomerium's ToPPL order.
/// Legacy keys fold into one `allow` rule with `or` (Pomerium Policy Language docs): public → `accept`,
/// cors_allow_preflight → `cors_preflight`, any authenticated user → `authenticated_user`,
/// each domain → `domain: {is: d}`, each claim key (sorted) and each of its values →
/// `claim/<key>: <value>`, each user → `user: {is: u}` and `email: {is: u}`.
///
/// Errors (each at file:line:col of the offending node, key = route key + ".policy…"):
/// the messages of Pomerium's parser ("invalid action in rule: unsupported action: X",
/// "invalid value for action in rule, expected Object, got …", `unsupported conditional "X",
/// only and, or, not, nor and action are allowed`, "each criteria may only contain a single key
/// and value", "unknown policy criterion: X", "unknown string matcher operator: X", "in matcher
/// requires an array of strings", "unknown string list matcher operator: X", "expected IP or
/// CIDR range, got: \"X\"", …) plus Vallum's stricter checks: a criterion that needs data
/// without any, a list or map where a string is compared, `claim` without a path.
/// `device` is "not supported yet"; `mcp_*`, `ssh_*` and `pomerium_routes` are "not supported".
/// Warnings: a non-string value compared with a string (never equal), an empty matcher (matches
/// everything), a sub-path on a criterion that ignores it.
///
/// A string `policy:` is parsed as YAML (JSON is YAML); problems inside it are reported at the
/// string's position with " (policy text line L, column C)" appended to the message.
///
/// Returns false when any error was added (then `out` must not be used).
bool compilePolicy(const RouteRules& in, Policy& out, config::Diagnostics& diags);

}  // namespace vallum::policy
