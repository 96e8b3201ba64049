#include "config/yaml_tree.h"

#include <exception>
#include <utility>

#include <yaml-cpp/yaml.h>

namespace vallum::config::yaml {

namespace {

// Limits that keep a hostile or broken file from exhausting the control thread: aliases are
// expanded into copies here, so "a billion laughs" would otherwise grow without bound, and a
// self-referencing alias would recurse forever.
constexpr int kMaxDepth = 256;
constexpr size_t kMaxNodes = 1000000;

// The YAML path of the node being converted, as a chain of stack frames: rendered into a
// string only when a problem is reported, so converting costs no allocation per node.
struct Path {
  const Path* parent = nullptr;
  std::string_view root;  ///< only on the outermost frame
  std::string_view key;   ///< map child, or
  size_t index = 0;       ///< sequence child when `is_index`
  bool is_index = false;

  std::string render() const {
    if (parent == nullptr) {
      return std::string(root);
    }
    std::string base = parent->render();
    return is_index ? indexKey(base, index) : childKey(base, key);
  }
};

Mark markOf(const YAML::Mark& m) {
  // yaml-cpp marks are 0-based; an unknown mark is -1.
  return Mark{m.line >= 0 ? m.line + 1 : 1, m.column >= 0 ? m.column + 1 : 1};
}

class Converter {
 public:
  Converter(const std::string& file, Diagnostics& diags) : file_(file), diags_(diags) {}

  // Returns false when conversion had to stop (limits); the partial tree is discarded.
  bool convert(const YAML::Node& in, const Path& path, int depth, Node& out) {
    if (stopped_) {
      return false;
    }
    out.mark = markOf(in.Mark());
    if (depth > kMaxDepth) {
      stop(out.mark, path,
           "nesting too deep (more than 256 levels, or an alias that refers to itself)");
      return false;
    }
    if (++nodes_ > kMaxNodes) {
      stop(out.mark, path, "document too large (more than 1000000 nodes after alias expansion)");
      return false;
    }
    switch (in.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        out.kind = Kind::Null;
        return true;
      case YAML::NodeType::Scalar:
        out.kind = Kind::Scalar;
        out.scalar = in.Scalar();
        // "?" is the non-specific tag of plain scalars; quoted ones get "!", explicit tags
        // their own name.
        out.plain = in.Tag() == "?";
        return true;
      case YAML::NodeType::Sequence: {
        out.kind = Kind::Sequence;
        out.items.reserve(in.size());
        size_t index = 0;
        for (const YAML::Node& item : in) {
          out.items.emplace_back();
          Path child{&path, {}, {}, index, true};
          if (!convert(item, child, depth + 1, out.items.back())) {
            return false;
          }
          ++index;
        }
        return true;
      }
      case YAML::NodeType::Map:
        out.kind = Kind::Map;
        return convertMap(in, path, depth, out);
    }
    return true;
  }

 private:
  bool convertMap(const YAML::Node& in, const Path& path, int depth, Node& out) {
    std::vector<Node> merges;  // values of `<<` keys, applied after the explicit keys
    out.entries.reserve(in.size());
    for (auto it = in.begin(); it != in.end(); ++it) {
      const YAML::Node key_node = it->first;  // a copy: it-> yields a temporary pair
      Mark key_mark = markOf(key_node.Mark());
      if (!key_node.IsScalar() && !key_node.IsNull()) {
        std::string where = path.render();
        diags_.error(pos(key_mark), where.empty() ? "yaml" : where, "mapping keys must be strings");
        continue;
      }
      std::string key = key_node.IsScalar() ? key_node.Scalar() : std::string();
      if (key == "<<" && key_node.Tag() == "?") {
        merges.emplace_back();
        if (!convert(it->second, path, depth + 1, merges.back())) {
          return false;
        }
        merges.back().mark = key_mark;
        continue;
      }
      if (const Entry* first = out.find(key)) {
        diags_.error(
            pos(key_mark), childKey(path.render(), key),
            "duplicate key (first defined at line " + std::to_string(first->key_mark.line) + ")");
        continue;
      }
      out.entries.push_back(Entry{std::move(key), key_mark, Node{}});
      Entry& entry = out.entries.back();
      Path child{&path, {}, entry.key, 0, false};
      if (!convert(it->second, child, depth + 1, entry.value)) {
        return false;
      }
      if (entry.value.isNull()) {
        entry.value.mark = key_mark;
      }
    }
    for (Node& merge : merges) {
      if (merge.isMap()) {
        mergeInto(out, std::move(merge));
      } else if (merge.isSequence()) {
        for (Node& source : merge.items) {
          if (source.isMap()) {
            mergeInto(out, std::move(source));
          } else {
            diags_.error(pos(source.mark), childKey(path.render(), "<<"),
                         "merge key needs a mapping or a list of mappings");
          }
        }
      } else if (!merge.isNull()) {
        diags_.error(pos(merge.mark), childKey(path.render(), "<<"),
                     "merge key needs a mapping or a list of mappings");
      }
    }
    return true;
  }

  // YAML merge: keys already present (explicit, or from an earlier merge source) win.
  static void mergeInto(Node& target, Node&& source) {
    for (Entry& entry : source.entries) {
      if (target.find(entry.key) == nullptr) {
        target.entries.push_back(std::move(entry));
      }
    }
  }

  void stop(Mark mark, const Path& path, std::string message) {
    stopped_ = true;
    std::string where = path.render();
    diags_.error(pos(mark), where.empty() ? "yaml" : where, std::move(message));
  }

  SourcePos pos(Mark m) const { return SourcePos{file_, m.line, m.column}; }

  const std::string& file_;
  Diagnostics& diags_;
  size_t nodes_ = 0;
  bool stopped_ = false;
};

}  // namespace

const Entry* Node::find(std::string_view key) const {
  for (const Entry& e : entries) {
    if (e.key == key) {
      return &e;
    }
  }
  return nullptr;
}

bool parse(std::string_view text, const std::string& file, const std::string& root_path,
           Diagnostics& diags, Node& root) {
  root = Node{};
  root.mark = Mark{1, 1};
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    // e.msg is the bare message; e.what() repeats the position in yaml-cpp's own words.
    Mark m = markOf(e.mark);
    diags.error(SourcePos{file, m.line, m.column}, "yaml", e.msg);
    return false;
  } catch (const std::exception& e) {
    diags.error(SourcePos{file, 1, 1}, "yaml", e.what());
    return false;
  }
  if (docs.empty()) {
    return true;
  }
  for (size_t i = 1; i < docs.size(); ++i) {
    if (!docs[i].IsNull()) {
      Mark m = markOf(docs[i].Mark());
      diags.error(SourcePos{file, m.line, m.column}, "yaml",
                  "more than one YAML document; a config file holds exactly one");
      break;
    }
  }
  try {
    Converter converter(file, diags);
    Path path{nullptr, root_path, {}, 0, false};
    if (!converter.convert(docs[0], path, 0, root)) {
      root = Node{};
      root.mark = Mark{1, 1};
    }
  } catch (const std::exception& e) {
    diags.error(SourcePos{file, 1, 1}, "yaml", e.what());
    root = Node{};
    return false;
  }
  return true;
}

Node makeScalar(std::string text, Mark mark) {
  Node node;
  node.kind = Kind::Scalar;
  node.mark = mark;
  node.scalar = std::move(text);
  node.plain = false;
  return node;
}

std::string childKey(std::string_view parent, std::string_view name) {
  std::string out;
  out.reserve(parent.size() + name.size() + 1);
  out.append(parent);
  if (!parent.empty()) {
    out += '.';
  }
  out.append(name);
  return out;
}

std::string indexKey(std::string_view parent, size_t index) {
  std::string out(parent);
  out += '[';
  out += std::to_string(index);
  out += ']';
  return out;
}

std::string describe(const Node& node) {
  switch (node.kind) {
    case Kind::Null:
      return "null";
    case Kind::Sequence:
      return "a list";
    case Kind::Map:
      return "a mapping";
    case Kind::Scalar:
      break;
  }
  constexpr size_t kMax = 60;
  std::string out = "\"";
  if (node.scalar.size() > kMax) {
    out.append(node.scalar, 0, kMax);
    out += "...";
  } else {
    out += node.scalar;
  }
  out += '"';
  return out;
}

}  // namespace vallum::config::yaml
