#include "policy/compile_context.h"

#include <string>
#include <utility>

namespace vallum::policy::detail {

namespace yaml = config::yaml;

std::string CompileContext::locate(yaml::Mark mark, std::string message) const {
  if (embedded_ != nullptr) {
    message += " (policy text line " + std::to_string(mark.line) + ", column " +
               std::to_string(mark.column) + ")";
  }
  return message;
}

config::SourcePos CompileContext::pos(yaml::Mark mark) const {
  const yaml::Mark at = embedded_ != nullptr ? embedded_->mark : mark;
  return config::SourcePos{file_, at.line, at.column};
}

void CompileContext::error(yaml::Mark mark, const std::string& key, std::string message) {
  ++errors_;
  diags_.error(pos(mark), key, locate(mark, std::move(message)));
}

void CompileContext::warning(yaml::Mark mark, const std::string& key, std::string message) {
  diags_.warning(pos(mark), key, locate(mark, std::move(message)));
}

}  // namespace vallum::policy::detail
