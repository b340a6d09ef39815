#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "crashdiag/model/template_diff.hpp"

#include <ostream>

#include "crashdiag/model/parse.hpp"
#include "test_support.hpp"

namespace crashdiag {
namespace {

using testing::read_file;
using testing::source_path;

std::string fixture(const std::string& name) {
  return read_file(source_path("tests/data/k8s/" + name));
}

TEST(PodParser, ParsesRecordedEntrypointCrashPodWithInitContainerFirst) {
  auto pod = parse_pod_json(fixture("11-get-pod-crash-entrypoint.json"));
  ASSERT_TRUE(pod) << pod.error().what;
  EXPECT_EQ(pod->name, "crash-entrypoint");
  EXPECT_EQ(pod->namespace_, "fx");
  ASSERT_EQ(pod->containers.size(), 2U);
  EXPECT_TRUE(pod->containers[0].init);
  EXPECT_EQ(pod->containers[0].name, "init-config");
  const Container& app = pod->containers[1];
  EXPECT_EQ(app.command, std::vector<std::string>{"server"});
  EXPECT_EQ(app.args, std::vector<std::string>{"--port=8080"});
  ASSERT_TRUE(app.status);
  ASSERT_TRUE(app.status->waiting);
  EXPECT_EQ(app.status->waiting->reason, "CrashLoopBackOff");
  ASSERT_TRUE(app.status->last_terminated);
  EXPECT_EQ(app.status->last_terminated->exit_code, 128);
  EXPECT_EQ(app.status->last_terminated->reason, "StartError");
  EXPECT_NE(app.status->last_terminated->message.find("executable file not found"), std::string::npos);
  EXPECT_EQ(app.status->restart_count, 3);
  ASSERT_EQ(app.mounts.size(), 1U);
  ASSERT_TRUE(app.mounts[0].volume);  // joined to spec.volumes by name
  EXPECT_EQ(app.mounts[0].volume->kind, VolumeKind::kEmptyDir);
}

TEST(PodParser, ParsesOomPodMemoryLimitInBytes) {
  auto pod = parse_pod_json(fixture("11-get-pod-crash-oom.json"));
  ASSERT_TRUE(pod) << pod.error().what;
  const Container& app = pod->containers.back();
  EXPECT_EQ(app.resources.memory_limit, "256Mi");
  EXPECT_EQ(app.resources.memory_limit_bytes, 256LL * 1024 * 1024);
  EXPECT_EQ(app.latest_termination()->reason, "OOMKilled");
}

TEST(PodParser, ParsesEveryRecordedPodFixture) {
  for (const char* name :
       {"11-get-pod-crash-init.json", "02-create-pod-page-1.json", "10-get-pod-owned-by-replicaset.json"}) {
    auto pod = parse_pod_json(fixture(name));
    EXPECT_TRUE(pod) << name << ": " << (pod ? "" : pod.error().what);
  }
  auto owned = parse_pod_json(fixture("10-get-pod-owned-by-replicaset.json"));
  ASSERT_TRUE(owned);
  ASSERT_FALSE(owned->owners.empty());
  EXPECT_EQ(owned->owners[0].kind, "ReplicaSet");
}

TEST(PodParser, FullSpecFieldsAreRead) {
  const char* json = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"n"},
    "spec":{"restartPolicy":"OnFailure","enableServiceLinks":false,
      "securityContext":{"fsGroup":1001,"runAsUser":1001},
      "volumes":[{"name":"data","persistentVolumeClaim":{"claimName":"pgdata"}},
                 {"name":"cfg","configMap":{"name":"app-config"}},
                 {"name":"host","hostPath":{"path":"/srv"}}],
      "containers":[{"name":"db","image":"postgres:16",
        "env":[{"name":"PGDATA","value":"/var/lib/postgresql/data/pgdata"},
               {"name":"POSTGRES_PASSWORD","valueFrom":{"secretKeyRef":{"name":"pg","key":"password"}}}],
        "envFrom":[{"configMapRef":{"name":"extra"}},{"secretRef":{"name":"creds","optional":true}}],
        "volumeMounts":[{"name":"data","mountPath":"/var/lib/postgresql/data","subPath":"pg"},
                        {"name":"cfg","mountPath":"/etc/cfg","readOnly":true}],
        "livenessProbe":{"exec":{"command":["pg_isready"]},"periodSeconds":5,"failureThreshold":6},
        "readinessProbe":{"httpGet":{"path":"/healthz","port":"http"}},
        "startupProbe":{"tcpSocket":{"port":5432}},
        "resources":{"limits":{"memory":"1Gi","cpu":"500m"},"requests":{"memory":"512Mi"}},
        "securityContext":{"readOnlyRootFilesystem":true,"runAsUser":999}}]}})";
  auto pod = parse_pod_json(json);
  ASSERT_TRUE(pod) << pod.error().what;
  EXPECT_EQ(pod->restart_policy, "OnFailure");
  EXPECT_FALSE(pod->enable_service_links);
  const Container& c = pod->containers[0];
  ASSERT_NE(c.find_env("PGDATA"), nullptr);
  EXPECT_EQ(*c.find_env("PGDATA")->value, "/var/lib/postgresql/data/pgdata");
  EXPECT_FALSE(c.find_env("POSTGRES_PASSWORD")->value);
  EXPECT_EQ(c.find_env("POSTGRES_PASSWORD")->value_from, "secretKeyRef:pg/password");
  ASSERT_EQ(c.env_from.size(), 2U);
  EXPECT_EQ(c.env_from[1].kind, "secret");
  EXPECT_TRUE(c.env_from[1].optional);
  ASSERT_EQ(c.mounts.size(), 2U);
  EXPECT_EQ(c.mounts[0].sub_path, "pg");
  EXPECT_EQ(c.mounts[0].volume->kind, VolumeKind::kPvc);
  EXPECT_EQ(c.mounts[0].volume->source, "pgdata");
  EXPECT_TRUE(c.mounts[1].read_only);
  ASSERT_TRUE(c.liveness);
  EXPECT_EQ(c.liveness->kind, ProbeKind::kExec);
  EXPECT_EQ(c.liveness->period_seconds, 5);
  EXPECT_EQ(c.liveness->failure_threshold, 6);
  EXPECT_EQ(c.readiness->port, "http");
  EXPECT_EQ(c.startup->kind, ProbeKind::kTcpSocket);
  EXPECT_EQ(c.startup->port, "5432");
  EXPECT_EQ(c.startup->period_seconds, 10);  // API default
  EXPECT_EQ(c.resources.cpu_limit, "500m");
  EXPECT_EQ(c.security_context.run_as_user, 999);  // container overrides pod
  EXPECT_EQ(c.security_context.fs_group, 1001);    // pod-level only
  EXPECT_TRUE(*c.security_context.read_only_root_filesystem);
}

struct BadInput {
  const char* name;
  const char* json;
  const char* error_contains;
};

// gtest prints parameters in test names and failures; the name says which row.
void PrintTo(const BadInput& p, std::ostream* os) {
  *os << p.name;
}

class PodParserRejects : public ::testing::TestWithParam<BadInput> {};

TEST_P(PodParserRejects, WithAnErrorNamingTheProblem) {
  auto pod = parse_pod_json(GetParam().json);
  ASSERT_FALSE(pod);
  EXPECT_NE(pod.error().what.find(GetParam().error_contains), std::string::npos) << pod.error().what;
}

INSTANTIATE_TEST_SUITE_P(
    Table, PodParserRejects,
    ::testing::Values(
        BadInput{"empty", "", "malformed JSON"},
        BadInput{"truncated", R"({"kind":"Pod","metadata":{"name":"x")", "malformed JSON"},
        BadInput{"not_object", "[1,2]", "expected a Pod object"},
        BadInput{"wrong_kind", R"({"kind":"Deployment"})", "expected \"Pod\""},
        BadInput{"list_of_two", R"({"kind":"List","items":[{},{}]})", "exactly one Pod"},
        BadInput{"command_not_array",
                 R"({"kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"a","command":"server"}]}})",
                 "spec.containers[0].command: expected array"},
        BadInput{"command_item_number",
                 R"({"kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"a","command":[1]}]}})",
                 "spec.containers[0].command[0]: expected string"},
        BadInput{
            "exit_code_string",
            R"({"kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"a"}]},"status":{"containerStatuses":[{"name":"a","lastState":{"terminated":{"exitCode":"137"}}}]}})",
            "exitCode: expected integer"},
        BadInput{"no_containers", R"({"kind":"Pod","metadata":{"name":"x"},"spec":{}})", "no containers"},
        BadInput{"no_metadata", R"({"kind":"Pod","spec":{"containers":[{"name":"a"}]}})", "metadata"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(PodParser, AcceptsASingleItemList) {
  auto pod = parse_pod_json(
      R"({"kind":"List","items":[{"kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"a"}]}}]})");
  ASSERT_TRUE(pod) << pod.error().what;
  EXPECT_EQ(pod->name, "x");
}

TEST(PodParser, EveryTruncationOfARealPodFailsCleanly) {
  // Split the input at every byte: no prefix may crash the parser or be accepted as a pod
  // with missing data.
  const std::string text = fixture("11-get-pod-crash-entrypoint.json");
  std::size_t accepted = 0;
  for (std::size_t n = 0; n < text.size(); n += 7) {
    auto pod = parse_pod_json(std::string_view(text).substr(0, n));
    if (pod) ++accepted;
  }
  EXPECT_EQ(accepted, 0U);
  EXPECT_TRUE(parse_pod_json(text));
}

TEST(EventParser, ParsesCoreV1AndEventsV1Lists) {
  auto core = parse_events_json(fixture("07-list-core-v1-events.json"));
  ASSERT_TRUE(core) << core.error().what;
  auto modern = parse_events_json(fixture("07-list-events-k8s-io-v1-events.json"));
  ASSERT_TRUE(modern) << modern.error().what;
  ASSERT_FALSE(core->empty());
  ASSERT_EQ(core->size(), modern->size());
  // The same events read through both APIs carry the same facts.
  EXPECT_EQ((*core)[0].reason, (*modern)[0].reason);
  EXPECT_EQ((*core)[0].message, (*modern)[0].message);
  EXPECT_EQ((*core)[0].count, (*modern)[0].count);
  EXPECT_EQ((*core)[0].involved_field_path, "spec.containers{app}");
  EXPECT_EQ((*modern)[0].involved_field_path, "spec.containers{app}");
  EXPECT_EQ((*core)[0].count, 5);
}

TEST(EventParser, FiltersToThePodAndContainer) {
  auto events = parse_events_json(fixture("07-list-core-v1-events.json"));
  ASSERT_TRUE(events);
  Pod pod;
  pod.name = "page-1";
  pod.uid = "bc4e6981-7696-40b6-b8d9-3ed6d63eb741";
  auto mine = events_for_pod(*events, pod);
  ASSERT_FALSE(mine.empty());
  for (const Event& e : mine) EXPECT_EQ(e.involved_name, "page-1");
  Container other;
  other.name = "sidecar";
  for (const Event& e : events_for_container(mine, other)) EXPECT_TRUE(e.involved_field_path.empty());
}

TEST(EventParser, RejectsWrongKindWithAHint) {
  auto events = parse_events_json(R"({"kind":"PodList","items":[]})");
  ASSERT_FALSE(events);
  EXPECT_NE(events.error().what.find("kubectl get events"), std::string::npos);
}

// Fields of the wrong type read as absent, never as an exception that ends the process: found by
// fuzz/fuzz_pod_parsers (docker inspect through the YAML path, `"ExitCode": ;` read as a string).
TEST(PodParser, FieldsOfTheWrongTypeReadAsAbsent) {
  const std::string docker = R"({"Id": "b7e5c3a8f6d2", "Name": "/worker", "RestartCount": "3",
    "State": {"Status": "exited", "Running": "no", "ExitCode": ";", "OOMKilled": "false"},
    "Config": {"Image": "w:1", "Labels": "not a map"}, "HostConfig": {"RestartPolicy": "always"}})";
  auto pods = parse_pods(docker);
  ASSERT_TRUE(pods.has_value()) << pods.error().what;
  ASSERT_EQ(pods->size(), 1U);
  const Container& c = pods->front().containers.front();
  ASSERT_TRUE(c.status && c.status->terminated);
  EXPECT_EQ(c.status->terminated->exit_code, 0);
  EXPECT_EQ(c.status->restart_count, 0);
  EXPECT_EQ(pods->front().namespace_, "docker");
  // A template whose metadata fields have the wrong types.
  const nlohmann::json rs = nlohmann::json::parse(R"({"metadata": {"name": 7, "creationTimestamp": 1,
    "annotations": {"deployment.kubernetes.io/revision": 2}},
    "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}})");
  auto t = template_from_object(rs);
  ASSERT_TRUE(t.has_value()) << t.error().what;
  EXPECT_EQ(t->revision, "");
  EXPECT_EQ(t->created, "");
}

}  // namespace
}  // namespace crashdiag
