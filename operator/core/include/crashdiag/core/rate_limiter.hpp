// Client-side token bucket (client-go's flowcontrol.NewTokenBucketRateLimiter(qps, burst)):
// `burst` requests may go at once, then `qps` per second. Pure: the caller passes the time.
#pragma once

#include <algorithm>
#include <optional>
#include <string_view>

#include "crashdiag/core/backoff.hpp"

namespace crashdiag::core {

class TokenBucket {
 public:
  TokenBucket(double qps, int burst) : qps_(qps), burst_(std::max(1, burst)), tokens_(burst_) {}

  // Takes a token; returns how long the caller must wait before sending (0 if a token was free).
  [[nodiscard]] Duration reserve(TimePoint now) {
    refill(now);
    tokens_ -= 1.0;
    if (tokens_ >= 0 || qps_ <= 0) return Duration(0);
    return Duration(static_cast<Duration::rep>((-tokens_) / qps_ * 1000.0 + 0.999));
  }

 private:
  void refill(TimePoint now) {
    if (started_)
      tokens_ = std::min<double>(burst_, tokens_ + static_cast<double>((now - last_).count()) / 1000.0 * qps_);
    started_ = true;
    last_ = now;
  }
  double qps_;
  int burst_;
  double tokens_;
  bool started_ = false;
  TimePoint last_{0};
};

// Retry-After is seconds (RFC 9110 also allows an HTTP date; the apiserver sends seconds).
[[nodiscard]] inline std::optional<Duration> parse_retry_after(std::string_view value) {
  if (value.empty() || value.size() > 6) return std::nullopt;
  long seconds = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    seconds = seconds * 10 + (c - '0');
  }
  return Duration(seconds * 1000);
}

}  // namespace crashdiag::core
