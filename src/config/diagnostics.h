#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vallum::config {

/// Where a value came from. line/column are 1-based (the YAML parser's marks + 1); 0 means unknown.
/// For values taken from an environment variable, file is "$NAME" (e.g. "$POLICY") and the
/// position is inside the variable's (decoded) text.
struct SourcePos {
  std::string file;
  int line = 0;
  int column = 0;

  bool operator==(const SourcePos&) const = default;
};

/// `"` + text + `"`: how a message quotes config text (a value, a key, a file name). Control
/// bytes are left as they are here; Diagnostic::format() escapes the whole line.
std::string quoted(std::string_view text);

enum class Severity { Warning, Error };

/// One problem found while loading or compiling a config (docs/architecture.md §5).
struct Diagnostic {
  Severity severity = Severity::Error;
  SourcePos pos;
  /// YAML path with 0-based indices: "routes[3].to", "policy[0].allowed_users[2]", "address".
  std::string key;
  std::string message;

  /// "FILE:LINE:COL: error: KEY: message" (or "warning"), the `vallum check` line format, on
  /// one line: control bytes (ESC, newlines, ...) in the file name, key and message, which
  /// quote config text, are escaped as `\x1b`, `\n`, ... (common/printable.h).
  std::string format() const;
};

/// Collects every problem (loading never stops at the first one). Order is insertion order,
/// which the loader keeps equal to file order.
class Diagnostics {
 public:
  void error(SourcePos pos, std::string key, std::string message);
  void warning(SourcePos pos, std::string key, std::string message);
  void add(Diagnostic d);
  void append(const Diagnostics& other);

  bool hasErrors() const { return error_count_ > 0; }
  size_t errorCount() const { return error_count_; }
  size_t warningCount() const { return items_.size() - error_count_; }
  const std::vector<Diagnostic>& items() const { return items_; }

  /// All lines joined with '\n' (no trailing newline).
  std::string formatAll() const;
  /// Every line followed by '\n', in file order (`vallum check`'s output): per file in order of
  /// first appearance, by line and column; positionless ones (line 0) first. Stable otherwise,
  /// so a compile step's lints land among the loader's diagnostics.
  std::string formatInFileOrder() const;

 private:
  std::vector<Diagnostic> items_;
  size_t error_count_ = 0;
};

}  // namespace vallum::config
