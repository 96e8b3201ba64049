#include "proxy/access_users.h"

namespace vallum::proxy {

namespace {

using json = nlohmann::json;

std::string at(size_t index, std::string_view key = {}) {
  std::string out = "users[" + std::to_string(index) + "]";
  if (!key.empty()) {
    out += '.';
    out += key;
  }
  return out;
}

/// Reads one element into `user`; returns the error, or "" when it is well-formed.
std::string readUser(const json& item, size_t index, AccessUser& user) {
  if (!item.is_object()) {
    return at(index) + ": expected an object with \"email\"";
  }
  for (const auto& [key, value] : item.items()) {
    if (key != "email" && key != "user" && key != "groups" && key != "claims") {
      return at(index) + ": unknown key \"" + key + "\" (expected email, user, groups, claims)";
    }
  }
  auto email = item.find("email");
  if (email == item.end() || !email->is_string() || email->get_ref<const std::string&>().empty()) {
    return at(index, "email") + ": expected a non-empty string";
  }
  user.email = email->get<std::string>();
  user.user = user.email;
  if (auto it = item.find("user"); it != item.end()) {
    if (!it->is_string()) {
      return at(index, "user") + ": expected a string";
    }
    user.user = it->get<std::string>();
  }
  if (auto it = item.find("groups"); it != item.end()) {
    if (!it->is_array()) {
      return at(index, "groups") + ": expected an array of strings";
    }
    for (size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_string()) {
        return at(index, "groups[" + std::to_string(i) + "]") + ": expected a string";
      }
      user.groups.push_back((*it)[i].get<std::string>());
    }
  }
  if (auto it = item.find("claims"); it != item.end()) {
    if (!it->is_object()) {
      return at(index, "claims") + ": expected an object";
    }
    user.claims = *it;
  }
  if (!user.claims.contains("email")) {
    user.claims["email"] = user.email;
  }
  return {};
}

}  // namespace

AccessUser defaultAccessUser(std::string_view email) {
  AccessUser user;
  user.email = std::string(email);
  user.user = user.email;
  user.claims["email"] = user.email;
  return user;
}

AccessUsersResult parseAccessUsers(std::string_view text) {
  AccessUsersResult result;
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    // e.what() names the line and column of the syntax error.
    result.error = std::string("invalid JSON: ") + e.what();
    return result;
  }
  if (!doc.is_array()) {
    result.error = "expected a JSON array of users ([{\"email\": ..., \"groups\": [...]}, ...])";
    return result;
  }
  for (size_t i = 0; i < doc.size(); ++i) {
    AccessUser user;
    std::string error = readUser(doc[i], i, user);
    if (error.empty() && findAccessUser(result.users, user.email) != nullptr) {
      error = at(i, "email") + ": \"" + user.email + "\" is listed twice";
    }
    if (!error.empty()) {
      result.users.clear();
      result.error = std::move(error);
      return result;
    }
    result.users.push_back(std::move(user));
  }
  return result;
}

const AccessUser* findAccessUser(const std::vector<AccessUser>& users, std::string_view email) {
  for (const AccessUser& user : users) {
    if (user.email == email) {
      return &user;
    }
  }
  return nullptr;
}

policy::Identity policyIdentity(const AccessUser& user) {
  policy::Identity who;
  who.signed_in = true;
  who.user = user.user;
  who.email = user.email;
  who.groups = user.groups;
  who.claims = &user.claims;
  return who;
}

}  // namespace vallum::proxy
