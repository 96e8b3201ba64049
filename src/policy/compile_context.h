#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "config/diagnostics.h"
#include "config/yaml_tree.h"
#include "policy/ast.h"
#include "policy/parser.h"

/// Internal to the policy component: the pieces compilePolicy() is built from. Main thread.
namespace vallum::policy::detail {

/// Where compile problems go. Positions are those of the YAML nodes, except inside a string
/// `policy:` (setEmbedded): there they point at the string and name the inner position.
class CompileContext {
 public:
  CompileContext(config::Diagnostics& diags, const std::string& file)
      : diags_(diags), file_(file) {}

  void error(config::yaml::Mark mark, const std::string& key, std::string message);
  void warning(config::yaml::Mark mark, const std::string& key, std::string message);
  config::SourcePos pos(config::yaml::Mark mark) const;

  /// From now on, report positions at `outer` (the string scalar holding the policy text).
  void setEmbedded(const config::yaml::Node* outer) { embedded_ = outer; }
  /// Number of errors added through this context.
  size_t errors() const { return errors_; }

 private:
  std::string locate(config::yaml::Mark mark, std::string message) const;

  config::Diagnostics& diags_;
  const std::string& file_;
  const config::yaml::Node* embedded_ = nullptr;
  size_t errors_ = 0;
};

/// The JSON value a YAML node stands for, with yaml.v3's resolution of plain scalars (Pomerium
/// decodes PPL with yaml.v3 then JSON): null/~/empty → null, true/false (3 spellings) → bool,
/// integers (decimal, 0x, 0o, 0b, leading-0 octal, `_` separators) and floats → number; anything
/// quoted → string. Timestamps and .inf/.nan stay strings.
nlohmann::json toJson(const config::yaml::Node& node);

/// Pomerium PPL string matcher (`user`, `email`, `domain`, `http_method`, `http_path`, SANs).
/// `criterion` names the criterion in messages. False when an error was reported.
bool compileStringMatcher(CompileContext& ctx, const config::yaml::Node& data,
                          const std::string& key, std::string_view criterion, StringMatcher& out);

/// Pomerium PPL string-list matcher (`groups`, `claim/…`). `strings_only`: the compared values
/// are strings (groups), so a non-string value gets a "never equal" warning.
bool compileListMatcher(CompileContext& ctx, const config::yaml::Node& data, const std::string& key,
                        std::string_view criterion, bool strings_only, ListMatcher& out);

/// Pomerium PPL `source_ip` data: a string or a list of strings, each an IP or a CIDR range.
bool compileIpRanges(CompileContext& ctx, const config::yaml::Node& data, const std::string& key,
                     std::vector<IpRange>& out);

/// Pomerium PPL `client_certificate` data (fingerprint, spki_hash, san_email/dns/uri).
bool compileCertificateMatcher(CompileContext& ctx, const config::yaml::Node& data,
                               const std::string& key, CertificateMatcher& out);

/// Appends the legacy allow rule (Pomerium Policy Language docs) built from `in`'s allow keys; nothing when they
/// are all empty. Problems in `allowed_idp_claims` go to `ctx`.
void foldLegacyRules(const RouteRules& in, CompileContext& ctx, Policy& out);

/// Appends `deny: {or: [invalid_client_certificate]}` (Pomerium Policy Language docs, client CA configured).
void addClientCertificateRule(const RouteRules& in, Policy& out);

/// Splits a claim path at `.` and `/` into 2..5 segments (Pomerium's object_get), or returns an
/// empty list when the path has one segment or more than five.
std::vector<std::string> claimSegments(std::string_view path);

}  // namespace vallum::policy::detail
