// The closed vocabulary of root-cause categories (docs/categories.md explains each).
#pragma once

#include <span>
#include <string_view>

namespace crashdiag {

struct CategoryInfo {
  std::string_view id;
  std::string_view description;
};

[[nodiscard]] std::span<const CategoryInfo> categories();
[[nodiscard]] bool is_known_category(std::string_view id);

inline constexpr std::string_view kUnknownCategory = "unknown";

}  // namespace crashdiag
