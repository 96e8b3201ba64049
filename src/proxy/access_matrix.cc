#include "proxy/access_matrix.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/printable.h"

namespace vallum::proxy {

namespace {

using json = nlohmann::ordered_json;

std::string pathSpecifier(const config::Route& route) {
  // The router's order (describePathMatch in explain.cc): regex, then path, then prefix.
  if (!route.regex.empty()) {
    return route.regex;
  }
  if (!route.path.empty()) {
    return route.path;
  }
  return route.prefix;
}

size_t displayWidth(std::string_view text) {
  // Code points: every byte that does not continue a UTF-8 sequence.
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

void appendCsvField(std::string& out, std::string_view field) {
  std::string text;
  if (!field.empty() && (field.front() == '=' || field.front() == '+' || field.front() == '-' ||
                         field.front() == '@' || field.front() == '\t' || field.front() == '\r')) {
    text += '\'';
  }
  text += field;
  if (text.find_first_of(",\"\r\n") == std::string::npos) {
    out += text;
    return;
  }
  out += '"';
  for (char c : text) {
    if (c == '"') {
      out += '"';
    }
    out += c;
  }
  out += '"';
}

void appendCsvRecord(std::string& out, const std::vector<std::string>& fields) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    appendCsvField(out, fields[i]);
  }
  out += "\r\n";
}

}  // namespace

AccessMatrix buildAccessMatrix(const Snapshot& snapshot, std::span<const AccessUser> users) {
  AccessMatrix matrix;
  for (const AccessUser& user : users) {
    matrix.users.push_back(user.email);
  }
  for (const RouteRuntime& route : snapshot.routes) {
    AccessRow row;
    row.name = route.log_name;
    row.from = route.config->from.raw;
    row.path = pathSpecifier(*route.config);
    for (const AccessUser& user : users) {
      AccessCell cell;
      if (route.policy != nullptr) {
        cell.outcome = policy::decideForUser(*route.policy, policyIdentity(user), &cell.depends_on);
      }
      row.cells.push_back(std::move(cell));
    }
    matrix.routes.push_back(std::move(row));
  }
  return matrix;
}

std::string_view outcomeName(policy::Outcome outcome) {
  switch (outcome) {
    case policy::Outcome::Allow:
      return "allow";
    case policy::Outcome::Deny:
      return "deny";
    case policy::Outcome::Depends:
      break;
  }
  return "depends";
}

std::string cellText(const AccessCell& cell) {
  std::string out(outcomeName(cell.outcome));
  if (cell.outcome == policy::Outcome::Depends && !cell.depends_on.empty()) {
    out += " (" + cell.depends_on + ")";
  }
  return out;
}

std::string accessMatrixJson(const AccessMatrix& matrix) {
  json doc;
  doc["users"] = matrix.users;
  doc["routes"] = json::array();
  for (const AccessRow& row : matrix.routes) {
    json decisions = json::object();
    json depends_on = json::object();
    for (size_t i = 0; i < row.cells.size() && i < matrix.users.size(); ++i) {
      decisions[matrix.users[i]] = outcomeName(row.cells[i].outcome);
      if (row.cells[i].outcome == policy::Outcome::Depends) {
        depends_on[matrix.users[i]] = row.cells[i].depends_on;
      }
    }
    json entry = {{"name", row.name}, {"from", row.from}, {"path", row.path}};
    entry["decisions"] = std::move(decisions);
    if (!depends_on.empty()) {
      entry["depends_on"] = std::move(depends_on);
    }
    doc["routes"].push_back(std::move(entry));
  }
  // Invalid UTF-8 from the config or the users file is replaced, never a throw.
  return doc.dump(2, ' ', false, json::error_handler_t::replace);
}

std::string accessMatrixTable(const AccessMatrix& matrix) {
  std::vector<std::vector<std::string>> lines;
  std::vector<std::string> header = {"name", "from", "path"};
  for (const std::string& email : matrix.users) {
    header.push_back(printable(email));
  }
  lines.push_back(std::move(header));
  for (const AccessRow& row : matrix.routes) {
    std::vector<std::string> line = {printable(row.name), printable(row.from),
                                     row.path.empty() ? std::string("-") : printable(row.path)};
    for (const AccessCell& cell : row.cells) {
      line.push_back(cellText(cell));
    }
    lines.push_back(std::move(line));
  }
  std::vector<size_t> widths(lines.front().size(), 0);
  for (const auto& line : lines) {
    for (size_t i = 0; i < line.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], displayWidth(line[i]));
    }
  }
  std::string out;
  for (const auto& line : lines) {
    std::string text;
    for (size_t i = 0; i < line.size(); ++i) {
      if (i > 0) {
        text += "  ";
      }
      text += line[i];
      if (i + 1 < line.size()) {
        text.append(widths[i] - displayWidth(line[i]), ' ');
      }
    }
    text.erase(text.find_last_not_of(' ') + 1);
    out += text;
    out += '\n';
  }
  return out;
}

std::string accessMatrixCsv(const AccessMatrix& matrix) {
  std::string out;
  std::vector<std::string> header = {"name", "from", "path"};
  header.insert(header.end(), matrix.users.begin(), matrix.users.end());
  appendCsvRecord(out, header);
  for (const AccessRow& row : matrix.routes) {
    std::vector<std::string> record = {row.name, row.from, row.path};
    for (const AccessCell& cell : row.cells) {
      record.push_back(cellText(cell));
    }
    appendCsvRecord(out, record);
  }
  return out;
}

}  // namespace vallum::proxy
