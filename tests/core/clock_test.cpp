// The two clocks are two types (issue 13 item 4): what may be done with an instant, and a manual
// clock that tests move instead of sleeping.
#include <gtest/gtest.h>

#include <type_traits>

#include "crashdiag/core/time.hpp"

namespace crashdiag::core {
namespace {

using namespace std::chrono_literals;

// A wall time is not a monotonic time, and a duration is neither: each conversion must be spelled.
static_assert(!std::is_convertible_v<WallTime, TimePoint>);
static_assert(!std::is_convertible_v<TimePoint, WallTime>);
static_assert(!std::is_constructible_v<TimePoint, WallTime>);
static_assert(!std::is_convertible_v<Duration, WallTime>);
static_assert(!std::is_convertible_v<WallTime, Duration>);
static_assert(std::is_same_v<decltype(WallTime{} - WallTime{}), Duration>);
static_assert(std::is_same_v<decltype(TimePoint{} + Duration{}), TimePoint>);

TEST(Clock, InstantsDifferAsDurationsAndMoveByDurations) {
  const TimePoint t{10'000};
  EXPECT_EQ(t + 2s, TimePoint{12'000});
  EXPECT_EQ(t - 500ms, TimePoint{9'500});
  EXPECT_EQ(TimePoint{12'000} - t, 2s);
  EXPECT_LT(t, t + 1ms);
  EXPECT_EQ(t.count(), 10'000);
  EXPECT_EQ(t.since_origin(), 10s);
}

TEST(Clock, AManualClockMovesOnlyWhenTold) {
  ManualClock manual(WallTime{1'795'000'000'000}, TimePoint{7});
  const Clock clock = manual.clock();
  EXPECT_EQ(clock.now(), TimePoint{7});
  EXPECT_EQ(clock.wall_now(), WallTime{1'795'000'000'000});
  manual.advance(90s);
  EXPECT_EQ(clock.now(), TimePoint{90'007});
  EXPECT_EQ(format_time(clock.wall_now()), "2026-11-18T11:08:10Z");
}

TEST(Clock, TheSystemClockReadsTheProcessClocks) {
  const Clock clock = Clock::system();
  const TimePoint a = clock.now();
  const TimePoint b = clock.now();
  EXPECT_LE(a, b) << "monotonic";
  EXPECT_GT(clock.wall_now(), WallTime{1'767'225'600'000}) << "after 2026-01-01";
}

}  // namespace
}  // namespace crashdiag::core
