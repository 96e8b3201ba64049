#pragma once

#include <map>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "config/loader.h"

/// Helpers shared by the config loader tests.
namespace vallum::config::test {

/// An environment holding exactly `vars`.
inline EnvLookup envOf(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

/// Loads `yaml` as "config.yaml" with the given environment.
inline LoadResult load(std::string_view yaml, std::map<std::string, std::string> env = {}) {
  return loadString(yaml, "config.yaml", envOf(std::move(env)));
}

/// What a test expects of one diagnostic. line/column 0 = don't check; message is a substring.
struct Expected {
  Severity severity;
  int line;
  int column;
  std::string key;
  std::string message;
  std::string file = "config.yaml";
};

inline const char* severityName(Severity s) { return s == Severity::Error ? "error" : "warning"; }

/// Succeeds when some diagnostic matches `e`; otherwise lists them all.
inline ::testing::AssertionResult hasDiag(const LoadResult& r, const Expected& e) {
  for (const Diagnostic& d : r.diagnostics.items()) {
    if (d.severity == e.severity && d.key == e.key &&
        d.message.find(e.message) != std::string::npos && (e.line == 0 || d.pos.line == e.line) &&
        (e.column == 0 || d.pos.column == e.column) && d.pos.file == e.file) {
      return ::testing::AssertionSuccess();
    }
  }
  return ::testing::AssertionFailure()
         << "no " << severityName(e.severity) << " at " << e.file << ":" << e.line << ":"
         << e.column << " key '" << e.key << "' containing '" << e.message << "'; got:\n"
         << r.diagnostics.formatAll();
}

/// Succeeds when the config loaded (no errors); warnings are allowed.
inline ::testing::AssertionResult loaded(const LoadResult& r) {
  if (r.options && !r.diagnostics.hasErrors()) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "config did not load:\n" << r.diagnostics.formatAll();
}

/// Succeeds when the config loaded with no diagnostics at all.
inline ::testing::AssertionResult clean(const LoadResult& r) {
  if (r.options && r.diagnostics.items().empty()) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "expected no diagnostics, got:\n"
                                       << r.diagnostics.formatAll();
}

/// A minimal valid route, for tests that care about one more key: "  - from: ...\n    to: ...".
inline std::string routeWith(std::string_view extra_lines) {
  std::string out =
      "routes:\n"
      "  - from: https://app.example.com\n"
      "    to: http://app:8080\n";
  out.append(extra_lines);
  return out;
}

}  // namespace vallum::config::test
