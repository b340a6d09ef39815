// The bundled incidents `crashdiag demo` replays (examples/*: pod.json, events.json,
// previous.log, recorded from real clusters and compiled into the binary), and the pure
// transformations that put one on a timeline: the pod as it starts, as it fails (the recording,
// moved to "now"), as it recovers and as the failure recurs, with the owners the daemon walks.
#pragma once

#include <chrono>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "crashdiag/core/time.hpp"

namespace crashdiag::demo {

struct Incident {
  std::string name;          // the examples/ directory
  nlohmann::json pod;        // as `kubectl get pod -o json` printed it during the failure
  nlohmann::json events;     // its Events (the items of the recorded EventList)
  std::string previous_log;  // `kubectl logs --previous`; may be empty
};

// Every bundled incident, in name order. Throws std::runtime_error if a compiled-in file does not
// parse (a build defect, caught by the demo's tests).
[[nodiscard]] std::vector<Incident> bundled_incidents();

// Moves every RFC 3339 timestamp in `value` by `offset`, keeping its form (Time or MicroTime).
void shift_times(nlohmann::json& value, std::chrono::milliseconds offset);

// The latest timestamp in the recording: the moment it was taken, near enough.
[[nodiscard]] std::optional<core::WallTime> recorded_at(const Incident& incident);

// The recorded pod, ready to create: no resourceVersion or managedFields (the API server assigns
// them), timestamps moved so that the recording's latest is `now`.
[[nodiscard]] nlohmann::json failing_pod(const Incident& incident, core::WallTime now);
// The recorded Events, moved like failing_pod, without resourceVersions.
[[nodiscard]] std::vector<nlohmann::json> failing_events(const Incident& incident, core::WallTime now);
// The pod before the failure: every container running since `now`, no restarts, phase Running.
[[nodiscard]] nlohmann::json started_pod(const nlohmann::json& failing, core::WallTime now);
// The pod after the cause went away: the containers running and ready again since `now`, the
// restart counts and last terminations kept (as the kubelet keeps them).
[[nodiscard]] nlohmann::json recovered_pod(const nlohmann::json& pod, core::WallTime now);
// The same failure once more: each failing container's restart count up by one, its last
// termination ending at `now`, waiting in CrashLoopBackOff.
[[nodiscard]] nlohmann::json recurred_pod(const nlohmann::json& failing, const nlohmann::json& current,
                                          core::WallTime now);

// The first container (init containers first) the pod shows failing, or one that restarted: the
// one whose previous log is the evidence. "" if none.
[[nodiscard]] std::string failing_container(const nlohmann::json& pod);

// The objects the pod's owner chain needs: its Namespace, and a ReplicaSet with its Deployment
// (the ReplicaSet's name minus the pod-template-hash), or the StatefulSet, DaemonSet or Job itself.
[[nodiscard]] std::vector<nlohmann::json> owner_objects(const nlohmann::json& pod);

// A step of the replay. Times are from the demo's start.
struct Step {
  enum class Kind { kStart, kFail, kRecover, kRecur, kShow };
  // What must be true of the published analyses before the step runs (waited for, bounded): the
  // timeline's slack then only sets the pace, and a slow machine shifts the rest of the replay
  // instead of showing a table before the daemon got there.
  enum class Await {
    kNothing,
    kAllDiagnosed,  // every incident's pod is listed in an analysis
    kResolved,      // the analyses of `of` are Resolved
    kRecounted,     // the analyses of `of` are Active again with at least 2 occurrences
  };
  std::chrono::milliseconds at{0};
  Kind kind = Kind::kStart;
  std::size_t incident = 0;  // index into the incidents (unused by kShow)
  std::string note;          // kShow: the heading printed above the table
  Await await = Await::kNothing;
  std::vector<std::size_t> of;  // the incidents kResolved and kRecounted are about
};

// All pods start; each fails a little apart; three recover (the database comes up, the DNS
// dependency returns, the OOM fix rolls out) and, once `resolve_after` has passed, their analyses
// are Resolved; the OOM then comes back and its analysis turns Active again (a "Reopened" history
// entry, the count going on). A table is shown after each act.
[[nodiscard]] std::vector<Step> timeline(const std::vector<Incident>& incidents,
                                         std::chrono::milliseconds resolve_after);

// A meta.k8s.io Table (with includeObject=Metadata rows) printed as `kubectl get` prints it:
// upper-case headers, cells left-aligned in columns 3 spaces apart; `all_namespaces` adds the
// NAMESPACE column, `wide` the priority > 0 columns.
[[nodiscard]] std::string render_table(const nlohmann::json& table, bool all_namespaces, bool wide);

}  // namespace crashdiag::demo
