#include "config/yaml_tree.h"

#include <exception>
#include <string>
#include <utility>

#include <yaml.h>

#include "config/yaml_builder.h"

namespace vallum::config::yaml {

namespace {

// YAML is read with libyaml's event parser (Debian's libyaml-dev). The first plan was yaml-cpp
// (docs/architecture.md §7, docs/decisions.md); we departed from it because yaml-cpp's scanner
// cost 85% of loading a 10,000-route config (about 400 ms of 465), far from the 100 ms we aim
// for, and yaml-cpp 0.7 loops forever on a stray ',' (found by fuzz/config). libyaml is the
// parser Go's yaml.v3, and so Pomerium, is a port of, and its marks give the same line and
// column.

EventMark markOf(const yaml_mark_t& m) { return EventMark{m.line, m.column}; }

std::string_view textOf(const yaml_char_t* text) {
  return text == nullptr ? std::string_view()
                         : std::string_view(reinterpret_cast<const char*>(text));
}

/// Owns one parsed event.
struct Event {
  yaml_event_t event{};
  ~Event() { yaml_event_delete(&event); }
};

/// Owns a parser reading `text` in place (no copy of a config of many megabytes).
struct Parser {
  yaml_parser_t parser{};
  explicit Parser(std::string_view text) {
    if (yaml_parser_initialize(&parser) == 0) {
      throw std::bad_alloc();
    }
    yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()),
                                 text.size());
  }
  ~Parser() { yaml_parser_delete(&parser); }
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  /// "while parsing a block mapping: did not find expected key", as libyaml words it.
  std::string problem() const {
    std::string out;
    if (parser.context != nullptr) {
      out += parser.context;
      out += ": ";
    }
    out += parser.problem != nullptr ? parser.problem : "invalid YAML";
    return out;
  }
};

/// Feeds every event of `text` to `builder`. False on a syntax error (`error_mark`, `error`).
bool run(std::string_view text, TreeBuilder& builder, Mark& error_mark, std::string& error) {
  Parser p(text);
  for (;;) {
    Event e;
    if (yaml_parser_parse(&p.parser, &e.event) == 0) {
      const yaml_mark_t& m = p.parser.problem_mark;
      error_mark = Mark{int(m.line) + 1, int(m.column) + 1};
      error = p.problem();
      return false;
    }
    const yaml_event_t& ev = e.event;
    switch (ev.type) {
      case YAML_STREAM_END_EVENT:
        return true;
      case YAML_DOCUMENT_START_EVENT:
        builder.documentStart(markOf(ev.start_mark));
        break;
      case YAML_SCALAR_EVENT: {
        const std::string_view tag = textOf(ev.data.scalar.tag);
        const bool plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && tag.empty();
        builder.scalar(markOf(ev.start_mark), textOf(ev.data.scalar.anchor),
                       std::string_view(reinterpret_cast<const char*>(ev.data.scalar.value),
                                        ev.data.scalar.length),
                       plain, tag == YAML_NULL_TAG || tag == "!!null");
        break;
      }
      case YAML_ALIAS_EVENT:
        builder.alias(markOf(ev.start_mark), textOf(ev.data.alias.anchor));
        break;
      case YAML_SEQUENCE_START_EVENT:
        builder.sequenceStart(markOf(ev.start_mark), textOf(ev.data.sequence_start.anchor));
        break;
      case YAML_MAPPING_START_EVENT:
        builder.mapStart(markOf(ev.start_mark), textOf(ev.data.mapping_start.anchor));
        break;
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        builder.collectionEnd();
        break;
      default:  // stream start, document end
        break;
    }
  }
}

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
    Mark error_mark;
    std::string error;
    if (!run(text, builder, error_mark, error)) {
      diags.error(SourcePos{file, error_mark.line, error_mark.column}, "yaml", std::move(error));
      return false;
    }
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
