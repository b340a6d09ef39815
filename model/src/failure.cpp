#include "crashdiag/model/failure.hpp"

#include <algorithm>
#include <array>

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

// The waiting reasons above, the terminated reasons container runtimes report (containerd and
// CRI-O: Completed, Error, OOMKilled, StartError, ContainerCannotRun; the kubelet:
// DeadlineExceeded for activeDeadlineSeconds) and crashdiag's own Unready.
constexpr std::array<std::string_view, 18> kKnown = {"CrashLoopBackOff",
                                                     "RunContainerError",
                                                     "CreateContainerError",
                                                     "CreateContainerConfigError",
                                                     "ErrImagePull",
                                                     "ImagePullBackOff",
                                                     "InvalidImageName",
                                                     "ErrImageNeverPull",
                                                     "PreStartHookError",
                                                     "PostStartHookError",
                                                     "Error",
                                                     "OOMKilled",
                                                     "StartError",
                                                     "ContainerCannotRun",
                                                     "Completed",
                                                     "DeadlineExceeded",
                                                     "PreCreateHookError",
                                                     kUnreadyReason};

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
  if (t.exit_code != 0 || t.reason == "OOMKilled" || t.reason == "Error" || t.reason == "StartError" ||
      t.reason == "ContainerCannotRun" || t.reason == "DeadlineExceeded") {
    return true;
  }
  // Exit 0 is a failure only where the kubelet restarts it anyway: a main container (or a
  // sidecar) under restartPolicy Always. Init containers and Jobs exiting 0 succeed.
  return (!c.init || c.sidecar) && restart_policy == "Always";
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
  if (c.running && !c.ready && context.now && context.not_ready_since &&
      *context.now - *context.not_ready_since >= context.unready_after_seconds) {
    return FailureKind::kUnready;
  }
  return FailureKind::kNone;
}

}  // namespace crashdiag
