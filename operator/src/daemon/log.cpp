#include "log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

namespace crashdiag::daemon {
namespace {

LogFormat g_format = LogFormat::kText;

std::string quote_if_needed(const std::string& v) {
  if (!v.empty() && v.find_first_of(" \"=\t\n") == std::string::npos) return v;
  return nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

spdlog::level::level_enum to_spd(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

}  // namespace

void configure_logging(LogFormat format, LogLevel level) {
  g_format = format;
  // Reconfiguring replaces the logger: spdlog refuses to register a second one with the same name.
  spdlog::drop("crashdiag");
  auto logger = spdlog::stderr_logger_mt("crashdiag");
  // Text: a timestamp and the level, then the key=value line; JSON: the line is the object.
  logger->set_pattern(format == LogFormat::kJson ? "%v" : "%Y-%m-%dT%H:%M:%S.%eZ %l %v",
                      spdlog::pattern_time_type::utc);
  logger->set_level(to_spd(level));
  spdlog::set_default_logger(logger);
}

void log(LogLevel level, std::string_view message,
         std::initializer_list<std::pair<std::string_view, std::string>> fields) {
  if (!spdlog::default_logger()->should_log(to_spd(level))) return;
  std::string line;
  if (g_format == LogFormat::kJson) {
    nlohmann::json j;
    j["ts"] = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                  .count();
    j["level"] = level_name(level);
    j["msg"] = message;
    for (const auto& [k, v] : fields) j[std::string(k)] = v;
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = std::string(message);
    for (const auto& [k, v] : fields) {
      line += ' ';
      line += k;
      line += '=';
      line += quote_if_needed(v);
    }
  }
  spdlog::log(to_spd(level), "{}", line);
}

bool parse_log_level(const std::string& text, LogLevel& out) {
  if (text == "debug")
    out = LogLevel::kDebug;
  else if (text == "info")
    out = LogLevel::kInfo;
  else if (text == "warn")
    out = LogLevel::kWarn;
  else if (text == "error")
    out = LogLevel::kError;
  else
    return false;
  return true;
}

}  // namespace crashdiag::daemon
