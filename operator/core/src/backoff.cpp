#include "crashdiag/core/backoff.hpp"

#include <algorithm>

namespace crashdiag::core {

Duration Backoff::next(TimePoint now, const Random& random) {
  if (started_ && now - last_start_ > policy_.reset_after) next_ = policy_.initial;
  started_ = true;
  last_start_ = now;
  const Duration base = next_;
  // Grow for the following step, capped (Backoff.Step in apimachinery's wait package).
  const auto grown = static_cast<Duration::rep>(static_cast<double>(next_.count()) * policy_.factor);
  next_ = std::min(Duration(grown), policy_.cap);
  const double jitter = policy_.jitter > 0 ? random() * policy_.jitter : 0.0;
  return base + Duration(static_cast<Duration::rep>(static_cast<double>(base.count()) * jitter));
}

}  // namespace crashdiag::core
