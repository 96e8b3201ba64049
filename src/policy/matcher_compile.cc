// Compiles criterion data (Pomerium `pkg/policy/criteria/matchers.go`, `source_ip.go`,
// `client_certificate.go`) into the matcher structs of policy/ast.h.

#include <string>

#include "common/strings.h"
#include "policy/compile_context.h"

namespace vallum::policy::detail {
namespace {

namespace yaml = config::yaml;

std::string describeJson(const nlohmann::json& value) {
  if (value.is_null()) {
    return "null";
  }
  if (value.is_boolean()) {
    return "the boolean " + value.dump();
  }
  if (value.is_number()) {
    return "the number " + value.dump();
  }
  return value.dump();
}

bool requireData(CompileContext& ctx, const yaml::Node& data, const std::string& key,
                 std::string_view criterion) {
  if (data.isNull()) {
    ctx.error(data.mark, key,
              "criterion " + std::string(criterion) + " requires data (see the PPL reference)");
    return false;
  }
  return true;
}

// A scalar compared as text by a string matcher operator.
bool compileStringValue(CompileContext& ctx, const yaml::Node& node, const std::string& key,
                        std::string_view criterion, StringCondition& cond, std::string_view op) {
  if (!node.isScalar()) {
    ctx.error(node.mark, key,
              std::string(op) + " matcher requires a string, got " + yaml::describe(node));
    return false;
  }
  const nlohmann::json value = toJson(node);
  cond.value = node.scalar;
  cond.is_string = value.is_string();
  if (cond.is_string) {
    return true;
  }
  if (cond.op != StringOp::Is && cond.op != StringOp::Not) {
    ctx.error(node.mark, key,
              std::string(op) + " matcher requires a string, got " + describeJson(value));
    return false;
  }
  ctx.warning(node.mark, key,
              describeJson(value) + " is not a string, so it never equals the " +
                  std::string(criterion) + " (quote it to compare text)");
  return true;
}

bool compileStringIn(CompileContext& ctx, const yaml::Node& node, const std::string& key,
                     std::string_view criterion, StringCondition& cond, std::string_view op) {
  const std::string message = std::string(op) + " matcher requires an array of strings";
  if (!node.isSequence()) {
    ctx.error(node.mark, key, message);
    return false;
  }
  bool ok = true;
  for (size_t i = 0; i < node.items.size(); ++i) {
    const yaml::Node& item = node.items[i];
    const std::string item_key = yaml::indexKey(key, i);
    if (!item.isScalar()) {
      ctx.error(item.mark, item_key, message);
      ok = false;
      continue;
    }
    const nlohmann::json value = toJson(item);
    if (!value.is_string()) {
      ctx.warning(item.mark, item_key,
                  describeJson(value) + " is not a string, so it never equals the " +
                      std::string(criterion) + " (quote it to compare text)");
      continue;
    }
    cond.values.push_back(item.scalar);
  }
  return ok;
}

bool parseStringOp(std::string_view name, StringOp& op) {
  static constexpr std::pair<std::string_view, StringOp> kOps[] = {
      {"is", StringOp::Is},
      {"not", StringOp::Not},
      {"starts_with", StringOp::StartsWith},
      {"ends_with", StringOp::EndsWith},
      {"contains", StringOp::Contains},
      {"in", StringOp::In},
      {"not_in", StringOp::NotIn},
  };
  for (const auto& [text, value] : kOps) {
    if (text == name) {
      op = value;
      return true;
    }
  }
  return false;
}

bool parseListOp(std::string_view name, ListOp& op) {
  if (name == "has") {
    op = ListOp::Has;
  } else if (name == "is") {
    op = ListOp::Is;
  } else if (name == "exclude") {
    op = ListOp::Exclude;
  } else {
    return false;
  }
  return true;
}

bool compileListValue(CompileContext& ctx, const yaml::Node& node, const std::string& key,
                      std::string_view criterion, bool strings_only, ListCondition& cond) {
  if (node.isNull()) {
    ctx.error(node.mark, key, "string list matcher requires a value");
    return false;
  }
  cond.value = toJson(node);
  if (node.isSequence()) {
    ctx.warning(node.mark, key,
                "a list is compared as a whole value (it does not mean any of); use one " +
                    std::string(criterion) + " criterion per value under `or`");
  } else if (strings_only && !cond.value.is_string()) {
    ctx.warning(node.mark, key,
                describeJson(cond.value) + " is not a string, so it never equals a group id " +
                    "(quote it to compare text)");
  }
  return true;
}

bool parseFingerprint(std::string_view text, std::string& out) {
  if (text.size() == 64) {
    for (char c : text) {
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
        return false;
      }
    }
    out = text;
    return true;
  }
  if (text.size() != 95) {
    return false;
  }
  out.clear();
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i % 3 == 2) {
      if (c != ':') {
        return false;
      }
      continue;
    }
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
    out.push_back(strings::toLowerAscii(c));
  }
  return true;
}

// fingerprint / spki_hash: a string or a list of strings.
bool compileCertList(CompileContext& ctx, const yaml::Node& node, const std::string& key,
                     bool fingerprint, std::vector<std::string>& out) {
  const std::string what = fingerprint ? "fingerprint" : "SPKI hash";
  std::vector<std::pair<const yaml::Node*, std::string>> items;
  if (node.isScalar()) {
    items.emplace_back(&node, key);
  } else if (node.isSequence()) {
    for (size_t i = 0; i < node.items.size(); ++i) {
      items.emplace_back(&node.items[i], yaml::indexKey(key, i));
    }
  } else {
    ctx.error(node.mark, key,
              "certificate " + what + " condition expects a string or array of strings");
    return false;
  }
  bool ok = true;
  for (const auto& [item, item_key] : items) {
    if (!item->isScalar() || !toJson(*item).is_string()) {
      ctx.error(item->mark, item_key,
                "certificate " + what + " must be a string (was " + yaml::describe(*item) + ")");
      ok = false;
      continue;
    }
    const std::string& text = item->scalar;
    if (text.empty()) {
      ctx.error(item->mark, item_key, "certificate " + what + " must not be empty");
      ok = false;
      continue;
    }
    if (fingerprint) {
      std::string canonical;
      if (!parseFingerprint(text, canonical)) {
        ctx.error(item->mark, item_key,
                  "unsupported certificate fingerprint format (" + text + ")");
        ok = false;
        continue;
      }
      out.push_back(std::move(canonical));
    } else {
      const auto decoded = strings::base64Decode(text);
      if (!decoded || decoded->size() != 32) {
        ctx.error(item->mark, item_key,
                  "certificate SPKI hash must be a base64-encoded SHA-256 hash (was " + text + ")");
        ok = false;
        continue;
      }
      out.push_back(text);
    }
  }
  return ok;
}

}  // namespace

bool compileStringMatcher(CompileContext& ctx, const yaml::Node& data, const std::string& key,
                          std::string_view criterion, StringMatcher& out) {
  if (!requireData(ctx, data, key, criterion)) {
    return false;
  }
  if (!data.isMap()) {
    StringCondition cond;
    cond.op = StringOp::Is;
    if (!compileStringValue(ctx, data, key, criterion, cond, "is")) {
      return false;
    }
    out.conditions.push_back(std::move(cond));
    return true;
  }
  if (data.entries.empty()) {
    ctx.warning(data.mark, key, "an empty string matcher matches every " + std::string(criterion));
  }
  bool ok = true;
  for (const yaml::Entry& entry : data.entries) {
    const std::string op_key = yaml::childKey(key, entry.key);
    StringCondition cond;
    if (!parseStringOp(entry.key, cond.op)) {
      ctx.error(entry.key_mark, op_key, "unknown string matcher operator: " + entry.key);
      ok = false;
      continue;
    }
    const bool list = cond.op == StringOp::In || cond.op == StringOp::NotIn;
    const bool compiled =
        list ? compileStringIn(ctx, entry.value, op_key, criterion, cond, entry.key)
             : compileStringValue(ctx, entry.value, op_key, criterion, cond, entry.key);
    if (!compiled) {
      ok = false;
      continue;
    }
    out.conditions.push_back(std::move(cond));
  }
  return ok;
}

bool compileListMatcher(CompileContext& ctx, const yaml::Node& data, const std::string& key,
                        std::string_view criterion, bool strings_only, ListMatcher& out) {
  if (!requireData(ctx, data, key, criterion)) {
    return false;
  }
  if (!data.isMap()) {
    ListCondition cond;
    cond.op = ListOp::Has;
    if (!compileListValue(ctx, data, key, criterion, strings_only, cond)) {
      return false;
    }
    out.conditions.push_back(std::move(cond));
    return true;
  }
  if (data.entries.empty()) {
    ctx.warning(data.mark, key,
                "an empty string list matcher matches every " + std::string(criterion));
  }
  bool ok = true;
  for (const yaml::Entry& entry : data.entries) {
    const std::string op_key = yaml::childKey(key, entry.key);
    ListCondition cond;
    if (!parseListOp(entry.key, cond.op)) {
      ctx.error(entry.key_mark, op_key, "unknown string list matcher operator: " + entry.key);
      ok = false;
      continue;
    }
    if (!compileListValue(ctx, entry.value, op_key, criterion, strings_only, cond)) {
      ok = false;
      continue;
    }
    out.conditions.push_back(std::move(cond));
  }
  return ok;
}

bool compileIpRanges(CompileContext& ctx, const yaml::Node& data, const std::string& key,
                     std::vector<IpRange>& out) {
  if (!requireData(ctx, data, key, "source_ip")) {
    return false;
  }
  std::vector<std::pair<const yaml::Node*, std::string>> items;
  if (data.isScalar()) {
    items.emplace_back(&data, key);
  } else if (data.isSequence()) {
    for (size_t i = 0; i < data.items.size(); ++i) {
      items.emplace_back(&data.items[i], yaml::indexKey(key, i));
    }
  } else {
    ctx.error(data.mark, key, "expected string or array of strings, got: " + yaml::describe(data));
    return false;
  }
  bool ok = true;
  for (const auto& [item, item_key] : items) {
    if (!item->isScalar() || !toJson(*item).is_string()) {
      ctx.error(item->mark, item_key, "expected string value, got: " + yaml::describe(*item));
      ok = false;
      continue;
    }
    IpRange range;
    if (!IpRange::parse(item->scalar, range)) {
      ctx.error(item->mark, item_key,
                "expected IP or CIDR range, got: " + config::quoted(item->scalar));
      ok = false;
      continue;
    }
    out.push_back(range);
  }
  return ok;
}

bool compileCertificateMatcher(CompileContext& ctx, const yaml::Node& data, const std::string& key,
                               CertificateMatcher& out) {
  if (!requireData(ctx, data, key, "client_certificate")) {
    return false;
  }
  if (!data.isMap()) {
    ctx.error(data.mark, key,
              "expected object for certificate matcher, got: " + yaml::describe(data));
    return false;
  }
  bool ok = true;
  for (const yaml::Entry& entry : data.entries) {
    const std::string sub_key = yaml::childKey(key, entry.key);
    bool compiled = true;
    if (entry.key == "fingerprint") {
      compiled = compileCertList(ctx, entry.value, sub_key, true, out.fingerprints);
    } else if (entry.key == "spki_hash") {
      compiled = compileCertList(ctx, entry.value, sub_key, false, out.spki_hashes);
    } else if (entry.key == "san_email") {
      out.has_san_email = true;
      compiled = compileStringMatcher(ctx, entry.value, sub_key, "SAN email", out.san_email);
    } else if (entry.key == "san_dns") {
      out.has_san_dns = true;
      compiled = compileStringMatcher(ctx, entry.value, sub_key, "SAN DNS name", out.san_dns);
    } else if (entry.key == "san_uri") {
      out.has_san_uri = true;
      compiled = compileStringMatcher(ctx, entry.value, sub_key, "SAN URI", out.san_uri);
    } else {
      ctx.error(entry.key_mark, sub_key, "unsupported certificate matcher condition: " + entry.key);
      compiled = false;
    }
    ok = ok && compiled;
  }
  return ok;
}

std::vector<std::string> claimSegments(std::string_view path) {
  std::vector<std::string> segments;
  size_t start = 0;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '.' || path[i] == '/') {
      segments.emplace_back(path.substr(start, i - start));
      start = i + 1;
    }
  }
  if (segments.size() < 2 || segments.size() > 5) {
    segments.clear();
  }
  return segments;
}

}  // namespace vallum::policy::detail
