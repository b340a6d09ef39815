// Exponential backoff with jitter and a reset after a healthy period, as client-go's reflector
// uses it: wait.NewExponentialBackoffManager(800ms, 30s, 2min, factor 2.0, jitter 1.0)
// (k8s.io/client-go/tools/cache/reflector.go; k8s.io/apimachinery/pkg/util/wait/backoff.go).
// Pure: the caller passes the current time and the random source.
#pragma once

#include <chrono>
#include <functional>

#include "crashdiag/core/time.hpp"  // Duration, TimePoint

namespace crashdiag::core {

struct BackoffPolicy {
  Duration initial{800};
  Duration cap{30'000};
  Duration reset_after{120'000};
  double factor = 2.0;
  double jitter = 1.0;  // a step of d sleeps d + U[0,1) * jitter * d, as wait.Jitter does
};

// Returns a uniformly distributed value in [0, 1). Injected so tests are exact.
using Random = std::function<double()>;

class Backoff {
 public:
  explicit Backoff(BackoffPolicy policy = {}) : policy_(policy), next_(policy.initial) {}

  // The delay before the next attempt. If more than reset_after passed since the previous
  // backoff started, the sequence starts again from `initial` (the client has been healthy).
  [[nodiscard]] Duration next(TimePoint now, const Random& random);

 private:
  BackoffPolicy policy_;
  Duration next_;
  bool started_ = false;
  TimePoint last_start_{0};
};

}  // namespace crashdiag::core
