// Leader election as tables of (outcome, time) -> action, under an injected clock and random
// source: the cases of client-go's leaderelection_test.go that matter for a Lease lock.
#include "crashdiag/core/leader_election.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace crashdiag::core {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// 2026-11-22T03:26:15Z, the fixtures' day. The harness puts its monotonic origin at the Unix
// epoch, so a monotonic instant and the wall time written for it are the same number.
constexpr TimePoint kT0{1'795'317'975'000};
constexpr WallTime wall_of(TimePoint t) {
  return WallTime(t.since_origin());
}

LeaderElectionConfig config(const std::string& identity = "me_1") {
  LeaderElectionConfig c;
  c.namespace_ = "crashdiag";
  c.name = "crashdiag-leader";
  c.identity = identity;
  return c;  // 15 s / 10 s / 2 s
}

LeaseRecord held_by(const std::string& holder, TimePoint renew, int transitions = 0, const std::string& rv = "7") {
  LeaseRecord r;
  r.holder = holder;
  r.lease_duration_s = 15;
  r.acquire_time = wall_of(renew);
  r.renew_time = wall_of(renew);
  r.transitions = transitions;
  r.resource_version = rv;
  return r;
}

// What the apiserver returns for a written body: the same spec with a new resourceVersion.
LeaseRecord written(const json& body, const std::string& rv) {
  json obj = body;
  obj["metadata"]["resourceVersion"] = rv;
  auto rec = parse_lease(obj.dump());
  EXPECT_TRUE(rec) << (rec ? "" : rec.error());
  return rec ? *rec : LeaseRecord{};
}

struct Harness {
  explicit Harness(LeaderElectionConfig c = config()) : election(std::move(c), [this] { return random_value; }) {}
  // The wall reading: the monotonic one plus an offset a test may change (a clock step).
  [[nodiscard]] WallTime wall() const { return wall_of(now) + wall_step; }
  Duration wall_step{0};
  LeaseAction next() { return election.next_action(now, wall()); }
  void see(const LeaseOutcome& o) { election.observed(o, now, wall()); }
  template <typename T>
  T expect_next() {
    LeaseAction a = next();
    EXPECT_TRUE(std::holds_alternative<T>(a)) << "action index " << a.index() << " at t+" << (now - kT0).count();
    return std::holds_alternative<T>(a) ? std::get<T>(a) : T{};
  }
  // Becomes leader by creating the lease at `now`; returns the stored record.
  LeaseRecord acquire() {
    expect_next<LeaseGet>();
    see(LeaseNotFound{});
    auto create = expect_next<LeaseCreate>();
    LeaseRecord rec = written(create.body, "100");
    see(LeaseFound{rec});
    EXPECT_TRUE(election.is_leader());
    return rec;
  }
  double random_value = 0.0;
  TimePoint now = kT0;
  LeaderElection election;
};

TEST(LeaderElection, AcquiresByCreatingTheLeaseOn404) {
  Harness h;
  EXPECT_FALSE(h.election.is_leader());
  auto get = h.expect_next<LeaseGet>();
  EXPECT_EQ(get.deadline, kT0 + 10s);
  h.now += 30ms;
  h.see(LeaseNotFound{});
  auto create = h.expect_next<LeaseCreate>();
  const json& b = create.body;
  EXPECT_EQ(b["apiVersion"], "coordination.k8s.io/v1");
  EXPECT_EQ(b["kind"], "Lease");
  EXPECT_EQ(b["metadata"]["name"], "crashdiag-leader");
  EXPECT_EQ(b["metadata"]["namespace"], "crashdiag");
  EXPECT_FALSE(b["metadata"].contains("resourceVersion"));
  EXPECT_EQ(b["spec"]["holderIdentity"], "me_1");
  EXPECT_EQ(b["spec"]["leaseDurationSeconds"], 15);
  EXPECT_EQ(b["spec"]["leaseTransitions"], 0);
  EXPECT_EQ(b["spec"]["acquireTime"], "2026-11-22T03:26:15.030000Z");
  EXPECT_EQ(b["spec"]["renewTime"], "2026-11-22T03:26:15.030000Z");
  EXPECT_FALSE(h.election.is_leader());  // not until the create succeeded
  h.see(LeaseFound{written(b, "423")});
  EXPECT_TRUE(h.election.is_leader());
  EXPECT_EQ(h.election.leader(), "me_1");
  // The leader renews every RetryPeriod, not jittered.
  h.random_value = 0.9;
  EXPECT_EQ(h.expect_next<LeaseSleep>().delay, 2000ms);
}

TEST(LeaderElection, RespectsAnUnexpiredForeignLease) {
  Harness h;
  const LeaseRecord theirs = held_by("other_2", kT0 - 1s, 3);
  for (int i = 0; i < 5; ++i) {  // the holder does not renew, but has not been silent for 15 s yet
    h.expect_next<LeaseGet>();
    h.see(LeaseFound{theirs});
    EXPECT_FALSE(h.election.is_leader());
    EXPECT_EQ(h.election.leader(), "other_2");
    auto sleep = h.expect_next<LeaseSleep>();
    EXPECT_EQ(sleep.delay, 2000ms);  // random 0: the shortest jittered period
    h.now += sleep.delay;
  }
  EXPECT_EQ(h.election.observed_time(), kT0);  // the first sight, not each GET
}

TEST(LeaderElection, TakesOverAnExpiredLeaseBumpingTransitions) {
  Harness h;
  const LeaseRecord theirs = held_by("other_2", kT0 - 1s, 3, "50");
  h.expect_next<LeaseGet>();
  h.see(LeaseFound{theirs});
  h.now = kT0 + 15s;  // silent for a whole leaseDurationSeconds on our clock
  h.expect_next<LeaseGet>();
  LeaseRecord newer = theirs;
  newer.resource_version = "51";  // an unrelated metadata write: not a renewal
  h.see(LeaseFound{newer});
  auto update = h.expect_next<LeaseUpdate>();
  const json& b = update.body;
  EXPECT_EQ(b["metadata"]["resourceVersion"], "51");
  EXPECT_EQ(b["spec"]["holderIdentity"], "me_1");
  EXPECT_EQ(b["spec"]["leaseTransitions"], 4);
  EXPECT_EQ(b["spec"]["acquireTime"], format_micro_time(h.wall()));
  EXPECT_EQ(b["spec"]["renewTime"], format_micro_time(h.wall()));
  h.see(LeaseFound{written(b, "52")});
  EXPECT_TRUE(h.election.is_leader());
}

// Expiry is on the monotonic clock and the written times on the wall clock: a wall clock that
// steps back an hour neither keeps a foreign lease alive nor shows in the expiry, and the
// MicroTimes written are the stepped wall time (client-go: Go's time.Time carries both).
TEST(LeaderElection, AWallClockStepMovesTheWrittenTimesNotTheExpiry) {
  Harness h;
  const LeaseRecord theirs = held_by("other_2", kT0 - 1s, 3, "50");
  h.expect_next<LeaseGet>();
  h.see(LeaseFound{theirs});
  h.expect_next<LeaseSleep>();
  h.wall_step = -1h;
  h.now = kT0 + 14s;  // not yet silent for leaseDurationSeconds on the monotonic clock
  h.expect_next<LeaseGet>();
  h.see(LeaseFound{theirs});
  EXPECT_FALSE(h.election.is_leader());
  h.now += h.expect_next<LeaseSleep>().delay;  // 2 s: past kT0 + 15 s on the monotonic clock
  h.expect_next<LeaseGet>();
  h.see(LeaseFound{theirs});
  auto update = h.expect_next<LeaseUpdate>();
  EXPECT_EQ(update.body["spec"]["holderIdentity"], "me_1");
  EXPECT_EQ(update.body["spec"]["renewTime"], format_micro_time(wall_of(kT0 + 16s) - 1h));
  EXPECT_EQ(update.body["spec"]["renewTime"], "2026-11-22T02:26:31.000000Z");
}

TEST(LeaderElection, ARenewalByTheHolderRestartsTheExpiryClock) {
  Harness h;
  h.expect_next<LeaseGet>();
  h.see(LeaseFound{held_by("other_2", kT0)});
  h.now = kT0 + 10s;
  h.expect_next<LeaseGet>();
  h.see(LeaseFound{held_by("other_2", kT0 + 9s, 0, "8")});  // renewed
  h.now = kT0 + 16s;  // 16 s after the first sight but only 6 s after the renewal was seen
  h.expect_next<LeaseGet>();
  h.see(LeaseFound{held_by("other_2", kT0 + 9s, 0, "8")});
  EXPECT_FALSE(h.election.is_leader());
  h.expect_next<LeaseSleep>();
  h.now = kT0 + 25s;
  h.expect_next<LeaseGet>();
  h.see(LeaseFound{held_by("other_2", kT0 + 9s, 0, "8")});
  EXPECT_EQ(h.expect_next<LeaseUpdate>().body["spec"]["leaseTransitions"], 1);
}

TEST(LeaderElection, ForeignClockSkewIsIgnored) {
  // The holder's clock is an hour behind ours: its renewTime looks long expired, yet it renews.
  {
    Harness h;
    h.expect_next<LeaseGet>();
    h.see(LeaseFound{held_by("other_2", kT0 - 1h)});
    EXPECT_FALSE(h.election.is_leader());
    EXPECT_TRUE(std::holds_alternative<LeaseSleep>(h.next()));
    h.now = kT0 + 14s;
    h.expect_next<LeaseGet>();
    h.see(LeaseFound{held_by("other_2", kT0 - 1h)});
    EXPECT_TRUE(std::holds_alternative<LeaseSleep>(h.next()));  // still within 15 s of our first sight
  }
  // The holder's clock is an hour ahead: its renewTime looks fresh, yet it stopped renewing.
  {
    Harness h;
    h.expect_next<LeaseGet>();
    h.see(LeaseFound{held_by("other_2", kT0 + 1h)});
    h.now = kT0 + 15s;
    h.expect_next<LeaseGet>();
    h.see(LeaseFound{held_by("other_2", kT0 + 1h)});
    EXPECT_TRUE(std::holds_alternative<LeaseUpdate>(h.next()));  // expired by our clock
  }
}

TEST(LeaderElection, AReleasedLeaseIsTakenAtOnce) {
  Harness h;
  LeaseRecord released = held_by("", kT0, 5, "60");
  released.lease_duration_s = 1;
  h.expect_next<LeaseGet>();
  h.see(LeaseFound{released});
  auto update = h.expect_next<LeaseUpdate>();
  EXPECT_EQ(update.body["spec"]["holderIdentity"], "me_1");
  EXPECT_EQ(update.body["spec"]["leaseTransitions"], 6);
  EXPECT_EQ(update.body["spec"]["leaseDurationSeconds"], 15);
}

TEST(LeaderElection, RenewKeepsAcquireTimeAndTransitions) {
  Harness h;
  const LeaseRecord mine = h.acquire();
  h.now += h.expect_next<LeaseSleep>().delay;
  // Fast path: no GET, the record we wrote with its resourceVersion.
  auto renew = h.expect_next<LeaseUpdate>();
  EXPECT_EQ(renew.deadline, h.now + 10s);  // the renewal round's RenewDeadline
  EXPECT_EQ(renew.body["metadata"]["resourceVersion"], "100");
  EXPECT_EQ(renew.body["spec"]["acquireTime"], format_micro_time(wall_of(kT0)));
  EXPECT_EQ(renew.body["spec"]["renewTime"], format_micro_time(wall_of(kT0 + 2s)));
  EXPECT_EQ(renew.body["spec"]["leaseTransitions"], 0);
  EXPECT_EQ(renew.body["spec"]["holderIdentity"], "me_1");
  h.see(LeaseFound{written(renew.body, "101")});
  EXPECT_TRUE(h.election.is_leader());
  // The fast path fails (the lease changed under us): GET, then PUT with the current version.
  h.now += h.expect_next<LeaseSleep>().delay;
  h.expect_next<LeaseUpdate>();
  h.see(LeaseConflict{});
  EXPECT_TRUE(h.election.is_leader());
  h.expect_next<LeaseGet>();
  LeaseRecord current = mine;
  current.transitions = 2;  // as found on the server
  current.resource_version = "105";
  h.see(LeaseFound{current});
  auto slow = h.expect_next<LeaseUpdate>();
  EXPECT_EQ(slow.body["metadata"]["resourceVersion"], "105");
  EXPECT_EQ(slow.body["spec"]["acquireTime"], format_micro_time(wall_of(kT0)));
  EXPECT_EQ(slow.body["spec"]["leaseTransitions"], 2);
  EXPECT_EQ(slow.body["spec"]["renewTime"], format_micro_time(h.wall()));
  h.see(LeaseFound{written(slow.body, "106")});
  EXPECT_TRUE(h.election.is_leader());
}

TEST(LeaderElection, ConflictMeansNotLeaderAndARetryNextPeriod) {
  Harness h;
  h.random_value = 0.5;
  h.expect_next<LeaseGet>();
  h.see(LeaseNotFound{});
  h.expect_next<LeaseCreate>();
  h.see(LeaseConflict{});  // another replica created it first (AlreadyExists)
  EXPECT_FALSE(h.election.is_leader());
  EXPECT_EQ(h.expect_next<LeaseSleep>().delay, 3200ms);  // 2 s + 0.5 * 1.2 * 2 s
  h.now += 3200ms;
  h.expect_next<LeaseGet>();
  LeaseRecord released = held_by("", kT0, 1, "9");
  h.see(LeaseFound{released});
  h.expect_next<LeaseUpdate>();
  h.see(LeaseConflict{});  // stale resourceVersion: someone else took it
  EXPECT_FALSE(h.election.is_leader());
  EXPECT_TRUE(std::holds_alternative<LeaseSleep>(h.next()));
}

TEST(LeaderElection, RenewFailuresPastRenewDeadlineLoseLeadership) {
  Harness h;
  h.acquire();
  h.now += h.expect_next<LeaseSleep>().delay;  // t0 + 2 s: the round starts, deadline t0 + 12 s
  const TimePoint deadline = h.now + 10s;
  auto renew = h.expect_next<LeaseUpdate>();
  EXPECT_EQ(renew.deadline, deadline);
  h.see(LeaseError{500, "internal error"});
  auto get = h.expect_next<LeaseGet>();
  EXPECT_EQ(get.deadline, deadline);
  h.see(LeaseError{0, "connection refused"});
  EXPECT_TRUE(h.election.is_leader());  // still within the round
  for (int i = 0; i < 4; ++i) {         // tries at +2, +4, +6, +8 s into the round
    auto sleep = h.expect_next<LeaseSleep>();
    EXPECT_EQ(sleep.delay, 2000ms);
    h.now += sleep.delay;
    h.expect_next<LeaseUpdate>();  // the lease still looks valid to us: the fast path again
    h.see(LeaseError{429, "too many requests"});
    h.expect_next<LeaseGet>();
    h.see(LeaseError{429, "too many requests"});
    EXPECT_TRUE(h.election.is_leader());
  }
  // The next try would be at +10 s, which is the deadline: the leader steps down then.
  auto last = h.expect_next<LeaseSleep>();
  EXPECT_EQ(h.now + last.delay, deadline);
  h.now += last.delay;
  h.next();
  EXPECT_FALSE(h.election.is_leader());
}

TEST(LeaderElection, AFailureObservedAfterTheDeadlineEndsLeadershipAtOnce) {
  Harness h;
  h.acquire();
  h.now += h.expect_next<LeaseSleep>().delay;
  auto renew = h.expect_next<LeaseUpdate>();
  h.now = renew.deadline;  // the adapter gave up waiting at the deadline
  h.see(LeaseError{0, "deadline"});
  EXPECT_FALSE(h.election.is_leader());
}

TEST(LeaderElection, ASuccessWithinTheDeadlineKeepsLeadership) {
  Harness h;
  h.acquire();
  h.now += h.expect_next<LeaseSleep>().delay;
  h.expect_next<LeaseUpdate>();
  h.see(LeaseError{503, "unavailable"});
  h.expect_next<LeaseGet>();
  h.see(LeaseError{503, "unavailable"});
  h.now += 9s;  // late in the round
  auto renew = h.expect_next<LeaseUpdate>();
  h.see(LeaseFound{written(renew.body, "200")});
  EXPECT_TRUE(h.election.is_leader());
  h.now += 2s;  // a fresh round, past the old round's deadline
  h.expect_next<LeaseUpdate>();
  EXPECT_TRUE(h.election.is_leader());
}

TEST(LeaderElection, ALeaderThatSeesAnotherHolderStepsDownAtOnce) {
  Harness h;
  h.acquire();
  h.now += h.expect_next<LeaseSleep>().delay;
  h.expect_next<LeaseUpdate>();
  h.see(LeaseConflict{});  // the fast path fails: someone wrote
  h.expect_next<LeaseGet>();
  h.see(LeaseFound{held_by("other_2", h.now - 1s, 1, "150")});
  EXPECT_FALSE(h.election.is_leader());  // well before the renew deadline
  EXPECT_EQ(h.election.leader(), "other_2");
  EXPECT_TRUE(std::holds_alternative<LeaseSleep>(h.next()));
}

TEST(LeaderElection, ReleaseWritesAnEmptyHolderWithOneSecondDuration) {
  Harness h;
  h.acquire();
  h.now += 500ms;
  h.election.stop();
  EXPECT_FALSE(h.election.is_leader());  // leadership ends before the release goes out
  auto rel = h.expect_next<LeaseRelease>();
  const json& b = rel.body;
  EXPECT_EQ(b["metadata"]["resourceVersion"], "100");
  EXPECT_EQ(b["spec"]["holderIdentity"], "");
  EXPECT_EQ(b["spec"]["leaseDurationSeconds"], 1);
  EXPECT_EQ(b["spec"]["leaseTransitions"], 0);
  EXPECT_EQ(b["spec"]["acquireTime"], format_micro_time(h.wall()));
  EXPECT_EQ(b["spec"]["renewTime"], format_micro_time(h.wall()));
  h.see(LeaseFound{written(b, "101")});
  EXPECT_EQ(h.election.leader(), "");
  EXPECT_TRUE(std::holds_alternative<LeaseDone>(h.next()));
  EXPECT_TRUE(std::holds_alternative<LeaseDone>(h.next()));
}

TEST(LeaderElection, StopWithoutTheLeaseReleasesNothing) {
  Harness h;
  h.expect_next<LeaseGet>();
  h.see(LeaseFound{held_by("other_2", kT0)});
  h.election.stop();
  EXPECT_TRUE(std::holds_alternative<LeaseDone>(h.next()));
}

TEST(LeaderElection, AWriteInFlightAtStopIsReleasedNotLed) {
  Harness h;
  h.expect_next<LeaseGet>();
  h.see(LeaseNotFound{});
  auto create = h.expect_next<LeaseCreate>();
  h.election.stop();
  h.see(LeaseFound{written(create.body, "300")});
  EXPECT_FALSE(h.election.is_leader());
  EXPECT_EQ(h.expect_next<LeaseRelease>().body["metadata"]["resourceVersion"], "300");
}

TEST(LeaderElection, JitterStaysWithinOneToTwoPointTwoPeriods) {
  Harness h;
  for (double r : {0.0, 0.25, 0.5, 0.999999}) {
    h.random_value = r;
    const Duration d = h.election.jittered_retry_period();
    EXPECT_GE(d, 2000ms) << r;
    EXPECT_LT(d, 4400ms) << r;
  }
  h.random_value = 0.5;
  EXPECT_EQ(h.election.jittered_retry_period(), 3200ms);
}

TEST(LeaderElection, SubSecondLeaseDurationsRoundUp) {
  LeaderElectionConfig c = config();
  c.lease_duration = 1500ms;
  c.renew_deadline = 1000ms;
  c.retry_period = 200ms;
  EXPECT_FALSE(validate(c));
  Harness h(c);
  h.expect_next<LeaseGet>();
  h.see(LeaseNotFound{});
  EXPECT_EQ(h.expect_next<LeaseCreate>().body["spec"]["leaseDurationSeconds"], 2);
}

TEST(LeaderElection, ValidatesTheDurationsAsClientGo) {
  EXPECT_FALSE(validate(config()));
  LeaderElectionConfig c = config();
  c.renew_deadline = 15s;
  EXPECT_TRUE(validate(c));  // LeaseDuration must exceed RenewDeadline
  c = config();
  c.retry_period = 9s;
  EXPECT_TRUE(validate(c));  // RenewDeadline must exceed 1.2 * RetryPeriod
  c = config("");
  EXPECT_TRUE(validate(c));
}

TEST(Lease, ParsesTheApiserverFixtures) {
  const std::string dir = std::string(CRASHDIAG_SOURCE_DIR) + "/tests/data/k8s/";
  auto got = parse_lease(testing::read_file(dir + "09-get-lease.json"));
  ASSERT_TRUE(got) << got.error();
  EXPECT_EQ(got->holder, "crash-watcher-7d9f8-abcde_5b1f6a2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b");
  EXPECT_EQ(got->lease_duration_s, 15);
  EXPECT_EQ(got->transitions, 0);
  EXPECT_EQ(got->resource_version, "424");
  EXPECT_EQ(format_micro_time(got->acquire_time), "2026-11-22T03:26:15.452000Z");
  EXPECT_EQ(format_micro_time(got->renew_time), "2026-11-22T03:26:17.487000Z");
  auto created = parse_lease(testing::read_file(dir + "09-create-lease.json"));
  ASSERT_TRUE(created);
  EXPECT_EQ(created->resource_version, "423");
  EXPECT_FALSE(same_record(*created, *got));                                                 // renewed
  EXPECT_FALSE(parse_lease(testing::read_file(dir + "09-update-lease-stale-rv-409.json")));  // a Status
  EXPECT_FALSE(parse_lease("not json"));
  auto empty = parse_lease(R"({"metadata":{"resourceVersion":"5"},"spec":{}})");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->holder, "");
}

TEST(Lease, MicroTimeFormatsAndParsesRfc3339) {
  EXPECT_EQ(format_micro_time(wall_of(kT0)), "2026-11-22T03:26:15.000000Z");
  EXPECT_EQ(format_micro_time(WallTime{0}), "1970-01-01T00:00:00.000000Z");
  auto t = parse_time("2026-11-22T03:24:13.123456Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_micro_time(*t), "2026-11-22T03:24:13.123000Z");
  EXPECT_EQ(parse_time("2026-11-22T03:26:15Z"), wall_of(kT0));
  EXPECT_EQ(parse_time("2026-11-22T04:26:15.5+01:00"), wall_of(kT0 + 500ms));
  EXPECT_EQ(parse_time("2026-11-22T02:56:15-00:30"), wall_of(kT0));
  EXPECT_EQ(parse_time("2024-02-29T00:00:00Z").has_value(), true);
  for (const char* bad : {"", "2026-11-22", "2026-11-22T03:26:15", "2026-13-01T00:00:00Z", "2025-02-29T00:00:00Z",
                          "2026-11-22T03:26:15.Z", "2026-11-22T03:26:15Zjunk", "2026-11-22 03:26:15Z"}) {
    EXPECT_FALSE(parse_time(bad)) << bad;
  }
}

}  // namespace
}  // namespace crashdiag::core
