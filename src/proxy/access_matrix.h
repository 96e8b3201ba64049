#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policy/access.h"
#include "proxy/access_users.h"
#include "proxy/snapshot.h"

/// `vallum access`: who can reach what. For every route of a compiled snapshot and every user,
/// what the route's policy (the same compiled policy the server evaluates, PPL plus the legacy
/// allow lists) decides whatever the request: policy::decideForUser(). Pure functions of their
/// arguments; any thread.
namespace vallum::proxy {

struct AccessCell {
  policy::Outcome outcome = policy::Outcome::Deny;
  /// For Depends: the request properties the decision turns on ("http_method, source_ip").
  std::string depends_on;
};

struct AccessRow {
  std::string name;               ///< the route's metrics name (RouteRuntime::log_name)
  std::string from;               ///< `from` as written
  std::string path;               ///< `regex`, else `path`, else `prefix` as written; "" for none
  std::vector<AccessCell> cells;  ///< one per user, in the users' order
};

struct AccessMatrix {
  std::vector<std::string> users;  ///< the users' emails (column keys), in file order
  std::vector<AccessRow> routes;   ///< in config order (the routes' match order)
};

/// Evaluates every route of `snapshot` for every user (signed in, with the user's subject,
/// groups and claims). A route without any policy denies everyone, as the server does.
AccessMatrix buildAccessMatrix(const Snapshot& snapshot, std::span<const AccessUser> users);

/// "allow", "deny" or "depends".
std::string_view outcomeName(policy::Outcome outcome);

/// "allow", "deny", or "depends (http_method)".
std::string cellText(const AccessCell& cell);

/// `--format json`, pretty-printed:
/// `{"users": [emails], "routes": [{"name", "from", "path", "decisions": {email: "allow" |
/// "deny" | "depends"}}]}`; a route with a Depends cell also has `"depends_on": {email:
/// "http_method"}` for those users.
std::string accessMatrixJson(const AccessMatrix& matrix);

/// `--format table`: a header line (name, from, path, then each email) and one line per route,
/// columns padded to their widest cell (counted in code points) and two spaces apart, trailing
/// blanks trimmed; a route without a path specifier shows "-". Text from the config and the
/// users file is made printable (common/printable.h).
std::string accessMatrixTable(const AccessMatrix& matrix);

/// `--format csv` (RFC 4180): header `name,from,path,<emails...>`, one record per route, CRLF
/// line ends; a field with a comma, a quote, CR or LF is quoted (quotes doubled). A field a
/// spreadsheet would run as a formula (first character `=`, `+`, `-`, `@`, tab or CR; OWASP
/// "CSV injection") gets a leading `'`.
std::string accessMatrixCsv(const AccessMatrix& matrix);

}  // namespace vallum::proxy
