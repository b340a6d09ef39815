// Issue 15, item 3, before any restart, through the daemon on the fake: a PostgreSQL StatefulSet
// whose claim is mounted at /var/lib/postgresql, the parent of the image's VOLUME, runs healthy
// (restartCount 0). The daemon tells it once, as a DataNotPersisted Warning Event on the
// StatefulSet quoting the mount, writes no RCA, and counts it in crashdiag_spec_findings. A
// correctly mounted one is looked at and left alone; two pods of one StatefulSet make one Event;
// a restarted crashdiag does not tell it twice.
#include <gtest/gtest.h>

#include "daemon_harness.hpp"
#include "metrics.hpp"

namespace crashdiag::daemon {
namespace {

using namespace harness;  // NOLINT(google-build-using-namespace)
using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kRcas = "crashdiag.io/v1alpha1/rootcauseanalyses";
constexpr const char* kNs = "authentik";

void put_statefulset(Cluster& c, const std::string& name) {
  c.server.put_object("/apis/apps/v1", "statefulsets",
                      {{"kind", "StatefulSet"},
                       {"apiVersion", "apps/v1"},
                       {"metadata", {{"name", name}, {"namespace", kNs}, {"uid", "uid-" + name}}}});
}

// A healthy pod of StatefulSet `sts` with its claim (volumeClaimTemplates[data]) at `mount_path`.
json postgres_pod(const std::string& sts, int ordinal, const std::string& mount_path) {
  const std::string name = sts + "-" + std::to_string(ordinal);
  const json container = {{"name", "postgresql"},
                          {"image", "postgres:16"},
                          {"volumeMounts", json::array({{{"name", "data"}, {"mountPath", mount_path}}})}};
  json pod = fake::make_pod(
      kNs, name, container,
      {{"apiVersion", "apps/v1"}, {"kind", "StatefulSet"}, {"name", sts}, {"uid", "uid-" + sts}, {"controller", true}});
  pod["spec"]["volumes"] =
      json::array({{{"name", "data"}, {"persistentVolumeClaim", {{"claimName", "data-" + name}}}}});
  pod["status"]["containerStatuses"] =
      json::array({{{"name", "postgresql"},
                    {"image", "postgres:16"},
                    {"ready", true},
                    {"started", true},
                    {"restartCount", 0},
                    {"state", {{"running", {{"startedAt", "2026-12-03T08:03:27Z"}}}}}}});
  return pod;
}

std::vector<json> findings(const fake::FakeApiServer& server) {
  std::vector<json> out;
  for (const auto& e : server.list_objects("events", kNs)) {
    if (e.value("reason", "") == "DataNotPersisted") out.push_back(e);
  }
  return out;
}

int pod_gets(const fake::FakeApiServer& server, const std::string& pod) {
  int n = 0;
  for (const auto& r : server.requests()) {
    if (r.method == "GET" && !r.watch && r.target == std::string("/api/v1/namespaces/") + kNs + "/pods/" + pod) ++n;
  }
  return n;
}

TEST(SpecFindings, AHealthyPostgresWithItsClaimAtTheParentOfTheVolumeIsToldOnTheStatefulSet) {
  quiet_logs();
  Cluster c;
  put_statefulset(c, "authentik-postgresql");
  metrics::Metrics m({"data_reinitialized"}, "test");
  Running r(c, publishing_options(&m));
  ASSERT_TRUE(eventually([&] { return r.synced(); }));
  // Created after the daemon started: the watch event carries the pod, no GET needed.
  c.server.apply_pod(postgres_pod("authentik-postgresql", 0, "/var/lib/postgresql"));

  ASSERT_TRUE(eventually([&] { return findings(c.server).size() == 1; }));
  const json e = findings(c.server).front();
  EXPECT_EQ(e["type"], "Warning");
  EXPECT_EQ(e["involvedObject"]["kind"], "StatefulSet");
  EXPECT_EQ(e["involvedObject"]["name"], "authentik-postgresql");
  EXPECT_EQ(e["involvedObject"]["uid"], "uid-authentik-postgresql");
  const std::string note = e.value("message", "");
  EXPECT_LE(note.size(), 1024U);
  EXPECT_NE(note.find("spec.containers[0].volumeMounts[0]: mountPath: /var/lib/postgresql "
                      "(PVC data-authentik-postgresql-0)"),
            std::string::npos)
      << note;
  EXPECT_NE(note.find("the image's VOLUME /var/lib/postgresql/data"), std::string::npos) << note;
  EXPECT_NE(note.find("Fix: mount the claim at /var/lib/postgresql/data"), std::string::npos) << note;
  EXPECT_EQ(pod_gets(c.server, "authentik-postgresql-0"), 0);

  ASSERT_TRUE(eventually([&] {
    return m.serialize().find(R"(crashdiag_spec_findings{finding="data_not_persisted",namespace="authentik"} 1)") !=
           std::string::npos;
  })) << m.serialize();
  // A finding on the workload, not a failure: no RCA, no diagnosis.
  ASSERT_TRUE(r.settle());
  EXPECT_TRUE(c.server.list_objects(kRcas, kNs).empty());
  EXPECT_TRUE(r.snapshot().empty());
  EXPECT_EQ(findings(c.server).size(), 1U);
}

TEST(SpecFindings, ACorrectlyMountedPostgresIsLookedAtAndLeftAlone) {
  quiet_logs();
  Cluster c;
  put_statefulset(c, "good");
  put_statefulset(c, "bad");
  // Both exist before the daemon starts: found by the list, so each pod is read once.
  c.server.apply_pod(postgres_pod("good", 0, "/var/lib/postgresql/data"));
  c.server.apply_pod(postgres_pod("bad", 0, "/var/lib/postgresql"));
  Running r(c, publishing_options(nullptr));
  ASSERT_TRUE(eventually([&] { return findings(c.server).size() == 1; }));
  ASSERT_TRUE(eventually([&] { return pod_gets(c.server, "good-0") == 1; }));  // looked at
  ASSERT_TRUE(r.settle());
  const auto told = findings(c.server);
  ASSERT_EQ(told.size(), 1U);
  EXPECT_EQ(told.front()["involvedObject"]["name"], "bad");
}

TEST(SpecFindings, TwoPodsOfOneStatefulSetAreOneEventAndARestartedCrashdiagDoesNotRepeatIt) {
  quiet_logs();
  Cluster c;
  put_statefulset(c, "db");
  c.server.apply_pod(postgres_pod("db", 0, "/var/lib/postgresql"));
  c.server.apply_pod(postgres_pod("db", 1, "/var/lib/postgresql"));
  std::string name;
  {
    Running r(c, publishing_options(nullptr));
    ASSERT_TRUE(eventually([&] { return findings(c.server).size() == 1; }));
    // A later event of the second pod is not a second look either.
    c.server.apply_pod(postgres_pod("db", 1, "/var/lib/postgresql"));
    ASSERT_TRUE(r.settle());
    ASSERT_EQ(findings(c.server).size(), 1U);
    name = findings(c.server).front()["metadata"]["name"];
    EXPECT_EQ(pod_gets(c.server, "db-0") + pod_gets(c.server, "db-1"), 1) << "one look per workload";
  }
  // crashdiag restarts: it looks again (a new process), and the Event's name answers 409.
  Running again(c, publishing_options(nullptr));
  ASSERT_TRUE(eventually([&] {
    for (const auto& req : c.server.requests()) {
      if (req.method == "POST" && req.target == std::string("/api/v1/namespaces/") + kNs + "/events" &&
          req.status == 409) {
        return true;
      }
    }
    return false;
  }));
  const auto told = findings(c.server);
  ASSERT_EQ(told.size(), 1U);
  EXPECT_EQ(told.front()["metadata"]["name"], name);
  EXPECT_EQ(told.front()["count"], 1);
}

}  // namespace
}  // namespace crashdiag::daemon
