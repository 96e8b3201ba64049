#include "server/access_command.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <ostream>
#include <sstream>
#include <tuple>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "common/printable.h"
#include "config/loader.h"
#include "proxy/access_matrix.h"
#include "proxy/snapshot.h"

namespace vallum::server {

namespace {

/// The size cap of a config file (README), for users files too.
constexpr std::streamoff kMaxUsersFileBytes = 16 << 20;

bool validUtf8(const std::string& text) {
  try {
    (void)nlohmann::json(text).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}


}  // namespace

std::optional<std::vector<proxy::AccessUser>> readUsersFile(const std::string& path,
                                                            std::string_view command,
                                                            std::ostream& err) {
  const std::string where =
      "vallum " + std::string(command) + ": users file " + printable(path) + ": ";
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    err << where << "cannot read it (" << std::strerror(errno) << ")\n";
    return std::nullopt;
  }
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  if (size < 0 || size > kMaxUsersFileBytes) {
    err << where << "cannot read it (not a regular file, or over 16 MiB)\n";
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    err << where << "cannot read it\n";
    return std::nullopt;
  }
  proxy::AccessUsersResult parsed = proxy::parseAccessUsers(text.str());
  if (!parsed.error.empty()) {
    err << where << printable(parsed.error) << '\n';
    return std::nullopt;
  }
  return std::move(parsed.users);
}

std::optional<proxy::ExplainIdentity> routeIdentity(const std::string& email,
                                                    const std::string& users_path, bool anonymous,
                                                    std::ostream& err) {
  if (anonymous) {
    if (!email.empty() || !users_path.empty()) {
      err << "vallum route: --anonymous cannot be combined with --as or --users\n";
      return std::nullopt;
    }
    proxy::ExplainIdentity who;
    who.signed_in = false;
    return who;
  }
  if (email.empty()) {
    err << "vallum route: "
        << (users_path.empty() ? "--as needs an email" : "--users needs --as EMAIL") << '\n';
    return std::nullopt;
  }
  if (!validUtf8(email)) {
    err << "vallum route: --as " << printable(email) << ": not valid UTF-8\n";
    return std::nullopt;
  }
  proxy::ExplainIdentity who;
  if (users_path.empty()) {
    who.user = proxy::defaultAccessUser(email);
    return who;
  }
  auto users = readUsersFile(users_path, "route", err);
  if (!users) {
    return std::nullopt;
  }
  const proxy::AccessUser* user = proxy::findAccessUser(*users, email);
  if (user == nullptr) {
    err << "vallum route: users file " << printable(users_path) << ": no user with email \""
        << printable(email) << "\"\n";
    return std::nullopt;
  }
  who.user = *user;
  return who;
}

int access(const std::string& config_path, const std::string& users_path, const std::string& format,
           std::ostream& out, std::ostream& err) {
  if (format != "table" && format != "json" && format != "csv") {
    err << "vallum access: --format must be table, json or csv, not \"" << printable(format)
        << "\"\n";
    return 2;
  }
  auto users = readUsersFile(users_path, "access", err);
  if (!users) {
    return 2;
  }
  config::LoadResult loaded = config::loadFile(config_path, config::processEnvironment());
  proxy::SnapshotConstSharedPtr snapshot;
  if (loaded.options) {
    proxy::SnapshotBuildOptions build;
    build.resolve_dns = false;
    snapshot = proxy::buildSnapshot(std::move(*loaded.options), build, loaded.diagnostics);
  }
  if (!snapshot || loaded.diagnostics.hasErrors()) {
    err << loaded.diagnostics.formatInFileOrder();
    return 1;
  }
  const proxy::AccessMatrix matrix = proxy::buildAccessMatrix(*snapshot, *users);
  if (format == "json") {
    out << proxy::accessMatrixJson(matrix) << '\n';
  } else if (format == "csv") {
    out << proxy::accessMatrixCsv(matrix);
  } else {
    out << proxy::accessMatrixTable(matrix);
  }
  return 0;
}

}  // namespace vallum::server
