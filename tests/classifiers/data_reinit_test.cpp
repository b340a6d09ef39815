// analyze_data_reinit (issue 15, item 3): a datastore with a claim that restarted and whose new
// log shows first-time initialisation. One row per datastore's real first-start line, and the
// negatives: a normal or recovering start, no claim, no restart, the previous container's log, a
// failed initdb.
#include <gtest/gtest.h>

#include <ostream>

#include "crashdiag/classifiers/analyzers.hpp"
#include "crashdiag/classifiers/classifier.hpp"
#include "test_support.hpp"

namespace crashdiag {
namespace {

struct ReinitCase {
  const char* name;
  const char* evidence_yaml;
  bool fires;
  double confidence;             // at least (when it fires)
  const char* summary_contains;  // when it fires
  const char* evidence_contains;
};

void PrintTo(const ReinitCase& p, std::ostream* os) {
  *os << p.name;
}

class DataReinit : public ::testing::TestWithParam<ReinitCase> {};

TEST_P(DataReinit, FiresOnlyOnAFirstStartAfterARestartWithAClaim) {
  const ReinitCase& tc = GetParam();
  const auto found = analyze_data_reinit(testing::evidence(tc.evidence_yaml));
  if (!tc.fires) {
    EXPECT_TRUE(found.empty()) << found.front().hypothesis.summary;
    return;
  }
  ASSERT_EQ(found.size(), 1U);
  const Hypothesis& h = found.front().hypothesis;
  EXPECT_EQ(h.category, "data_reinitialized");
  EXPECT_GE(h.confidence, tc.confidence);
  EXPECT_NE(h.summary.find(tc.summary_contains), std::string::npos) << h.summary;
  bool quoted = false;
  bool mount = false;
  for (const auto& e : h.evidence) {
    quoted = quoted || e.excerpt.find(tc.evidence_contains) != std::string::npos;
    mount = mount || e.field.find(".volumeMounts[") != std::string::npos;
  }
  EXPECT_TRUE(quoted) << "no evidence quotes '" << tc.evidence_contains << "'";
  EXPECT_TRUE(mount) << "the claim's mount is not quoted";
  EXPECT_FALSE(h.remediation.empty());
}

constexpr const char* kPgParent = R"yaml(
container: {image: 'postgres:16', mounts: [{path: /var/lib/postgresql, volume: data, kind: pvc, source: data-db-0}]}
status: {state: running, restart_count: 1}
current_logs: |
  The files belonging to this database system will be owned by user "postgres".
  This user must also own the server process.
  PostgreSQL init process complete; ready for start up.
  2026-12-03 08:03:29.001 UTC [1] LOG:  database system is ready to accept connections
)yaml";

INSTANTIATE_TEST_SUITE_P(
    Table, DataReinit,
    ::testing::Values(
        // The incident of ../shared/incidents: the image's VOLUME masks the claim.
        ReinitCase{"postgres_parent_mount", kPgParent, true, 0.97,
                   "data went to VOLUME /var/lib/postgresql/data, not PVC data-db-0",
                   "mountPath: /var/lib/postgresql (PVC data-db-0)"},
        ReinitCase{"postgres_pgdata_off_claim", R"yaml(
container: {image: 'postgres:15', mounts: [{path: /srv/pg, kind: pvc, source: pg}]}
status: {state: running, restart_count: 2}
current_logs: 'PostgreSQL init process complete; ready for start up.'
)yaml",
                   true, 0.97, "data went to VOLUME /var/lib/postgresql/data, not PVC pg",
                   "PGDATA defaults to /var/lib/postgresql/data in postgres:15"},
        ReinitCase{"postgres_on_claim_yet_empty", R"yaml(
container: {image: 'postgres:16', mounts: [{path: /var/lib/postgresql/data, kind: pvc, source: pg}]}
status: {state: running, restart_count: 1}
current_logs: 'The files belonging to this database system will be owned by user "postgres".'
)yaml",
                   true, 0.9, "PVC pg was empty at start", "The files belonging to this database system"},
        ReinitCase{"mysql_entrypoint", R"yaml(
container: {image: 'mysql:8.4', mounts: [{path: /var/lib, kind: pvc, source: mysql}]}
status: {state: running, restart_count: 1}
current_logs: |
  2026-12-03 08:00:00+00:00 [Note] [Entrypoint]: Entrypoint script for MySQL Server 8.4.3-1.el9 started.
  2026-12-03 08:00:01+00:00 [Note] [Entrypoint]: Initializing database files
  2026-12-03T08:00:01.402158Z 0 [System] [MY-013169] [Server] /usr/sbin/mysqld (mysqld 8.4.3) initializing of server in progress as process 80
)yaml",
                   true, 0.97, "data went to VOLUME /var/lib/mysql, not PVC mysql", "Initializing database files"},
        ReinitCase{"mariadb_install_db", R"yaml(
container: {image: 'mariadb:11', mounts: [{path: /data, kind: pvc, source: m}]}
status: {state: running, restart_count: 1}
current_logs: "Installing MariaDB/MySQL system tables in '/var/lib/mysql' ..."
)yaml",
                   true, 0.97, "MySQL/MariaDB restarted empty", "Installing MariaDB/MySQL system tables"},
        ReinitCase{"mongo_entrypoint", R"yaml(
container: {image: 'mongo:7', mounts: [{path: /data/configdb, kind: pvc, source: mongo}]}
status: {state: running, restart_count: 3}
current_logs: |
  {"t":{"$date":"2026-01-08T12:47:02.100+00:00"},"s":"I",  "c":"CONTROL",  "id":23138,   "ctx":"SignalHandler","msg":"Shutting down","attr":{"exitCode":0}}
  MongoDB init process complete; ready for start up.
)yaml",
                   true, 0.97, "data went to VOLUME /data/db, not PVC mongo", "MongoDB init process complete"},
        ReinitCase{"mongod_clean_start", R"yaml(
container: {image: 'mongo:6', mounts: [{path: /data/db, kind: pvc, source: mongo}]}
status: {state: running, restart_count: 1}
current_logs: '{"t":{"$date":"2021-11-07T19:45:34.560+00:00"},"s":"I",  "c":"STORAGE",  "id":20320,   "ctx":"initandlisten","msg":"createCollection","attr":{"namespace":"local.startup_log","uuidDisposition":"generated"}}'
)yaml",
                   true, 0.9, "PVC mongo was empty at start", "local.startup_log"},
        ReinitCase{"redis_new_aof", R"yaml(
container: {image: 'redis:7.2', mounts: [{path: /var/lib/redis, kind: pvc, source: redis}]}
status: {state: running, restart_count: 1}
current_logs: |
  1:M 19 Mar 2025 07:47:13.104 * Server initialized
  1:M 19 Mar 2025 07:47:13.106 * Creating AOF base file appendonly.aof.1.base.rdb on server start
  1:M 19 Mar 2025 07:47:13.108 * Ready to accept connections tcp
)yaml",
                   true, 0.97, "data went to VOLUME /data, not PVC redis", "Creating AOF base file"},
        // RDB mode prints nothing when there is nothing to load: ready without loading is weaker.
        ReinitCase{"redis_ready_without_loading", R"yaml(
container: {image: 'redis:7.2', mounts: [{path: /var/lib/redis, kind: pvc, source: redis}]}
status: {state: running, restart_count: 1}
current_logs: |
  1:M 25 Jul 2024 10:11:03.100 * Server initialized
  1:M 25 Jul 2024 10:11:03.107 * Ready to accept connections tcp
)yaml",
                   true, 0.8, "data went to VOLUME /data", "Ready to accept connections"},
        ReinitCase{"elasticsearch_new_cluster_uuid", R"yaml(
container: {image: 'docker.elastic.co/elasticsearch/elasticsearch:8.11.3', mounts: [{path: /usr/share/elasticsearch/config/data, kind: pvc, source: es}]}
status: {state: running, restart_count: 1}
current_logs: '[2023-12-16T11:12:03,930][INFO ][o.e.c.c.CoordinationState] [es-0] cluster UUID set to [SfXwYH5hR8GXMVW2rMBSxA]'
)yaml",
                   true, 0.97, "data went to the container layer, not PVC es", "cluster UUID set to"},
        // Negatives.
        ReinitCase{"postgres_normal_restart", R"yaml(
container: {image: 'postgres:16', mounts: [{path: /var/lib/postgresql/data, kind: pvc}]}
status: {state: running, restart_count: 1}
current_logs: |
  PostgreSQL Database directory appears to contain a database; Skipping initialization
  2026-12-03 08:10:00.100 UTC [28] LOG:  database system was shut down at 2026-12-03 08:09:58 UTC
  2026-12-03 08:10:00.120 UTC [1] LOG:  database system is ready to accept connections
)yaml",
                   false, 0, "", ""},
        ReinitCase{"postgres_crash_recovery", R"yaml(
container: {image: 'postgres:16', mounts: [{path: /var/lib/postgresql, kind: pvc}]}
status: {state: running, restart_count: 4}
current_logs: |
  2026-12-03 08:10:00.100 UTC [28] LOG:  database system was interrupted; last known up at 2026-12-03 08:05:01 UTC
  2026-12-03 08:10:00.150 UTC [28] LOG:  redo starts at 0/1A2B3C8
  2026-12-03 08:10:00.300 UTC [1] LOG:  database system is ready to accept connections
)yaml",
                   false, 0, "", ""},
        ReinitCase{"redis_loaded_its_data", R"yaml(
container: {image: 'redis:7.2', mounts: [{path: /data, kind: pvc}]}
status: {state: running, restart_count: 1}
current_logs: |
  1:M 25 Jul 2024 10:11:03.104 * DB loaded from disk: 0.002 seconds
  1:M 25 Jul 2024 10:11:03.107 * Ready to accept connections tcp
)yaml",
                   false, 0, "", ""},
        ReinitCase{"no_claim", R"yaml(
container: {image: 'postgres:16', mounts: [{path: /var/lib/postgresql/data, kind: emptyDir}]}
status: {state: running, restart_count: 1}
current_logs: 'PostgreSQL init process complete; ready for start up.'
)yaml",
                   false, 0, "", ""},
        ReinitCase{"first_start_is_not_a_reinit", R"yaml(
container: {image: 'postgres:16', mounts: [{path: /var/lib/postgresql, kind: pvc}]}
status: {state: running, restart_count: 0}
current_logs: 'PostgreSQL init process complete; ready for start up.'
)yaml",
                   false, 0, "", ""},
        // The crash path's evidence (the previous container's log) is left to the other analyzers.
        ReinitCase{"previous_log_is_not_looked_at", R"yaml(
container: {image: 'postgres:16', mounts: [{path: /var/lib/postgresql, kind: pvc}]}
status: {waiting_reason: CrashLoopBackOff, restart_count: 5}
logs: 'PostgreSQL init process complete; ready for start up.'
)yaml",
                   false, 0, "", ""},
        ReinitCase{"initdb_that_failed", R"yaml(
container: {image: 'postgres:16', mounts: [{path: /var/lib/postgresql/data, kind: pvc}]}
status: {state: running, restart_count: 1}
current_logs: |
  The files belonging to this database system will be owned by user "postgres".
  initdb: error: directory "/var/lib/postgresql/data" exists but is not empty
)yaml",
                   false, 0, "", ""},
        ReinitCase{"not_a_datastore", R"yaml(
container: {image: 'nginx:1.27', mounts: [{path: /usr/share/nginx/html, kind: pvc}]}
status: {state: running, restart_count: 1}
current_logs: 'PostgreSQL init process complete; ready for start up.'
)yaml",
                   false, 0, "", ""}),
    [](const auto& info) { return std::string(info.param.name); });

// Through the whole classifier: the re-initialisation ranks first and the mount-layout finding it
// quotes does not stand beside it; the evidence names the mount and where the data went.
TEST(DataReinitClassified, RanksFirstAndQuotesTheMountAndTheVolume) {
  const Classifier& classifier = testing::shipped_classifier();
  const ContainerDiagnosis d = classifier.diagnose(testing::evidence(kPgParent));
  ASSERT_FALSE(d.hypotheses.empty());
  const Hypothesis& top = d.hypotheses.front();
  EXPECT_EQ(top.category, "data_reinitialized");
  for (const Hypothesis& h : d.hypotheses) EXPECT_NE(h.category, "pg_volume_mount_path");
  std::string fields;
  for (const auto& e : top.evidence) fields += e.field + " > " + e.excerpt + "\n";
  EXPECT_NE(fields.find("spec.containers[0].volumeMounts[0] > mountPath: /var/lib/postgresql (PVC data-db-0)"),
            std::string::npos)
      << fields;
  EXPECT_NE(fields.find("written to the image's VOLUME /var/lib/postgresql/data"), std::string::npos) << fields;
  EXPECT_NE(top.remediation.find("mountPath: /var/lib/postgresql/data"), std::string::npos) << top.remediation;
}

}  // namespace
}  // namespace crashdiag
