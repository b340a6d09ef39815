#include "crashdiag/core/duration.hpp"

#include <cstdlib>
#include <string>

namespace crashdiag::core {

std::optional<Duration> parse_duration(std::string_view text) {
  if (text == "0") return Duration{0};
  if (text.empty()) return std::nullopt;
  double total_ms = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t start = i;
    while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    if (i == start) return std::nullopt;
    const double value = std::strtod(std::string(text.substr(start, i - start)).c_str(), nullptr);
    start = i;
    while (i < text.size() && !((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    const std::string_view unit = text.substr(start, i - start);
    const double scale = unit == "ms" ? 1.0 : unit == "s" ? 1e3 : unit == "m" ? 60e3 : unit == "h" ? 3600e3 : -1.0;
    if (scale < 0) return std::nullopt;
    total_ms += value * scale;
  }
  return Duration{static_cast<Duration::rep>(total_ms)};
}

}  // namespace crashdiag::core
