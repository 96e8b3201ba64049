#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>

#include <yaml-cpp/eventhandler.h>

#include "config/diagnostics.h"
#include "config/yaml_tree.h"

/// Internal to yaml_tree.cc: builds a yaml::Node tree straight from yaml-cpp's parser events.
///
/// yaml-cpp's own node graph (YAML::Load) costs several allocations and a shared_ptr per node and
/// must be complete before any limit can be checked; building from events instead keeps the cost
/// linear in the input, checks the limits while parsing (a document over the node limit stops at
/// the limit, not after building the whole graph) and lets a load be cancelled between events.
namespace vallum::config::yaml {

/// Thrown out of the event callbacks (and so out of YAML::Parser) when the load is cancelled.
struct ParseCancelled {};

class TreeBuilder final : public YAML::EventHandler {
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
  ~TreeBuilder() override;
  TreeBuilder(const TreeBuilder&) = delete;
  TreeBuilder& operator=(const TreeBuilder&) = delete;

  /// The first document's root (Null until one was seen). Valid after parsing finished without
  /// an exception and stopped() is false.
  Node& root();
  /// True when a limit stopped the build (reported); the tree is then incomplete.
  bool stopped() const;

  // YAML::EventHandler. A limit reached inside one of these reports the problem and throws a
  // private exception that parse() in yaml_tree.cc catches: there is no point in parsing on.
  void OnDocumentStart(const YAML::Mark& mark) override;
  void OnDocumentEnd() override;
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override;
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override;
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override;
  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value style) override;
  void OnSequenceEnd() override;
  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value style) override;
  void OnMapEnd() override;
  void OnAnchor(const YAML::Mark& mark, const std::string& anchor_name) override;

  /// Thrown (after the problem was reported) when a limit stops the build.
  struct Stopped {};

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace vallum::config::yaml
