#include "crashdiag/core/work_queue.hpp"

#include <algorithm>
#include <cmath>

namespace crashdiag::core {

// ---- default_rate_limiters.go, ItemExponentialFailureRateLimiter

Duration ItemExponentialFailureRateLimiter::when(const std::string& key) {
  const int exp = failures_[key]++;
  // As client-go: computed in floating point so a large exponent cannot overflow, then capped.
  const double backoff = static_cast<double>(base_.count()) * std::pow(2.0, exp);
  if (backoff >= static_cast<double>(max_.count())) return max_;
  return Duration(static_cast<Duration::rep>(backoff));
}

int ItemExponentialFailureRateLimiter::num_requeues(const std::string& key) const {
  const auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

void ItemExponentialFailureRateLimiter::forget(const std::string& key) {
  failures_.erase(key);
}

// ---- queue.go

WorkQueue::WorkQueue(ItemExponentialFailureRateLimiter limiter, WorkQueueMetrics* metrics)
    : limiter_(std::move(limiter)), metrics_(metrics) {
  report_depth();
  report_processing();
}

void WorkQueue::add(const std::string& key, TimePoint now) {
  if (shutting_down_) return;
  add_at(key, now);
}

void WorkQueue::add_at(const std::string& key, TimePoint added) {
  // queue.go Add: already dirty (queued, or to be queued again after its processing): nothing to
  // do. Otherwise it is dirty now, and queued unless being processed: done() queues it then.
  if (!dirty_.insert(key).second) return;
  added_at_.try_emplace(key, added);  // metrics.go add(): the first add since the last get
  if (metrics_ != nullptr) metrics_->add();
  report_depth();
  if (processing_.contains(key)) return;
  queue_.push_back(key);
}

std::optional<std::string> WorkQueue::get(TimePoint now) {
  advance(now);
  if (queue_.empty()) return std::nullopt;
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  // queue.go Get: processing from now on, and no longer dirty, so an add queues it again.
  dirty_.erase(key);
  processing_[key] = now;
  if (const auto it = added_at_.find(key); it != added_at_.end()) {
    if (metrics_ != nullptr) metrics_->queued(now - it->second);
    added_at_.erase(it);
  }
  report_depth();
  report_processing();
  return key;
}

void WorkQueue::done(const std::string& key, TimePoint now) {
  const auto it = processing_.find(key);
  if (it == processing_.end()) return;
  if (metrics_ != nullptr) metrics_->worked(now - it->second);
  processing_.erase(it);
  report_processing();
  // queue.go Done: added while it was processed: its turn comes again, at the back.
  if (dirty_.contains(key)) queue_.push_back(key);
}

void WorkQueue::shut_down() {
  shutting_down_ = true;
  waiting_.clear();
  waiting_index_.clear();
}

// ---- delaying_queue.go

void WorkQueue::add_after(const std::string& key, Duration delay, TimePoint now) {
  if (shutting_down_) return;
  if (metrics_ != nullptr) metrics_->retry();  // AddAfter: q.metrics.retry(), whatever the delay
  if (delay <= Duration::zero()) {
    add(key, now);
    return;
  }
  const TimePoint due = now + delay;
  // waitingLoop's insert(): a key already waiting moves only to an earlier due time.
  if (const auto it = waiting_index_.find(key); it != waiting_index_.end()) {
    if (it->second.first <= due) return;
    waiting_.erase(Waiting{it->second.first, it->second.second, key});
    it->second.first = due;
    waiting_.emplace(due, it->second.second, key);
    return;
  }
  const std::uint64_t seq = sequence_++;
  waiting_.emplace(due, seq, key);
  waiting_index_.emplace(key, std::make_pair(due, seq));
}

std::size_t WorkQueue::advance(TimePoint now) {
  std::size_t moved = 0;
  while (!waiting_.empty() && std::get<0>(*waiting_.begin()) <= now) {
    auto node = waiting_.extract(waiting_.begin());
    const TimePoint due = std::get<0>(node.value());
    std::string& key = std::get<2>(node.value());
    waiting_index_.erase(key);
    // Added as of its due time: client-go's waiting loop adds it when its timer fires then.
    if (!shutting_down_) add_at(key, due);
    ++moved;
  }
  return moved;
}

std::optional<TimePoint> WorkQueue::next_due() const {
  if (waiting_.empty()) return std::nullopt;
  return std::get<0>(*waiting_.begin());
}

// ---- rate_limiting_queue.go

void WorkQueue::add_rate_limited(const std::string& key, TimePoint now) {
  if (shutting_down_) return;
  add_after(key, limiter_.when(key), now);
}

// ---- beyond client-go

void WorkQueue::clear() {
  queue_.clear();
  for (const std::string& key : dirty_) added_at_.erase(key);
  dirty_.clear();
  waiting_.clear();
  waiting_index_.clear();
  limiter_.clear();
  report_depth();
}

double WorkQueue::unfinished_work_seconds(TimePoint now) const {
  double total = 0;
  for (const auto& [key, started] : processing_) total += std::chrono::duration<double>(now - started).count();
  return total;
}

double WorkQueue::longest_running_processor_seconds(TimePoint now) const {
  double oldest = 0;
  for (const auto& [key, started] : processing_) {
    oldest = std::max(oldest, std::chrono::duration<double>(now - started).count());
  }
  return oldest;
}

void WorkQueue::report_depth() {
  if (metrics_ != nullptr) metrics_->depth(dirty_.size());
}

void WorkQueue::report_processing() {
  if (metrics_ == nullptr) return;
  TimePoint oldest{0};
  Duration sum{0};  // of the start times since the clock's origin: unfinished = count * now - sum
  bool first = true;
  for (const auto& [key, started] : processing_) {
    oldest = first ? started : std::min(oldest, started);
    first = false;
    sum += started.since_origin();
  }
  metrics_->processing(processing_.size(), oldest, sum);
}

}  // namespace crashdiag::core
