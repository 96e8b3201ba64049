#include "common/logging.h"

#include <spdlog/sinks/stdout_sinks.h>

namespace vallum::log {

void init(std::string_view level) {
  auto logger = spdlog::stderr_logger_mt("vallum");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ [%t] %v");
  logger->set_level(spdlog::level::from_str(std::string(level)));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

std::string_view redact(std::string_view secret) { return secret.empty() ? "" : "[redacted]"; }

}  // namespace vallum::log
