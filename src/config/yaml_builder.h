#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "config/diagnostics.h"
#include "config/yaml_tree.h"

/// Internal to yaml_tree.cc: builds a yaml::Node tree straight from the parser's events
/// (libyaml's, read one at a time).
///
/// A node graph built by a YAML library first costs allocations per node and must be complete
/// before any limit can be checked; building from events instead keeps the cost linear in the
/// input, checks the limits while parsing (a document over the node limit stops at the limit,
/// not after building the whole graph) and lets a load be cancelled between events.
namespace vallum::config::yaml {

/// Thrown out of the event calls when the load is cancelled.
struct ParseCancelled {};

/// Where an event starts, 0-based (libyaml's yaml_mark_t).
struct EventMark {
  size_t line = 0;
  size_t column = 0;
};

class TreeBuilder final {
 public:
  /// Limits of one document: a hostile or broken file must not exhaust the loading thread.
  /// Aliases are expanded into copies, so "a billion laughs" counts every copy.
  static constexpr int kMaxDepth = 256;
  static constexpr size_t kMaxNodes = 1000000;

  /// Problems go to `diags` with positions in `file` and keys under `root_path`. `cancel`, when
  /// not null, is polled every few hundred events; once it is true the next event throws
  /// ParseCancelled.
  TreeBuilder(const std::string& file, const std::string& root_path, Diagnostics& diags,
              const std::atomic<bool>* cancel);
  ~TreeBuilder();
  TreeBuilder(const TreeBuilder&) = delete;
  TreeBuilder& operator=(const TreeBuilder&) = delete;

  /// The first document's root (Null until one was seen). Valid after parsing finished without
  /// an exception and stopped() is false.
  Node& root();
  /// True when a limit stopped the build (reported); the tree is then incomplete.
  bool stopped() const;

  // The parser's events, in order. `anchor` is the node's anchor name ("" for none). A limit
  // reached inside one of these reports the problem and throws Stopped.
  void documentStart(const EventMark& mark);
  /// A scalar; `plain` when unquoted and untagged (a plain `~`, `null`, `Null`, `NULL` or
  /// nothing at all is null), `null_tag` when tagged `!!null`.
  void scalar(const EventMark& mark, std::string_view anchor, std::string_view value, bool plain,
              bool null_tag);
  void alias(const EventMark& mark, std::string_view anchor);
  void sequenceStart(const EventMark& mark, std::string_view anchor);
  void mapStart(const EventMark& mark, std::string_view anchor);
  /// The end of the innermost sequence or mapping.
  void collectionEnd();

  /// Thrown (after the problem was reported) when a limit stops the build.
  struct Stopped {};

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace vallum::config::yaml
