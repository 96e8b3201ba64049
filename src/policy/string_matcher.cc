#include "policy/ast.h"

namespace vallum::policy {
namespace {

bool member(const std::vector<std::string>& values, std::string_view input) {
  for (const std::string& value : values) {
    if (value == input) {
      return true;
    }
  }
  return false;
}

// Pomerium matchers.go: one Rego expression per operator; a non-string value never equals.
bool holds(const StringCondition& cond, std::string_view input) {
  switch (cond.op) {
    case StringOp::Is:
      return cond.is_string && input == cond.value;
    case StringOp::Not:
      return !cond.is_string || input != cond.value;
    case StringOp::StartsWith:
      return input.starts_with(cond.value);
    case StringOp::EndsWith:
      return input.ends_with(cond.value);
    case StringOp::Contains:
      return input.find(cond.value) != std::string_view::npos;
    case StringOp::In:
      return member(cond.values, input);
    case StringOp::NotIn:
      return !member(cond.values, input);
  }
  return false;
}

}  // namespace

bool StringMatcher::matches(std::string_view input) const {
  for (const StringCondition& cond : conditions) {
    if (!holds(cond, input)) {
      return false;
    }
  }
  return true;
}

}  // namespace vallum::policy
