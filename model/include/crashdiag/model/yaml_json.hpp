// YAML to JSON as sigs.k8s.io/yaml (kubectl, the apiserver's apply decoder) does it: plain
// scalars resolve to null/bool/int/float as go-yaml v2 resolves them (yes/no/on/off are booleans,
// YAML 1.1), quoted ones stay strings. Used for `kubectl get -o yaml` input and by the fake. Pure.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace crashdiag {

// nullopt and a message on a syntax error; never throws.
[[nodiscard]] std::optional<nlohmann::json> yaml_to_json(std::string_view text, std::string* error = nullptr);

}  // namespace crashdiag
