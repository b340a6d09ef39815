// Parsing Kubernetes JSON (kubectl get pod -o json, kubectl get events -o json) into Evidence.
// Bad input never throws out of these functions: it becomes a ParseError naming what is wrong.
#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "crashdiag/model/evidence.hpp"

namespace crashdiag {

struct ParseError {
  std::string what;  // e.g. "spec.containers[0].command: expected an array of strings, got number"
};

// Accepts a v1 Pod, or a v1 List/PodList holding exactly one Pod.
[[nodiscard]] tl::expected<Pod, ParseError> parse_pod_json(std::string_view text);

// Accepts a core v1 EventList / List (kubectl prints kind "List"), an events.k8s.io/v1 EventList,
// or a single Event of either API. events.k8s.io/v1 names differ: note (message), regarding
// (involvedObject), deprecatedCount/series.count (count), eventTime (timestamps),
// reportingController (source.component).
[[nodiscard]] tl::expected<std::vector<Event>, ParseError> parse_events_json(std::string_view text);

// Events that concern this pod: same namespace/name (and uid when both sides have one).
[[nodiscard]] std::vector<Event> events_for_pod(const std::vector<Event>& events, const Pod& pod);

// Events for one container of the pod: those whose fieldPath names it, plus pod-level ones.
[[nodiscard]] std::vector<Event> events_for_container(const std::vector<Event>& pod_events, const Container& container);

}  // namespace crashdiag
