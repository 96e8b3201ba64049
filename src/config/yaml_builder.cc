#include "config/yaml_builder.h"

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include <yaml-cpp/mark.h>

namespace vallum::config::yaml {

namespace {

// Maps with more entries than this get a hash index for the duplicate-key check; smaller ones
// (nearly all of a config) are scanned.
constexpr size_t kIndexThreshold = 16;
// How often (in events) the cancel flag is polled.
constexpr unsigned kCancelPollEvents = 256;

Mark markOf(const YAML::Mark& m) {
  // yaml-cpp marks are 0-based; an unknown mark is -1.
  return Mark{m.line >= 0 ? m.line + 1 : 1, m.column >= 0 ? m.column + 1 : 1};
}

/// What the value after a map key becomes.
enum class Slot { Entry, Merge, Drop };

/// A sequence or map under construction.
struct Frame {
  Node node;
  YAML::anchor_t anchor = YAML::NullAnchor;
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
  int last_document_pos = -1;  ///< where the last document started (YAML::Mark::pos)
  bool extra_document_reported = false;
  size_t nodes = 0;
  unsigned events = 0;
  std::vector<Frame> stack;
  std::vector<std::optional<Anchored>> anchors;  ///< by anchor id (per document)
  std::vector<std::string> anchor_names;         ///< by anchor id, for messages
  std::string pending_anchor_name;

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

  void noteExtraDocument(const YAML::Mark& mark, bool is_null) {
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

  void remember(YAML::anchor_t anchor, const Node& node, size_t count, int height) {
    if (anchor == YAML::NullAnchor) {
      return;
    }
    if (anchors.size() <= anchor) {
      anchors.resize(anchor + 1);
    }
    anchors[anchor] = Anchored{node, count, height};
  }

  void nameAnchor(YAML::anchor_t anchor) {
    if (anchor == YAML::NullAnchor) {
      return;
    }
    if (anchor_names.size() <= anchor) {
      anchor_names.resize(anchor + 1);
    }
    anchor_names[anchor] = std::move(pending_anchor_name);
    pending_anchor_name.clear();
  }

  void openCollection(const YAML::Mark& mark, YAML::anchor_t anchor, Kind kind) {
    tick();
    if (ignoring()) {
      noteExtraDocument(mark, false);
      stack.emplace_back();  // keeps Start/End balanced; nothing is attached
      return;
    }
    nameAnchor(anchor);
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

  void leaf(const YAML::Mark& mark, YAML::anchor_t anchor, Node node) {
    tick();
    if (ignoring()) {
      noteExtraDocument(mark, node.isNull());
      return;
    }
    nameAnchor(anchor);
    countNode(node.mark, 1, 0);
    remember(anchor, node, 1, 1);
    finish(std::move(node), 1);
  }

  void alias(const YAML::Mark& mark, YAML::anchor_t anchor) {
    tick();
    if (ignoring()) {
      noteExtraDocument(mark, false);
      return;
    }
    Mark m = markOf(mark);
    if (anchor >= anchors.size() || !anchors[anchor]) {
      std::string name = anchor < anchor_names.size() ? anchor_names[anchor] : std::string();
      stop(m, path(), "alias *" + name + " refers to a node that contains it (a recursive alias)");
    }
    const Anchored& source = *anchors[anchor];
    countNode(m, source.nodes, source.height - 1);
    // The copy keeps the anchored node's positions, as yaml-cpp's shared node did.
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

void TreeBuilder::OnDocumentStart(const YAML::Mark& mark) {
  State& s = *state_;
  // yaml-cpp 0.7 answers a token no rule takes (a stray ',' at the top level) with an empty
  // document without consuming the token, forever (jbeder/yaml-cpp#1040). A document that
  // starts where the previous one started is that loop: the text is not YAML.
  if (s.documents > 0 && mark.pos == s.last_document_pos) {
    s.stop(markOf(mark), "", "invalid YAML: unexpected character");
  }
  s.last_document_pos = mark.pos;
  ++s.documents;
  s.anchors.clear();
  s.anchor_names.clear();
}

void TreeBuilder::OnDocumentEnd() {}

void TreeBuilder::OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) {
  Node node;
  node.mark = markOf(mark);
  state_->leaf(mark, anchor, std::move(node));
}

void TreeBuilder::OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) {
  state_->alias(mark, anchor);
}

void TreeBuilder::OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                           const std::string& value) {
  Node node;
  node.kind = Kind::Scalar;
  node.mark = markOf(mark);
  node.scalar = value;
  // "?" is the non-specific tag of plain scalars; quoted ones get "!", explicit tags their own
  // name.
  node.plain = tag == "?";
  state_->leaf(mark, anchor, std::move(node));
}

void TreeBuilder::OnSequenceStart(const YAML::Mark& mark, const std::string& /*tag*/,
                                  YAML::anchor_t anchor, YAML::EmitterStyle::value /*style*/) {
  state_->openCollection(mark, anchor, Kind::Sequence);
}

void TreeBuilder::OnSequenceEnd() { state_->closeCollection(); }

void TreeBuilder::OnMapStart(const YAML::Mark& mark, const std::string& /*tag*/,
                             YAML::anchor_t anchor, YAML::EmitterStyle::value /*style*/) {
  state_->openCollection(mark, anchor, Kind::Map);
}

void TreeBuilder::OnMapEnd() { state_->closeCollection(); }

void TreeBuilder::OnAnchor(const YAML::Mark& /*mark*/, const std::string& anchor_name) {
  state_->pending_anchor_name = anchor_name;
}

}  // namespace vallum::config::yaml
