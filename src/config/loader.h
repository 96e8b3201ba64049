#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "config/diagnostics.h"
#include "config/options.h"

namespace vallum::config {

/// Looks up an environment variable; nullopt when unset. Production code passes
/// processEnvironment(); tests pass a map.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

/// Reads the real process environment (getenv).
EnvLookup processEnvironment();
/// An environment with no variables.
EnvLookup emptyEnvironment();

/// The largest config accepted: a file over it is refused from its size, before it is read or
/// parsed, and so is an environment value (`POLICY`, `ROUTES`, ...) over it. 16 MiB holds about
/// 60,000 typical routes, which load in a few seconds and a few hundred MB (the YAML node and
/// depth limits of yaml_tree.h apply as well).
inline constexpr size_t kMaxConfigBytes = size_t{16} << 20;

/// Limits and cancellation of one load.
struct LoadOptions {
  /// See kMaxConfigBytes. Also applies to the secret files a config names.
  size_t max_bytes = kMaxConfigBytes;
  /// When not null, another thread may set it to stop the load early: the result then has an
  /// error "loading was cancelled" and no options. Polled while parsing and between routes.
  const std::atomic<bool>* cancel = nullptr;
};

/// The outcome of loading: `options` is set when there are no errors (warnings allowed).
/// `diagnostics` holds every problem found, in file order.
struct LoadResult {
  std::optional<Options> options;
  Diagnostics diagnostics;
};

/// Loads and validates a config file (YAML; JSON is YAML too). Never throws.
///
/// Rules (Pomerium's config loading and options; docs/decisions.md):
/// * Every top-level key may be overridden by the environment variable named as the key in
///   upper case (ADDRESS, INSECURE_SERVER, CERTIFICATE, ...). `POLICY` holds a base64-encoded
///   YAML list of routes that replaces the file's `policy:`. Values from the environment are
///   parsed as YAML scalars/flow collections; a plain string for a list-typed key is split on
///   commas. `${VAR}` text in any value is never expanded.
/// * Routes = `policy:` entries then `routes:` entries, in file order.
/// * Every Pomerium route key and global option (key_tables.h) is recognized and type-checked.
///   A route key that is implemented later is an error "not supported yet" unless its value
///   is the key's default/empty value (false, "", [], {}), which asks for nothing. A global
///   key not implemented yet is a warning "not supported yet; ignored". Out-of-scope features
///   (ssh:// routes and ssh_* options, udp+https routes, route `mcp`) are errors "not
///   supported". Removed Pomerium options that stop Pomerium from starting are errors; other
///   retired ones, and unknown top-level keys, are warnings. `policy_file` is an error.
/// * An unknown key inside a route, or inside an object a route holds (`redirect`, `response`,
///   `rewrite_response_headers[]`, `health_checks[]`, `outlier_detection`, the `*_lb_config`
///   objects, `hash_policy[]`), is an error: a misspelled or cut-off key may be the matcher or
///   limit the route asked for, and the route is never served without it.
/// * Positions are those of the offending node (the value for bad values, the key for
///   unknown/unsupported keys); YAML syntax errors are reported with key "yaml".
/// * A file or environment value over `options.max_bytes` is an error naming it and the limit.
///
/// Thread-safety: may run on any thread (the server loads off its control thread); it reads
/// the files and calls `env`, and shares no state with other loads.
LoadResult loadFile(const std::string& path, const EnvLookup& env, const LoadOptions& options = {});

/// Same as loadFile for in-memory text; `file_label` is used in positions.
LoadResult loadString(std::string_view text, const std::string& file_label, const EnvLookup& env,
                      const LoadOptions& options = {});

/// The level common/logging takes ("trace", "debug", "info", "warn", "error", "critical",
/// "off") for a `log_level` / `--log-level` value: Pomerium's names (warn, fatal, panic,
/// disabled; "" is info) and spdlog's (warning, critical, off), in any case. nullopt: unknown.
std::optional<std::string_view> logLevelName(std::string_view name);

}  // namespace vallum::config
