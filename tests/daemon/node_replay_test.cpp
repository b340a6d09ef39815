// The real kubelet's crash loops (tests/data/node, recorded on kube-apiserver and kubelet 1.26.1
// with containerd 1.6 / runc 1.1; README there) replayed through the fake API server while the
// daemon runs: the watch stream as the kubelet produced it (compressed from 90 s), the Events, and
// `logs --previous` as the kubelet answered it (empty for a process that never ran, a 400 for a
// container with no previous instance). The daemon must write one RCA per workload, naming the
// cause the recording's README names, exactly as it would on the real cluster.
#include <gtest/gtest.h>

#include <ostream>

#include "daemon_harness.hpp"
#include "node_recording.hpp"

namespace crashdiag::daemon {
namespace {

using namespace harness;  // NOLINT(google-build-using-namespace)
using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kRcas = "crashdiag.io/v1alpha1/rootcauseanalyses";

struct Replayed {
  const char* folder;
  const char* workload;  // as the RCA's status.workload names it
  const char* category;  // the README's "cause to name first"
  const char* note;      // what status.evidenceNotes must say about the log, or ""
};

void PrintTo(const Replayed& row, std::ostream* os) {
  *os << row.folder;
}

class NodeReplay : public ::testing::TestWithParam<Replayed> {};

TEST_P(NodeReplay, TheDaemonWritesOneRcaPerWorkloadWithTheRecordedCause) {
  quiet_logs();
  const Replayed& row = GetParam();
  auto rec = fake::load_node_recording(testing::source_path(std::string("tests/data/node/") + row.folder));
  ASSERT_TRUE(rec) << rec.error().file << ": " << rec.error().message;
  const std::string ns = rec->pods.front()["metadata"]["namespace"];
  Cluster c;
  Running r(c, publishing_options(nullptr));
  ASSERT_TRUE(eventually([&] { return r.synced(); }));
  fake::replay(c.server, *rec, 20ms);
  ASSERT_TRUE(eventually([&] {
    auto rcas = c.server.list_objects(kRcas, ns);
    return !rcas.empty() && rcas[0].contains("status") && rcas[0]["status"].contains("category");
  })) << "no RCA for "
      << row.folder;
  ASSERT_TRUE(r.settle());  // a second replica or a later restart must not add one
  const auto rcas = c.server.list_objects(kRcas, ns);
  ASSERT_EQ(rcas.size(), 1U) << "one workload, one RCA";
  const json& st = rcas[0]["status"];
  EXPECT_EQ(st["workload"], row.workload);
  EXPECT_EQ(st["category"], row.category) << st.dump(2).substr(0, 3000);
  const auto records = r.snapshot();
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.front().diagnosis.hypotheses.front().category, row.category);
  if (std::string(row.note).empty()) {
    EXPECT_FALSE(st.contains("evidenceNotes")) << st["evidenceNotes"].dump();
  } else {
    ASSERT_TRUE(st.contains("evidenceNotes")) << "no note about the log";
    EXPECT_NE(st["evidenceNotes"][0].get<std::string>().find(row.note), std::string::npos)
        << st["evidenceNotes"].dump();
  }
}

// The kubelet has garbage-collected the container the status still names, for longer than the
// one retry: the log is "unavailable: <reason>" in the RCA and the right cause is still named
// from the status and Events.
TEST(NodeReplay, ALogTheKubeletKeepsRefusingIsANoteInTheRca) {
  quiet_logs();
  auto rec = fake::load_node_recording(testing::source_path("tests/data/node/liveness-kill"));
  ASSERT_TRUE(rec) << rec.error().file << ": " << rec.error().message;
  Cluster c;
  c.server.inject(fake::Fault{fake::FaultKind::kContainerLogsGone, "/log?", false, false, 5, 0, 0});
  DaemonOptions o = publishing_options(nullptr);
  o.log_retry_delay = 50ms;
  Running r(c, o);
  ASSERT_TRUE(eventually([&] { return r.synced(); }));
  fake::replay(c.server, *rec, 20ms);
  ASSERT_TRUE(eventually([&] {
    auto rcas = c.server.list_objects(kRcas, "liveness-kill");
    return !rcas.empty() && rcas[0].contains("status") && rcas[0]["status"].contains("evidenceNotes");
  }));
  const json st = c.server.list_objects(kRcas, "liveness-kill")[0]["status"];
  EXPECT_EQ(st["category"], "liveness_probe_failure");
  EXPECT_NE(st["evidenceNotes"][0].get<std::string>().find(
                "logs could not be fetched: HTTP 400: unable to retrieve container logs for containerd://"),
            std::string::npos)
      << st["evidenceNotes"].dump();
}

INSTANTIATE_TEST_SUITE_P(Recorded, NodeReplay,
                         ::testing::Values(Replayed{"command-vs-args", "Deployment/authentik-server",
                                                    "entrypoint_override", "the process never started (StartError)"},
                                           Replayed{"oom-killed", "Deployment/etl-worker", "oom_killed", ""},
                                           Replayed{"exit-0", "Deployment/db-migrate", "completed_exit_0", ""},
                                           Replayed{"missing-secret", "Deployment/api", "missing_config_or_secret",
                                                    "the container was never created (CreateContainerConfigError)"},
                                           Replayed{"image-missing", "Deployment/frontend", "image_pull",
                                                    "the container was never created (Im"},
                                           Replayed{"permission-exec", "Deployment/report-tool",
                                                    "permission_denied_exec", "the process never started (StartError)"},
                                           Replayed{"liveness-kill", "Deployment/shop-api", "liveness_probe_failure",
                                                    ""},
                                           Replayed{"postgres-volume-mount-probe", "Deployment/authentik-postgresql",
                                                    "pg_volume_mount_path", ""}),
                         [](const ::testing::TestParamInfo<Replayed>& info) {
                           std::string name = info.param.folder;
                           for (char& ch : name) {
                             if (ch == '-') ch = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace crashdiag::daemon
