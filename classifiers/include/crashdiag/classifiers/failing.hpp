#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "crashdiag/model/evidence.hpp"
#include "crashdiag/model/failure.hpp"

namespace crashdiag {

// Whether a container shows a failure worth explaining, by the one definition in
// crashdiag/model/failure.hpp (the daemon's crash detector uses the same).
[[nodiscard]] FailureKind failure_kind(const Pod& pod, const Container& container, const UnreadyPolicy& unready = {});
[[nodiscard]] bool is_failing(const Pod& pod, const Container& container, const UnreadyPolicy& unready = {});

// The failing containers, init containers first.
[[nodiscard]] std::vector<const Container*> failing_containers(const Pod& pod, const UnreadyPolicy& unready = {});

}  // namespace crashdiag
