// A work queue with client-go's semantics (k8s.io/client-go/util/workqueue), keyed by strings as
// controller-runtime's queues are keyed by object names: the payload lives beside the queue,
// under the same key. Pure and single-threaded: the caller passes the time (core::TimePoint, any
// monotonic origin), the queue never reads a clock, never sleeps and never blocks. Where client-go
// blocks in Get, get() returns nothing and the caller waits on its own wake-up; where client-go's
// waiting loop sleeps on a timer, next_due() says when to look again, so one caller-owned timer
// can be armed to exactly that time.
//
// The rules, each from the client-go file named:
//   queue.go             an item is in the queue at most once (`dirty`); an item added while it is
//                        processed is handed out again after done(), never twice at once
//                        (`processing`); after shut_down() adds are ignored, get() still drains.
//   delaying_queue.go    add_after() with a delay <= 0 adds now; a later due time for an item
//                        already waiting is ignored, an earlier one replaces it (the earliest wins);
//                        every add_after() counts as a retry (workqueue_retries_total), as there.
//   rate_limiting_queue.go, default_rate_limiters.go
//                        add_rate_limited() waits base * 2^failures, capped at max
//                        (ItemExponentialFailureRateLimiter); forget() resets the count and
//                        num_requeues() reads it.
//   metrics.go           what WorkQueueMetrics receives, for client-go's workqueue_* families.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "crashdiag/core/backoff.hpp"

namespace crashdiag::core {

// What a queue reports, enough for the families client-go registers per queue `name`
// (metrics.go's queueMetrics; k8s.io/component-base/metrics/prometheus/workqueue names them).
// Called synchronously from the queue's operations; an implementation must not call back into it.
class WorkQueueMetrics {
 public:
  virtual ~WorkQueueMetrics() = default;
  // workqueue_adds_total: an item became dirty (metrics.go add()).
  virtual void add() = 0;
  // workqueue_depth: items waiting to be handed out, including those that will be handed out
  // again once their current processing is done (client-go increments it in add() and decrements
  // it in get(), which counts the same set).
  virtual void depth(std::size_t n) = 0;
  // workqueue_queue_duration_seconds: from the add (for a delayed item, its due time) to get().
  virtual void queued(Duration waited) = 0;
  // workqueue_work_duration_seconds: from get() to done().
  virtual void worked(Duration took) = 0;
  // workqueue_retries_total: an add_after() or add_rate_limited() (delaying_queue.go AddAfter).
  virtual void retry() = 0;
  // The items being processed changed: how many, the earliest start and the sum of the starts.
  // A scrape derives from these, at its own time `now` (same origin as the queue's):
  //   workqueue_unfinished_work_seconds          = count * now - start_sum
  //   workqueue_longest_running_processor_seconds = now - oldest_start (0 when count is 0)
  // client-go refreshes both gauges from a 500 ms loop (metrics.go updateUnfinishedWorkLoop); a
  // scrape-time computation needs no loop and is never stale.
  virtual void processing(std::size_t count, TimePoint oldest_start, Duration start_sum) = 0;
};

// default_rate_limiters.go's ItemExponentialFailureRateLimiter: the n-th requeue of an item
// (counting from 0) waits base * 2^n, capped at max. client-go's DefaultControllerRateLimiter
// uses base 5 ms, max 1000 s.
class ItemExponentialFailureRateLimiter {
 public:
  explicit ItemExponentialFailureRateLimiter(Duration base = Duration{5}, Duration max = Duration{1'000'000})
      : base_(base), max_(max) {}
  // The delay for this requeue; counts it.
  [[nodiscard]] Duration when(const std::string& key);
  [[nodiscard]] int num_requeues(const std::string& key) const;
  void forget(const std::string& key);
  void clear() { failures_.clear(); }

 private:
  Duration base_;
  Duration max_;
  std::unordered_map<std::string, int> failures_;
};

class WorkQueue {
 public:
  explicit WorkQueue(ItemExponentialFailureRateLimiter limiter = ItemExponentialFailureRateLimiter(),
                     WorkQueueMetrics* metrics = nullptr);

  // ---- queue.go
  // Queues `key` unless it is queued already; one being processed is queued again at done().
  void add(const std::string& key, TimePoint now);
  // The next key, first in first out, after moving the waiting keys due by `now` into the queue;
  // nothing when none is ready (the caller waits for its own wake-up). The key is then being
  // processed until done().
  [[nodiscard]] std::optional<std::string> get(TimePoint now);
  // The caller finished `key`; if it was added meanwhile it goes to the back of the queue.
  // A key that is not being processed is ignored (client-go would queue a dirty one twice).
  void done(const std::string& key, TimePoint now);
  // Adds are ignored from now on and the waiting keys are dropped (delaying_queue.go stops its
  // waiting loop); get() still hands out what is queued.
  void shut_down();
  [[nodiscard]] bool shutting_down() const { return shutting_down_; }
  // Keys ready to be handed out (queue.go Len).
  [[nodiscard]] std::size_t len() const { return queue_.size(); }

  // ---- delaying_queue.go
  // Adds `key` once `delay` has passed; now when the delay is <= 0. A key already waiting keeps
  // the earlier of its two due times.
  void add_after(const std::string& key, Duration delay, TimePoint now);
  // Moves every waiting key due by `now` into the queue, in due order (ties: the order they were
  // added); returns how many. get() does this itself; a caller whose timer fired calls it to
  // know whether to wake its workers.
  std::size_t advance(TimePoint now);
  // When the earliest waiting key is due; nothing when none waits. Arm one timer to it.
  [[nodiscard]] std::optional<TimePoint> next_due() const;

  // ---- rate_limiting_queue.go
  // add_after() with the rate limiter's delay for `key` (which counts one more failure).
  void add_rate_limited(const std::string& key, TimePoint now);
  // Stop tracking `key`'s failures (call on success); the queue itself is unchanged.
  void forget(const std::string& key) { limiter_.forget(key); }
  [[nodiscard]] int num_requeues(const std::string& key) const { return limiter_.num_requeues(key); }

  // ---- beyond client-go
  // Queued, or waiting to be handed out again after its processing (client-go's `dirty`).
  [[nodiscard]] bool dirty(const std::string& key) const { return dirty_.contains(key); }
  [[nodiscard]] bool processing(const std::string& key) const { return processing_.contains(key); }
  [[nodiscard]] bool waiting(const std::string& key) const { return waiting_index_.contains(key); }
  // Known to the queue in any way: queued, waiting for its due time, or being processed.
  [[nodiscard]] bool tracked(const std::string& key) const { return dirty(key) || processing(key) || waiting(key); }
  [[nodiscard]] std::size_t processing_count() const { return processing_.size(); }
  [[nodiscard]] std::size_t waiting_count() const { return waiting_index_.size(); }
  // Forgets everything queued and waiting, and every failure count (a new leader starts over).
  // Keys being processed stay so until done(), which then does not queue them again: a key
  // is still never handed out while it is processed.
  void clear();
  // client-go's unfinished-work gauges, computed at `now` (metrics.go updateUnfinishedWork).
  [[nodiscard]] double unfinished_work_seconds(TimePoint now) const;
  [[nodiscard]] double longest_running_processor_seconds(TimePoint now) const;

 private:
  void add_at(const std::string& key, TimePoint added);
  void report_depth();
  void report_processing();

  ItemExponentialFailureRateLimiter limiter_;
  WorkQueueMetrics* metrics_;
  std::deque<std::string> queue_;                          // queue.go `queue`: the order of handing out
  std::unordered_set<std::string> dirty_;                  // queue.go `dirty`: to be handed out
  std::unordered_map<std::string, TimePoint> processing_;  // queue.go `processing`, with start times
  std::unordered_map<std::string, TimePoint> added_at_;    // metrics.go `addTimes`
  // delaying_queue.go's waitForPriorityQueue and knownEntries: (due, sequence, key) ordered, and
  // each waiting key's entry. The sequence keeps keys with the same due time first in first out.
  using Waiting = std::tuple<TimePoint, std::uint64_t, std::string>;
  std::set<Waiting> waiting_;
  std::unordered_map<std::string, std::pair<TimePoint, std::uint64_t>> waiting_index_;
  std::uint64_t sequence_ = 0;
  bool shutting_down_ = false;
};

}  // namespace crashdiag::core
