#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/logging.h"
#include "server/server.h"

#ifndef VALLUM_VERSION
#define VALLUM_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  // A client that disconnects mid-write must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);

  CLI::App app{
      "Vallum: an identity-aware reverse proxy that serves Pomerium config.yaml routes.\n"
      "Run `vallum --config FILE` to serve, `vallum check --config FILE` to validate."};
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
  app.add_option("--log-level", serve.log_level,
                 "trace|debug|info|warn|error (overrides log_level in the config)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));

  std::string check_path;
  CLI::App* check = app.add_subcommand("check", "Validate a config file and print every problem "
                                                "as FILE:LINE:COL: error|warning: KEY: message");
  check->add_option("-c,--config", check_path, "Config file to check")->required();

  std::string route_path, route_method = "GET", route_url;
  std::vector<std::string> route_headers;
  CLI::App* route = app.add_subcommand(
      "route",
      "Explain what the config does with one request, as JSON: the route that matches and why, "
      "and the upstream request, redirect or reply (exit 0: a route matches, 1: none)");
  route->add_option("-c,--config", route_path, "Config file")->required();
  route->add_option("-X,--method", route_method, "Request method")->default_val("GET");
  route->add_option("-H,--header", route_headers, "A request header \"Name: value\" (repeatable)");
  route->add_option("url", route_url, "Absolute URL, e.g. https://app.example.com/api?x=1")
      ->required();

  CLI::App* version = app.add_subcommand("version", "Print the version");

  CLI11_PARSE(app, argc, argv);

  if (version->parsed()) {
    std::cout << "vallum " << VALLUM_VERSION << '\n';
    return 0;
  }
  if (check->parsed()) {
    return vallum::server::check(check_path, std::cout);
  }
  if (route->parsed()) {
    return vallum::server::route(route_path, route_method, route_headers, route_url, std::cout,
                                 std::cerr);
  }
  if (serve.config_path.empty()) {
    std::cerr << "vallum: --config FILE is required to serve (see --help)\n";
    return 2;
  }
  serve.drain_timeout = std::chrono::seconds(drain_seconds);
  vallum::log::init("info");
  return vallum::server::serve(serve);
}
