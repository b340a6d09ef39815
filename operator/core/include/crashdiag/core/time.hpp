// Kubernetes timestamps (pure): metav1.Time is RFC 3339 in UTC with second precision,
// metav1.MicroTime the same with 6 fractional digits (apimachinery pkg/apis/meta/v1/time.go,
// micro_time.go). One implementation for everything crashdiag reads and writes.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace crashdiag::core {

using WallTime = std::chrono::milliseconds;  // since the Unix epoch, injected

// metav1.Time: "2026-11-22T03:24:13Z" (sub-second part truncated).
[[nodiscard]] std::string format_time(WallTime t);
// metav1.MicroTime: "2026-11-22T03:24:13.123000Z" (millisecond precision, padded).
[[nodiscard]] std::string format_micro_time(WallTime t);
// Either form, or any RFC 3339 with a fraction and Z or a numeric offset; nullopt when malformed.
// Fractions below a millisecond are dropped.
[[nodiscard]] std::optional<WallTime> parse_time(std::string_view text);

}  // namespace crashdiag::core
