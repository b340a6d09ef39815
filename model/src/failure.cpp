#include "crashdiag/model/failure.hpp"

#include <algorithm>
#include <array>

#include "crashdiag/model/rfc3339.hpp"

namespace crashdiag {
namespace {

// pkg/kubelet/images/types.go (ErrImagePull, ImagePullBackOff, InvalidImageName,
// ErrImageNeverPull), pkg/kubelet/kuberuntime/kuberuntime_container.go and
// pkg/kubelet/container/sync_result.go (CreateContainerConfigError, CreateContainerError,
// PreStartHookError, PostStartHookError, RunContainerError, CrashLoopBackOff).
constexpr std::array<std::string_view, 11> kFailureWaiting = {
    "CrashLoopBackOff",  "RunContainerError",  "CreateContainerError", "CreateContainerConfigError",
    "ErrImagePull",      "ImagePullBackOff",   "InvalidImageName",     "ErrImageNeverPull",
    "PreStartHookError", "PostStartHookError", "PreCreateHookError"};

// The terminated reasons that mean a failure whatever the exit code: the container runtimes'
// (containerd and CRI-O: Error, OOMKilled, StartError, ContainerCannotRun) and the kubelet's
// DeadlineExceeded for activeDeadlineSeconds.
constexpr std::array<std::string_view, 5> kFailedTermination = {"Error", "OOMKilled", "StartError",
                                                                "ContainerCannotRun", "DeadlineExceeded"};

// Every reason a crash signal can carry: the two lists above, a successful termination
// (Completed) and crashdiag's own Unready and Restarted.
constexpr std::array<std::string_view, 3> kOtherSignalReasons = {"Completed", kUnreadyReason, kRestartedReason};

constexpr auto kKnown = [] {
  std::array<std::string_view, kFailureWaiting.size() + kFailedTermination.size() + kOtherSignalReasons.size()> all{};
  auto out = std::copy(kFailureWaiting.begin(), kFailureWaiting.end(), all.begin());
  out = std::copy(kFailedTermination.begin(), kFailedTermination.end(), out);
  std::copy(kOtherSignalReasons.begin(), kOtherSignalReasons.end(), out);
  return all;
}();

}  // namespace

std::string_view to_string(FailureKind kind) {
  switch (kind) {
    case FailureKind::kNone:
      return "none";
    case FailureKind::kWaiting:
      return "waiting";
    case FailureKind::kTerminated:
      return "terminated";
    case FailureKind::kRestarted:
      return "restarted";
    case FailureKind::kUnready:
      return "unready";
  }
  return "none";
}

std::span<const std::string_view> failure_waiting_reasons() {
  return kFailureWaiting;
}

std::span<const std::string_view> known_failure_reasons() {
  return kKnown;
}

bool is_failure_waiting_reason(std::string_view reason) {
  return std::find(kFailureWaiting.begin(), kFailureWaiting.end(), reason) != kFailureWaiting.end();
}

bool termination_failed(const TerminationFacts& t, const ContainerFacts& c, std::string_view restart_policy) {
  if (t.exit_code != 0 ||
      std::find(kFailedTermination.begin(), kFailedTermination.end(), t.reason) != kFailedTermination.end()) {
    return true;
  }
  // Exit 0 is a failure only where the kubelet restarts it anyway: a main container (or a
  // sidecar) under restartPolicy Always. Init containers and Jobs exiting 0 succeed.
  return (!c.init || c.sidecar) && restart_policy == "Always";
}

FailureContext failure_context(std::string_view restart_policy, std::string_view not_ready_since,
                               const UnreadyPolicy& unready) {
  return FailureContext{restart_policy, parse_rfc3339_seconds(not_ready_since), unready};
}

FailureKind failure_of(const ContainerFacts& c, const FailureContext& context) {
  if (is_failure_waiting_reason(c.waiting_reason)) return FailureKind::kWaiting;
  if (c.terminated && termination_failed(*c.terminated, c, context.restart_policy)) {
    // A terminated main container under Always is about to be restarted: that it exited at all is
    // the failure. Exit 0 under OnFailure/Never is a finished job, handled above.
    return FailureKind::kTerminated;
  }
  if (c.last_terminated && c.restart_count > 0 && termination_failed(*c.last_terminated, c, context.restart_policy)) {
    return FailureKind::kRestarted;
  }
  const UnreadyPolicy& unready = context.unready;
  if (c.running && !c.ready && unready.now_unix && context.not_ready_since &&
      *unready.now_unix - *context.not_ready_since >= unready.unready_after_seconds) {
    return FailureKind::kUnready;
  }
  return FailureKind::kNone;
}

}  // namespace crashdiag
