// The JSON value of a YAML node, as Pomerium sees PPL data (yaml.v3 decoding, then JSON).

#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "policy/compile_context.h"

namespace vallum::policy::detail {
namespace {

namespace yaml = config::yaml;

bool allDigits(std::string_view s, int base) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    int digit = -1;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    }
    if (digit < 0 || digit >= base) {
      return false;
    }
  }
  return true;
}

// Go's strconv.ParseInt(s, 0, 64) then ParseUint: a sign, then 0x/0o/0b or a leading 0
// (octal), else decimal.
std::optional<nlohmann::json> parseGoInt(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
    base = 8;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
    base = 2;
    s.remove_prefix(2);
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;
    s.remove_prefix(1);
  }
  if (!allDigits(s, base)) {
    return std::nullopt;
  }
  uint64_t magnitude = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), magnitude, base);
  if (ec != std::errc() || end != s.data() + s.size()) {
    return std::nullopt;
  }
  if (!negative) {
    if (magnitude <= static_cast<uint64_t>(INT64_MAX)) {
      return nlohmann::json(static_cast<int64_t>(magnitude));
    }
    return nlohmann::json(magnitude);
  }
  if (magnitude <= static_cast<uint64_t>(INT64_MAX) + 1) {
    return nlohmann::json(static_cast<int64_t>(0 - magnitude));
  }
  return std::nullopt;
}

// yaml.v3's float pattern: ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
bool isYamlFloat(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    ++i;
  }
  size_t int_digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    ++i;
    ++int_digits;
  }
  size_t frac_digits = 0;
  bool dot = false;
  if (i < s.size() && s[i] == '.') {
    dot = true;
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ++i;
      ++frac_digits;
    }
  }
  if (int_digits == 0 && (!dot || frac_digits == 0)) {
    return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      ++i;
    }
    size_t exp_digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ++i;
      ++exp_digits;
    }
    if (exp_digits == 0) {
      return false;
    }
  }
  return i == s.size();
}

nlohmann::json resolvePlain(const std::string& text) {
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return nullptr;
  }
  if (text == "true" || text == "True" || text == "TRUE") {
    return true;
  }
  if (text == "false" || text == "False" || text == "FALSE") {
    return false;
  }
  const char first = text[0];
  if ((first >= '0' && first <= '9') || first == '-' || first == '+' || first == '.') {
    std::string plain;
    for (char c : text) {
      if (c != '_') {
        plain.push_back(c);
      }
    }
    if (auto integer = parseGoInt(plain)) {
      return *integer;
    }
    if (isYamlFloat(plain)) {
      return std::strtod(plain.c_str(), nullptr);
    }
  }
  return text;
}

}  // namespace

nlohmann::json toJson(const yaml::Node& node) {
  switch (node.kind) {
    case yaml::Kind::Null:
      return nullptr;
    case yaml::Kind::Scalar:
      return node.plain ? resolvePlain(node.scalar) : nlohmann::json(node.scalar);
    case yaml::Kind::Sequence: {
      nlohmann::json array = nlohmann::json::array();
      for (const yaml::Node& item : node.items) {
        array.push_back(toJson(item));
      }
      return array;
    }
    case yaml::Kind::Map: {
      nlohmann::json object = nlohmann::json::object();
      for (const yaml::Entry& entry : node.entries) {
        object[entry.key] = toJson(entry.value);
      }
      return object;
    }
  }
  return nullptr;
}

}  // namespace vallum::policy::detail
