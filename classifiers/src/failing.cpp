#include "crashdiag/classifiers/failing.hpp"

#include <array>
#include <string_view>

namespace crashdiag {

bool is_failing(const Pod& pod, const Container& c) {
  if (!c.status) return false;
  static constexpr std::array<std::string_view, 11> kFailingWaiting = {
      "CrashLoopBackOff",   "RunContainerError",  "CreateContainerError", "CreateContainerConfigError",
      "ErrImagePull",       "ImagePullBackOff",   "InvalidImageName",     "ErrImageNeverPull",
      "PreCreateHookError", "PostStartHookError", "ContainerCannotRun"};
  if (c.status->waiting) {
    for (auto r : kFailingWaiting) {
      if (c.status->waiting->reason == r) return true;
    }
  }
  auto failed = [&](const Terminated& t) {
    if (t.exit_code != 0 || t.reason == "OOMKilled" || t.reason == "Error" || t.reason == "StartError") return true;
    // Exit 0 is a failure only where the kubelet restarts it anyway (restartPolicy Always);
    // init containers exiting 0 are success.
    return !c.init && pod.restart_policy == "Always" && c.status->restart_count > 0;
  };
  if (c.status->terminated && failed(*c.status->terminated)) return true;
  if (c.status->last_terminated && c.status->restart_count > 0 && !c.status->running &&
      failed(*c.status->last_terminated)) {
    return true;
  }
  // A running container that restarted after a failure is still worth explaining.
  return c.status->last_terminated && c.status->restart_count > 0 && c.status->last_terminated->exit_code != 0;
}

std::vector<const Container*> failing_containers(const Pod& pod) {
  std::vector<const Container*> out;
  for (const Container& c : pod.containers) {
    if (is_failing(pod, c)) out.push_back(&c);
  }
  return out;
}

}  // namespace crashdiag
