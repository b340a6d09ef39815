// Real crash loops recorded from a real kubelet (tests/data/node, from ../shared/k8s-fixtures/node
// and one recorded by this project on the same rig): `crashdiag explain` names the cause each
// recording's README names, first, from the files exactly as kubectl printed them.
#include <gtest/gtest.h>

#include <ostream>

#include <nlohmann/json.hpp>
#include <sstream>

#include "explain_command.hpp"
#include "test_support.hpp"

namespace crashdiag {
namespace {

struct Recording {
  const char* dir;
  const char* first;
  const char* also;  // another category that must be among the hypotheses, or ""
};

// ctest names the row, not its bytes.
void PrintTo(const Recording& row, std::ostream* os) {
  *os << row.dir;
}

class NodeRecording : public ::testing::TestWithParam<Recording> {};

TEST_P(NodeRecording, ExplainNamesTheRecordedCauseFirst) {
  const Recording& rec = GetParam();
  const std::string base = testing::source_path(std::string("tests/data/node/") + rec.dir + "/");
  ExplainOptions o;
  o.pod_file = base + "pod.json";
  o.events_file = base + "events.json";
  o.logs_file = base + "previous.log";
  o.format = OutputFormat::kJson;
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  ASSERT_EQ(run_explain(o, testing::shipped_classifier(), in, out, err), 0) << err.str();
  const auto doc = nlohmann::json::parse(out.str());
  ASSERT_FALSE(doc["containers"].empty()) << out.str();
  const auto& hypotheses = doc["containers"][0]["hypotheses"];
  EXPECT_EQ(hypotheses[0]["category"], rec.first) << out.str().substr(0, 2000);
  if (std::string(rec.also).empty()) return;
  bool found = false;
  for (const auto& h : hypotheses) found = found || h["category"] == rec.also;
  EXPECT_TRUE(found) << rec.also << " missing: " << out.str().substr(0, 2000);
}

INSTANTIATE_TEST_SUITE_P(
    Recorded, NodeRecording,
    ::testing::Values(Recording{"command-vs-args", "entrypoint_override", ""},
                      Recording{"oom-killed", "oom_killed", ""}, Recording{"exit-0", "completed_exit_0", ""},
                      Recording{"missing-secret", "missing_config_or_secret", ""},
                      Recording{"image-missing", "image_pull", ""},
                      Recording{"permission-exec", "permission_denied_exec", ""},
                      Recording{"liveness-kill", "liveness_probe_failure", ""},
                      Recording{"postgres-volume-mount-probe", "pg_volume_mount_path", "pg_role_missing"}),
    [](const ::testing::TestParamInfo<Recording>& info) {
      std::string name = info.param.dir;
      for (char& c : name) {
        if (c == '-') c = '_';
      }
      return name;
    });

// The probe's own output is evidence: quoted, and the liveness wording does not claim an OOM-like
// exit for a container that exited 0 on the kubelet's stop signal.
TEST(NodeRecording, TheProbesOutputIsQuotedAndNothingClaimsAnOomForExit0) {
  const std::string base = testing::source_path("tests/data/node/postgres-volume-mount-probe/");
  ExplainOptions o;
  o.pod_file = base + "pod.json";
  o.events_file = base + "events.json";
  o.logs_file = base + "previous.log";
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  ASSERT_EQ(run_explain(o, testing::shipped_classifier(), in, out, err), 0) << err.str();
  const std::string text = out.str();
  EXPECT_NE(text.find("Liveness probe failed: psql: error"), std::string::npos) << text;
  EXPECT_NE(text.find("role \"root\" does not exist"), std::string::npos);
  EXPECT_NE(text.find("mountPath: /var/lib/postgresql"), std::string::npos) << "the spec line";
  EXPECT_EQ(text.find("looks like an OOM"), std::string::npos) << "exit 0 is not OOM-like";
}

}  // namespace
}  // namespace crashdiag
