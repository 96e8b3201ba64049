// Session criteria (Pomerium `authenticated_user.go`, `user.go`, `email.go`, `domain.go`,
// `groups.go`, `claim.go`): no session → false with user-unauthenticated (Pomerium
// NewCriterionSessionRule).

#include <string>

#include "policy/criteria/criteria.h"

namespace vallum::policy::criteria {
namespace {

using nlohmann::json;

Result pass(bool ok, Reason ok_reason, Reason fail_reason) {
  return Result{ok, ok ? ok_reason : fail_reason};
}

// Pomerium `split(email, "@")[1]`: the text between the first and the second '@'; no '@' →
// undefined, so the criterion fails.
bool emailDomain(std::string_view email, std::string_view& domain) {
  const size_t at = email.find('@');
  if (at == std::string_view::npos) {
    return false;
  }
  domain = email.substr(at + 1);
  domain = domain.substr(0, domain.find('@'));
  return true;
}

// Applies a string-list matcher (has / is / exclude, Pomerium Policy Language docs) to `count` values visited by
// `forEach(fn)`, where fn(value) returns true to stop; `equals(value, condition_value)`.
template <class ForEach, class Equals>
bool listMatches(const ListMatcher& matcher, size_t count, ForEach&& forEach, Equals&& equals) {
  for (const ListCondition& cond : matcher.conditions) {
    bool found = false;
    forEach([&](const auto& value) {
      found = equals(value, cond.value);
      return found;
    });
    switch (cond.op) {
      case ListOp::Has:
        if (!found) {
          return false;
        }
        break;
      case ListOp::Is:
        if (count != 1 || !found) {
          return false;
        }
        break;
      case ListOp::Exclude:
        if (found) {
          return false;
        }
        break;
    }
  }
  return true;
}

bool groupsMatch(const ListMatcher& matcher, std::span<const std::string> groups) {
  return listMatches(
      matcher, groups.size(),
      [&](auto&& fn) {
        for (const std::string& g : groups) {
          if (fn(g)) {
            return;
          }
        }
      },
      [](const std::string& group, const json& value) {
        const std::string* text = value.get_ptr<const std::string*>();
        return text != nullptr && *text == group;
      });
}

// Pomerium object_get: the whole path as one key first, then (2..5 segments) a nested walk.
const json* findClaim(const Criterion& c, const json* claims) {
  if (claims == nullptr || !claims->is_object()) {
    return nullptr;
  }
  if (auto it = claims->find(c.claim_path); it != claims->end()) {
    return &*it;
  }
  const json* node = claims;
  for (const std::string& segment : c.claim_segments) {
    if (!node->is_object()) {
      return nullptr;
    }
    auto it = node->find(segment);
    if (it == node->end()) {
      return nullptr;
    }
    node = &*it;
  }
  return c.claim_segments.empty() ? nullptr : node;
}

// Claims are lists of JSON values in Pomerium: an array claim is its elements, any other value
// a one-element list. Compared type-sensitively (json ==: 1234 ≠ "1234", 1 == 1.0).
bool claimMatches(const Criterion& c, const json* claims) {
  const json* value = findClaim(c, claims);
  const size_t count = value == nullptr ? 0 : value->is_array() ? value->size() : 1;
  return listMatches(
      c.list_matcher, count,
      [&](auto&& fn) {
        if (value == nullptr) {
          return;
        }
        if (!value->is_array()) {
          fn(*value);
          return;
        }
        for (const json& element : *value) {
          if (fn(element)) {
            return;
          }
        }
      },
      [](const json& element, const json& expected) { return element == expected; });
}

}  // namespace

Result evaluateSession(const Criterion& c, const Identity& who) {
  if (!who.signed_in) {
    return Result{false, Reason::UserUnauthenticated};
  }
  switch (c.kind) {
    case CriterionKind::AuthenticatedUser:
      return pass(!who.user.empty(), Reason::UserOk, Reason::UserUnauthorized);
    case CriterionKind::User:
      return pass(c.string_matcher.matches(who.user), Reason::UserOk, Reason::UserUnauthorized);
    case CriterionKind::Email:
      return pass(c.string_matcher.matches(who.email), Reason::EmailOk, Reason::EmailUnauthorized);
    case CriterionKind::Domain: {
      std::string_view domain;
      const bool ok = emailDomain(who.email, domain) && c.string_matcher.matches(domain);
      return pass(ok, Reason::DomainOk, Reason::DomainUnauthorized);
    }
    case CriterionKind::Groups:
      return pass(groupsMatch(c.list_matcher, who.groups), Reason::GroupsOk,
                  Reason::GroupsUnauthorized);
    case CriterionKind::Claim:
      return pass(claimMatches(c, who.claims), Reason::ClaimOk, Reason::ClaimUnauthorized);
    default:
      return Result{false, Reason::Reject};
  }
}

}  // namespace vallum::policy::criteria
