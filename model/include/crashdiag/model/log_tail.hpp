// Bounded log tail: keeps the last `max_lines` lines, each cut at `max_line_bytes`, whatever
// the input size. A 100 MB log with a 10 MB line costs at most max_lines * max_line_bytes.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>

#include "crashdiag/model/evidence.hpp"

namespace crashdiag {

struct LogTailLimits {
  std::size_t max_lines = 500;
  std::size_t max_line_bytes = 4096;
};

class LogTailBuilder {
 public:
  explicit LogTailBuilder(LogTailLimits limits = {}) : limits_(limits) {}

  // Feed any number of chunks of any size; lines may span chunks.
  void append(std::string_view chunk);
  // Completes the last partial line and returns the tail.
  [[nodiscard]] LogTail finish() &&;

 private:
  void end_line();

  LogTailLimits limits_;
  std::deque<std::string> lines_;
  std::string current_;
  bool current_cut_ = false;
  bool dropped_head_ = false;
  std::size_t cut_lines_ = 0;
};

[[nodiscard]] LogTail make_log_tail(std::string_view text, LogTailLimits limits = {});

}  // namespace crashdiag
