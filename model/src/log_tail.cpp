#include "crashdiag/model/log_tail.hpp"

#include "crashdiag/model/utf8.hpp"

namespace crashdiag {

void LogTailBuilder::append(std::string_view chunk) {
  while (!chunk.empty()) {
    std::size_t nl = chunk.find('\n');
    std::string_view piece = chunk.substr(0, nl);
    // Keep at most max_line_bytes of a line: the head of a line says what it is about, and
    // a 10 MB line (a JSON blob, a base64 dump) must not cost 10 MB.
    if (current_.size() < limits_.max_line_bytes) {
      std::size_t room = limits_.max_line_bytes - current_.size();
      if (piece.size() > room) current_cut_ = true;
      current_.append(piece.substr(0, room));
    } else if (!piece.empty()) {
      current_cut_ = true;
    }
    if (nl == std::string_view::npos) return;
    end_line();
    chunk.remove_prefix(nl + 1);
  }
}

void LogTailBuilder::end_line() {
  if (!current_.empty() && current_.back() == '\r') current_.pop_back();  // CRLF logs
  if (current_cut_) {
    trim_incomplete_utf8(current_);  // the byte cap may have split a character
    current_ += " [... line truncated]";
    ++cut_lines_;
  }
  lines_.push_back(std::move(current_));
  current_.clear();
  current_cut_ = false;
  if (lines_.size() > limits_.max_lines) {
    lines_.pop_front();
    dropped_head_ = true;
  }
}

LogTail LogTailBuilder::finish() && {
  if (!current_.empty() || current_cut_) end_line();
  LogTail tail;
  tail.lines.assign(std::make_move_iterator(lines_.begin()), std::make_move_iterator(lines_.end()));
  tail.truncated_head = dropped_head_;
  tail.truncated_lines = cut_lines_;
  return tail;
}

LogTail make_log_tail(std::string_view text, LogTailLimits limits) {
  LogTailBuilder builder(limits);
  builder.append(text);
  return std::move(builder).finish();
}

}  // namespace crashdiag
