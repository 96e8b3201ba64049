#include "config/value_reader.h"

#include <cerrno>
#include <cstdlib>
#include <utility>

#include "common/strings.h"
#include "config/url.h"

namespace vallum::config {

const char* valueTypeName(ValueType type) {
  switch (type) {
    case ValueType::Bool:
      return "a boolean (true or false)";
    case ValueType::String:
      return "a string";
    case ValueType::Int:
      return "an integer";
    case ValueType::Float:
      return "a number";
    case ValueType::GoDuration:
      return "a duration such as 30s";
    case ValueType::StringList:
      return "a list of strings";
    case ValueType::StringMap:
      return "a mapping of strings";
    case ValueType::Map:
      return "a mapping";
    case ValueType::List:
      return "a list";
    case ValueType::Url:
      return "a URL";
    case ValueType::UrlList:
      return "a list of URLs";
    case ValueType::Address:
      return "an address (host:port)";
    case ValueType::MapListOrString:
      return "a mapping, a list or a string";
    case ValueType::Any:
      return "a value";
  }
  return "a value";
}

std::optional<bool> parseBool(std::string_view text) {
  if (text == "true" || text == "True" || text == "TRUE" || text == "1" || text == "t" ||
      text == "T") {
    return true;
  }
  if (text == "false" || text == "False" || text == "FALSE" || text == "0" || text == "f" ||
      text == "F") {
    return false;
  }
  return std::nullopt;
}

void ValueReader::error(yaml::Mark mark, std::string key, std::string message) {
  diags_.error(pos(mark), std::move(key), std::move(message));
}

void ValueReader::warning(yaml::Mark mark, std::string key, std::string message) {
  diags_.warning(pos(mark), std::move(key), std::move(message));
}

void ValueReader::typeError(const yaml::Node& node, const std::string& key, ValueType type) {
  error(node.mark, key,
        std::string("expected ") + valueTypeName(type) + ", got " + yaml::describe(node));
}

std::optional<bool> ValueReader::readBool(const yaml::Node& node, const std::string& key) {
  if (node.isScalar()) {
    if (auto b = parseBool(node.scalar)) {
      return b;
    }
  }
  typeError(node, key, ValueType::Bool);
  return std::nullopt;
}

std::optional<std::string> ValueReader::readString(const yaml::Node& node, const std::string& key) {
  if (node.isScalar()) {
    return node.scalar;
  }
  typeError(node, key, ValueType::String);
  return std::nullopt;
}

std::optional<int64_t> ValueReader::readInt(const yaml::Node& node, const std::string& key) {
  if (node.isScalar() && !node.scalar.empty()) {
    std::string_view s = node.scalar;
    bool negative = false;
    if (s[0] == '-' || s[0] == '+') {
      negative = s[0] == '-';
      s.remove_prefix(1);
    }
    if (auto v = strings::parseDecimal(s)) {
      constexpr uint64_t kMax = uint64_t(INT64_MAX);
      if (*v <= kMax) {
        return negative ? -int64_t(*v) : int64_t(*v);
      }
      if (negative && *v == kMax + 1) {
        return INT64_MIN;
      }
    }
  }
  typeError(node, key, ValueType::Int);
  return std::nullopt;
}

std::optional<double> ValueReader::readFloat(const yaml::Node& node, const std::string& key) {
  if (node.isScalar() && !node.scalar.empty()) {
    const char* begin = node.scalar.c_str();
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(begin, &end);
    if (errno == 0 && end == begin + node.scalar.size()) {
      return v;
    }
  }
  typeError(node, key, ValueType::Float);
  return std::nullopt;
}

std::optional<Duration> ValueReader::readDuration(const yaml::Node& node, const std::string& key) {
  if (!node.isScalar()) {
    typeError(node, key, ValueType::GoDuration);
    return std::nullopt;
  }
  auto d = parseDuration(node.scalar);
  if (!d) {
    error(node.mark, key, d.error().detail());
    return std::nullopt;
  }
  return *d;
}

std::optional<std::vector<HeaderSetting>> ValueReader::readStringMap(const yaml::Node& node,
                                                                    const std::string& key) {
  if (!node.isMap()) {
    typeError(node, key, ValueType::StringMap);
    return std::nullopt;
  }
  std::vector<HeaderSetting> out;
  bool ok = true;
  for (const yaml::Entry& e : node.entries) {
    std::string entry_key = yaml::childKey(key, e.key);
    if (e.value.isNull()) {
      out.push_back(HeaderSetting{e.key, "", entry_key, pos(e.key_mark)});
      continue;
    }
    if (!e.value.isScalar()) {
      typeError(e.value, entry_key, ValueType::String);
      ok = false;
      continue;
    }
    out.push_back(HeaderSetting{e.key, e.value.scalar, std::move(entry_key), pos(e.key_mark)});
  }
  if (!ok) {
    return std::nullopt;
  }
  return out;
}

std::optional<std::vector<LocatedString>> ValueReader::readStringList(const yaml::Node& node,
                                                                      const std::string& key) {
  std::vector<LocatedString> out;
  if (node.isScalar()) {
    // Pomerium's decode hook: "a,b" where a list is expected (mostly from the environment).
    strings::forEachListElement(node.scalar, [&](std::string_view piece) {
      out.push_back(LocatedString{std::string(piece), pos(node.mark), key});
      return true;
    });
    return out;
  }
  if (!node.isSequence()) {
    typeError(node, key, ValueType::StringList);
    return std::nullopt;
  }
  bool ok = true;
  out.reserve(node.items.size());
  for (size_t i = 0; i < node.items.size(); ++i) {
    const yaml::Node& item = node.items[i];
    std::string item_key = yaml::indexKey(key, i);
    if (!item.isScalar()) {
      typeError(item, item_key, ValueType::String);
      ok = false;
      continue;
    }
    out.push_back(LocatedString{item.scalar, pos(item.mark), std::move(item_key)});
  }
  if (!ok) {
    return std::nullopt;
  }
  return out;
}

bool ValueReader::check(ValueType type, const yaml::Node& node, const std::string& key,
                        const std::vector<std::string_view>& allowed) {
  switch (type) {
    case ValueType::Bool:
      return readBool(node, key).has_value();
    case ValueType::Int:
      return readInt(node, key).has_value();
    case ValueType::Float:
      return readFloat(node, key).has_value();
    case ValueType::GoDuration:
      return readDuration(node, key).has_value();
    case ValueType::String: {
      auto s = readString(node, key);
      if (!s) {
        return false;
      }
      if (allowed.empty() || s->empty()) {
        return true;
      }
      for (std::string_view a : allowed) {
        if (strings::iequals(*s, a)) {
          return true;
        }
      }
      std::string message = "unknown value " + yaml::describe(node) + " (expected one of: ";
      for (size_t i = 0; i < allowed.size(); ++i) {
        message += i == 0 ? "" : ", ";
        message.append(allowed[i]);
      }
      message += ')';
      error(node.mark, key, std::move(message));
      return false;
    }
    case ValueType::StringList:
      return readStringList(node, key).has_value();
    case ValueType::UrlList: {
      auto list = readStringList(node, key);
      if (!list) {
        return false;
      }
      bool ok = true;
      for (const LocatedString& item : *list) {
        if (auto err = checkAbsoluteUrl(item.value); !err.empty()) {
          diags_.error(item.pos, item.key, std::move(err));
          ok = false;
        }
      }
      return ok;
    }
    case ValueType::StringMap: {
      if (!node.isMap()) {
        typeError(node, key, type);
        return false;
      }
      bool ok = true;
      for (const yaml::Entry& e : node.entries) {
        if (!e.value.isScalar() && !e.value.isNull()) {
          typeError(e.value, yaml::childKey(key, e.key), ValueType::String);
          ok = false;
        }
      }
      return ok;
    }
    case ValueType::Map:
      if (!node.isMap()) {
        typeError(node, key, type);
        return false;
      }
      return true;
    case ValueType::List:
      if (!node.isSequence()) {
        typeError(node, key, type);
        return false;
      }
      return true;
    case ValueType::Url: {
      auto s = readString(node, key);
      if (!s) {
        return false;
      }
      if (s->empty()) {
        return true;
      }
      if (auto err = checkAbsoluteUrl(*s); !err.empty()) {
        error(node.mark, key, std::move(err));
        return false;
      }
      return true;
    }
    case ValueType::Address: {
      auto s = readString(node, key);
      if (!s) {
        return false;
      }
      if (s->empty()) {
        return true;
      }
      auto addr = parseListenAddress(*s);
      if (!addr) {
        error(node.mark, key, addr.error().detail());
        return false;
      }
      return true;
    }
    case ValueType::MapListOrString:
    case ValueType::Any:
      return true;
  }
  return true;
}

bool isEmptyValue(ValueType type, const yaml::Node& node) {
  switch (node.kind) {
    case yaml::Kind::Null:
      return true;
    case yaml::Kind::Sequence:
      return node.items.empty();
    case yaml::Kind::Map:
      return node.entries.empty();
    case yaml::Kind::Scalar:
      break;
  }
  switch (type) {
    case ValueType::Bool:
      return parseBool(node.scalar) == false;
    case ValueType::Int:
    case ValueType::Float:
    case ValueType::GoDuration:
      return false;
    default:
      // Strings, and lists/maps given as a (comma-separated) string.
      return node.scalar.empty();
  }
}

}  // namespace vallum::config
