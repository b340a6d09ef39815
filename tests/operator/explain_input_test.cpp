#include <gtest/gtest.h>

#include <ostream>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "explain_command.hpp"
#include "test_support.hpp"

namespace crashdiag {
namespace {

namespace fs = std::filesystem;

struct ExplainRun {
  int code;
  std::string out;
  std::string err;
};

ExplainRun run(ExplainOptions o, const std::string& stdin_text = "") {
  std::istringstream in(stdin_text);
  std::ostringstream out;
  std::ostringstream err;
  int code = run_explain(o, testing::shipped_classifier(), in, out, err);
  return {code, out.str(), err.str()};
}

fs::path temp_file(const std::string& name, const std::string& content) {
  fs::path p = fs::temp_directory_path() / ("crashdiag-test-" + std::to_string(::getpid()) + "-" + name);
  std::ofstream(p, std::ios::binary) << content;
  return p;
}

const std::string kPod = testing::read_file(testing::source_path("tests/data/k8s/11-get-pod-crash-entrypoint.json"));

TEST(ExplainInput, ReadsThePodFromStdin) {
  ExplainOptions o;
  o.pod_file = "-";
  o.format = OutputFormat::kJson;
  ExplainRun r = run(o, kPod);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("\"entrypoint_override\""), std::string::npos);
  EXPECT_NE(r.out.find("\"containers\""), std::string::npos);
}

struct BadCase {
  const char* name;
  std::string pod;
  std::string events;
  const char* err_contains;
};

// gtest prints parameters in test names and failures; the name says which row.
void PrintTo(const BadCase& p, std::ostream* os) {
  *os << p.name;
}

class ExplainRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(ExplainRejects, WithExitCode2AndAMessage) {
  ExplainOptions o;
  o.pod_file = temp_file(std::string(GetParam().name) + ".json", GetParam().pod).string();
  if (!GetParam().events.empty())
    o.events_file = temp_file(std::string(GetParam().name) + "-events.json", GetParam().events).string();
  ExplainRun r = run(o);
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(r.out.empty());
  EXPECT_NE(r.err.find(GetParam().err_contains), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Table, ExplainRejects,
                         ::testing::Values(BadCase{"truncated", kPod.substr(0, kPod.size() / 2), "", "malformed JSON"},
                                           BadCase{"binary", std::string("\x00\x01\x02\xff", 4), "", "malformed JSON"},
                                           BadCase{"wrong_types", R"({"kind":"Pod","metadata":{"name":7}})", "",
                                                   "metadata.name: expected string"},
                                           BadCase{"events_not_list", kPod, R"({"kind":"Pod"})", "--events"},
                                           BadCase{"events_truncated", kPod,
                                                   R"({"kind":"EventList","items":[{"reason":)", "malformed JSON"}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ExplainInput, MissingFileIsNamed) {
  ExplainOptions o;
  o.pod_file = "/nonexistent/pod.json";
  ExplainRun r = run(o);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("/nonexistent/pod.json: cannot open file"), std::string::npos);
}

TEST(ExplainInput, UnknownContainerListsTheRealOnes) {
  ExplainOptions o;
  o.pod_file = temp_file("pod.json", kPod).string();
  o.container = "nope";
  ExplainRun r = run(o);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("containers: init-config, app"), std::string::npos) << r.err;
}

TEST(ExplainInput, HugeLogWithAHugeLineIsExplainedFromItsTail) {
  // 100 MB of log with a 10 MB line: read in bounded chunks into the bounded tail.
  fs::path log = fs::temp_directory_path() / ("crashdiag-test-" + std::to_string(::getpid()) + "-huge.log");
  {
    std::ofstream out(log, std::ios::binary);
    std::string line(99, 'a');
    line += '\n';
    for (int i = 0; i < 450000; ++i) out << line;
    out << std::string(10U << 20U, 'b') << "\n";
    for (int i = 0; i < 100; ++i) out << line;
    out << "Error: Cannot find module 'express'\n";
  }
  ExplainOptions o;
  o.pod_file =
      temp_file("pod-huge.json",
                R"({"kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"app","image":"node:20"}]},
    "status":{"containerStatuses":[{"name":"app","restartCount":2,"state":{"waiting":{"reason":"CrashLoopBackOff"}},
    "lastState":{"terminated":{"exitCode":1,"reason":"Error"}}}]}})")
          .string();
  o.logs_file = log.string();
  o.format = OutputFormat::kJson;
  ExplainRun r = run(o);
  fs::remove(log);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("missing_module_or_dependency"), std::string::npos);
  EXPECT_LT(r.out.size(), 64U * 1024U);  // excerpts are bounded too
}

TEST(ExplainInput, HealthyPodSaysNothingIsFailing) {
  ExplainOptions o;
  o.pod_file =
      temp_file("healthy.json", R"({"kind":"Pod","metadata":{"name":"ok"},"spec":{"containers":[{"name":"app"}]},
    "status":{"containerStatuses":[{"name":"app","restartCount":0,"state":{"running":{"startedAt":"2026-01-01T00:00:00Z"}}}]}})")
          .string();
  ExplainRun r = run(o);
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("No failing container"), std::string::npos);
}

}  // namespace
}  // namespace crashdiag

namespace crashdiag {
namespace {

// Issue 15, item 1, offline: `explain --previous-template FILE` (YAML as people keep it, or a
// ReplicaSet/ControllerRevision as kubectl prints it) says what changed and ranks it as evidence.
TEST(ExplainInput, APreviousTemplateSaysWhatChanged) {
  const fs::path previous = temp_file("previous.yaml", R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: authentik-server}
spec:
  template:
    metadata: {labels: {app: authentik}}
    spec:
      containers:
      - name: authentik-server
        image: localhost/authentik-like:1
        args: ["server"]
)");
  ExplainOptions o;
  o.pod_file = testing::source_path("tests/data/node/command-vs-args/pod.json");
  o.events_file = testing::source_path("tests/data/node/command-vs-args/events.json");
  o.previous_template_file = previous.string();
  const ExplainRun r = run(o);
  fs::remove(previous);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(R"(What changed: changed since the previous template: containers[0].command added ["server"]; )"
                       R"(containers[0].args removed (was ["server"]))"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("[spec] changed since the previous template"), std::string::npos) << r.out;
}

TEST(ExplainInput, APreviousTemplateWithoutATemplateIsRefused) {
  const fs::path previous = temp_file("not-a-template.yaml", "apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n");
  ExplainOptions o;
  o.pod_file = testing::source_path("tests/data/node/command-vs-args/pod.json");
  o.previous_template_file = previous.string();
  const ExplainRun r = run(o);
  fs::remove(previous);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--previous-template"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no pod template"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace crashdiag
