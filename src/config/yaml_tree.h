#pragma once

#include <atomic>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostics.h"

/// Internal to the config component: YAML text → a plain tree with 1-based positions.
///
/// The YAML library (libyaml's event parser) stays behind this boundary; the decoders above only
/// see `yaml::Node`s — aliases expanded, duplicate keys reported — which cannot throw and carry
/// the marks every diagnostic needs.
namespace vallum::config::yaml {

/// 1-based line and column inside one YAML text (the main file or one environment variable).
struct Mark {
  int line = 0;
  int column = 0;
};

enum class Kind { Null, Scalar, Sequence, Map };

struct Entry;

struct Node {
  Kind kind = Kind::Null;
  /// Where the node starts. For a null map value (`key:` with nothing after it) this is the
  /// key's mark, since the parser would otherwise point at whatever follows.
  Mark mark;
  /// Scalar text, as YAML resolved it (quotes and escapes removed).
  std::string scalar;
  /// True for a plain (unquoted, untagged) scalar: `30` rather than `"30"`.
  bool plain = false;
  std::vector<Node> items;     ///< Kind::Sequence
  std::vector<Entry> entries;  ///< Kind::Map, document order; duplicates dropped, `<<` merged

  bool isNull() const { return kind == Kind::Null; }
  bool isScalar() const { return kind == Kind::Scalar; }
  bool isSequence() const { return kind == Kind::Sequence; }
  bool isMap() const { return kind == Kind::Map; }
  /// The entry for `key` in a map, or nullptr.
  const Entry* find(std::string_view key) const;
};

struct Entry {
  std::string key;
  Mark key_mark;
  Node value;
};

/// Parses one YAML document (JSON is YAML too) into `root`.
///
/// Problems are added to `diags` with positions in `file` and keys under `root_path` (the YAML
/// path of the document root: "" for the config file, "$POLICY" for an environment variable):
/// syntax errors (key "yaml"; `root` is left Null and false is returned), duplicate mapping keys
/// ("duplicate key"), non-scalar keys, a second non-empty document, nesting deeper than 256 or
/// more than a million nodes after alias expansion (alias bombs), an alias inside the node it
/// refers to. Limits stop the parse where they are reached (`root` is left Null; true is
/// returned). YAML merge keys (`<<: *anchor`) are resolved as yaml.v3 does (explicit keys win).
/// An empty document gives a Null root. Time and memory are linear in the size of the text
/// (plus alias copies).
///
/// `cancel`, when not null, may be set by another thread: parsing then stops within a few
/// hundred YAML events, reports "loading was cancelled" and returns false.
bool parse(std::string_view text, const std::string& file, const std::string& root_path,
           Diagnostics& diags, Node& root, const std::atomic<bool>* cancel = nullptr);

/// A plain scalar node (environment values that are taken as text).
Node makeScalar(std::string text, Mark mark);

/// YAML path helpers: childKey("routes[0]", "to") == "routes[0].to", childKey("", "address")
/// == "address", indexKey("routes", 3) == "routes[3]".
std::string childKey(std::string_view parent, std::string_view name);
std::string indexKey(std::string_view parent, size_t index);

/// Short description of a node for messages: "\"abc\"", "a list", "a mapping", "null".
std::string describe(const Node& node);

}  // namespace vallum::config::yaml
