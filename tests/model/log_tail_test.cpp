#include <gtest/gtest.h>

#include "crashdiag/model/log_tail.hpp"

namespace crashdiag {
namespace {

TEST(LogTail, KeepsOnlyTheLastLines) {
  LogTailBuilder b(LogTailLimits{3, 100});
  b.append("a\nb\nc\nd\ne\n");
  LogTail t = std::move(b).finish();
  EXPECT_EQ(t.lines, (std::vector<std::string>{"c", "d", "e"}));
  EXPECT_TRUE(t.truncated_head);
}

TEST(LogTail, LinesSpanningChunksAreJoinedAtEverySplitPoint) {
  const std::string text = "first line\nsecond\r\nthird without newline";
  for (std::size_t split = 0; split <= text.size(); ++split) {
    LogTailBuilder b;
    b.append(std::string_view(text).substr(0, split));
    b.append(std::string_view(text).substr(split));
    LogTail t = std::move(b).finish();
    ASSERT_EQ(t.lines, (std::vector<std::string>{"first line", "second", "third without newline"}))
        << "split " << split;
  }
}

TEST(LogTail, HugeLineIsCutAndMarked) {
  LogTailBuilder b(LogTailLimits{10, 16});
  std::string huge(1 << 20, 'x');
  b.append("before\n");
  b.append(huge);
  b.append(huge);
  b.append("\nafter\n");
  LogTail t = std::move(b).finish();
  ASSERT_EQ(t.lines.size(), 3U);
  EXPECT_EQ(t.lines[1], std::string(16, 'x') + " [... line truncated]");
  EXPECT_EQ(t.truncated_lines, 1U);
  EXPECT_EQ(t.lines[2], "after");
}

TEST(LogTail, HundredMegabyteLogWithATenMegabyteLineStaysBounded) {
  // 100 MB streamed in 64 KiB chunks, one 10 MB line in the middle: the tail holds at most
  // max_lines * max_line_bytes, however much was fed.
  const LogTailLimits limits{500, 4096};
  LogTailBuilder b(limits);
  const std::string line = "2026-01-01T00:00:00Z INFO request served in 3ms path=/api/v1/items status=200\n";
  std::string chunk;
  while (chunk.size() < 65536) chunk += line;
  std::size_t fed = 0;
  const std::size_t total = 100U << 20U;
  bool big_done = false;
  while (fed < total) {
    if (!big_done && fed > total / 2) {
      std::string big(65536, 'y');
      for (int i = 0; i < 160; ++i) b.append(big);  // 10 MiB without a newline
      b.append("\n");
      fed += 160U * 65536U;
      big_done = true;
    }
    b.append(chunk);
    fed += chunk.size();
  }
  b.append("FATAL: the last line\n");
  LogTail t = std::move(b).finish();
  EXPECT_EQ(t.lines.size(), limits.max_lines);
  EXPECT_EQ(t.lines.back(), "FATAL: the last line");
  std::size_t bytes = 0;
  for (const auto& l : t.lines) bytes += l.size();
  EXPECT_LE(bytes, limits.max_lines * (limits.max_line_bytes + 32));
}

}  // namespace
}  // namespace crashdiag
