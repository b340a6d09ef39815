// One definition of "this container is failing", shared by `crashdiag explain` (full Pods), the
// daemon's crash detector (slim watch records) and the metrics' reason labels. Pure.
//
// A container is failing when
//  - it waits in a reason the kubelet uses for failures (CrashLoopBackOff, RunContainerError, image
//    and config errors: pkg/kubelet/images/types.go, pkg/kubelet/kuberuntime/kuberuntime_container.go);
//  - its current termination failed (non-zero exit, OOMKilled, StartError, ...), or a main
//    container under restartPolicy Always terminated at all (Deployments restart even exit 0);
//  - it was restarted after such a termination, even if it runs again now: a Running container
//    with restarts and lastState Completed/exit 0 was killed after failed liveness probes and
//    honoured the stop signal, or exits on its own (the second incident of ../shared/incidents
//    looked exactly like this on a real kubelet);
//  - it runs but has not been Ready for `unready_after` (its readiness probe keeps failing).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace crashdiag {

enum class FailureKind {
  kNone,
  kWaiting,     // waiting in a failure reason
  kTerminated,  // terminated now, and that termination failed
  kRestarted,   // restarted after a failed termination (running or waiting again now)
  kUnready,     // running, not Ready for longer than unready_after
};

[[nodiscard]] std::string_view to_string(FailureKind kind);

struct TerminationFacts {
  int exit_code = 0;
  std::string_view reason;
};

// What every view of a container status knows.
struct ContainerFacts {
  bool init = false;
  bool sidecar = false;  // an init container with restartPolicy Always (KEP-753): restarts like a main one
  std::string_view waiting_reason;
  bool running = false;
  bool ready = true;
  int restart_count = 0;
  std::optional<TerminationFacts> terminated;       // state.terminated
  std::optional<TerminationFacts> last_terminated;  // lastState.terminated
};

// When a container that runs but is not Ready counts as failing: `crashdiag explain` and the
// daemon take it from --unready-after and their clock.
struct UnreadyPolicy {
  std::optional<std::int64_t> now_unix;      // unset: unreadiness is not judged
  std::int64_t unready_after_seconds = 300;  // --unready-after
};

struct FailureContext {
  std::string_view restart_policy = "Always";  // the pod's
  // Unix seconds since the pod's Ready condition turned False (its lastTransitionTime); unset
  // when the pod is Ready or the time is unknown.
  std::optional<std::int64_t> not_ready_since;
  UnreadyPolicy unready;
};

// A pod's context from what every view of it holds: its restartPolicy and its Ready condition's
// lastTransitionTime (RFC 3339; empty when the pod is Ready).
[[nodiscard]] FailureContext failure_context(std::string_view restart_policy, std::string_view not_ready_since,
                                             const UnreadyPolicy& unready);

// The waiting reasons that mean a failure, and every reason the kubelet writes into a waiting or
// terminated state (the metrics label crash signals by these; anything else is "other").
[[nodiscard]] std::span<const std::string_view> failure_waiting_reasons();
[[nodiscard]] std::span<const std::string_view> known_failure_reasons();
[[nodiscard]] bool is_failure_waiting_reason(std::string_view reason);

// Whether a termination is a failure for this container under this restart policy.
[[nodiscard]] bool termination_failed(const TerminationFacts& t, const ContainerFacts& c,
                                      std::string_view restart_policy);

[[nodiscard]] FailureKind failure_of(const ContainerFacts& c, const FailureContext& context);

// The reason a signal for `kind` carries ("CrashLoopBackOff", "OOMKilled", "Unready", ...).
inline constexpr std::string_view kUnreadyReason = "Unready";
// A datastore with a claim restarted and runs again: not a failure, a look at its new log.
inline constexpr std::string_view kRestartedReason = "Restarted";

}  // namespace crashdiag
