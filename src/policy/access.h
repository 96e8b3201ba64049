#pragma once

#include <string>

#include "policy/ast.h"
#include "policy/evaluator.h"

/// The access matrix (`vallum route --as`, console): what a policy decides for one identity
/// whatever the request. Pure function; any thread; allocates only for `depends_on`.
namespace vallum::policy {

enum class Outcome { Allow, Deny, Depends };

/// Evaluates `policy` for `who` with every request-dependent criterion (`http_method`,
/// `http_path`, `source_ip`, `cors_preflight`, `client_certificate`,
/// `invalid_client_certificate`) treated as unknown, in three-valued (Kleene) logic through the
/// same operators as evaluate(): Allow when every request is allowed, Deny when every request is
/// denied (this includes "needs sign-in" for an anonymous identity), Depends otherwise.
///
/// Sound but not complete: Allow/Deny are only returned when they hold for every combination of
/// the unknown criteria, treated as independent, so a policy whose request criteria cancel out
/// (`or: [http_method: GET, http_method: {not: GET}]`) is reported as Depends.
///
/// `depends_on` (may be null) receives, for Depends, the distinct names of the unknown criteria
/// met while evaluating, in policy order, joined with ", " ("http_method, source_ip"); it is
/// cleared otherwise.
Outcome decideForUser(const Policy& policy, const Identity& who, std::string* depends_on);

}  // namespace vallum::policy
