#include "config/yaml_tree.h"

#include <exception>
#include <istream>
#include <streambuf>
#include <utility>

#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include "config/yaml_builder.h"

namespace vallum::config::yaml {

namespace {

Mark markOf(const YAML::Mark& m) {
  // yaml-cpp marks are 0-based; an unknown mark is -1.
  return Mark{m.line >= 0 ? m.line + 1 : 1, m.column >= 0 ? m.column + 1 : 1};
}

/// Reads `text` in place (YAML::Parser wants a std::istream; an istringstream would copy a
/// config of many megabytes first).
class ViewBuffer : public std::streambuf {
 public:
  explicit ViewBuffer(std::string_view text) {
    char* begin = const_cast<char*>(text.data());  // only ever read: get area, no put area
    setg(begin, begin, begin + text.size());
  }
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
           Diagnostics& diags, Node& root, const std::atomic<bool>* cancel) {
  root = Node{};
  root.mark = Mark{1, 1};
  // Problems found while building are kept apart: a syntax error later in the text replaces
  // them (the file is not YAML, so nothing else said about it would help).
  Diagnostics found;
  TreeBuilder builder(file, root_path, found, cancel);
  try {
    ViewBuffer buffer(text);
    std::istream in(&buffer);
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(builder)) {
    }
  } catch (const YAML::Exception& e) {
    // e.msg is the bare message; e.what() repeats the position in yaml-cpp's own words.
    Mark m = markOf(e.mark);
    diags.error(SourcePos{file, m.line, m.column}, "yaml", e.msg);
    return false;
  } catch (const TreeBuilder::Stopped&) {
    // A limit: reported by the builder; the partial tree is discarded.
    diags.append(found);
    return true;
  } catch (const ParseCancelled&) {
    diags.error(SourcePos{file, 1, 1}, "yaml", "loading was cancelled");
    return false;
  } catch (const std::exception& e) {
    diags.error(SourcePos{file, 1, 1}, "yaml", e.what());
    return false;
  }
  diags.append(found);
  root = std::move(builder.root());
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
