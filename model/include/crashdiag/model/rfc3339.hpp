// RFC 3339 instants as Kubernetes writes them (metav1.Time, metav1.MicroTime): one parser for the
// model (pod conditions), the classifiers and the operator core (core/time.hpp builds on it). Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace crashdiag {

// "2026-11-22T03:24:13Z", with an optional fraction and Z or a numeric offset, to milliseconds
// since the Unix epoch (fractions below a millisecond dropped); nullopt when malformed.
[[nodiscard]] std::optional<std::int64_t> parse_rfc3339_millis(std::string_view text);
// The same in whole seconds.
[[nodiscard]] std::optional<std::int64_t> parse_rfc3339_seconds(std::string_view text);

}  // namespace crashdiag
