#include "config/yaml_tree.h"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace vallum::config::yaml {
namespace {

struct Parsed {
  bool ok;
  Node root;
  Diagnostics diags;
};

Parsed parseText(std::string_view text, const std::string& root_path = "") {
  Parsed p;
  p.ok = parse(text, "f.yaml", root_path, p.diags, p.root);
  return p;
}

TEST(YamlTreeTest, ScalarsCarryPositionsAndPlainness) {
  Parsed p = parseText("a: 30\nb: \"30\"\nc: |\n  text\n");
  ASSERT_TRUE(p.ok);
  ASSERT_TRUE(p.root.isMap());
  ASSERT_EQ(p.root.entries.size(), 3u);
  const Entry& a = p.root.entries[0];
  EXPECT_EQ(a.key, "a");
  EXPECT_EQ(a.key_mark.line, 1);
  EXPECT_EQ(a.key_mark.column, 1);
  EXPECT_EQ(a.value.scalar, "30");
  EXPECT_TRUE(a.value.plain);
  EXPECT_EQ(a.value.mark.line, 1);
  EXPECT_EQ(a.value.mark.column, 4);
  EXPECT_FALSE(p.root.entries[1].value.plain);
  EXPECT_EQ(p.root.entries[2].value.scalar, "text\n");
  EXPECT_TRUE(p.diags.items().empty());
}

TEST(YamlTreeTest, NullValueTakesTheKeyPosition) {
  Parsed p = parseText("a:\nb: ~\n");
  ASSERT_TRUE(p.ok);
  const Node& a = p.root.entries[0].value;
  EXPECT_TRUE(a.isNull());
  EXPECT_EQ(a.mark.line, 1);
  EXPECT_EQ(a.mark.column, 1);
  EXPECT_TRUE(p.root.entries[1].value.isNull());
}

TEST(YamlTreeTest, EmptyDocumentIsNull) {
  for (const char* text : {"", "# only a comment\n", "---\n"}) {
    Parsed p = parseText(text);
    EXPECT_TRUE(p.ok) << text;
    EXPECT_TRUE(p.root.isNull()) << text;
    EXPECT_TRUE(p.diags.items().empty()) << text;
  }
}

TEST(YamlTreeTest, SyntaxErrorIsReportedWithPosition) {
  Parsed p = parseText("a:\n  - x\n b: 1\n");
  EXPECT_FALSE(p.ok);
  ASSERT_EQ(p.diags.errorCount(), 1u);
  const Diagnostic& d = p.diags.items()[0];
  EXPECT_EQ(d.key, "yaml");
  EXPECT_EQ(d.pos.file, "f.yaml");
  EXPECT_EQ(d.pos.line, 3);
  EXPECT_EQ(d.pos.column, 2);
  EXPECT_EQ(d.message, "while parsing a block mapping: did not find expected key");
}

TEST(YamlTreeTest, DuplicateKeysAreErrorsAndTheFirstIsKept) {
  Parsed p = parseText("routes:\n  - from: a\n    to: x\n    to: y\n");
  ASSERT_TRUE(p.ok);
  ASSERT_EQ(p.diags.errorCount(), 1u);
  const Diagnostic& d = p.diags.items()[0];
  EXPECT_EQ(d.key, "routes[0].to");
  EXPECT_EQ(d.pos.line, 4);
  EXPECT_EQ(d.pos.column, 5);
  EXPECT_EQ(d.message, "duplicate key (first defined at line 3)");
  const Node& route = p.root.entries[0].value.items[0];
  ASSERT_EQ(route.entries.size(), 2u);
  EXPECT_EQ(route.find("to")->value.scalar, "x");
}

// Large mappings are indexed for the duplicate check (linear time); the result must be what a
// scan gives: every repeated key reported at its position, the first value kept, order kept.
TEST(YamlTreeTest, DuplicateKeysInALargeMapping) {
  std::string text = "headers:\n";
  for (int i = 0; i < 1000; ++i) {
    text += "  h" + std::to_string(i) + ": v" + std::to_string(i) + "\n";
  }
  text += "  h3: again\n  h999: again\n  <<: {h5: merged, extra: merged}\n";
  Parsed p = parseText(text);
  ASSERT_TRUE(p.ok);
  ASSERT_EQ(p.diags.errorCount(), 2u) << p.diags.formatAll();
  EXPECT_EQ(p.diags.items()[0].key, "headers.h3");
  EXPECT_EQ(p.diags.items()[0].pos.line, 1002);
  EXPECT_EQ(p.diags.items()[0].message, "duplicate key (first defined at line 5)");
  EXPECT_EQ(p.diags.items()[1].key, "headers.h999");
  EXPECT_EQ(p.diags.items()[1].message, "duplicate key (first defined at line 1001)");
  const Node& headers = p.root.find("headers")->value;
  ASSERT_EQ(headers.entries.size(), 1001u);
  EXPECT_EQ(headers.entries[3].value.scalar, "v3");
  EXPECT_EQ(headers.entries[5].value.scalar, "v5");  // explicit keys win over merged ones
  EXPECT_EQ(headers.entries[1000].key, "extra");
}

TEST(YamlTreeTest, ParsingStopsWhenCancelled) {
  std::string text = "list:\n";
  for (int i = 0; i < 2000; ++i) {
    text += "  - item\n";
  }
  std::atomic<bool> cancel{true};
  Parsed p;
  p.ok = parse(text, "f.yaml", "", p.diags, p.root, &cancel);
  EXPECT_FALSE(p.ok);
  ASSERT_EQ(p.diags.errorCount(), 1u);
  EXPECT_EQ(p.diags.items()[0].format(), "f.yaml:1:1: error: yaml: loading was cancelled");
  cancel = false;
  p.ok = parse(text, "f.yaml", "", p.diags, p.root, &cancel);
  EXPECT_TRUE(p.ok);
  EXPECT_EQ(p.root.find("list")->value.items.size(), 2000u);
}

TEST(YamlTreeTest, DuplicateKeysUnderARootPath) {
  Parsed p = parseText("- {from: a, from: b}\n", "$POLICY");
  ASSERT_EQ(p.diags.errorCount(), 1u);
  EXPECT_EQ(p.diags.items()[0].key, "$POLICY[0].from");
}

TEST(YamlTreeTest, MergeKeysExplicitKeysWin) {
  Parsed p = parseText(
      "defaults: &d {to: http://a, timeout: 10s}\n"
      "route:\n"
      "  timeout: 20s\n"
      "  <<: *d\n");
  ASSERT_TRUE(p.ok);
  EXPECT_TRUE(p.diags.items().empty()) << p.diags.formatAll();
  const Node& route = p.root.find("route")->value;
  ASSERT_EQ(route.entries.size(), 2u);
  EXPECT_EQ(route.find("timeout")->value.scalar, "20s");
  EXPECT_EQ(route.find("to")->value.scalar, "http://a");
}

TEST(YamlTreeTest, MergeKeyListOfMappings) {
  Parsed p = parseText("a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc:\n  <<: [*a, *b]\n");
  ASSERT_TRUE(p.ok);
  const Node& c = p.root.find("c")->value;
  EXPECT_EQ(c.find("x")->value.scalar, "1");
  EXPECT_EQ(c.find("y")->value.scalar, "2");
}

TEST(YamlTreeTest, MergeKeyNeedsMappings) {
  Parsed p = parseText("c:\n  <<: 5\n");
  ASSERT_EQ(p.diags.errorCount(), 1u);
  EXPECT_EQ(p.diags.items()[0].key, "c.<<");
}

TEST(YamlTreeTest, SelfReferentialAliasIsRefused) {
  Parsed p = parseText("list: &a [x, *a]\n");
  ASSERT_EQ(p.diags.errorCount(), 1u) << p.diags.formatAll();
  const Diagnostic& d = p.diags.items()[0];
  EXPECT_EQ(d.key, "list");
  EXPECT_EQ(d.pos.line, 1);
  EXPECT_EQ(d.pos.column, 14);
  EXPECT_EQ(d.message, "alias *a refers to a node that contains it (a recursive alias)");
  EXPECT_TRUE(p.root.isNull());
}

TEST(YamlTreeTest, AliasBombIsRefused) {
  std::string text = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 7; ++i) {
    std::string prev = "*l" + std::to_string(i - 1);
    text += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) {
      text += (j ? ", " : "") + prev;
    }
    text += "]\n";
  }
  Parsed p = parseText(text);
  EXPECT_NE(p.diags.formatAll().find("document too large"), std::string::npos)
      << p.diags.formatAll();
}

TEST(YamlTreeTest, SecondDocumentIsAnError) {
  Parsed p = parseText("a: 1\n---\nb: 2\n");
  ASSERT_EQ(p.diags.errorCount(), 1u);
  EXPECT_EQ(p.diags.items()[0].pos.line, 3);
  EXPECT_NE(p.diags.items()[0].message.find("more than one YAML document"), std::string::npos);
}

// fuzz/corpus/config/crash-stray-comma-hang: yaml-cpp (the parser before libyaml) returned empty
// documents for a stray ',' forever, so loading (vallum check, startup, a reload) never ended
// and its memory grew. Kept so that no parser brings it back.
TEST(YamlTreeTest, StrayFlowIndicatorIsAnErrorNotAHang) {
  for (const char* text : {",", ",\n", "[a]\n,", "routes: []\n---\n,"}) {
    // A watchdog cancels the parse after 5 s, so a regression fails instead of hanging.
    std::atomic<bool> cancel{false};
    std::thread watchdog([&cancel] {
      for (int i = 0; i < 500 && !cancel; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      cancel = true;
    });
    Parsed p;
    p.ok = parse(text, "f.yaml", "", p.diags, p.root, &cancel);
    cancel = true;
    watchdog.join();
    ASSERT_FALSE(p.diags.items().empty()) << text;
    EXPECT_EQ(p.diags.items()[0].key, "yaml") << text;
    EXPECT_FALSE(p.ok) << text;
    EXPECT_GE(p.diags.items()[0].pos.line, 1) << text;
    EXPECT_NE(p.diags.items()[0].message.find("did not find expected"), std::string::npos)
        << text << ": " << p.diags.items()[0].message;
  }
  Parsed two = parseText("a: 1\n---\nb: 2\n");  // a real second document: its own error
  ASSERT_EQ(two.diags.items().size(), 1u);
  EXPECT_EQ(two.diags.items()[0].message,
            "more than one YAML document; a config file holds exactly one");
}

TEST(YamlTreeTest, NonScalarKeysAreErrors) {
  Parsed p = parseText("? [a, b]\n: c\n");
  ASSERT_EQ(p.diags.errorCount(), 1u);
  EXPECT_EQ(p.diags.items()[0].message, "mapping keys must be strings");
}

TEST(YamlTreeTest, PathHelpers) {
  EXPECT_EQ(childKey("", "address"), "address");
  EXPECT_EQ(childKey("routes[0]", "to"), "routes[0].to");
  EXPECT_EQ(indexKey("routes", 3), "routes[3]");
  EXPECT_EQ(indexKey("$POLICY", 0), "$POLICY[0]");
}

TEST(YamlTreeTest, Describe) {
  EXPECT_EQ(describe(makeScalar("abc", {1, 1})), "\"abc\"");
  Node list;
  list.kind = Kind::Sequence;
  EXPECT_EQ(describe(list), "a list");
  Node map;
  map.kind = Kind::Map;
  EXPECT_EQ(describe(map), "a mapping");
  EXPECT_EQ(describe(Node{}), "null");
  EXPECT_EQ(describe(makeScalar(std::string(100, 'x'), {1, 1})).size(), 60u + 5u);
}

}  // namespace
}  // namespace vallum::config::yaml
