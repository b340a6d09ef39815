#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace crashdiag {

// Parses a Kubernetes resource.Quantity used for memory ("512Mi", "1G", "1e9", "128974848")
// into bytes. Binary suffixes Ki..Ei, decimal k..E, plain numbers and exponents, per
// k8s.io/apimachinery/pkg/api/resource/quantity.go. Fractions are rounded up like the kubelet.
[[nodiscard]] std::optional<std::int64_t> parse_memory_quantity(std::string_view text);

// Parses a JVM size flag value ("1g", "512m", "2048k", "1073741824") into bytes.
[[nodiscard]] std::optional<std::int64_t> parse_jvm_size(std::string_view text);

}  // namespace crashdiag
