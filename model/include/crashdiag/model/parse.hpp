// Parsing Kubernetes JSON (kubectl get pod -o json, kubectl get events -o json) into Evidence.
// Bad input never throws out of these functions: it becomes a ParseError naming what is wrong.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
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
[[nodiscard]] tl::expected<Pod, ParseError> pod_from_json(const nlohmann::json& document);

// Everything people have at hand for a failing container, as `crashdiag explain -f` reads it:
// `kubectl get pod -o json` or `-o yaml`, a List/PodList of any number of pods (`kubectl get pods
// -o yaml`), and `docker inspect` output (an array of containers, or one), each container as a
// one-container Pod: Docker and Compose restart loops print the same runtime's messages.
[[nodiscard]] tl::expected<std::vector<Pod>, ParseError> parse_pods(std::string_view text);

// One `docker inspect` container object as a Pod with one container (State -> status,
// Config/HostConfig/Mounts -> spec). Exposed for tests.
[[nodiscard]] tl::expected<Pod, ParseError> pod_from_docker_inspect(const nlohmann::json& container);

// A Docker or Compose restart policy as the kubelet's: always and unless-stopped restart every
// exit (Always), on-failure only failed ones (OnFailure), no none (Never); nullopt for any other
// name (a Kubernetes policy, or nothing).
[[nodiscard]] std::optional<std::string> restart_policy_from_docker(std::string_view policy);

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
