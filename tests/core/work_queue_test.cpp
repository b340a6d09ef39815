// core::WorkQueue against client-go's workqueue rules (k8s.io/client-go/util/workqueue): one table
// row per rule, each a script of operations at given times with what they must answer. A row
// fails if the queue breaks its rule: a duplicate, a key handed out twice at once, a lost requeue,
// a due time not kept, a backoff off by one step, a metric that does not move as client-go's does.
#include "crashdiag/core/work_queue.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace crashdiag::core {
namespace {

enum class Op {
  kAdd,
  kAddAfter,
  kAddRateLimited,
  kGet,  // `want`: the key handed out, "" for nothing
  kDone,
  kForget,
  kShutDown,
  kClear,
  kAdvance,       // `n`: how many keys it must move
  kLen,           // `n`: len()
  kNextDue,       // `n`: next_due(), -1 for none
  kRequeues,      // `n`: num_requeues(key)
  kProcessing,    // `n`: processing(key) as 0/1
  kTracked,       // `n`: tracked(key) as 0/1
  kShuttingDown,  // `n`: shutting_down() as 0/1
};

struct Step {
  Op op;
  std::string key;
  std::int64_t t = 0;  // the time passed in, ms
  std::int64_t n = 0;  // a delay for kAddAfter, else what a check expects
  std::string want;
};

Step add(std::string key, std::int64_t t = 0) {
  return {Op::kAdd, std::move(key), t, 0, ""};
}
Step add_after(std::string key, std::int64_t delay, std::int64_t t = 0) {
  return {Op::kAddAfter, std::move(key), t, delay, ""};
}
Step add_rate_limited(std::string key, std::int64_t t = 0) {
  return {Op::kAddRateLimited, std::move(key), t, 0, ""};
}
Step get(std::string want, std::int64_t t = 0) {
  return {Op::kGet, "", t, 0, std::move(want)};
}
Step done(std::string key, std::int64_t t = 0) {
  return {Op::kDone, std::move(key), t, 0, ""};
}
Step forget(std::string key) {
  return {Op::kForget, std::move(key), 0, 0, ""};
}
Step shut_down() {
  return {Op::kShutDown, "", 0, 0, ""};
}
Step clear() {
  return {Op::kClear, "", 0, 0, ""};
}
Step advance(std::int64_t t, std::int64_t moved) {
  return {Op::kAdvance, "", t, moved, ""};
}
Step expect_len(std::int64_t n) {
  return {Op::kLen, "", 0, n, ""};
}
Step expect_next_due(std::int64_t t) {
  return {Op::kNextDue, "", 0, t, ""};
}
Step expect_requeues(std::string key, std::int64_t n) {
  return {Op::kRequeues, std::move(key), 0, n, ""};
}
Step expect_processing(std::string key, bool yes) {
  return {Op::kProcessing, std::move(key), 0, yes ? 1 : 0, ""};
}
Step expect_tracked(std::string key, bool yes) {
  return {Op::kTracked, std::move(key), 0, yes ? 1 : 0, ""};
}
Step expect_shutting_down(bool yes) {
  return {Op::kShuttingDown, "", 0, yes ? 1 : 0, ""};
}

struct Rule {
  const char* name;
  const char* source;  // the client-go file the rule is from
  std::vector<Step> steps;
};

// The rate limiter of every row: base 10 ms, cap 100 ms (client-go's default is 5 ms, 1000 s).
WorkQueue make_queue(WorkQueueMetrics* metrics = nullptr) {
  return WorkQueue(ItemExponentialFailureRateLimiter(Duration{10}, Duration{100}), metrics);
}

void run(WorkQueue& q, const std::vector<Step>& steps) {
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    SCOPED_TRACE("step " + std::to_string(i) + " key '" + s.key + "' t=" + std::to_string(s.t));
    const TimePoint t{s.t};
    switch (s.op) {
      case Op::kAdd:
        q.add(s.key, t);
        break;
      case Op::kAddAfter:
        q.add_after(s.key, Duration{s.n}, t);
        break;
      case Op::kAddRateLimited:
        q.add_rate_limited(s.key, t);
        break;
      case Op::kGet:
        EXPECT_EQ(q.get(t).value_or(""), s.want);
        break;
      case Op::kDone:
        q.done(s.key, t);
        break;
      case Op::kForget:
        q.forget(s.key);
        break;
      case Op::kShutDown:
        q.shut_down();
        break;
      case Op::kClear:
        q.clear();
        break;
      case Op::kAdvance:
        EXPECT_EQ(q.advance(t), static_cast<std::size_t>(s.n));
        break;
      case Op::kLen:
        EXPECT_EQ(q.len(), static_cast<std::size_t>(s.n));
        break;
      case Op::kNextDue:
        EXPECT_EQ(q.next_due().value_or(TimePoint{-1}).count(), s.n);
        break;
      case Op::kRequeues:
        EXPECT_EQ(q.num_requeues(s.key), s.n);
        break;
      case Op::kProcessing:
        EXPECT_EQ(q.processing(s.key), s.n == 1);
        break;
      case Op::kTracked:
        EXPECT_EQ(q.tracked(s.key), s.n == 1);
        break;
      case Op::kShuttingDown:
        EXPECT_EQ(q.shutting_down(), s.n == 1);
        break;
    }
  }
}

class WorkQueueRule : public ::testing::TestWithParam<Rule> {};

TEST_P(WorkQueueRule, Holds) {
  SCOPED_TRACE(std::string(GetParam().name) + " (" + GetParam().source + ")");
  WorkQueue q = make_queue();
  run(q, GetParam().steps);
}

const Rule kRules[] = {
    {"GetOnAnEmptyQueueReturnsNothing", "queue.go Get", {get(""), expect_len(0), expect_next_due(-1)}},
    {"KeysComeOutFirstInFirstOut", "queue.go Get", {add("a"), add("b"), add("c"), get("a"), get("b"), get("c")}},
    {"AKeyAddedWhileQueuedIsNotDuplicated",
     "queue.go Add (dirty)",
     {add("a"), add("b"), add("a"), expect_len(2), get("a"), get("b"), get("")}},
    {"AKeyAddedWhileProcessingIsNotHandedOutAgainBeforeDone",
     "queue.go Add (processing)",
     {add("a"), get("a"), add("a"), expect_len(0), get(""), expect_processing("a", true)}},
    {"AKeyAddedWhileProcessingIsHandedOutAgainAfterDone",
     "queue.go Done",
     {add("a"), get("a"), add("a"), add("a"), done("a"), expect_len(1), get("a"), done("a"), get("")}},
    {"ARequeueAfterDoneGoesToTheBack",
     "queue.go Done",
     {add("a"), add("b"), get("a"), add("a"), done("a"), get("b"), get("a")}},
    {"DoneWithoutAnAddDoesNotRequeue",
     "queue.go Done",
     {add("a"), get("a"), done("a"), get(""), expect_tracked("a", false)}},
    {"DoneOnAKeyNotBeingProcessedIsIgnored",
     "queue.go Done (guarded)",
     {add("a"), done("a"), expect_len(1), get("a"), get("")}},
    {"AddAfterWithNoDelayAddsNow",
     "delaying_queue.go AddAfter",
     {add_after("a", 0, 10), add_after("b", -5, 10), expect_next_due(-1), get("a", 10), get("b", 10)}},
    {"AddAfterWaitsUntilDue",
     "delaying_queue.go waitingLoop",
     {add_after("a", 100, 0), expect_tracked("a", true), get("", 99), expect_next_due(100), get("a", 100),
      expect_next_due(-1)}},
    {"AnEarlierAddAfterWins",
     "delaying_queue.go insert",
     {add_after("a", 100, 0), add_after("a", 50, 0), expect_next_due(50), get("a", 50), get("", 100)}},
    {"ALaterAddAfterIsIgnored",
     "delaying_queue.go insert",
     {add_after("a", 50, 0), add_after("a", 100, 0), expect_next_due(50), get("a", 50), expect_next_due(-1),
      done("a", 60), get("", 100)}},
    {"WaitingKeysComeOutInDueOrderThenAddOrder",
     "delaying_queue.go waitForPriorityQueue",
     {add_after("c", 20), add_after("b", 10), add_after("a", 10), get("b", 30), get("a", 30), get("c", 30)}},
    {"AdvanceMovesOnlyWhatIsDue",
     "delaying_queue.go waitingLoop",
     {add_after("a", 10), add_after("b", 20), advance(15, 1), expect_len(1), expect_next_due(20), advance(15, 0),
      advance(20, 1), expect_len(2)}},
    {"AnAddWhileWaitingAddsNowAndTheDueTimeAddsAgain",
     "delaying_queue.go (Add does not look at the waiting keys)",
     {add_after("a", 100, 0), add("a", 0), get("a", 0), done("a", 1), get("", 1), get("a", 100)}},
    {"ADueKeyBeingProcessedIsHandedOutAgainAfterDone",
     "delaying_queue.go + queue.go Add",
     {add("a"), get("a"), add_after("a", 10, 0), get("", 10), done("a", 11), get("a", 11)}},
    {"RateLimitedRequeuesBackOffExponentiallyToTheCap",
     "default_rate_limiters.go ItemExponentialFailureRateLimiter",
     {add_rate_limited("a", 0),
      expect_next_due(10),
      expect_requeues("a", 1),
      get("a", 10),
      done("a", 10),
      add_rate_limited("a", 10),
      expect_next_due(30),
      get("a", 30),
      done("a", 30),
      add_rate_limited("a", 30),
      expect_next_due(70),
      get("a", 70),
      done("a", 70),
      add_rate_limited("a", 70),
      expect_next_due(150),
      get("a", 150),
      done("a", 150),
      add_rate_limited("a", 150),
      expect_next_due(250),
      expect_requeues("a", 5)}},
    {"FailuresAreCountedPerKey",
     "default_rate_limiters.go failures map",
     {add_rate_limited("a"), add_rate_limited("a"), add_rate_limited("b"), expect_requeues("a", 2),
      expect_requeues("b", 1), expect_next_due(10)}},
    {"ForgetResetsTheFailureCount",
     "rate_limiting_queue.go Forget",
     {add_rate_limited("a", 0), get("a", 10), add_rate_limited("a", 10), expect_requeues("a", 2), forget("a"),
      expect_requeues("a", 0), done("a", 20), get("a", 30), done("a", 30), add_rate_limited("a", 30),
      expect_next_due(40)}},
    {"ForgetLeavesTheQueueAlone",
     "rate_limiting_queue.go Forget",
     {add_rate_limited("a", 0), forget("a"), expect_next_due(10), get("a", 10)}},
    {"ShutDownIgnoresAddsDropsWaitingAndStillDrains",
     "queue.go ShutDown, delaying_queue.go",
     {add("a"), add_after("b", 10), shut_down(), expect_shutting_down(true), add("c"), add_after("d", 0),
      add_rate_limited("e"), expect_next_due(-1), get("a", 100), get("", 100), expect_requeues("e", 0)}},
    {"ClearForgetsQueuedWaitingAndFailures",
     "beyond client-go (a lost leadership)",
     {add("a"), add_after("b", 10), add_rate_limited("c"), clear(), expect_len(0), expect_next_due(-1),
      expect_requeues("c", 0), get("", 100), expect_tracked("a", false)}},
    {"ClearKeepsAKeyBeingProcessedFromBeingHandedOutTwice",
     "beyond client-go; queue.go processing",
     {add("a"), get("a"), add("a"), clear(), done("a"), get(""), add("b"), get("b"), clear(), add("b"), get(""),
      expect_processing("b", true), done("b"), get("b")}},
};

INSTANTIATE_TEST_SUITE_P(ClientGo, WorkQueueRule, ::testing::ValuesIn(kRules),
                         [](const ::testing::TestParamInfo<Rule>& info) { return std::string(info.param.name); });

TEST(ItemExponentialFailureRateLimiter, DefaultsAreClientGos) {
  ItemExponentialFailureRateLimiter r;
  EXPECT_EQ(r.when("a"), Duration{5});
  EXPECT_EQ(r.when("a"), Duration{10});
  for (int i = 0; i < 40; ++i) (void)r.when("a");
  EXPECT_EQ(r.when("a"), Duration{1'000'000}) << "capped at 1000 s";
  for (int i = 0; i < 2000; ++i) (void)r.when("b");  // 2^2000 overflows a double: still the cap
  EXPECT_EQ(r.when("b"), Duration{1'000'000});
}

// ---- metrics: what the queue reports, as client-go's metrics.go records it

struct Recorded final : WorkQueueMetrics {
  std::int64_t adds = 0;
  std::size_t depth_now = 0;
  std::vector<std::int64_t> queued_ms;
  std::vector<std::int64_t> worked_ms;
  std::int64_t retries = 0;
  std::size_t processing_count = 0;
  std::int64_t oldest = 0;
  std::int64_t sum = 0;
  void add() override { ++adds; }
  void depth(std::size_t n) override { depth_now = n; }
  void queued(Duration d) override { queued_ms.push_back(d.count()); }
  void worked(Duration d) override { worked_ms.push_back(d.count()); }
  void retry() override { ++retries; }
  void processing(std::size_t count, TimePoint o, Duration s) override {
    processing_count = count;
    oldest = o.count();
    sum = s.count();
  }
};

struct MetricRule {
  const char* name;
  std::vector<Step> steps;
  std::int64_t adds;
  std::size_t depth;
  std::vector<std::int64_t> queued_ms;
  std::vector<std::int64_t> worked_ms;
  std::int64_t retries;
  std::size_t processing;
  std::int64_t oldest;
  std::int64_t sum;
};

class WorkQueueMetric : public ::testing::TestWithParam<MetricRule> {};

TEST_P(WorkQueueMetric, Recorded) {
  const MetricRule& r = GetParam();
  Recorded m;
  WorkQueue q = make_queue(&m);
  run(q, r.steps);
  EXPECT_EQ(m.adds, r.adds) << "workqueue_adds_total";
  EXPECT_EQ(m.depth_now, r.depth) << "workqueue_depth";
  EXPECT_EQ(m.queued_ms, r.queued_ms) << "workqueue_queue_duration_seconds";
  EXPECT_EQ(m.worked_ms, r.worked_ms) << "workqueue_work_duration_seconds";
  EXPECT_EQ(m.retries, r.retries) << "workqueue_retries_total";
  EXPECT_EQ(m.processing_count, r.processing) << "items being processed";
  if (r.processing > 0) {
    EXPECT_EQ(m.oldest, r.oldest) << "the oldest start";
    EXPECT_EQ(m.sum, r.sum) << "the sum of the starts";
  }
}

const MetricRule kMetricRules[] = {
    // metrics.go add() runs only when the item becomes dirty.
    {"AddsCountOnlyWhatBecomesDirty", {add("a"), add("a"), add("b")}, 2, 2, {}, {}, 0, 0, 0, 0},
    // depth: incremented for an item added while processed, though len() is 0 until done().
    {"DepthCountsAKeyAddedWhileProcessing", {add("a"), get("a"), add("a"), expect_len(0)}, 2, 1, {0}, {}, 0, 1, 0, 0},
    // addTimes keeps the first add: the latency is from it, not from the duplicate.
    {"QueueDurationIsFromTheFirstAdd", {add("a", 0), add("a", 5), get("a", 12)}, 1, 0, {12}, {}, 0, 1, 12, 12},
    // A delayed key counts from its due time, when client-go's waiting loop adds it.
    {"QueueDurationOfADelayedKeyIsFromItsDueTime", {add_after("a", 10, 0), get("a", 15)}, 1, 0, {5}, {}, 1, 1, 15, 15},
    {"WorkDurationIsFromGetToDone", {add("a", 0), get("a", 12), done("a", 40)}, 1, 0, {12}, {28}, 0, 0, 0, 0},
    // AddAfter calls q.metrics.retry() whatever its delay; Add does not.
    {"RetriesCountEveryAddAfterAndRateLimitedAdd",
     {add("x"), add_after("a", 0), add_after("b", 10), add_rate_limited("c")},
     2,
     2,
     {},
     {},
     3,
     0,
     0,
     0},
    {"ProcessingReportsCountOldestAndSum",
     {add("a", 0), add("b", 0), get("a", 10), get("b", 20)},
     2,
     0,
     {10, 20},
     {},
     0,
     2,
     10,
     30},
    {"ClearEmptiesTheDepth", {add("a"), add("b"), clear()}, 2, 0, {}, {}, 0, 0, 0, 0},
};

INSTANTIATE_TEST_SUITE_P(ClientGo, WorkQueueMetric, ::testing::ValuesIn(kMetricRules),
                         [](const ::testing::TestParamInfo<MetricRule>& info) { return std::string(info.param.name); });

TEST(WorkQueue, UnfinishedWorkIsTheSumOfTheRunningAgesAndTheLongestTheOldest) {
  WorkQueue q = make_queue();
  q.add("a", TimePoint{0});
  q.add("b", TimePoint{0});
  ASSERT_EQ(q.get(TimePoint{1'000}), "a");
  ASSERT_EQ(q.get(TimePoint{3'000}), "b");
  EXPECT_DOUBLE_EQ(q.unfinished_work_seconds(TimePoint{5'000}), 4.0 + 2.0);
  EXPECT_DOUBLE_EQ(q.longest_running_processor_seconds(TimePoint{5'000}), 4.0);
  q.done("a", TimePoint{5'000});
  EXPECT_DOUBLE_EQ(q.unfinished_work_seconds(TimePoint{5'000}), 2.0);
  q.done("b", TimePoint{5'000});
  EXPECT_DOUBLE_EQ(q.longest_running_processor_seconds(TimePoint{9'000}), 0.0);
}

}  // namespace
}  // namespace crashdiag::core
