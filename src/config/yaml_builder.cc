#include "config/yaml_builder.h"

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace vallum::config::yaml {

namespace {

// Maps with more entries than this get a hash index for the duplicate-key check; smaller ones
// (nearly all of a config) are scanned.
constexpr size_t kIndexThreshold = 16;
// How often (in events) the cancel flag is polled.
constexpr unsigned kCancelPollEvents = 256;

Mark markOf(const EventMark& m) { return Mark{int(m.line) + 1, int(m.column) + 1}; }

/// No anchor on a node.
constexpr size_t kNoAnchor = static_cast<size_t>(-1);

/// What the value after a map key becomes.
enum class Slot { Entry, Merge, Drop };

/// A sequence or map under construction.
struct Frame {
  Node node;
  size_t anchor = kNoAnchor;
  size_t nodes_at_start = 0;  ///< node count before this node: its size is the difference
  int height = 0;             ///< of the tallest finished child (a scalar child counts 1)
  /// This node's place in its parent, for YAML paths in diagnostics.
  enum class Part { Root, Key, Index, Same } part = Part::Root;
  std::string part_key;
  size_t part_index = 0;
  // Maps only.
  bool awaiting_value = false;
  std::string key;
  Mark key_mark;
  Slot slot = Slot::Entry;
  std::vector<Node> merges;  ///< values of `<<` keys, applied after the explicit keys
  std::unordered_map<std::string, size_t> index;  ///< key → entry, once the map is large
};

/// A finished anchored node, kept for the aliases that refer to it.
struct Anchored {
  Node node;
  size_t nodes = 1;
  int height = 0;
};

}  // namespace

struct TreeBuilder::State {
  State(const std::string& file_in, const std::string& root_path_in, Diagnostics& diags_in,
        const std::atomic<bool>* cancel_in)
      : file(file_in), root_path(root_path_in), diags(diags_in), cancel(cancel_in) {}

  const std::string& file;
  const std::string& root_path;
  Diagnostics& diags;
  const std::atomic<bool>* cancel;

  Node root;
  bool stopped = false;
  size_t documents = 0;
  bool extra_document_reported = false;
  size_t nodes = 0;
  unsigned events = 0;
  std::vector<Frame> stack;
  std::vector<std::optional<Anchored>> anchors;  ///< by anchor id (per document)
  std::vector<std::string> anchor_names;         ///< by anchor id, for messages
  /// Anchor name → id of its latest definition (a name may be defined again).
  std::unordered_map<std::string, size_t> anchor_ids;

  SourcePos pos(Mark m) const { return SourcePos{file, m.line, m.column}; }

  // The YAML path of the innermost open node (the parent of the node being reported), built
  // only when a problem is reported.
  std::string path() const {
    std::string out = root_path;
    for (const Frame& f : stack) {
      if (f.part == Frame::Part::Key) {
        out = childKey(out, f.part_key);
      } else if (f.part == Frame::Part::Index) {
        out = indexKey(out, f.part_index);
      }
    }
    return out;
  }

  void stop(Mark mark, std::string where, std::string message) {
    stopped = true;
    diags.error(pos(mark), where.empty() ? "yaml" : std::move(where), std::move(message));
    throw Stopped{};
  }

  void tick() {
    if (cancel != nullptr && ++events % kCancelPollEvents == 0 &&
        cancel->load(std::memory_order_relaxed)) {
      throw ParseCancelled{};
    }
  }

  // Documents after the first are parsed (for syntax errors) but not built.
  bool ignoring() const { return documents > 1; }

  void noteExtraDocument(const EventMark& mark, bool is_null) {
    if (!is_null && !extra_document_reported && stack.empty()) {
      extra_document_reported = true;
      diags.error(pos(markOf(mark)), "yaml",
                  "more than one YAML document; a config file holds exactly one");
    }
  }

  // The place of the node that starts now in its parent.
  void describeChild(Frame& child) const {
    if (stack.empty()) {
      return;
    }
    const Frame& parent = stack.back();
    if (parent.node.isSequence()) {
      child.part = Frame::Part::Index;
      child.part_index = parent.node.items.size();
    } else if (!parent.awaiting_value) {
      child.part = Frame::Part::Same;  // a key that is not a scalar: reported at the map's path
    } else if (parent.slot == Slot::Merge) {
      child.part = Frame::Part::Same;  // merge sources belong to the map they merge into
    } else {
      child.part = Frame::Part::Key;
      child.part_key = parent.key;
    }
  }

  void countNode(Mark mark, size_t count, int height) {
    if (static_cast<int>(stack.size()) + height > kMaxDepth) {
      stop(mark, path(), "nesting too deep (more than 256 levels)");
    }
    nodes += count;
    if (nodes > kMaxNodes) {
      stop(mark, path(), "document too large (more than 1000000 nodes after alias expansion)");
    }
  }

  void remember(size_t anchor, const Node& node, size_t count, int height) {
    if (anchor == kNoAnchor) {
      return;
    }
    anchors[anchor] = Anchored{node, count, height};
  }

  /// An id for a node's anchor (kNoAnchor for ""): a new one per definition.
  size_t defineAnchor(std::string_view name) {
    if (name.empty()) {
      return kNoAnchor;
    }
    const size_t id = anchors.size();
    anchors.emplace_back();
    anchor_names.emplace_back(name);
    anchor_ids[std::string(name)] = id;
    return id;
  }

  void openCollection(const EventMark& mark, std::string_view anchor_name, Kind kind) {
    tick();
    if (ignoring()) {
      noteExtraDocument(mark, false);
      stack.emplace_back();  // keeps Start/End balanced; nothing is attached
      return;
    }
    const size_t anchor = defineAnchor(anchor_name);
    Mark m = markOf(mark);
    countNode(m, 1, 0);
    Frame frame;
    describeChild(frame);
    frame.node.kind = kind;
    frame.node.mark = m;
    frame.anchor = anchor;
    frame.nodes_at_start = nodes - 1;
    stack.push_back(std::move(frame));
  }

  void closeCollection() {
    tick();
    Frame frame = std::move(stack.back());
    stack.pop_back();
    if (ignoring()) {
      return;
    }
    if (frame.node.isMap()) {
      applyMerges(frame);
    }
    const size_t count = nodes - frame.nodes_at_start;
    const int height = frame.height + 1;
    remember(frame.anchor, frame.node, count, height);
    finish(std::move(frame.node), height);
  }

  void leaf(const EventMark& mark, std::string_view anchor_name, Node node) {
    tick();
    if (ignoring()) {
      noteExtraDocument(mark, node.isNull());
      return;
    }
    const size_t anchor = defineAnchor(anchor_name);
    countNode(node.mark, 1, 0);
    remember(anchor, node, 1, 1);
    finish(std::move(node), 1);
  }

  void alias(const EventMark& mark, std::string_view name) {
    tick();
    if (ignoring()) {
      noteExtraDocument(mark, false);
      return;
    }
    Mark m = markOf(mark);
    const auto it = anchor_ids.find(std::string(name));
    if (it == anchor_ids.end()) {
      stop(m, path(), "alias *" + std::string(name) + " refers to an anchor not defined before it");
    }
    const size_t anchor = it->second;
    if (!anchors[anchor]) {
      stop(
          m, path(),
          "alias *" + std::string(name) + " refers to a node that contains it (a recursive alias)");
    }
    const Anchored& source = *anchors[anchor];
    countNode(m, source.nodes, source.height - 1);
    // The copy keeps the anchored node's positions.
    finish(Node(source.node), source.height);
  }

  // A finished node: the root, a sequence item, a map key or a map value.
  void finish(Node&& node, int height) {
    if (stack.empty()) {
      root = std::move(node);
      return;
    }
    Frame& parent = stack.back();
    parent.height = std::max(parent.height, height);
    if (parent.node.isSequence()) {
      parent.node.items.push_back(std::move(node));
    } else if (!parent.awaiting_value) {
      takeKey(parent, std::move(node));
    } else {
      takeValue(parent, std::move(node));
    }
  }

  void takeKey(Frame& map, Node&& key) {
    map.awaiting_value = true;
    map.key_mark = key.mark;
    map.slot = Slot::Entry;
    if (!key.isScalar() && !key.isNull()) {
      std::string where = path();
      diags.error(pos(key.mark), where.empty() ? "yaml" : where, "mapping keys must be strings");
      map.slot = Slot::Drop;
      map.key.clear();
      return;
    }
    map.key = key.isScalar() ? std::move(key.scalar) : std::string();
    if (map.key == "<<" && key.plain) {
      map.slot = Slot::Merge;
      return;
    }
    if (const Entry* first = findEntry(map, map.key)) {
      diags.error(
          pos(key.mark), childKey(path(), map.key),
          "duplicate key (first defined at line " + std::to_string(first->key_mark.line) + ")");
      map.slot = Slot::Drop;
    }
  }

  void takeValue(Frame& map, Node&& value) {
    map.awaiting_value = false;
    switch (map.slot) {
      case Slot::Entry:
        if (value.isNull()) {
          value.mark = map.key_mark;
        }
        addEntry(map, Entry{std::move(map.key), map.key_mark, std::move(value)});
        break;
      case Slot::Merge:
        value.mark = map.key_mark;
        map.merges.push_back(std::move(value));
        break;
      case Slot::Drop:
        break;
    }
  }

  static const Entry* findEntry(const Frame& map, const std::string& key) {
    if (map.node.entries.size() <= kIndexThreshold) {
      return map.node.find(key);
    }
    auto it = map.index.find(key);
    return it == map.index.end() ? nullptr : &map.node.entries[it->second];
  }

  static void addEntry(Frame& map, Entry&& entry) {
    std::vector<Entry>& entries = map.node.entries;
    entries.push_back(std::move(entry));
    if (entries.size() == kIndexThreshold + 1) {
      map.index.reserve(2 * entries.size());
      for (size_t i = 0; i < entries.size(); ++i) {
        map.index.emplace(entries[i].key, i);
      }
    } else if (entries.size() > kIndexThreshold + 1) {
      map.index.emplace(entries.back().key, entries.size() - 1);
    }
  }

  // YAML merge (as yaml.v3): keys already present (explicit, or from an earlier merge source)
  // win.
  void applyMerges(Frame& map) {
    for (Node& merge : map.merges) {
      if (merge.isMap()) {
        mergeInto(map, std::move(merge));
      } else if (merge.isSequence()) {
        for (Node& source : merge.items) {
          if (source.isMap()) {
            mergeInto(map, std::move(source));
          } else {
            diags.error(pos(source.mark), childKey(pathOf(map), "<<"),
                        "merge key needs a mapping or a list of mappings");
          }
        }
      } else if (!merge.isNull()) {
        diags.error(pos(merge.mark), childKey(pathOf(map), "<<"),
                    "merge key needs a mapping or a list of mappings");
      }
    }
    map.merges.clear();
  }

  void mergeInto(Frame& map, Node&& source) {
    for (Entry& entry : source.entries) {
      if (findEntry(map, entry.key) == nullptr) {
        addEntry(map, std::move(entry));
      }
    }
  }

  // The path of a frame that was just popped (its parent is the innermost open frame).
  std::string pathOf(const Frame& frame) const {
    std::string base = path();
    if (frame.part == Frame::Part::Key) {
      return childKey(base, frame.part_key);
    }
    if (frame.part == Frame::Part::Index) {
      return indexKey(base, frame.part_index);
    }
    return base;
  }
};

TreeBuilder::TreeBuilder(const std::string& file, const std::string& root_path, Diagnostics& diags,
                         const std::atomic<bool>* cancel)
    : state_(std::make_unique<State>(file, root_path, diags, cancel)) {}

TreeBuilder::~TreeBuilder() = default;

Node& TreeBuilder::root() { return state_->root; }

bool TreeBuilder::stopped() const { return state_->stopped; }

void TreeBuilder::documentStart(const EventMark& /*mark*/) {
  State& s = *state_;
  ++s.documents;
  s.anchors.clear();
  s.anchor_names.clear();
  s.anchor_ids.clear();
}

void TreeBuilder::scalar(const EventMark& mark, std::string_view anchor, std::string_view value,
                         bool plain, bool null_tag) {
  Node node;
  node.mark = markOf(mark);
  // YAML 1.2 core schema nulls (as yaml.v3 reads them); any other plain or quoted text is a
  // scalar, typed later by the option that reads it.
  const bool null_text =
      value.empty() || value == "~" || value == "null" || value == "Null" || value == "NULL";
  if (!null_tag && !(plain && null_text)) {
    node.kind = Kind::Scalar;
    node.scalar.assign(value);
    node.plain = plain;
  }
  state_->leaf(mark, anchor, std::move(node));
}

void TreeBuilder::alias(const EventMark& mark, std::string_view anchor) {
  state_->alias(mark, anchor);
}

void TreeBuilder::sequenceStart(const EventMark& mark, std::string_view anchor) {
  state_->openCollection(mark, anchor, Kind::Sequence);
}

void TreeBuilder::mapStart(const EventMark& mark, std::string_view anchor) {
  state_->openCollection(mark, anchor, Kind::Map);
}

void TreeBuilder::collectionEnd() { state_->closeCollection(); }

}  // namespace vallum::config::yaml
