// `crashdiag explain -f` reads evidence as people have it: kubectl's YAML as well as JSON, a List
// of pods (only the failing ones are explained), and `docker inspect` with `docker logs` (a quarter
// of real restart loops are reported from Docker or Compose, with the same runtime's messages).
// The docker inspect files follow the Docker Engine API's ContainerInspect response (State,
// RestartCount, HostConfig.RestartPolicy, Mounts, Config); they are written by hand, not recorded.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "crashdiag/model/parse.hpp"
#include "explain_command.hpp"
#include "test_support.hpp"

namespace crashdiag {
namespace {

nlohmann::json explain(const std::string& pod, const std::string& logs = "") {
  ExplainOptions o;
  o.pod_file = testing::source_path("tests/data/inputs/" + pod);
  if (!logs.empty()) o.logs_file = testing::source_path("tests/data/inputs/" + logs);
  o.format = OutputFormat::kJson;
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(run_explain(o, testing::shipped_classifier(), in, out, err), 0) << err.str();
  return nlohmann::json::parse(out.str(), nullptr, false);
}

TEST(ExplainFormats, KubectlYamlIsReadLikeJson) {
  const auto d = explain("command-vs-args-pod.yaml");
  ASSERT_EQ(d["kind"], "Explanation") << d.dump(2);
  EXPECT_EQ(d["containers"][0]["hypotheses"][0]["category"], "entrypoint_override");
}

TEST(ExplainFormats, AListExplainsItsFailingPodsOnly) {
  const auto d = explain("pods-list.yaml");
  ASSERT_EQ(d["kind"], "ExplanationList") << d.dump(2);
  ASSERT_EQ(d["items"].size(), 2U) << "the healthy pod is left out";
  std::set<std::string> top;
  for (const auto& item : d["items"]) top.insert(item["containers"][0]["hypotheses"][0]["category"]);
  EXPECT_EQ(top, (std::set<std::string>{"completed_exit_0", "oom_killed"}));
}

TEST(ExplainFormats, DockerInspectOfARestartingContainer) {
  const auto d = explain("docker-inspect-restarting.json");
  ASSERT_EQ(d["kind"], "Explanation") << d.dump(2);
  EXPECT_EQ(d["namespace"], "authentik") << "the compose project";
  const auto& c = d["containers"][0];
  EXPECT_EQ(c["name"], "server") << "the compose service";
  EXPECT_EQ(c["restartCount"], 14);
  EXPECT_EQ(c["hypotheses"][0]["category"], "entrypoint_override") << c.dump(2);
}

TEST(ExplainFormats, DockerInspectWithDockerLogs) {
  const auto d = explain("docker-inspect-exited.json", "docker-logs-worker.txt");
  EXPECT_EQ(d["containers"][0]["hypotheses"][0]["category"], "missing_module_or_dependency") << d.dump(2);
}

TEST(ExplainFormats, DockerInspectFieldsBecomeTheSpec) {
  const std::string text = testing::read_file(testing::source_path("tests/data/inputs/docker-inspect-exited.json"));
  auto pods = parse_pods(text);
  ASSERT_TRUE(pods) << pods.error().what;
  ASSERT_EQ(pods->size(), 1U);
  const Pod& p = pods->front();
  EXPECT_EQ(p.restart_policy, "OnFailure");
  const Container& c = p.containers.at(0);
  EXPECT_EQ(c.image, "registry.example/worker:3");
  EXPECT_EQ(c.args, (std::vector<std::string>{"python", "-m", "worker"}));
  ASSERT_EQ(c.mounts.size(), 1U);
  EXPECT_EQ(c.mounts[0].mount_path, "/data");
  EXPECT_EQ(c.mounts[0].volume->kind, VolumeKind::kHostPath);
  EXPECT_EQ(c.resources.memory_limit_bytes, 268435456);
  EXPECT_EQ(c.security_context.run_as_user, 1000);
  ASSERT_TRUE(c.status && c.status->terminated);
  EXPECT_EQ(c.status->terminated->exit_code, 1);
  EXPECT_EQ(c.status->terminated->reason, "Error");
}

TEST(ExplainFormats, WhatIsNoneOfThemIsRefusedWithAReason) {
  for (const auto& [text, says] : std::vector<std::pair<std::string, std::string>>{
           {"[]", "docker inspect"},
           {"[{\"a\": 1}]", "docker inspect"},
           {"just words", "plain value"},
           {"{\"kind\": \"List\", \"items\": [{\"kind\": \"Service\"}]}", "no Pod"},
           {"key: [unclosed", "malformed YAML"}}) {
    auto pods = parse_pods(text);
    ASSERT_FALSE(pods) << text;
    EXPECT_NE(pods.error().what.find(says), std::string::npos) << text << " -> " << pods.error().what;
  }
}

}  // namespace
}  // namespace crashdiag
