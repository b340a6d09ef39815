// Field selectors as the apiserver reads `?fieldSelector=` (k8s.io/apimachinery/pkg/fields,
// selector.go: ParseSelector): comma-separated `field=value`, `field==value`, `field!=value`.
// Each resource supports only its own field labels (metadata.name and metadata.namespace for all;
// pkg/registry/core/pod/strategy.go ToSelectableFields and pkg/registry/core/event/strategy.go for
// pods and events); any other is a 400 "field label not supported".
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

namespace crashdiag::fake {

struct FieldRequirement {
  std::string field;  // "involvedObject.name"
  bool equals = true;
  std::string value;
};

struct FieldSelector {
  std::vector<FieldRequirement> requirements;
  [[nodiscard]] bool matches(const nlohmann::json& object) const;
};

struct FieldSelectorError {
  std::string message;
};

// `resource` is the plural ("pods", "events", ...): it decides which fields may be selected.
[[nodiscard]] tl::expected<FieldSelector, FieldSelectorError> parse_field_selector(std::string_view text,
                                                                                   const std::string& resource);

}  // namespace crashdiag::fake
