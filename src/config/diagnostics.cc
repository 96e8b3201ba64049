#include "config/diagnostics.h"

#include <algorithm>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "common/printable.h"

namespace vallum::config {

std::string quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  out.append(text);
  out += '"';
  return out;
}

std::string Diagnostic::format() const {
  // "FILE:LINE:COL: error: KEY: message". A position that is not known (line 0, e.g. an
  // unreadable file) is left out rather than printed as ":0:0", and so is an empty key. Keys
  // and messages quote config text, so control bytes in it are escaped (printable.h).
  std::string out;
  out.reserve(pos.file.size() + key.size() + message.size() + 32);
  if (!pos.file.empty()) {
    appendPrintable(out, pos.file);
    if (pos.line > 0) {
      out += ':';
      out += std::to_string(pos.line);
      out += ':';
      out += std::to_string(pos.column > 0 ? pos.column : 1);
    }
    out += ": ";
  }
  out += severity == Severity::Error ? "error: " : "warning: ";
  if (!key.empty()) {
    appendPrintable(out, key);
    out += ": ";
  }
  appendPrintable(out, message);
  return out;
}

void Diagnostics::error(SourcePos pos, std::string key, std::string message) {
  add(Diagnostic{Severity::Error, std::move(pos), std::move(key), std::move(message)});
}

void Diagnostics::warning(SourcePos pos, std::string key, std::string message) {
  add(Diagnostic{Severity::Warning, std::move(pos), std::move(key), std::move(message)});
}

void Diagnostics::add(Diagnostic d) {
  if (d.severity == Severity::Error) {
    ++error_count_;
  }
  items_.push_back(std::move(d));
}

void Diagnostics::append(const Diagnostics& other) {
  items_.insert(items_.end(), other.items_.begin(), other.items_.end());
  error_count_ += other.error_count_;
}

std::string Diagnostics::formatAll() const {
  std::string out;
  for (const Diagnostic& d : items_) {
    if (!out.empty()) {
      out += '\n';
    }
    out += d.format();
  }
  return out;
}

std::string Diagnostics::formatInFileOrder() const {
  std::vector<const Diagnostic*> sorted;
  std::unordered_map<std::string_view, size_t> file_order;  // files in order of appearance
  for (const Diagnostic& d : items_) {
    sorted.push_back(&d);
    file_order.emplace(d.pos.file, file_order.size());
  }
  std::stable_sort(sorted.begin(), sorted.end(), [&file_order](const auto* a, const auto* b) {
    return std::tuple(file_order[a->pos.file], a->pos.line, a->pos.column) <
           std::tuple(file_order[b->pos.file], b->pos.line, b->pos.column);
  });
  std::string out;
  for (const Diagnostic* d : sorted) {
    out += d->format();
    out += '\n';
  }
  return out;
}

}  // namespace vallum::config
