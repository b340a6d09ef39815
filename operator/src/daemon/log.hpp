// One line per happening, key=value (or JSON with --log-format json), over spdlog.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace crashdiag::daemon {

enum class LogFormat { kText, kJson };
enum class LogLevel { kDebug, kInfo, kWarn, kError };

void configure_logging(LogFormat format, LogLevel level);
void log(LogLevel level, std::string_view message,
         std::initializer_list<std::pair<std::string_view, std::string>> fields = {});

[[nodiscard]] bool parse_log_level(const std::string& text, LogLevel& out);

}  // namespace crashdiag::daemon
