// Legacy route keys folded into PPL rules (Pomerium `config/policy_ppl.go` ToPPL; Pomerium Policy Language docs).

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "policy/compile_context.h"

namespace vallum::policy::detail {
namespace {

namespace yaml = config::yaml;

Criterion legacyCriterion(CriterionKind kind, std::string key) {
  Criterion c;
  c.kind = kind;
  c.name = criterionName(kind);
  c.key = std::move(key);
  return c;
}

Criterion legacyStringIs(CriterionKind kind, const std::string& value, std::string key) {
  Criterion c = legacyCriterion(kind, std::move(key));
  StringCondition cond;
  cond.op = StringOp::Is;
  cond.value = value;
  c.string_matcher.conditions.push_back(std::move(cond));
  return c;
}

// Pomerium ToPPL: keys sorted, one `claim/<key>: <value>` per value.
void addLegacyClaims(CompileContext& ctx, const yaml::Node& claims, const std::string& key,
                     OperatorBlock& block) {
  if (!claims.isMap()) {
    ctx.error(claims.mark, key, "expected a mapping of claim names to values");
    return;
  }
  std::vector<const yaml::Entry*> entries;
  for (const yaml::Entry& entry : claims.entries) {
    entries.push_back(&entry);
  }
  std::sort(entries.begin(), entries.end(),
            [](const yaml::Entry* a, const yaml::Entry* b) { return a->key < b->key; });
  for (const yaml::Entry* entry : entries) {
    const std::string claim_key = yaml::childKey(key, entry->key);
    std::vector<std::pair<const yaml::Node*, std::string>> values;
    if (entry->value.isSequence()) {
      for (size_t i = 0; i < entry->value.items.size(); ++i) {
        values.emplace_back(&entry->value.items[i], yaml::indexKey(claim_key, i));
      }
    } else if (!entry->value.isNull()) {
      values.emplace_back(&entry->value, claim_key);
    }
    for (const auto& [value, value_key] : values) {
      Criterion c = legacyCriterion(CriterionKind::Claim, value_key);
      c.name = "claim/" + entry->key;
      c.claim_path = entry->key;
      c.claim_segments = detail::claimSegments(entry->key);
      c.pos = ctx.pos(value->mark);
      ListCondition cond;
      cond.op = ListOp::Has;
      cond.value = detail::toJson(*value);
      c.list_matcher.conditions.push_back(std::move(cond));
      block.criteria.push_back(std::move(c));
    }
  }
}

}  // namespace

void foldLegacyRules(const RouteRules& in, CompileContext& ctx, Policy& out) {
  OperatorBlock block;
  block.op = Operator::Or;
  block.key = in.key;
  if (in.allow_public_unauthenticated_access) {
    block.criteria.push_back(legacyCriterion(
        CriterionKind::Accept, yaml::childKey(in.key, "allow_public_unauthenticated_access")));
  }
  if (in.cors_allow_preflight) {
    block.criteria.push_back(legacyCriterion(CriterionKind::CorsPreflight,
                                             yaml::childKey(in.key, "cors_allow_preflight")));
  }
  if (in.allow_any_authenticated_user) {
    block.criteria.push_back(legacyCriterion(
        CriterionKind::AuthenticatedUser, yaml::childKey(in.key, "allow_any_authenticated_user")));
  }
  const std::string domains_key = yaml::childKey(in.key, "allowed_domains");
  for (size_t i = 0; i < in.allowed_domains.size(); ++i) {
    block.criteria.push_back(legacyStringIs(CriterionKind::Domain, in.allowed_domains[i],
                                            yaml::indexKey(domains_key, i)));
  }
  if (in.allowed_idp_claims != nullptr && !in.allowed_idp_claims->isNull()) {
    addLegacyClaims(ctx, *in.allowed_idp_claims, yaml::childKey(in.key, "allowed_idp_claims"),
                    block);
  }
  const std::string users_key = yaml::childKey(in.key, "allowed_users");
  for (size_t i = 0; i < in.allowed_users.size(); ++i) {
    const std::string key = yaml::indexKey(users_key, i);
    block.criteria.push_back(legacyStringIs(CriterionKind::User, in.allowed_users[i], key));
    block.criteria.push_back(legacyStringIs(CriterionKind::Email, in.allowed_users[i], key));
  }
  if (block.criteria.empty()) {
    return;
  }
  Rule rule;
  rule.action = Action::Allow;
  rule.key = in.key;
  rule.legacy = true;
  rule.blocks.push_back(std::move(block));
  out.rules.push_back(std::move(rule));
}

void addClientCertificateRule(const RouteRules& in, Policy& out) {
  OperatorBlock block;
  block.op = Operator::Or;
  block.key = in.key;
  block.criteria.push_back(legacyCriterion(CriterionKind::InvalidClientCertificate, in.key));
  Rule rule;
  rule.action = Action::Deny;
  rule.key = in.key;
  rule.legacy = true;
  rule.blocks.push_back(std::move(block));
  out.rules.push_back(std::move(rule));
}

}  // namespace vallum::policy::detail
