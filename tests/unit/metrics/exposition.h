#pragma once

#include <map>
#include <sstream>
#include <string>
#include <vector>

/// Test helpers that read Prometheus text exposition (format 0.0.4) the way a scraper would:
/// samples by their full series text, and the HELP/TYPE lines in order.
namespace vallum::metrics::testing {

/// "name{labels}" (exactly as written) → value, for every sample line.
inline std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) {
      out["<malformed> " + line] = 0;
      continue;
    }
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

/// Every line, in order.
inline std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    out.push_back(line);
  }
  return out;
}

/// The family names of the `# TYPE` lines, in order.
inline std::vector<std::string> typedFamilies(const std::string& text) {
  std::vector<std::string> out;
  for (const std::string& line : lines(text)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      out.push_back(line.substr(7, line.find(' ', 7) - 7));
    }
  }
  return out;
}

/// Sample lines (not comments) whose series text starts with `prefix`, in order.
inline std::vector<std::string> sampleLines(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  for (const std::string& line : lines(text)) {
    if (!line.empty() && line[0] != '#' && line.rfind(prefix, 0) == 0) {
      out.push_back(line);
    }
  }
  return out;
}

}  // namespace vallum::metrics::testing
