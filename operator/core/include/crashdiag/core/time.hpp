// Kubernetes timestamps (pure): metav1.Time is RFC 3339 in UTC with second precision,
// metav1.MicroTime the same with 6 fractional digits (apimachinery pkg/apis/meta/v1/time.go,
// micro_time.go). One implementation for everything crashdiag reads and writes.
#pragma once

#include <chrono>
#include <compare>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace crashdiag::core {

using Duration = std::chrono::milliseconds;

// An instant on one clock, in milliseconds since that clock's origin. The two clocks crashdiag
// reads are distinct types, so a wall time cannot be passed where a monotonic one is meant (a
// deadline computed from the wall clock jumps with NTP) and neither converts silently to a
// Duration: instant - instant is a Duration, instant +/- Duration an instant, nothing else.
template <class Origin>
class Instant {
 public:
  constexpr Instant() = default;
  constexpr explicit Instant(Duration::rep ms) : since_(ms) {}
  constexpr explicit Instant(Duration since_origin) : since_(since_origin) {}

  [[nodiscard]] constexpr Duration since_origin() const { return since_; }
  [[nodiscard]] constexpr Duration::rep count() const { return since_.count(); }  // milliseconds

  constexpr Instant& operator+=(Duration d) {
    since_ += d;
    return *this;
  }
  constexpr Instant& operator-=(Duration d) {
    since_ -= d;
    return *this;
  }
  friend constexpr Instant operator+(Instant t, Duration d) { return Instant(t.since_ + d); }
  friend constexpr Instant operator+(Duration d, Instant t) { return Instant(t.since_ + d); }
  friend constexpr Instant operator-(Instant t, Duration d) { return Instant(t.since_ - d); }
  friend constexpr Duration operator-(Instant a, Instant b) { return a.since_ - b.since_; }
  // Written out: clang-tidy's modernize-use-nullptr misreads a defaulted <=> (the synthesized
  // comparison with literal 0).
  friend constexpr bool operator==(Instant a, Instant b) { return a.since_ == b.since_; }
  friend constexpr std::strong_ordering operator<=>(Instant a, Instant b) {
    return a.since_.count() <=> b.since_.count();
  }

 private:
  Duration since_{0};
};

struct MonotonicOrigin;  // an arbitrary origin (std::chrono::steady_clock's)
struct UnixEpoch;        // 1970-01-01T00:00:00Z (std::chrono::system_clock's)

// Monotonic time: deadlines, backoff, queue delays, how long something took.
using TimePoint = Instant<MonotonicOrigin>;
// Wall time since the Unix epoch: what is written to the API (timestamps, lastSeen) and what is
// compared with the API's own times (--unready-after against lastTransitionTime), and an alert's
// startsAt and endsAt. No wait runs on it.
using WallTime = Instant<UnixEpoch>;

// The process's clocks, read now.
[[nodiscard]] TimePoint steady_now() noexcept;
[[nodiscard]] WallTime system_now() noexcept;

// The one clock interface every stage takes: both readings, injected. Clock::system() reads the
// process's clocks; tests build one from a ManualClock and move time themselves.
struct Clock {
  std::function<TimePoint()> monotonic = &steady_now;
  std::function<WallTime()> wall = &system_now;

  [[nodiscard]] TimePoint now() const { return monotonic(); }
  [[nodiscard]] WallTime wall_now() const { return wall(); }
  [[nodiscard]] static Clock system() { return Clock{}; }
};

// Time that moves only when a test says so. Both readings advance together.
class ManualClock {
 public:
  explicit ManualClock(WallTime wall_start = WallTime{1'795'000'000'000}, TimePoint start = TimePoint{0})
      : wall_(wall_start), now_(start) {}
  void advance(Duration d) {
    wall_ += d;
    now_ += d;
  }
  // The wall clock alone steps (NTP, a restored VM, an operator's date): monotonic time does not.
  void step_wall(Duration d) { wall_ += d; }
  [[nodiscard]] TimePoint now() const { return now_; }
  [[nodiscard]] WallTime wall_now() const { return wall_; }
  // A Clock that reads this one; it must not outlive it.
  [[nodiscard]] Clock clock() const {
    return Clock{[this] { return now_; }, [this] { return wall_; }};
  }

 private:
  WallTime wall_;
  TimePoint now_;
};

// metav1.Time: "2026-11-22T03:24:13Z" (sub-second part truncated).
[[nodiscard]] std::string format_time(WallTime t);
// metav1.MicroTime: "2026-11-22T03:24:13.123000Z" (millisecond precision, padded).
[[nodiscard]] std::string format_micro_time(WallTime t);
// Either form, or any RFC 3339 with a fraction and Z or a numeric offset; nullopt when malformed.
// Fractions below a millisecond are dropped.
[[nodiscard]] std::optional<WallTime> parse_time(std::string_view text);

}  // namespace crashdiag::core
