// Issue 15, item 3, through the daemon on the fake: the failure that never crashes. A PostgreSQL
// StatefulSet mounts its claim at /var/lib/postgresql, the parent of the image's VOLUME
// /var/lib/postgresql/data. Its pod runs; then it restarts (restartCount 0 -> 1) and runs again,
// and its new log shows initdb: the RCA says data_reinitialized and quotes the mount.
#include <gtest/gtest.h>

#include <iostream>

#include "daemon_harness.hpp"
#include "demo/incidents.hpp"

namespace crashdiag::daemon {
namespace {

using namespace harness;  // NOLINT(google-build-using-namespace)
using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kRcas = "crashdiag.io/v1alpha1/rootcauseanalyses";

// The real first lines of postgres:15's entrypoint on an empty directory
// (tests/data/node/postgres-volume-mount-probe/previous.log) and its last words.
constexpr const char* kInitLog =
    "The files belonging to this database system will be owned by user \"postgres\".\n"
    "This user must also own the server process.\n"
    "fixing permissions on existing directory /var/lib/postgresql/data ... ok\n"
    "creating subdirectories ... ok\n"
    "PostgreSQL init process complete; ready for start up.\n"
    "2026-12-03 08:03:29.001 UTC [1] LOG:  database system is ready to accept connections\n";

json postgres_pod(int restarts) {
  const json container = {{"name", "postgresql"},
                          {"image", "postgres:16"},
                          {"volumeMounts", json::array({{{"name", "data"}, {"mountPath", "/var/lib/postgresql"}}})}};
  json pod = fake::make_pod("authentik", "authentik-postgresql-0", container,
                            {{"apiVersion", "apps/v1"},
                             {"kind", "StatefulSet"},
                             {"name", "authentik-postgresql"},
                             {"uid", "uid-authentik-postgresql"},
                             {"controller", true}});
  // What the StatefulSet controller makes of volumeClaimTemplates[data]: a claim per pod.
  pod["spec"]["volumes"] =
      json::array({{{"name", "data"}, {"persistentVolumeClaim", {{"claimName", "data-authentik-postgresql-0"}}}}});
  pod["status"]["containerStatuses"] =
      json::array({{{"name", "postgresql"},
                    {"image", "postgres:16"},
                    {"ready", true},
                    {"started", true},
                    {"restartCount", restarts},
                    {"state", {{"running", {{"startedAt", "2026-12-03T08:03:27Z"}}}}}}});
  return pod;
}

TEST(DataReinitialized, APostgresStatefulSetThatRestartsIntoAnEmptyDatabaseGetsAnRcaQuotingTheMount) {
  quiet_logs();
  Cluster c;
  c.server.put_object(
      "/apis/apps/v1", "statefulsets",
      {{"kind", "StatefulSet"},
       {"apiVersion", "apps/v1"},
       {"metadata",
        {{"name", "authentik-postgresql"}, {"namespace", "authentik"}, {"uid", "uid-authentik-postgresql"}}}});
  c.server.apply_pod(postgres_pod(0));
  c.server.set_logs("authentik", "authentik-postgresql-0", "postgresql", false, kInitLog);
  Running r(c, publishing_options(nullptr));
  ASSERT_TRUE(eventually([&] { return r.synced(); }));
  // Running and healthy: nothing to say.
  ASSERT_TRUE(r.settle());
  EXPECT_TRUE(r.snapshot().empty());

  // The restart: same pod, restartCount 1, running again. Its new log initialised a database.
  c.server.apply_pod(postgres_pod(1));
  ASSERT_TRUE(r.wait_for(1));
  const DiagnosisRecord rec = r.snapshot().front();
  EXPECT_EQ(rec.signal.signature, "Restarted");
  EXPECT_EQ(rec.workload, "StatefulSet/authentik-postgresql");
  const Hypothesis& top = rec.diagnosis.hypotheses.front();
  EXPECT_EQ(top.category, "data_reinitialized");

  json st;
  ASSERT_TRUE(eventually([&] {
    auto rcas = c.server.list_objects(kRcas, "authentik");
    if (rcas.size() != 1 || !rcas[0].contains("status") || !rcas[0]["status"].contains("category")) return false;
    st = rcas[0]["status"];
    return true;
  }));
  EXPECT_EQ(st["category"], "data_reinitialized");
  bool mount = false;
  bool volume = false;
  bool init_line = false;
  for (const json& e : st["hypotheses"][0]["evidence"]) {
    const std::string field = e.value("field", "");
    const std::string excerpt = e.value("excerpt", "");
    mount = mount || (field == "spec.containers[0].volumeMounts[0]" &&
                      excerpt == "mountPath: /var/lib/postgresql (PVC data-authentik-postgresql-0)");
    volume = volume || excerpt.find("written to the image's VOLUME /var/lib/postgresql/data") != std::string::npos;
    init_line = init_line || excerpt.find("The files belonging to this database system") != std::string::npos;
  }
  EXPECT_TRUE(mount) << st.dump(2).substr(0, 3000);
  EXPECT_TRUE(volume) << st.dump(2).substr(0, 3000);
  EXPECT_TRUE(init_line) << st.dump(2).substr(0, 3000);

  // What `kubectl get rca -n authentik -o wide` shows, from the server's own Table (README).
  const auto table = c.server.table("crashdiag.io/v1alpha1", "rootcauseanalyses", "authentik");
  ASSERT_TRUE(table);
  const std::string printed = demo::render_table(*table, false, true);
  EXPECT_NE(printed.find("data_reinitialized"), std::string::npos) << printed;
  std::cout << printed;

  // The new instance's log was read, never the previous one's.
  int current = 0;
  for (const auto& req : c.server.requests()) {
    if (req.target.find("/log?") == std::string::npos) continue;
    EXPECT_EQ(req.target.find("previous=true"), std::string::npos) << req.target;
    ++current;
  }
  EXPECT_EQ(current, 1);
}

// A restart whose new log is an ordinary start (the data was found) is looked at and left alone:
// no RCA, no diagnosis recorded.
TEST(DataReinitialized, ARestartThatFoundItsDataLeavesNoRca) {
  quiet_logs();
  Cluster c;
  c.server.apply_pod(postgres_pod(0));
  c.server.set_logs("authentik", "authentik-postgresql-0", "postgresql", false,
                    "PostgreSQL Database directory appears to contain a database; Skipping initialization\n"
                    "2026-12-03 08:10:00.120 UTC [1] LOG:  database system is ready to accept connections\n");
  Running r(c, publishing_options(nullptr));
  ASSERT_TRUE(eventually([&] { return r.synced(); }));
  c.server.apply_pod(postgres_pod(1));
  // The log was read (the look happened), and nothing came of it.
  ASSERT_TRUE(eventually([&] {
    for (const auto& req : c.server.requests()) {
      if (req.target.find("/log?") != std::string::npos) return true;
    }
    return false;
  }));
  ASSERT_TRUE(r.settle());
  EXPECT_TRUE(r.snapshot().empty());
  EXPECT_TRUE(c.server.list_objects(kRcas, "authentik").empty());
}

}  // namespace
}  // namespace crashdiag::daemon
