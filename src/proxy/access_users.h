#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/evaluator.h"

/// The users of `vallum access` and `vallum route --as`: who to evaluate the route policies
/// for, as a signed-in session would carry them (identity::Session: IdP subject, email, groups,
/// claims). Pure functions; any thread.
namespace vallum::proxy {

struct AccessUser {
  std::string email;
  std::string user;                 ///< IdP subject (`user` criterion, JWT `sub`)
  std::vector<std::string> groups;  ///< group ids (`groups` criterion, JWT `groups`)
  nlohmann::json claims = nlohmann::json::object();  ///< always holds "email"
};

/// The user `vallum route --as EMAIL` means without a users file:
/// `{"email": X, "user": X, "groups": [], "claims": {"email": X}}`.
AccessUser defaultAccessUser(std::string_view email);

struct AccessUsersResult {
  std::vector<AccessUser> users;
  /// Why the text is not a users list ("users[1].groups[0]: expected a string"); empty = ok.
  std::string error;
};

/// Parses a users file: a JSON array of objects
/// `{"email": "...", "user": "...", "groups": ["..."], "claims": {...}}`.
/// `email` is required and non-empty, and unique in the list (it names the user's column);
/// `user` defaults to the email, `groups` to [], `claims` to {}; "email" is added to the claims
/// when they lack it. Any other key, a wrong type or a duplicate email is an error naming the
/// element (`users[2].groups: expected an array of strings`). Never throws.
AccessUsersResult parseAccessUsers(std::string_view text);

/// The user with exactly this email, or null.
const AccessUser* findAccessUser(const std::vector<AccessUser>& users, std::string_view email);

/// The signed-in policy identity of `user` (views into `user`, which must outlive it).
policy::Identity policyIdentity(const AccessUser& user);

}  // namespace vallum::proxy
