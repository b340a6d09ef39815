#pragma once

#include <vector>

#include "crashdiag/model/evidence.hpp"

namespace crashdiag {

// Whether a container shows a failure worth explaining: a waiting reason the kubelet uses for
// failures (CrashLoopBackOff, RunContainerError, CreateContainerConfigError, ErrImagePull,
// ImagePullBackOff, InvalidImageName, ...), a non-zero or OOMKilled termination, or restarts
// after exiting 0 under restartPolicy Always (pkg/kubelet/images/types.go and
// pkg/kubelet/kuberuntime for the reason strings).
[[nodiscard]] bool is_failing(const Pod& pod, const Container& container);

// Names of the failing containers, init containers first.
[[nodiscard]] std::vector<const Container*> failing_containers(const Pod& pod);

}  // namespace crashdiag
