// find_unpersisted_data (issue 15, item 3, before any restart): a datastore whose data directory
// is not on the claim its pod mounts. One row per layout: the claim at the parent of the image's
// VOLUME (PostgreSQL up to 17 and 18, MongoDB), the data directory outside every mount (PGDATA,
// MySQL, Elasticsearch), and the negatives: the claim at the VOLUME, a subPath there, PGDATA under
// the claim, no claim, an emptyDir chosen for the data, not a datastore, an unknown image layout,
// PGDATA from a Secret, a data-directory flag, an init container.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <ostream>

#include "crashdiag/classifiers/spec_findings.hpp"
#include "crashdiag/model/parse.hpp"

namespace crashdiag {
namespace {

using nlohmann::json;

struct FindingCase {
  const char* name;
  const char* container;  // one container's JSON
  const char* volumes;    // spec.volumes JSON
  bool fires;
  const char* mount_field;  // when it fires
  const char* mount;
  const char* goes_to_contains;
  const char* summary_contains;
  const char* fix_contains;
};

void PrintTo(const FindingCase& p, std::ostream* os) {  // NOLINT(readability-identifier-naming): gtest names it
  *os << p.name;
}

Pod pod_of(const char* container, const char* volumes, bool init = false) {
  json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "db-0"}, {"namespace", "shop"}, {"uid", "u1"}}},
              {"spec",
               {{"containers", json::array({{{"name", "sidecar"}, {"image", "busybox:1.36"}}})},
                {"volumes", json::parse(volumes)}}}};
  pod["spec"][init ? "initContainers" : "containers"].push_back(json::parse(container));
  auto parsed = parse_pod_json(pod.dump());
  EXPECT_TRUE(parsed) << parsed.error().what;
  return parsed ? *parsed : Pod{};
}

constexpr const char* kClaim = R"([{"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}}])";
constexpr const char* kClaimAndScratch =
    R"([{"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}}, {"name": "scratch", "emptyDir": {}}])";
constexpr const char* kScratch = R"([{"name": "scratch", "emptyDir": {}}])";

FindingCase no_finding(const char* name, const char* container, const char* volumes) {
  return FindingCase{name, container, volumes, false, "", "", "", "", ""};
}

class SpecFindings : public ::testing::TestWithParam<FindingCase> {};

TEST_P(SpecFindings, FlagsADataDirectoryOffTheClaim) {
  const FindingCase& tc = GetParam();
  const auto found = find_unpersisted_data(pod_of(tc.container, tc.volumes));
  if (!tc.fires) {
    EXPECT_TRUE(found.empty()) << found.front().summary;
    return;
  }
  ASSERT_EQ(found.size(), 1U);
  const SpecFinding& f = found.front();
  EXPECT_EQ(f.finding, "data_not_persisted");
  EXPECT_EQ(f.container, "db");
  EXPECT_EQ(f.mount_field, tc.mount_field);
  EXPECT_EQ(f.mount, tc.mount);
  EXPECT_NE(f.goes_to.find(tc.goes_to_contains), std::string::npos) << f.goes_to;
  EXPECT_NE(f.summary.find(tc.summary_contains), std::string::npos) << f.summary;
  EXPECT_NE(f.fix.find(tc.fix_contains), std::string::npos) << f.fix;
  // The Event note: summary, the quoted mount and the fix.
  const std::string note = f.message();
  EXPECT_LE(note.size(), 1024U);
  EXPECT_NE(note.find(f.summary), std::string::npos) << note;
  EXPECT_NE(note.find(std::string(tc.mount_field) + ": " + tc.mount), std::string::npos) << note;
  EXPECT_NE(note.find("Fix: " + f.fix), std::string::npos) << note;
}

INSTANTIATE_TEST_SUITE_P(
    Table, SpecFindings,
    ::testing::Values(
        // The incident of issue 15: the claim at the parent of VOLUME /var/lib/postgresql/data.
        FindingCase{"postgres16_claim_at_parent",
                    R"({"name": "db", "image": "postgres:16",
                        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql"}]})",
                    kClaim, true, "spec.containers[1].volumeMounts[0]",
                    "mountPath: /var/lib/postgresql (PVC data-db-0)", "the image's VOLUME /var/lib/postgresql/data",
                    "not to PVC data-db-0 mounted at its parent /var/lib/postgresql",
                    "mount the claim at /var/lib/postgresql/data (the VOLUME itself)"},
        // PGDATA in a subdirectory changes nothing: it is still inside the masking VOLUME.
        FindingCase{"postgres15_pgdata_subdir_claim_at_parent",
                    R"({"name": "db", "image": "docker.io/library/postgres:15-alpine",
                        "env": [{"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"}],
                        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/"}]})",
                    kClaim, true, "spec.containers[1].volumeMounts[0]",
                    "mountPath: /var/lib/postgresql/ (PVC data-db-0)", "VOLUME /var/lib/postgresql/data",
                    "writes /var/lib/postgresql/data/pgdata", "/var/lib/postgresql/data (the VOLUME itself)"},
        // 18 moved the VOLUME to /var/lib/postgresql and PGDATA to /var/lib/postgresql/18/docker:
        // the 17-era mount at .../data now holds nothing.
        FindingCase{"postgres18_claim_at_old_data_dir",
                    R"({"name": "db", "image": "postgres:18.1",
                        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}]})",
                    kClaim, true, "spec.containers[1].volumeMounts[0]",
                    "mountPath: /var/lib/postgresql/data (PVC data-db-0)", "the image's VOLUME /var/lib/postgresql",
                    "keeps its data in /var/lib/postgresql/18/docker (the image default), outside every mounted",
                    "mount the claim at /var/lib/postgresql."},
        FindingCase{"postgres_pgdata_outside_every_mount",
                    R"({"name": "db", "image": "postgres:16",
                        "env": [{"name": "PGDATA", "value": "/pgdata"}],
                        "volumeMounts": [{"name": "scratch", "mountPath": "/tmp"},
                                         {"name": "data", "mountPath": "/srv/pg", "subPath": "pg"}]})",
                    kClaimAndScratch, true, "spec.containers[1].volumeMounts[1]",
                    "mountPath: /srv/pg, subPath: pg (PVC data-db-0)", "the container's writable layer",
                    "keeps its data in /pgdata (PGDATA)", "set PGDATA under the mount (PGDATA=/srv/pg/pgdata)"},
        FindingCase{"mongo_claim_at_parent_of_data_db",
                    R"({"name": "db", "image": "mongo:7.0",
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}]})",
                    kClaim, true, "spec.containers[1].volumeMounts[0]", "mountPath: /data (PVC data-db-0)",
                    "the image's VOLUME /data/db", "MongoDB in container db writes /data/db",
                    "mount the claim at /data/db"},
        FindingCase{"mariadb_claim_elsewhere",
                    R"({"name": "db", "image": "mariadb:11",
                        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/mariadb"}]})",
                    kClaim, true, "spec.containers[1].volumeMounts[0]", "mountPath: /var/lib/mariadb (PVC data-db-0)",
                    "the image's VOLUME /var/lib/mysql", "keeps its data in /var/lib/mysql",
                    "mount the claim at /var/lib/mysql."},
        // Elastic's image declares no VOLUME: the data goes to the writable layer.
        FindingCase{"elasticsearch_claim_elsewhere",
                    R"({"name": "db", "image": "docker.elastic.co/elasticsearch/elasticsearch:8.15.0",
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}]})",
                    kClaim, true, "spec.containers[1].volumeMounts[0]", "mountPath: /data (PVC data-db-0)",
                    "the container's writable layer", "Elasticsearch in container db keeps its data in",
                    "mount the claim at /usr/share/elasticsearch/data."},

        // Negatives.
        no_finding("postgres16_claim_at_the_volume",
                   R"({"name": "db", "image": "postgres:16",
                        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}]})",
                   kClaim),
        no_finding("postgres16_subpath_at_the_volume",
                   R"({"name": "db", "image": "postgres:16",
                        "env": [{"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"}],
                        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data", "subPath": "postgres"}]})",
                   kClaim),
        no_finding("postgres18_claim_at_the_volume",
                   R"({"name": "db", "image": "postgres:18",
                        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql"}]})",
                   kClaim),
        // PGDATA on the claim, outside the VOLUME: the anonymous volume is empty and unused.
        no_finding("postgres16_pgdata_beside_the_volume",
                   R"({"name": "db", "image": "postgres:16",
                        "env": [{"name": "PGDATA", "value": "/var/lib/postgresql/pgdata"}],
                        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql"}]})",
                   kClaim),
        no_finding("postgres_claim_below_the_volume",
                   R"({"name": "db", "image": "postgres:16",
                        "env": [{"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"}],
                        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data/pgdata"}]})",
                   kClaim),
        no_finding("no_claim_at_all",
                   R"({"name": "db", "image": "postgres:16",
                        "volumeMounts": [{"name": "scratch", "mountPath": "/var/lib/postgresql"}]})",
                   kScratch),
        no_finding("emptydir_chosen_for_the_data",
                   R"({"name": "db", "image": "postgres:16",
                        "volumeMounts": [{"name": "scratch", "mountPath": "/var/lib/postgresql/data"},
                                         {"name": "data", "mountPath": "/backups"}]})",
                   kClaimAndScratch),
        no_finding("not_a_datastore",
                   R"({"name": "db", "image": "ghcr.io/goauthentik/server:2024.2.1",
                        "volumeMounts": [{"name": "data", "mountPath": "/media"}]})",
                   kClaim),
        no_finding("exporter_named_after_postgres",
                   R"({"name": "db", "image": "prometheuscommunity/postgres-exporter:v0.15.0",
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}]})",
                   kClaim),
        // Crunchy's image keeps its data under /pgdata, not the official layout: no guess.
        no_finding(
            "postgres_family_with_unknown_layout",
            R"({"name": "db", "image": "registry.developers.crunchydata.com/crunchydata/crunchy-postgres:ubi8-16.2-0",
                        "volumeMounts": [{"name": "data", "mountPath": "/pgdata"}]})",
            kClaim),
        no_finding("pgdata_from_a_secret",
                   R"({"name": "db", "image": "postgres:16",
                        "env": [{"name": "PGDATA", "valueFrom": {"secretKeyRef": {"name": "pg", "key": "dir"}}}],
                        "volumeMounts": [{"name": "data", "mountPath": "/srv/pg"}]})",
                   kClaim),
        no_finding("mysql_datadir_flag",
                   R"({"name": "db", "image": "mysql:8.4", "args": ["--datadir=/srv/mysql"],
                        "volumeMounts": [{"name": "data", "mountPath": "/srv/mysql"}]})",
                   kClaim),
        no_finding("redis_config_file",
                   R"({"name": "db", "image": "redis:7", "command": ["redis-server", "/etc/redis/redis.conf"],
                        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/redis"}]})",
                   kClaim),
        no_finding("redis_claim_at_data",
                   R"({"name": "db", "image": "redis:7", "args": ["--appendonly", "yes"],
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}]})",
                   kClaim),
        no_finding("bitnami_postgresql_chart_layout",
                   R"({"name": "db", "image": "docker.io/bitnami/postgresql:16.4.0",
                        "volumeMounts": [{"name": "data", "mountPath": "/bitnami/postgresql"}]})",
                   kClaim)));

TEST(SpecFindings, AnInitContainerIsNotADatastore) {
  const Pod pod = pod_of(R"({"name": "db", "image": "postgres:16",
                             "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql"}]})",
                         kClaim, /*init=*/true);
  ASSERT_EQ(pod.containers.size(), 2U);  // parsed, and ignored
  EXPECT_TRUE(find_unpersisted_data(pod).empty());
}

TEST(SpecFindings, OneFindingPerContainer) {
  json pod = json::parse(R"({"metadata": {"name": "db-0", "namespace": "shop"},
    "spec": {"volumes": [{"name": "a", "persistentVolumeClaim": {"claimName": "pg"}},
                         {"name": "b", "persistentVolumeClaim": {"claimName": "mongo"}}],
             "containers": [
               {"name": "pg", "image": "postgres:16", "volumeMounts": [{"name": "a", "mountPath": "/var/lib/postgresql"}]},
               {"name": "mongo", "image": "mongo:7", "volumeMounts": [{"name": "b", "mountPath": "/data"}]}]}})");
  auto parsed = parse_pod_json(pod.dump());
  ASSERT_TRUE(parsed);
  const auto found = find_unpersisted_data(*parsed);
  ASSERT_EQ(found.size(), 2U);
  EXPECT_EQ(found[0].container, "pg");
  EXPECT_EQ(found[0].mount_field, "spec.containers[0].volumeMounts[0]");
  EXPECT_EQ(found[1].container, "mongo");
  EXPECT_EQ(found[1].mount_field, "spec.containers[1].volumeMounts[0]");
}

TEST(SpecFindings, TheNoteStaysWithinTheEventLimit) {
  SpecFinding f;
  f.summary = std::string(2000, 'x');
  f.mount_field = "spec.containers[0].volumeMounts[0]";
  f.mount = "mountPath: /var/lib/postgresql (PVC data)";
  f.fix = "mount the claim at /var/lib/postgresql/data.";
  const std::string note = f.message();
  EXPECT_LE(note.size(), 1024U);
  EXPECT_EQ(note.substr(0, 10), std::string(10, 'x'));
  // The summary gives way; the mount and the fix stay whole.
  EXPECT_NE(note.find("spec.containers[0].volumeMounts[0]: mountPath: /var/lib/postgresql (PVC data)"),
            std::string::npos);
  EXPECT_EQ(note.substr(note.size() - f.fix.size()), f.fix);
}

}  // namespace
}  // namespace crashdiag
