#include "config/proto_object.h"

#include <string>
#include <utility>
#include <vector>

#include "common/strings.h"
#include "config/diagnostics.h"
#include "config/unknown_key.h"

namespace vallum::config {

std::string protoJsonName(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  bool upper_next = false;
  for (char c : field) {
    if (c == '_') {
      upper_next = true;
      continue;
    }
    out += upper_next ? strings::toUpperAscii(c) : c;
    upper_next = false;
  }
  return out;
}

namespace {

/// Unknown fields are errors like unknown route keys; the suggestion considers both spellings.
void reportUnknownField(ValueReader& r, const yaml::Entry& e, const std::string& key,
                        std::string_view what, std::span<const ProtoFieldSpec> fields) {
  std::vector<std::string> names;
  for (const ProtoFieldSpec& f : fields) {
    names.emplace_back(f.name);
    names.push_back(protoJsonName(f.name));
  }
  std::vector<std::string_view> views(names.begin(), names.end());
  reportUnknownKey(r, e, key, std::string(what) + " field", views);
}

}  // namespace

std::vector<ProtoField> resolveProtoFields(const yaml::Node& node, const std::string& key,
                                           std::span<const ProtoFieldSpec> fields,
                                           std::string_view what, ValueReader& r) {
  std::vector<ProtoField> out;
  // Which spelling each field was first seen under (index into `fields`).
  std::vector<const yaml::Entry*> seen(fields.size(), nullptr);
  for (const yaml::Entry& e : node.entries) {
    std::string entry_key = yaml::childKey(key, e.key);
    size_t found = fields.size();
    for (size_t i = 0; i < fields.size() && found == fields.size(); ++i) {
      if (e.key == fields[i].name || e.key == protoJsonName(fields[i].name)) {
        found = i;
      }
    }
    if (found == fields.size()) {
      reportUnknownField(r, e, entry_key, what, fields);
      continue;
    }
    if (seen[found] != nullptr) {
      r.error(e.key_mark, entry_key,
              "set twice (as " + quoted(seen[found]->key) + " and " + quoted(e.key) + ")");
      continue;
    }
    seen[found] = &e;
    if (e.value.isNull()) {
      continue;
    }
    if (!fields[found].ignored.empty()) {
      r.warning(e.key_mark, entry_key, "ignored (" + std::string(fields[found].ignored) + ")");
      continue;
    }
    out.push_back(ProtoField{fields[found].name, &e, std::move(entry_key)});
  }
  return out;
}

std::optional<uint32_t> readUint32(ValueReader& r, const yaml::Node& node, const std::string& key) {
  auto v = r.readInt(node, key);
  if (!v) {
    return std::nullopt;
  }
  if (*v < 0 || *v > int64_t(UINT32_MAX)) {
    r.error(node.mark, key, "must be between 0 and 4294967295, got " + std::to_string(*v));
    return std::nullopt;
  }
  return uint32_t(*v);
}

std::optional<uint32_t> readPercent(ValueReader& r, const yaml::Node& node,
                                    const std::string& key) {
  auto v = r.readInt(node, key);
  if (!v) {
    return std::nullopt;
  }
  if (*v < 0 || *v > 100) {
    r.error(node.mark, key, "must be a percentage between 0 and 100, got " + std::to_string(*v));
    return std::nullopt;
  }
  return uint32_t(*v);
}

std::optional<Duration> readPositiveDuration(ValueReader& r, const yaml::Node& node,
                                             const std::string& key) {
  auto d = r.readDuration(node, key);
  if (d && *d <= Duration::zero()) {
    r.error(node.mark, key, "must be greater than 0");
    return std::nullopt;
  }
  return d;
}

bool expectMap(ValueReader& r, const yaml::Node& node, const std::string& key) {
  return r.check(ValueType::Map, node, key);
}

bool notSupportedYetUnlessEmpty(ValueReader& r, const ProtoField& field) {
  if (isEmptyValue(ValueType::Any, field.value())) {
    return true;
  }
  r.error(field.keyMark(), field.key, "not supported yet");
  return false;
}

}  // namespace vallum::config
