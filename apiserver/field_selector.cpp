#include "field_selector.hpp"

#include <algorithm>
#include <set>

namespace crashdiag::fake {
namespace {

const std::set<std::string>& supported(const std::string& resource) {
  static const std::set<std::string> kCommon = {"metadata.name", "metadata.namespace"};
  // pkg/registry/core/pod/strategy.go (PodToSelectableFields), v1.26.
  static const std::set<std::string> kPods = {
      "metadata.name",      "metadata.namespace",      "spec.nodeName",    "spec.restartPolicy",
      "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
      "status.podIP",       "status.nominatedNodeName"};
  // pkg/registry/core/event/strategy.go (ToSelectableFields), v1.26.
  static const std::set<std::string> kEvents = {"metadata.name",
                                                "metadata.namespace",
                                                "involvedObject.kind",
                                                "involvedObject.namespace",
                                                "involvedObject.name",
                                                "involvedObject.uid",
                                                "involvedObject.apiVersion",
                                                "involvedObject.resourceVersion",
                                                "involvedObject.fieldPath",
                                                "reason",
                                                "reportingComponent",
                                                "source",
                                                "type"};
  if (resource == "pods") return kPods;
  if (resource == "events") return kEvents;
  return kCommon;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// The field's value as the apiserver compares it: strings as they are, booleans "true"/"false",
// an absent field "". `source` is the event's source.component.
std::string field_value(const nlohmann::json& object, const std::string& field) {
  const nlohmann::json* cur = &object;
  std::string path = field == "source" ? "source.component" : field;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!cur->is_object() || !cur->contains(part)) return "";
    cur = &(*cur)[part];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (cur->is_string()) return cur->get<std::string>();
  if (cur->is_boolean()) return cur->get<bool>() ? "true" : "false";
  if (cur->is_number()) return cur->dump();
  return "";
}

}  // namespace

bool FieldSelector::matches(const nlohmann::json& object) const {
  return std::all_of(requirements.begin(), requirements.end(),
                     [&](const FieldRequirement& r) { return (field_value(object, r.field) == r.value) == r.equals; });
}

tl::expected<FieldSelector, FieldSelectorError> parse_field_selector(std::string_view text,
                                                                     const std::string& resource) {
  FieldSelector s;
  if (trim(text).empty()) return s;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = text.find(',', start);
    const std::string_view part =
        trim(text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    FieldRequirement r;
    std::size_t at = part.find("!=");
    std::size_t len = 2;
    if (at != std::string_view::npos) {
      r.equals = false;
    } else if ((at = part.find("==")) != std::string_view::npos) {
      len = 2;
    } else if ((at = part.find('=')) != std::string_view::npos) {
      len = 1;
    } else {
      return tl::unexpected(FieldSelectorError{"invalid selector: '" + std::string(text) + "'; can't understand '" +
                                               std::string(part) + "'"});
    }
    r.field = std::string(trim(part.substr(0, at)));
    r.value = std::string(trim(part.substr(at + len)));
    if (supported(resource).count(r.field) == 0) {
      return tl::unexpected(FieldSelectorError{"field label not supported: " + r.field});
    }
    s.requirements.push_back(std::move(r));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return s;
}

}  // namespace crashdiag::fake
