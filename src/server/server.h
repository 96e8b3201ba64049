#pragma once

#include <chrono>
#include <cstddef>
#include <iosfwd>
#include <string>
#include <vector>

namespace vallum::server {

struct ServeOptions {
  std::string config_path;
  /// Worker threads; 0 = one per core.
  size_t concurrency = 0;
  /// How long SIGTERM waits for in-flight requests before closing what is left.
  std::chrono::seconds drain_timeout{30};
  /// Overrides the config's log_level when not empty.
  std::string log_level;
};

/// Runs the proxy until SIGTERM/SIGINT (docs/architecture.md §1): loads and compiles the config
/// (exit 1 with every problem printed when it is invalid), starts the workers on their
/// SO_REUSEPORT listeners, logs "listening on ADDRESS (https|http), N workers", reloads on
/// SIGHUP and when the config file changes (a bad file keeps the running snapshot and logs its
/// problems with positions), and on SIGTERM drains in-flight requests, then returns 0.
///
/// Reloads (and the periodic DNS re-resolution) are loaded and compiled on a loader thread
/// (background_loader.h), one at a time, while the control thread keeps running health checks,
/// outlier sweeps, signals and drain; the result is published from the control thread, logged
/// as "config reloaded (generation N, M routes, loaded in T ms, of which compiling C ms)". A SIGHUP
/// or file change during a reload schedules one more reload after it. SIGTERM cancels a reload in
/// progress; a load that cannot be interrupted (a DNS lookup) is abandoned at the drain deadline,
/// and the process then exits with std::_Exit (after flushing its logs) rather than wait for it.
int serve(const ServeOptions& options);

/// `vallum check`: validates a config the way serve() would (without DNS lookups) and prints
/// each problem as "FILE:LINE:COL: error|warning: KEY: message" on `out`, then
/// "OK: N routes, M warnings". Returns 1 when there is any error, else 0.
int check(const std::string& config_path, std::ostream& out);

/// Who `vallum route` explains a request for (`--as EMAIL [--users FILE]`, `--anonymous`);
/// all empty: as today, without the identity fields.
struct RouteVisitor {
  std::string as;          ///< an email
  std::string users_path;  ///< users file giving that email's subject, groups and claims
  bool anonymous = false;  ///< explain for a visitor who is not signed in
};

/// `vallum route`: explains what the config does with one request (proxy::explainRequest) as
/// JSON on `out`. `headers` are "Name: value" strings; `visitor` adds the policy decision, its
/// trace and the identity headers for that user (server/access_command.h routeIdentity()).
/// Returns 0 when a route matches, 1 when none does, 2 when the config is invalid, the request
/// cannot be parsed or the visitor is unusable (problems go to `err`).
int route(const std::string& config_path, const std::string& method,
          const std::vector<std::string>& headers, const std::string& url, std::ostream& out,
          std::ostream& err, const RouteVisitor& visitor = {});

}  // namespace vallum::server
