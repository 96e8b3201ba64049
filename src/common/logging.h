#pragma once

#include <string_view>

#include <spdlog/spdlog.h>

/// Server log (stderr, human-readable) shared by all components; the access log is separate
/// (proxy/access_log.h, JSON on stdout). Never pass secrets: use vallum::log::redact().
namespace vallum::log {

/// Sets up the process-wide logger on stderr. `level` is one of trace, debug, info, warn,
/// error, critical, off. Safe to call once at start-up, before any thread starts.
void init(std::string_view level);

/// "[redacted]" for non-empty secrets, "" for empty ones.
std::string_view redact(std::string_view secret);

}  // namespace vallum::log

#define VALLUM_LOG_TRACE(...) SPDLOG_TRACE(__VA_ARGS__)
#define VALLUM_LOG_DEBUG(...) ::spdlog::debug(__VA_ARGS__)
#define VALLUM_LOG_INFO(...) ::spdlog::info(__VA_ARGS__)
#define VALLUM_LOG_WARN(...) ::spdlog::warn(__VA_ARGS__)
#define VALLUM_LOG_ERROR(...) ::spdlog::error(__VA_ARGS__)
