#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "crashdiag/model/evidence.hpp"
#include "crashdiag/model/failure.hpp"

namespace crashdiag {

struct FailingOptions {
  std::optional<std::int64_t> now_unix;      // unset: unreadiness is not judged
  std::int64_t unready_after_seconds = 300;  // --unready-after
};

// Whether a container shows a failure worth explaining, by the one definition in
// crashdiag/model/failure.hpp (the daemon's crash detector uses the same).
[[nodiscard]] FailureKind failure_kind(const Pod& pod, const Container& container, const FailingOptions& options = {});
[[nodiscard]] bool is_failing(const Pod& pod, const Container& container, const FailingOptions& options = {});

// The failing containers, init containers first.
[[nodiscard]] std::vector<const Container*> failing_containers(const Pod& pod, const FailingOptions& options = {});

}  // namespace crashdiag
