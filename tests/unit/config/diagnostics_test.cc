#include "config/diagnostics.h"

#include <gtest/gtest.h>

namespace vallum::config {
namespace {

TEST(DiagnosticTest, FormatsErrorLine) {
  Diagnostic d{Severity::Error, {"config.yaml", 12, 7}, "routes[3].to", "url list is empty"};
  EXPECT_EQ(d.format(), "config.yaml:12:7: error: routes[3].to: url list is empty");
}

TEST(DiagnosticTest, FormatsWarningLine) {
  Diagnostic d{Severity::Warning, {"/etc/vallum.yaml", 1, 1}, "foo", "unknown config option"};
  EXPECT_EQ(d.format(), "/etc/vallum.yaml:1:1: warning: foo: unknown config option");
}

TEST(DiagnosticTest, EnvironmentPositions) {
  Diagnostic d{Severity::Error, {"$POLICY", 3, 7}, "$POLICY[1].to", "url scheme must be provided"};
  EXPECT_EQ(d.format(), "$POLICY:3:7: error: $POLICY[1].to: url scheme must be provided");
}

TEST(DiagnosticTest, UnknownPositionIsLeftOut) {
  Diagnostic d{Severity::Error, {"missing.yaml", 0, 0}, "", "cannot load config"};
  EXPECT_EQ(d.format(), "missing.yaml: error: cannot load config");
}

TEST(DiagnosticTest, NoFileNoKey) {
  Diagnostic d{Severity::Warning, {}, "", "something"};
  EXPECT_EQ(d.format(), "warning: something");
}

TEST(DiagnosticsTest, CountsBySeverityInInsertionOrder) {
  Diagnostics diags;
  EXPECT_FALSE(diags.hasErrors());
  diags.warning({"f", 1, 1}, "a", "w1");
  diags.error({"f", 2, 1}, "b", "e1");
  diags.warning({"f", 3, 1}, "c", "w2");
  EXPECT_TRUE(diags.hasErrors());
  EXPECT_EQ(diags.errorCount(), 1u);
  EXPECT_EQ(diags.warningCount(), 2u);
  ASSERT_EQ(diags.items().size(), 3u);
  EXPECT_EQ(diags.items()[0].message, "w1");
  EXPECT_EQ(diags.items()[1].message, "e1");
  EXPECT_EQ(diags.items()[2].message, "w2");
  EXPECT_EQ(diags.formatAll(),
            "f:1:1: warning: a: w1\n"
            "f:2:1: error: b: e1\n"
            "f:3:1: warning: c: w2");
}

TEST(DiagnosticsTest, AppendKeepsCounts) {
  Diagnostics a, b;
  a.error({"f", 1, 1}, "x", "e");
  b.warning({"g", 1, 1}, "y", "w");
  b.error({"g", 2, 1}, "z", "e2");
  a.append(b);
  EXPECT_EQ(a.errorCount(), 2u);
  EXPECT_EQ(a.warningCount(), 1u);
  EXPECT_EQ(a.items().back().key, "z");
}

// A config must not be able to write escape sequences to the terminal of whoever runs
// `vallum check`, nor split a log line: config text in keys and messages is escaped.
TEST(DiagnosticTest, ControlBytesInConfigTextAreEscaped) {
  Diagnostic d{Severity::Error,
               {"conf\nig.yaml", 4, 5},
               "routes[0].\x1b[2Jprefx",
               "unknown route option \"\x1b[2Jprefx\"; value \"a\tb\x1b]0;owned\x07\""};
  EXPECT_EQ(d.format(),
            "conf\\nig.yaml:4:5: error: routes[0].\\x1b[2Jprefx: unknown route option "
            "\"\\x1b[2Jprefx\"; value \"a\\tb\\x1b]0;owned\\x07\"");
}

TEST(DiagnosticsTest, EmptyFormatsToEmptyString) { EXPECT_EQ(Diagnostics().formatAll(), ""); }

}  // namespace
}  // namespace vallum::config
