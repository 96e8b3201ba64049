// Fuzzes the config loader (src/config/loader.h) on YAML text held in memory, with an empty
// environment and a 64 KiB LoadOptions::max_bytes (inputs over 16 KiB are skipped, so each
// run stays fast; a secret file the text names is read under the same limit).
//
// Invariants: loading never throws; options are produced exactly when there is no error;
// every diagnostic has a message and a key or a position inside the input, and its one-line
// format() holds no raw newline or ESC (control bytes from the text are escaped).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include "config/loader.h"
#include "fuzz_check.h"

namespace {

constexpr std::string_view kLabel = "fuzz.yaml";

// An upper bound of the lines libyaml can report for `text`: a UTF-16 text (BOM) has at most one
// line per code unit; otherwise lines end as YAML 1.1 ends them (libyaml, and so yaml.v3): CR,
// LF, CRLF, and NEL, LS, PS (U+0085, U+2028, U+2029) in UTF-8.
int lineCount(std::string_view text) {
  if (text.size() >= 2 && ((text[0] == '\xff' && text[1] == '\xfe') ||
                           (text[0] == '\xfe' && text[1] == '\xff'))) {
    return static_cast<int>(text.size() / 2) + 1;
  }
  int lines = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const std::string_view rest = text.substr(i);
    if (c == '\n' || (c == '\r' && (i + 1 == text.size() || text[i + 1] != '\n')) ||
        rest.starts_with("\xc2\x85") || rest.starts_with("\xe2\x80\xa8") ||
        rest.starts_with("\xe2\x80\xa9")) {
      ++lines;
    }
  }
  return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16 * 1024) {
    return 0;
  }
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  vallum::config::LoadOptions options;
  options.max_bytes = 64 * 1024;
  const vallum::config::EnvLookup env = vallum::config::emptyEnvironment();
  try {
    const vallum::config::LoadResult result =
        vallum::config::loadString(text, std::string(kLabel), env, options);
    const auto& diags = result.diagnostics;
    FUZZ_CHECK(result.options.has_value() == !diags.hasErrors());
    const int lines = lineCount(text);
    for (const vallum::config::Diagnostic& d : diags.items()) {
      FUZZ_CHECK(!d.message.empty());
      if (d.pos.file == kLabel) {
        FUZZ_CHECK(d.pos.line >= 0 && d.pos.line <= lines + 1);
      }
      const std::string line = d.format();
      FUZZ_CHECK(line.find('\n') == std::string::npos);
      FUZZ_CHECK(line.find('\x1b') == std::string::npos);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loadString threw: %s\n", e.what());
    std::abort();
  }
  return 0;
}
