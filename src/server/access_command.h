#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/access_users.h"
#include "proxy/explain_identity.h"

/// `vallum access` and the `--as` side of `vallum route`: who can reach what
/// (proxy/access_matrix.h, proxy/explain_identity.h). Called from main() only.
namespace vallum::server {

/// Reads a users file (proxy::parseAccessUsers: a JSON array of {email, user, groups, claims}).
/// On failure writes "vallum COMMAND: users file FILE: problem" to `err` and returns nullopt
/// (an unreadable file, a file over 16 MiB, invalid JSON, a malformed entry).
std::optional<std::vector<proxy::AccessUser>> readUsersFile(const std::string& path,
                                                            std::string_view command,
                                                            std::ostream& err);

/// The visitor of `vallum route --as EMAIL [--users FILE]` / `--anonymous`: the user named by
/// `email` in the users file, or, without one, proxy::defaultAccessUser(email). nullopt after
/// writing the problem to `err` (a usage error: no such user in the file, --users without
/// --as, --as with --anonymous, an email that is empty or not UTF-8).
std::optional<proxy::ExplainIdentity> routeIdentity(const std::string& email,
                                                    const std::string& users_path, bool anonymous,
                                                    std::ostream& err);

/// `vallum access --config FILE --users FILE [--format table|json|csv]`: builds the snapshot
/// as `vallum check` does (no DNS lookups) and prints proxy::buildAccessMatrix() for the users
/// in `format` on `out`. Returns 0; 1 when the config has errors (every diagnostic printed on
/// `err` as `vallum check` prints them); 2 on a usage error (unknown format, unusable users
/// file; the message on `err` names the file).
int access(const std::string& config_path, const std::string& users_path, const std::string& format,
           std::ostream& out, std::ostream& err);

}  // namespace vallum::server
