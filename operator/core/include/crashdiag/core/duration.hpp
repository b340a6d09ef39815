// Duration flags (--resolve-after=10m): pure parsing, no clock.
#pragma once

#include <optional>
#include <string_view>

#include "crashdiag/core/backoff.hpp"  // Duration

namespace crashdiag::core {

// Go's time.ParseDuration subset that flags use: "10m", "90s", "1h30m", "500ms". nullopt for
// anything else (negative, unitless other than "0", unknown units).
[[nodiscard]] std::optional<Duration> parse_duration(std::string_view text);

}  // namespace crashdiag::core
