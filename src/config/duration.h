#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/error.h"

namespace vallum::config {

using Duration = std::chrono::nanoseconds;

/// Parses a Go duration string (time.ParseDuration syntax): a sequence of decimal numbers,
/// each with optional fraction and a unit: "ns", "us", "µs" (U+00B5 or U+03BC), "ms", "s",
/// "m", "h" — e.g. "30s", "1m30s", "250ms", "1.5s", "2h45m". "0" alone is zero.
/// Vallum's rules (docs/decisions.md): a negative duration is an error ("negative
/// duration not allowed"); a bare number other than 0 is an error ("missing unit in
/// duration \"30\""); overflow past ~292 years is an error. Errors are Errc::InvalidArgument
/// with ErrorSource::Config and a message suitable after "KEY: ".
Result<Duration> parseDuration(std::string_view text);

/// Formats a duration the way Go's Duration.String() does ("1m30s", "250ms", "0s").
std::string formatDuration(Duration d);

}  // namespace vallum::config
