#include "policy/parser.h"

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

#include "policy/compile_context.h"

namespace vallum::policy {
namespace {

namespace yaml = config::yaml;
using detail::CompileContext;

struct CriterionSpec {
  std::string_view name;
  CriterionKind kind;
};

constexpr std::array<CriterionSpec, 14> kCriteria = {{
    {"accept", CriterionKind::Accept},
    {"reject", CriterionKind::Reject},
    {"authenticated_user", CriterionKind::AuthenticatedUser},
    {"user", CriterionKind::User},
    {"email", CriterionKind::Email},
    {"domain", CriterionKind::Domain},
    {"groups", CriterionKind::Groups},
    {"claim", CriterionKind::Claim},
    {"http_method", CriterionKind::HttpMethod},
    {"http_path", CriterionKind::HttpPath},
    {"source_ip", CriterionKind::SourceIp},
    {"cors_preflight", CriterionKind::CorsPreflight},
    {"client_certificate", CriterionKind::ClientCertificate},
    {"invalid_client_certificate", CriterionKind::InvalidClientCertificate},
}};

constexpr std::array<std::pair<std::string_view, Operator>, 4> kOperators = {{
    {"and", Operator::And},
    {"or", Operator::Or},
    {"not", Operator::Not},
    {"nor", Operator::Nor},
}};

// Pomerium criteria Vallum knows but does not implement: an error, never a silently
// ignored (or always-false) criterion.
std::optional<std::string_view> unsupportedCriterion(std::string_view name) {
  if (name == "device") {
    return "not supported yet";
  }
  if (name == "pomerium_routes" || name.starts_with("mcp_") || name.starts_with("ssh_")) {
    return "not supported";
  }
  return std::nullopt;
}

class Compiler {
 public:
  Compiler(const RouteRules& in, Policy& out, CompileContext& ctx)
      : in_(in), out_(out), ctx_(ctx) {}

  void compilePpl(const yaml::Node& node, const std::string& key);

 private:
  void compileDocument(const yaml::Node& node, const std::string& key);
  void compileRuleObject(const yaml::Node& node, const std::string& key);
  std::optional<Rule> compileRuleBody(Action action, const yaml::Entry& entry,
                                      const std::string& key);
  void compileBlock(Operator op, const yaml::Entry& entry, const std::string& key, Rule& rule);
  bool compileCriterion(const yaml::Entry& entry, const std::string& key, Criterion& out);
  bool compileData(const yaml::Node& data, const std::string& key, Criterion& out);

  const RouteRules& in_;
  Policy& out_;
  CompileContext& ctx_;
};

void Compiler::compilePpl(const yaml::Node& node, const std::string& key) {
  if (!node.isScalar()) {
    compileDocument(node, key);
    return;
  }
  if (!detail::toJson(node).is_string()) {
    ctx_.error(node.mark, key, "unsupported type for rule: " + yaml::describe(node));
    return;
  }
  // A string holding the YAML or JSON text of the policy.
  config::Diagnostics inner;
  yaml::Node root;
  yaml::parse(node.scalar, in_.file, key, inner, root);
  ctx_.setEmbedded(&node);
  for (const config::Diagnostic& d : inner.items()) {
    const yaml::Mark mark{d.pos.line, d.pos.column};
    if (d.severity == config::Severity::Error) {
      ctx_.error(mark, d.key, d.message);
    } else {
      ctx_.warning(mark, d.key, d.message);
    }
  }
  if (inner.hasErrors() || root.isNull()) {
    ctx_.setEmbedded(nullptr);
    return;
  }
  if (root.isScalar()) {
    ctx_.error(root.mark, key, "unsupported type for rule: " + yaml::describe(root));
  } else {
    compileDocument(root, key);
  }
  ctx_.setEmbedded(nullptr);
}

void Compiler::compileDocument(const yaml::Node& node, const std::string& key) {
  if (node.isMap()) {
    compileRuleObject(node, key);
    return;
  }
  if (!node.isSequence()) {
    ctx_.error(node.mark, key, "unsupported type for rule: " + yaml::describe(node));
    return;
  }
  for (size_t i = 0; i < node.items.size(); ++i) {
    const yaml::Node& item = node.items[i];
    const std::string item_key = yaml::indexKey(key, i);
    if (!item.isMap()) {
      ctx_.error(item.mark, item_key, "unsupported type for rules array: " + yaml::describe(item));
      continue;
    }
    compileRuleObject(item, item_key);
  }
}

void Compiler::compileRuleObject(const yaml::Node& node, const std::string& key) {
  // Pomerium sorts the rules of one object by action (allow first); problems are reported in
  // document order.
  std::vector<Rule> deny_rules;
  for (const yaml::Entry& entry : node.entries) {
    const std::string entry_key = yaml::childKey(key, entry.key);
    if (entry.key != "allow" && entry.key != "deny") {
      ctx_.error(entry.key_mark, entry_key,
                 "invalid action in rule: unsupported action: " + entry.key);
      continue;
    }
    const Action action = entry.key == "allow" ? Action::Allow : Action::Deny;
    if (auto rule = compileRuleBody(action, entry, entry_key)) {
      if (action == Action::Allow) {
        out_.rules.push_back(std::move(*rule));
      } else {
        deny_rules.push_back(std::move(*rule));
      }
    }
  }
  for (Rule& rule : deny_rules) {
    out_.rules.push_back(std::move(rule));
  }
}

std::optional<Rule> Compiler::compileRuleBody(Action action, const yaml::Entry& entry,
                                              const std::string& key) {
  const yaml::Node& body = entry.value;
  if (!body.isMap()) {
    ctx_.error(body.mark, key,
               "invalid value for action in rule, expected Object, got " + yaml::describe(body));
    return std::nullopt;
  }
  Rule rule;
  rule.action = action;
  rule.pos = ctx_.pos(entry.key_mark);
  rule.key = key;
  for (const yaml::Entry& e : body.entries) {
    const bool known =
        e.key == "action" || std::any_of(kOperators.begin(), kOperators.end(),
                                         [&](const auto& op) { return op.first == e.key; });
    if (!known) {
      ctx_.error(e.key_mark, yaml::childKey(key, e.key),
                 "unsupported conditional \"" + e.key +
                     "\", only and, or, not, nor and action are allowed");
    }
  }
  // Pomerium reads the operators in this order, whatever the document order.
  for (const auto& [name, op] : kOperators) {
    if (const yaml::Entry* e = body.find(name)) {
      compileBlock(op, *e, yaml::childKey(key, name), rule);
    }
  }
  return rule;
}

void Compiler::compileBlock(Operator op, const yaml::Entry& entry, const std::string& key,
                            Rule& rule) {
  const yaml::Node& list = entry.value;
  if (!list.isSequence()) {
    ctx_.error(list.mark, key,
               "invalid criteria in \"" + std::string(operatorName(op)) +
                   "\": unsupported type for criteria, expected a list, got " +
                   yaml::describe(list));
    return;
  }
  OperatorBlock block;
  block.op = op;
  block.pos = ctx_.pos(entry.key_mark);
  block.key = key;
  for (size_t i = 0; i < list.items.size(); ++i) {
    const yaml::Node& item = list.items[i];
    const std::string item_key = yaml::indexKey(key, i);
    if (!item.isMap()) {
      ctx_.error(item.mark, item_key,
                 "unsupported type for criteria array: " + yaml::describe(item));
      continue;
    }
    if (item.entries.size() != 1) {
      ctx_.error(item.mark, item_key, "each criteria may only contain a single key and value");
      continue;
    }
    Criterion criterion;
    if (compileCriterion(item.entries.front(), item_key, criterion)) {
      block.criteria.push_back(std::move(criterion));
    }
  }
  // An empty list contributes nothing (Pomerium skips it).
  if (!block.criteria.empty()) {
    rule.blocks.push_back(std::move(block));
  }
}

bool Compiler::compileCriterion(const yaml::Entry& entry, const std::string& key, Criterion& out) {
  const size_t slash = entry.key.find('/');
  const std::string name = entry.key.substr(0, slash);
  const std::string sub_path = slash == std::string::npos ? "" : entry.key.substr(slash + 1);
  const auto spec = std::find_if(kCriteria.begin(), kCriteria.end(),
                                 [&](const CriterionSpec& s) { return s.name == name; });
  if (spec == kCriteria.end()) {
    if (const auto why = unsupportedCriterion(name)) {
      ctx_.error(entry.key_mark, key, "policy criterion \"" + name + "\" is " + std::string(*why));
    } else {
      ctx_.error(entry.key_mark, key, "unknown policy criterion: " + name);
    }
    return false;
  }
  out.kind = spec->kind;
  out.name = entry.key;
  out.pos = ctx_.pos(entry.key_mark);
  out.key = key;
  if (out.kind == CriterionKind::Claim) {
    if (sub_path.empty()) {
      ctx_.error(entry.key_mark, key,
                 "criterion claim requires a claim name: claim/<name> (e.g. claim/groups)");
      return false;
    }
    out.claim_path = sub_path;
    out.claim_segments = detail::claimSegments(sub_path);
  } else if (slash != std::string::npos) {
    ctx_.warning(entry.key_mark, key,
                 "sub-path \"" + sub_path + "\" is ignored by criterion " + name);
  }
  return compileData(entry.value, yaml::childKey(key, entry.key), out);
}

bool Compiler::compileData(const yaml::Node& data, const std::string& key, Criterion& out) {
  const std::string_view name = criterionName(out.kind);
  switch (out.kind) {
    case CriterionKind::Accept:
    case CriterionKind::Reject:
    case CriterionKind::AuthenticatedUser:
    case CriterionKind::CorsPreflight:
    case CriterionKind::InvalidClientCertificate:
      return true;  // data is ignored (Pomerium: CriterionDataTypeUnused)
    case CriterionKind::User:
    case CriterionKind::Email:
    case CriterionKind::Domain:
    case CriterionKind::HttpMethod:
    case CriterionKind::HttpPath:
      return detail::compileStringMatcher(ctx_, data, key, name, out.string_matcher);
    case CriterionKind::Groups:
      return detail::compileListMatcher(ctx_, data, key, name, true, out.list_matcher);
    case CriterionKind::Claim:
      return detail::compileListMatcher(ctx_, data, key, name, false, out.list_matcher);
    case CriterionKind::SourceIp:
      return detail::compileIpRanges(ctx_, data, key, out.ip_ranges);
    case CriterionKind::ClientCertificate:
      return detail::compileCertificateMatcher(ctx_, data, key, out.certificate);
  }
  return false;
}

}  // namespace

bool compilePolicy(const RouteRules& in, Policy& out, config::Diagnostics& diags) {
  out.rules.clear();
  CompileContext ctx(diags, in.file);
  Compiler compiler(in, out, ctx);
  detail::foldLegacyRules(in, ctx, out);
  if (in.deny_invalid_client_certificate) {
    detail::addClientCertificateRule(in, out);
  }
  if (in.ppl != nullptr && !in.ppl->isNull()) {
    compiler.compilePpl(*in.ppl, yaml::childKey(in.key, "policy"));
  }
  return ctx.errors() == 0;
}

}  // namespace vallum::policy
