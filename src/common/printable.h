#pragma once

#include <string>
#include <string_view>

/// Text from a config (keys, values, file names) quoted in diagnostics and log lines, made safe
/// for a terminal: a config must not be able to send escape sequences to the operator's
/// terminal or forge log lines.
namespace vallum {

/// Appends `text` to `out` with every byte a terminal or a line-based log would interpret
/// escaped, everything else copied:
/// * newline, carriage return and tab as `\n`, `\r`, `\t`; other C0 controls and DEL as `\xHH`
///   (ESC is `\x1b`);
/// * bytes that are not valid UTF-8 as `\xHH` (a lone 0x9b is CSI on an 8-bit terminal);
/// * the C1 controls U+0080..U+009F, the line and paragraph separators U+2028/U+2029 and the
///   bidirectional controls (U+200E, U+200F, U+202A..U+202E, U+2066..U+2069) as `\uHHHH`.
/// A backslash is not doubled (regular expressions in messages stay readable), so the output is
/// for display, not a reversible encoding. Any thread.
void appendPrintable(std::string& out, std::string_view text);

/// `text` as appendPrintable() writes it.
std::string printable(std::string_view text);

}  // namespace vallum
