// The one definition of "failing" (crashdiag/model/failure.hpp), as a table: what explain, the
// crash detector and the metrics all decide with.
#include "crashdiag/model/failure.hpp"

#include <gtest/gtest.h>

#include <ostream>

#include <string>

#include "crashdiag/classifiers/failing.hpp"
#include "crashdiag/model/parse.hpp"
#include "test_support.hpp"

namespace crashdiag {
namespace {

struct Row {
  const char* name;
  ContainerFacts facts;
  FailureContext context;
  FailureKind want;
};

// ctest names the row, not its bytes.
void PrintTo(const Row& row, std::ostream* os) {
  *os << row.name;
}

ContainerFacts waiting(std::string_view reason) {
  ContainerFacts f;
  f.waiting_reason = reason;
  return f;
}

ContainerFacts restarted_after(int exit_code, std::string_view reason, bool running) {
  ContainerFacts f;
  f.running = running;
  f.ready = running;
  f.restart_count = 3;
  f.last_terminated = TerminationFacts{exit_code, reason};
  if (!running) f.waiting_reason = "CrashLoopBackOff";
  return f;
}

ContainerFacts terminated(int exit_code, std::string_view reason, bool init = false) {
  ContainerFacts f;
  f.init = init;
  f.terminated = TerminationFacts{exit_code, reason};
  return f;
}

ContainerFacts running_unready() {
  ContainerFacts f;
  f.running = true;
  f.ready = false;
  return f;
}

FailureContext policy(std::string_view p) {
  FailureContext c;
  c.restart_policy = p;
  return c;
}

FailureContext unready_for(std::int64_t seconds) {
  FailureContext c;
  c.unready.now_unix = 1'000'000;
  c.not_ready_since = 1'000'000 - seconds;
  return c;
}

class FailureDefinition : public ::testing::TestWithParam<Row> {};

TEST_P(FailureDefinition, MatchesTheDefinition) {
  const Row& row = GetParam();
  EXPECT_EQ(failure_of(row.facts, row.context), row.want) << to_string(failure_of(row.facts, row.context));
}

INSTANTIATE_TEST_SUITE_P(
    Table, FailureDefinition,
    ::testing::Values(
        Row{"crash_loop_back_off", waiting("CrashLoopBackOff"), {}, FailureKind::kWaiting},
        Row{"run_container_error_of_a_start_error", waiting("RunContainerError"), {}, FailureKind::kWaiting},
        Row{"config_error", waiting("CreateContainerConfigError"), {}, FailureKind::kWaiting},
        Row{"image_pull_back_off", waiting("ImagePullBackOff"), {}, FailureKind::kWaiting},
        Row{"container_creating_is_not", waiting("ContainerCreating"), {}, FailureKind::kNone},
        Row{"pod_initializing_is_not", waiting("PodInitializing"), {}, FailureKind::kNone},
        Row{"oom_killed_now", terminated(137, "OOMKilled"), {}, FailureKind::kTerminated},
        Row{"error_exit_1_now", terminated(1, "Error"), {}, FailureKind::kTerminated},
        Row{"start_error_128", terminated(128, "StartError"), {}, FailureKind::kTerminated},
        Row{"exit_0_under_always", terminated(0, "Completed"), {}, FailureKind::kTerminated},
        Row{"exit_0_of_a_job", terminated(0, "Completed"), policy("OnFailure"), FailureKind::kNone},
        Row{"exit_0_under_never", terminated(0, "Completed"), policy("Never"), FailureKind::kNone},
        Row{"init_container_exit_0", terminated(0, "Completed", true), {}, FailureKind::kNone},
        Row{"init_container_exit_1", terminated(1, "Error", true), {}, FailureKind::kTerminated},
        // The second incident on a real kubelet: killed after failed liveness probes, postgres
        // honoured the stop signal, exit 0 Completed, Running again between back-offs.
        Row{"running_again_after_a_liveness_kill_that_exited_0",
            restarted_after(0, "Completed", true),
            {},
            FailureKind::kRestarted},
        Row{"running_again_after_exit_1", restarted_after(1, "Error", true), {}, FailureKind::kRestarted},
        Row{"job_running_again_after_exit_0_is_not", restarted_after(0, "Completed", true), policy("OnFailure"),
            FailureKind::kNone},
        Row{"unready_for_six_minutes", running_unready(), unready_for(360), FailureKind::kUnready},
        Row{"unready_for_four_minutes_is_not_yet", running_unready(), unready_for(240), FailureKind::kNone},
        Row{"unready_without_a_clock_is_not_judged", running_unready(), {}, FailureKind::kNone},
        Row{"running_and_ready", restarted_after(0, "Completed", true), policy("Never"), FailureKind::kNone}),
    [](const ::testing::TestParamInfo<Row>& info) { return std::string(info.param.name); });

TEST(FailureDefinition, ASidecarInitContainerRestartsLikeAMainOne) {
  ContainerFacts f = terminated(0, "Completed", true);
  f.sidecar = true;
  EXPECT_EQ(failure_of(f, {}), FailureKind::kTerminated);
}

TEST(FailureDefinition, EveryWaitingFailureReasonIsAKnownMetricReason) {
  const auto known = known_failure_reasons();
  for (std::string_view r : failure_waiting_reasons()) {
    EXPECT_NE(std::find(known.begin(), known.end(), r), known.end()) << r;
  }
  EXPECT_NE(std::find(known.begin(), known.end(), kUnreadyReason), known.end());
}

// explain uses the same definition on a whole Pod: the real kubelet's recording of the second
// incident (Running, lastState Completed exit 0 after a liveness kill) is failing.
TEST(FailureDefinition, ExplainSeesTheRecordedLivenessKillWithExit0AsFailing) {
  const std::string text =
      testing::read_file(testing::source_path("tests/data/node/postgres-volume-mount-probe/pod.json"));
  auto pod = parse_pod_json(text);
  ASSERT_TRUE(pod) << pod.error().what;
  const auto failing = failing_containers(*pod);
  ASSERT_EQ(failing.size(), 1U);
  EXPECT_EQ(failing[0]->name, "postgresql");
}

}  // namespace
}  // namespace crashdiag
