#include "crashdiag/core/time.hpp"

#include <cstdio>

#include "crashdiag/model/rfc3339.hpp"

namespace crashdiag::core {

TimePoint steady_now() noexcept {
  return TimePoint(std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now().time_since_epoch()));
}

WallTime system_now() noexcept {
  return WallTime(std::chrono::duration_cast<Duration>(std::chrono::system_clock::now().time_since_epoch()));
}

std::string format_time(WallTime t) {
  using namespace std::chrono;
  const sys_seconds secs{duration_cast<seconds>(t.since_origin())};
  const auto day = floor<days>(secs);
  const year_month_day ymd{day};
  const hh_mm_ss hms{secs - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

std::string format_micro_time(WallTime t) {
  using namespace std::chrono;
  const sys_days day = floor<days>(sys_time<milliseconds>(t.since_origin()));
  const year_month_day ymd(day);
  const milliseconds in_day = t.since_origin() - duration_cast<milliseconds>(day.time_since_epoch());
  const hh_mm_ss<milliseconds> hms(in_day);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%06dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()), static_cast<int>(hms.subseconds().count()) * 1000);
  return buf;
}

std::optional<WallTime> parse_time(std::string_view s) {
  auto ms = parse_rfc3339_millis(s);
  if (!ms) return std::nullopt;
  return WallTime(*ms);
}

}  // namespace crashdiag::core
