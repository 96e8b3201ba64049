#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/diagnostics.h"
#include "config/duration.h"
#include "config/options.h"
#include "config/yaml_tree.h"

/// Internal to the config component: typed reads of YAML nodes with Pomerium's decoding rules
/// (mapstructure's weak typing: any scalar is a string, a string where a list is expected is
/// split on commas) and a diagnostic at the node's position for every mismatch.
namespace vallum::config {

/// The declared type of an option, as far as `vallum check` verifies it.
enum class ValueType {
  Bool,
  String,
  Int,
  Float,
  GoDuration,       ///< Go duration string ("30s"); named so to not shadow config::Duration
  StringList,       ///< list of scalars, or one comma-separated string
  StringMap,        ///< mapping of scalars
  Map,              ///< any mapping (nested objects are checked by the feature that uses them)
  List,             ///< any list
  Url,              ///< absolute URL with scheme and host; "" means unset
  UrlList,          ///< StringList whose elements are Urls
  Address,          ///< host:port
  MapListOrString,  ///< jwt_claims_headers, route `policy` (PPL), `to`
  Any,
};

/// "a boolean", "a duration", ... (for "expected X" messages).
const char* valueTypeName(ValueType type);

/// A string value with where it came from.
struct LocatedString {
  std::string value;
  SourcePos pos;
  std::string key;
};

/// Reads values from the nodes of one YAML text (`file` names it in positions). Every read that
/// fails adds an error and returns nullopt/false; callers keep going so all problems surface.
/// Null nodes must be filtered out by the caller (null means "not set").
class ValueReader {
 public:
  ValueReader(Diagnostics& diags, const std::string& file) : diags_(diags), file_(file) {}

  SourcePos pos(yaml::Mark mark) const { return SourcePos{file_, mark.line, mark.column}; }
  const std::string& file() const { return file_; }
  Diagnostics& diagnostics() { return diags_; }

  void error(yaml::Mark mark, std::string key, std::string message);
  void warning(yaml::Mark mark, std::string key, std::string message);

  std::optional<bool> readBool(const yaml::Node& node, const std::string& key);
  std::optional<std::string> readString(const yaml::Node& node, const std::string& key);
  std::optional<int64_t> readInt(const yaml::Node& node, const std::string& key);
  std::optional<double> readFloat(const yaml::Node& node, const std::string& key);
  std::optional<Duration> readDuration(const yaml::Node& node, const std::string& key);
  /// A list of scalars, or a scalar split on commas (each piece trimmed, empty pieces dropped).
  std::optional<std::vector<LocatedString>> readStringList(const yaml::Node& node,
                                                           const std::string& key);

  /// A mapping of scalars (header name → value), in document order.
  std::optional<std::vector<HeaderSetting>> readStringMap(const yaml::Node& node,
                                                         const std::string& key);

  /// Type-checks `node` against `type` (and `allowed`, case-insensitively, when not empty).
  bool check(ValueType type, const yaml::Node& node, const std::string& key,
             const std::vector<std::string_view>& allowed = {});

 private:
  void typeError(const yaml::Node& node, const std::string& key, ValueType type);

  Diagnostics& diags_;
  const std::string& file_;
};

/// True when a (type-checked, non-null) value asks for nothing: false, "", an empty list or an
/// empty mapping. Numbers and durations never count as empty (0 is a real setting).
bool isEmptyValue(ValueType type, const yaml::Node& node);

/// Parses a YAML/Go boolean: true/True/TRUE/false/False/FALSE, and Go's strconv.ParseBool
/// forms 1/0/t/f/T/F (mapstructure's weak decoding of quoted values).
std::optional<bool> parseBool(std::string_view text);

}  // namespace vallum::config
