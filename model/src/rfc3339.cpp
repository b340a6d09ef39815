#include "crashdiag/model/rfc3339.hpp"

#include <chrono>

namespace crashdiag {
namespace {

// Reads `n` decimal digits at `pos`; -1 if any is not a digit or the text is too short.
int digits(std::string_view s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) return -1;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

}  // namespace

std::optional<std::int64_t> parse_rfc3339_millis(std::string_view s) {
  using namespace std::chrono;
  // 2026-11-22T03:24:13[.123456](Z|+hh:mm|-hh:mm)
  const int y = digits(s, 0, 4);
  const int mo = digits(s, 5, 2);
  const int d = digits(s, 8, 2);
  const int h = digits(s, 11, 2);
  const int mi = digits(s, 14, 2);
  const int sec = digits(s, 17, 2);
  if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0 || s[4] != '-' || s[7] != '-' ||
      (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' || h > 23 || mi > 59 || sec > 60) {
    return std::nullopt;
  }
  const year_month_day ymd{year(y), month(static_cast<unsigned>(mo)), day(static_cast<unsigned>(d))};
  if (!ymd.ok()) return std::nullopt;
  std::size_t pos = 19;
  milliseconds frac{0};
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int scale = 100;
    const std::size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac += milliseconds((s[pos] - '0') * scale);  // digits beyond milliseconds add 0
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  minutes offset{0};
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    const int oh = digits(s, pos + 1, 2);
    const int om = digits(s, pos + 4, 2);
    if (oh < 0 || om < 0 || s[pos + 3] != ':') return std::nullopt;
    offset = minutes(oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const milliseconds t = duration_cast<milliseconds>(sys_days(ymd).time_since_epoch()) + hours(h) + minutes(mi) +
                         seconds(sec) + frac - offset;
  return t.count();
}

std::optional<std::int64_t> parse_rfc3339_seconds(std::string_view text) {
  auto ms = parse_rfc3339_millis(text);
  if (!ms) return std::nullopt;
  return *ms / 1000;
}

}  // namespace crashdiag
