#include <gtest/gtest.h>

#include <set>

#include <ostream>

#include "crashdiag/core/crash_detector.hpp"
#include "crashdiag/core/pod_store.hpp"

namespace crashdiag::core {
namespace {

PodRecord pod(std::vector<ContainerRecord> containers, std::string rv = "1") {
  PodRecord p;
  p.namespace_ = "shop";
  p.name = "web-7d9f-abcde";
  p.uid = "u1";
  p.resource_version = std::move(rv);
  p.owner_kind = "ReplicaSet";
  p.owner_name = "web-7d9f";
  p.containers = std::move(containers);
  return p;
}

ContainerRecord crashing(int restarts, std::string finished, int exit_code = 1, std::string reason = "Error") {
  ContainerRecord c;
  c.name = "app";
  c.restart_count = restarts;
  c.waiting_reason = "CrashLoopBackOff";
  c.last_terminated = TerminationRecord{exit_code, std::move(reason), std::move(finished)};
  return c;
}

ContainerRecord running(int restarts = 0) {
  ContainerRecord c;
  c.name = "app";
  c.running = true;
  c.restart_count = restarts;
  return c;
}

struct DetectCase {
  const char* name;
  std::optional<PodRecord> old;
  PodRecord now;
  std::size_t signals;
  const char* reason;
};

// gtest prints parameters in test names and failures; the name says which row.
void PrintTo(const DetectCase& p, std::ostream* os) {
  *os << p.name;
}

class Detect : public ::testing::TestWithParam<DetectCase> {};

TEST_P(Detect, RaisesOneSignalPerNewFailure) {
  const auto& tc = GetParam();
  auto signals = detect_crashes(tc.old ? &*tc.old : nullptr, tc.now);
  ASSERT_EQ(signals.size(), tc.signals);
  if (tc.signals > 0) {
    EXPECT_EQ(signals[0].reason, tc.reason);
  }
}

PodRecord with_policy(PodRecord p, std::string policy) {
  p.restart_policy = std::move(policy);
  return p;
}
PodRecord deleting(PodRecord p) {
  p.deleting = true;
  return p;
}
ContainerRecord waiting(std::string reason) {
  ContainerRecord c;
  c.name = "app";
  c.waiting_reason = std::move(reason);
  return c;
}
ContainerRecord terminated_now(int exit_code, std::string reason) {
  ContainerRecord c;
  c.name = "app";
  c.terminated = TerminationRecord{exit_code, std::move(reason), "t1"};
  return c;
}
ContainerRecord init_crashing() {
  ContainerRecord c = crashing(2, "t2");
  c.init = true;
  c.name = "migrate";
  return c;
}

INSTANTIATE_TEST_SUITE_P(
    Table, Detect,
    ::testing::Values(
        DetectCase{"first_sight_of_crashloop", std::nullopt, pod({crashing(3, "t3")}), 1, "CrashLoopBackOff"},
        DetectCase{"restart_count_grew", pod({crashing(3, "t3")}), pod({crashing(4, "t4")}, "2"), 1,
                   "CrashLoopBackOff"},
        DetectCase{"same_failure_again_is_not_new", pod({crashing(3, "t3")}), pod({crashing(3, "t3")}, "2"), 0, ""},
        DetectCase{"new_finished_at", pod({crashing(3, "t3")}), pod({crashing(3, "t5")}, "2"), 1, "CrashLoopBackOff"},
        DetectCase{"healthy", std::nullopt, pod({running()}), 0, ""},
        DetectCase{"recovered_after_restarts_is_not_new", pod({crashing(3, "t3")}),
                   pod({[] {
                         ContainerRecord c = running(3);
                         c.last_terminated = TerminationRecord{1, "Error", "t3"};
                         return c;
                       }()},
                       "2"),
                   0, ""},
        DetectCase{"config_error_appears", pod({waiting("ContainerCreating")}),
                   pod({waiting("CreateContainerConfigError")}, "2"), 1, "CreateContainerConfigError"},
        DetectCase{"image_pull_backoff_flapping_is_one", pod({waiting("ErrImagePull")}),
                   pod({waiting("ImagePullBackOff")}, "2"), 0, ""},
        DetectCase{"oom_job_never_restarts", std::nullopt,
                   with_policy(pod({terminated_now(137, "OOMKilled")}), "Never"), 1, "OOMKilled"},
        DetectCase{"job_completed_is_fine", std::nullopt, with_policy(pod({terminated_now(0, "Completed")}), "Never"),
                   0, ""},
        DetectCase{"deployment_exit_0_loops", std::nullopt, pod({crashing(2, "t2", 0, "Completed")}), 1,
                   "CrashLoopBackOff"},
        DetectCase{"pod_being_deleted", pod({running()}), deleting(pod({terminated_now(137, "Error")}, "2")), 0, ""},
        DetectCase{"init_container", std::nullopt, pod({init_crashing()}), 1, "CrashLoopBackOff"}),
    [](const auto& info) { return std::string(info.param.name); });

// Replicas failing the same way share one key (one RCA, one diagnosis); another termination is
// another failure. (Deduplication itself is the RcaTracker's, see rca_test.cpp.)
TEST(FailureSignature, ReplicasShareItAndOtherTerminationsDoNot) {
  std::set<std::string> keys;
  for (int replica = 0; replica < 100; ++replica) {
    PodRecord p = pod({crashing(1, "t1")});
    p.name = "web-7d9f-" + std::to_string(replica);
    for (const auto& s : detect_crashes(nullptr, p)) keys.insert(s.dedupe_key());
  }
  ASSERT_EQ(keys.size(), 1U);
  EXPECT_EQ(*keys.begin(), "shop/ReplicaSet/web-7d9f/app/Error:1");
  for (const auto& s : detect_crashes(nullptr, pod({crashing(1, "t1", 137, "OOMKilled")}))) {
    EXPECT_EQ(s.signature, "OOMKilled:137");
  }
}

TEST(PodStore, SnapshotSwapsAtomicallyAndReportsVanishedPods) {
  PodStore store;
  store.upsert(pod({running()}));
  PodRecord other = pod({running()});
  other.name = "gone";
  store.upsert(other);
  store.begin_snapshot();
  PodRecord changed = pod({crashing(1, "t1")}, "9");
  store.stage(changed);
  EXPECT_EQ(store.size(), 2U);  // readers still see the old set while the list is in flight
  std::vector<std::string> changes;
  auto vanished = store.commit_snapshot(
      [&](const PodRecord* old, const PodRecord& now) { changes.push_back((old ? "changed " : "new ") + now.name); });
  EXPECT_EQ(store.size(), 1U);
  ASSERT_EQ(vanished.size(), 1U);
  EXPECT_EQ(vanished[0].name, "gone");
  EXPECT_EQ(changes, std::vector<std::string>{"changed web-7d9f-abcde"});
}

TEST(PodStore, DiscardedSnapshotLeavesTheStoreUntouched) {
  PodStore store;
  store.upsert(pod({running()}));
  store.begin_snapshot();
  store.stage(pod({running()}, "5"));
  store.discard_snapshot();
  EXPECT_EQ(store.size(), 1U);
  EXPECT_EQ(store.find("shop/web-7d9f-abcde")->resource_version, "1");
}

TEST(PodStore, DeletedPodsLeaveTheStore) {
  PodStore store;
  store.upsert(pod({running()}));
  auto old = store.remove("shop/web-7d9f-abcde");
  ASSERT_TRUE(old);
  EXPECT_EQ(store.size(), 0U);
  EXPECT_FALSE(store.remove("shop/web-7d9f-abcde"));
}

}  // namespace
}  // namespace crashdiag::core

namespace crashdiag::core {
namespace {

PodRecord unready_pod(std::string since) {
  ContainerRecord c;
  c.name = "app";
  c.running = true;
  c.ready = false;
  PodRecord p;
  p.namespace_ = "shop";
  p.name = "api-1";
  p.uid = "u2";
  p.containers = {c};
  p.not_ready_since = std::move(since);
  return p;
}

DetectOptions at(std::int64_t now, bool deadline_check = false) {
  DetectOptions o;
  o.unready.now_unix = now;
  o.unready.unready_after_seconds = 300;
  o.deadline_check = deadline_check;
  return o;
}

// 2026-11-22T03:00:00Z
constexpr std::int64_t kSince = 1'795'316'400;

// A container that runs but is not Ready is failing after --unready-after, once per period of
// unreadiness: at the deadline the daemon looks again, later updates of the same period are quiet.
TEST(DetectUnready, OncePerPeriodAfterTheDeadline) {
  const PodRecord p = unready_pod("2026-11-22T03:00:00Z");
  ASSERT_EQ(unready_deadline(p, 300), kSince + 300);
  EXPECT_TRUE(detect_crashes(nullptr, p, at(kSince + 60)).empty()) << "not yet";
  const auto due = detect_crashes(&p, p, at(kSince + 301, /*deadline_check=*/true));
  ASSERT_EQ(due.size(), 1U);
  EXPECT_EQ(due[0].reason, "Unready");
  EXPECT_EQ(due[0].signature, "Unready");
  EXPECT_TRUE(detect_crashes(&p, p, at(kSince + 400)).empty()) << "an update of the same period";
  const PodRecord again = unready_pod("2026-11-22T04:00:00Z");
  EXPECT_EQ(detect_crashes(&p, again, at(kSince + 3600 + 301)).size(), 1U) << "a new period";
  EXPECT_EQ(detect_crashes(nullptr, p, at(kSince + 301)).size(), 1U) << "first sight, already past it";
}

TEST(DetectUnready, ReadyPodsAndPodsWithoutTheConditionHaveNoDeadline) {
  PodRecord ready = unready_pod("");
  ready.containers[0].ready = true;
  EXPECT_FALSE(unready_deadline(ready, 300));
  EXPECT_FALSE(unready_deadline(unready_pod(""), 300));
}

// Issue 15, item 3: a datastore with a claim whose restartCount grew while it runs again gets a
// Restarted signal of its own, beside any crash signal of the same restart. The row's
// `restarted` and `crash` count the two kinds.
struct RestartCase {
  const char* name;
  std::optional<PodRecord> old;
  PodRecord now;
  std::size_t restarted;
  std::size_t crash;
};

void PrintTo(const RestartCase& p, std::ostream* os) {
  *os << p.name;
}

ContainerRecord datastore(int restarts, bool claim = true) {
  ContainerRecord c = running(restarts);
  c.name = "postgres";
  c.datastore_pvc = claim;
  return c;
}
ContainerRecord with_last(ContainerRecord c, int exit_code, std::string reason, std::string finished) {
  c.last_terminated = TerminationRecord{exit_code, std::move(reason), std::move(finished)};
  return c;
}
ContainerRecord not_running(ContainerRecord c) {
  c.running = false;
  c.waiting_reason = "CrashLoopBackOff";
  return c;
}

class DetectDatastoreRestart : public ::testing::TestWithParam<RestartCase> {};

TEST_P(DetectDatastoreRestart, RaisesARestartedSignalOnlyForANewRestartOfARunningDatastoreWithAClaim) {
  const auto& tc = GetParam();
  std::size_t restarted = 0;
  std::size_t crash = 0;
  for (const CrashSignal& s : detect_crashes(tc.old ? &*tc.old : nullptr, tc.now)) {
    if (s.signature == "Restarted") {
      ++restarted;
      EXPECT_TRUE(s.current_log);
      EXPECT_EQ(s.reason, "Restarted");
      EXPECT_FALSE(s.first_sight);
      EXPECT_EQ(s.dedupe_key(), "shop/ReplicaSet/web-7d9f/postgres/Restarted");
    } else {
      ++crash;
      EXPECT_FALSE(s.current_log);
    }
  }
  EXPECT_EQ(restarted, tc.restarted);
  EXPECT_EQ(crash, tc.crash);
}

INSTANTIATE_TEST_SUITE_P(
    Table, DetectDatastoreRestart,
    ::testing::Values(
        // restartCount 0 -> 1 and Running again, no lastState (the brief's fake scenario).
        RestartCase{"restart_increase_running", pod({datastore(0)}), pod({datastore(1)}, "2"), 1, 0},
        // A real kubelet keeps lastState: the crash signal (Completed:0) comes too.
        RestartCase{"restart_with_last_state_gives_both", pod({datastore(0)}),
                    pod({with_last(datastore(1), 0, "Completed", "t1")}, "2"), 1, 1},
        RestartCase{"no_increase", pod({datastore(1)}), pod({datastore(1)}, "2"), 0, 0},
        RestartCase{"first_sight", std::nullopt, pod({datastore(3)}), 0, 0},
        RestartCase{"no_claim", pod({datastore(0, false)}), pod({datastore(1, false)}, "2"), 0, 0},
        RestartCase{"not_a_datastore", pod({running(0)}), pod({running(1)}, "2"), 0, 0},
        // Between crash-loop restarts: the new instance is not running yet, nothing to read.
        RestartCase{"waiting_in_backoff", pod({with_last(datastore(1), 1, "Error", "t1")}),
                    pod({not_running(with_last(datastore(2), 1, "Error", "t2"))}, "2"), 0, 1},
        RestartCase{"pod_being_deleted", pod({datastore(0)}), deleting(pod({datastore(1)}, "2")), 0, 0}),
    [](const auto& info) { return std::string(info.param.name); });

// The second incident on a real kubelet: Running between back-offs, lastState Completed exit 0
// after a liveness kill. Each restart is a signal, as for any crash.
TEST(DetectRestart, ARunningContainerRestartedAfterExit0IsASignal) {
  ContainerRecord c = running(4);
  c.last_terminated = TerminationRecord{0, "Completed", "2026-11-22T03:00:10Z"};
  PodRecord before = pod({c});
  c.restart_count = 5;
  c.last_terminated = TerminationRecord{0, "Completed", "2026-11-22T03:01:10Z"};
  const auto signals = detect_crashes(&before, pod({c}));
  ASSERT_EQ(signals.size(), 1U);
  EXPECT_EQ(signals[0].signature, "Completed:0");
}

}  // namespace
}  // namespace crashdiag::core
