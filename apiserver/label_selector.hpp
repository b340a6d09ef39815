// Label selectors as the apiserver reads `?labelSelector=` (k8s.io/apimachinery/pkg/labels,
// selector.go: Parse): comma-separated requirements, each one of
//   key   !key   key=value   key==value   key!=value   key in (a,b)   key notin (a,b)
// `!=` and `notin` also match objects without the key (labels.Requirement.Matches).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

namespace crashdiag::fake {

struct LabelRequirement {
  enum class Op { kExists, kDoesNotExist, kEquals, kNotEquals, kIn, kNotIn };
  std::string key;
  Op op = Op::kExists;
  std::vector<std::string> values;
};

struct LabelSelector {
  std::vector<LabelRequirement> requirements;  // all must hold; none: everything matches
  [[nodiscard]] bool matches(const std::map<std::string, std::string>& labels) const;
  // The object's metadata.labels (absent or not an object: no labels).
  [[nodiscard]] bool matches(const nlohmann::json& object) const;
};

// The apiserver answers a selector it cannot parse with 400 BadRequest "unable to parse
// requirement: ..."; the error is that detail.
struct SelectorError {
  std::string message;
};

[[nodiscard]] tl::expected<LabelSelector, SelectorError> parse_label_selector(std::string_view text);

}  // namespace crashdiag::fake
