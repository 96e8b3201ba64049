#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/logging.h"
#include "config/loader.h"
#include "server/access_command.h"
#include "server/server.h"
#include "server/tcp_command.h"

#ifndef VALLUM_VERSION
#define VALLUM_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
#if defined(__x86_64__)
  // llhttp is built with its SSE4.2 header scanner (cmake/VallumDependencies.cmake).
  if (!__builtin_cpu_supports("sse4.2")) {
    std::cerr << "vallum: this CPU lacks SSE4.2 (x86-64-v2), which this build needs\n";
    return 1;
  }
#endif
  // A client that disconnects mid-write must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);

  CLI::App app{
      "Vallum: an identity-aware reverse proxy that serves Pomerium config.yaml routes.\n"
      "Run `vallum --config FILE` to serve, `vallum check FILE` to validate."};
  app.footer(
      "While serving:\n"
      "  SIGHUP, or saving the config file, reloads it without closing connections; a config\n"
      "    with an error is refused (file:line:col logged) and the running one stays.\n"
      "  SIGTERM or SIGINT drains: no new connections, in-flight requests finish (up to\n"
      "    --drain-timeout), then exit 0.\n"
      "  Environment variables override the file's options (Pomerium's names, upper-cased:\n"
      "    ADDRESS, INSECURE_SERVER, LOG_LEVEL, POLICY, ...).\n"
      "  /ping and /healthz answer OK on every host (liveness probes).");
  app.set_version_flag("--version", std::string("vallum ") + VALLUM_VERSION);
  app.require_subcommand(0, 1);

  vallum::server::ServeOptions serve;
  int drain_seconds = 30;
  app.add_option("-c,--config", serve.config_path, "Config file (Pomerium config.yaml schema)")
      ->check(CLI::ExistingFile);
  app.add_option("--concurrency", serve.concurrency,
                 "Worker threads (default: one per CPU core)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--drain-timeout", drain_seconds,
                 "Seconds SIGTERM waits for in-flight requests before exiting")
      ->check(CLI::Range(0, 3600))
      ->default_val(30);
  // The names the log prints (spdlog: "warning", "critical", "off") and those of Pomerium's
  // log_level (zerolog: "warn", "fatal", "panic", "disabled"), as the config accepts them.
  app.add_option("--log-level", serve.log_level,
                 "trace|debug|info|warn|warning|error|critical|fatal|panic|off|disabled "
                 "(overrides log_level in the config)")
      ->check([](const std::string& value) {
        return vallum::config::logLevelName(value) ? std::string()
                                                   : "unknown log level " + value +
                                                         " (expected trace, debug, info, warn, "
                                                         "warning, error, critical, fatal, "
                                                         "panic, off or disabled)";
      });

  std::string check_path, check_positional;
  CLI::App* check = app.add_subcommand(
      "check",
      "Validate a config file and print every problem as FILE:LINE:COL: error|warning: KEY: "
      "message, then each route's metrics name (exit 0: no error, warnings allowed; 1: errors; "
      "2: usage)");
  check->add_option("file", check_positional, "Config file to check (or --config FILE)");
  check->add_option("-c,--config", check_path, "Config file to check");

  std::string route_path, route_method = "GET", route_url;
  std::vector<std::string> route_headers;
  CLI::App* route = app.add_subcommand(
      "route",
      "Explain what the config does with one request, as JSON: the route that matches and why, "
      "and the upstream request, redirect or reply (exit 0: a route matches, 1: none, 2: config "
      "errors)");
  route->add_option("-c,--config", route_path, "Config file")->required();
  route->add_option("-X,--method", route_method, "Request method")->default_val("GET");
  route->add_option("-H,--header", route_headers, "A request header \"Name: value\" (repeatable)");
  route->add_option("url", route_url, "Absolute URL, e.g. https://app.example.com/api?x=1")
      ->required();
  vallum::server::RouteVisitor route_visitor;
  route->add_option("--as", route_visitor.as,
                    "Explain for this signed-in user (an email): adds the policy decision, its "
                    "trace and the identity headers");
  route->add_option("--users", route_visitor.users_path,
                    "JSON file with the --as user's subject, groups and claims (see vallum "
                    "access)");
  route->add_flag("--anonymous", route_visitor.anonymous,
                  "Explain for a visitor who is not signed in (decision and trace)");

  std::string access_path, access_users, access_format = "table";
  CLI::App* access = app.add_subcommand(
      "access",
      "Print who can reach what: for each route, whether each user of the users file is "
      "allowed, denied, or it depends on the request (exit 0: ok, 1: config errors, 2: usage "
      "or users-file errors). The users file is a JSON array of {\"email\", \"user\" (IdP "
      "subject, default the email), \"groups\": [...], \"claims\": {...}}");
  access->add_option("-c,--config", access_path, "Config file")->required();
  access->add_option("--users", access_users, "Users file (JSON)")->required();
  access->add_option("--format", access_format, "Output format")
      ->check(CLI::IsMember({"table", "json", "csv"}))
      ->default_val("table");

  vallum::server::TcpOptions tcp_options;
  CLI::App* tcp = app.add_subcommand(
      "tcp",
      "Reach a tcp+https route from this machine (as pomerium-cli tcp): listen locally and tunnel "
      "each connection through the proxy with CONNECT (prints \"listening on ADDR\"; runs until "
      "Ctrl-C)");
  tcp->add_option("url", tcp_options.route_url,
                  "The route: tcp+https://host:port, or tcp+https://proxy/host:port")
      ->required();
  tcp->add_option("--listen", tcp_options.listen, "Local address (port 0: any free port)")
      ->default_val("127.0.0.1:0");
  tcp->add_option("--pomerium-url", tcp_options.proxy_url,
                  "Reach the proxy here instead of the route's host (https://host:port)");
  tcp->add_option("--ca-cert", tcp_options.ca_cert,
                  "PEM file of the CA of the proxy's certificate (default: the system store)")
      ->check(CLI::ExistingFile);

  CLI::App* version = app.add_subcommand("version", "Print the version");
  for (CLI::App* sub : {check, route, access, tcp, version}) {
    sub->footer("");  // the serving notes are the top-level help's
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error exits 2, as `check --help` says.
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (!serve.log_level.empty()) {
    serve.log_level = std::string(*vallum::config::logLevelName(serve.log_level));
  }

  if (tcp->parsed()) {
    return vallum::server::tcp(tcp_options, std::cout, std::cerr);
  }
  if (version->parsed()) {
    std::cout << "vallum " << VALLUM_VERSION << '\n';
    return 0;
  }
  if (check->parsed()) {
    if (check_path.empty() && check_positional.empty() && !serve.config_path.empty()) {
      check_path = serve.config_path;  // `vallum --config FILE check`
    }
    if (check_path.empty() == check_positional.empty()) {
      std::cerr << "vallum check: give one config file: vallum check FILE (or vallum check "
                   "--config FILE)\n";
      return 2;
    }
    return vallum::server::check(check_path.empty() ? check_positional : check_path, std::cout);
  }
  if (route->parsed()) {
    return vallum::server::route(route_path, route_method, route_headers, route_url, std::cout,
                                 std::cerr, route_visitor);
  }
  if (access->parsed()) {
    return vallum::server::access(access_path, access_users, access_format, std::cout, std::cerr);
  }
  if (serve.config_path.empty()) {
    std::cerr << "vallum: --config FILE is required to serve (see --help)\n";
    return 2;
  }
  serve.drain_timeout = std::chrono::seconds(drain_seconds);
  // --log-level holds from the first line (the config's diagnostics included).
  vallum::log::init(serve.log_level.empty() ? "info" : serve.log_level);
  return vallum::server::serve(serve);
}
