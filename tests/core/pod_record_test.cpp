#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "crashdiag/core/pod_record.hpp"
#include "test_support.hpp"

namespace crashdiag::core {
namespace {

std::vector<std::string> lines(const std::string& name) {
  std::istringstream in(crashdiag::testing::read_file(crashdiag::testing::source_path("tests/data/k8s/" + name)));
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) {
    if (!l.empty()) out.push_back(l);
  }
  return out;
}

TEST(PodRecord, ParsesARecordedWatchStream) {
  auto events = lines("03-watch-pods-all-namespaces-stream.events.jsonl");
  ASSERT_EQ(events.size(), 7U);
  std::vector<std::string> types;
  for (const auto& e : events) {
    auto line = parse_watch_line(e);
    ASSERT_TRUE(line) << line.error().what;
    types.push_back(line->type);
  }
  EXPECT_EQ(types,
            (std::vector<std::string>{"ADDED", "MODIFIED", "MODIFIED", "MODIFIED", "DELETED", "BOOKMARK", "BOOKMARK"}));
  auto added = parse_watch_line(events[0]);
  ASSERT_TRUE(added->pod);
  EXPECT_EQ(added->pod->name, "crash-1");
  EXPECT_EQ(added->pod->namespace_, "fx");
  EXPECT_EQ(added->resource_version, "242");
  EXPECT_FALSE(added->pod->deleting);
  auto deleting = parse_watch_line(events[3]);
  EXPECT_TRUE(deleting->pod->deleting);
  auto bookmark = parse_watch_line(events[5]);
  EXPECT_FALSE(bookmark->pod);
  EXPECT_EQ(bookmark->resource_version, "247");
}

TEST(PodRecord, ReadsContainerStatusesOfACrashLoop) {
  auto events = lines("03-watch-pods-labelselector-app-crashloop-stream.events.jsonl");
  auto line = parse_watch_line(events.at(1));
  ASSERT_TRUE(line) << line.error().what;
  ASSERT_EQ(line->pod->containers.size(), 1U);
  const ContainerRecord& c = line->pod->containers[0];
  EXPECT_EQ(c.name, "app");
  EXPECT_EQ(c.restart_count, 3);
  EXPECT_EQ(c.waiting_reason, "CrashLoopBackOff");
  ASSERT_TRUE(c.last_terminated);
  EXPECT_EQ(c.last_terminated->reason, "StartError");
  EXPECT_EQ(c.last_terminated->exit_code, 128);
}

TEST(PodRecord, ExpiredErrorEventCarriesTheStatusCode) {
  auto line = parse_watch_line(lines("04-watch-pods-rv-too-old-410-stream.events.jsonl").at(0));
  ASSERT_TRUE(line) << line.error().what;
  EXPECT_EQ(line->type, "ERROR");
  EXPECT_EQ(line->error_code, 410);
  EXPECT_EQ(line->error_reason, "Expired");
}

// JSON objects are unordered: an event whose "object" precedes its "type" means the same.
TEST(PodRecord, KeyOrderOfAWatchEventDoesNotMatter) {
  auto error = parse_watch_line(
      R"({"object":{"apiVersion":"v1","code":410,"kind":"Status","metadata":{},"reason":"Expired"},"type":"ERROR"})");
  ASSERT_TRUE(error) << error.error().what;
  EXPECT_EQ(error->error_code, 410);
  EXPECT_EQ(error->error_reason, "Expired");
  auto added = parse_watch_line(
      R"({"object":{"kind":"Pod","metadata":{"name":"p","namespace":"n","uid":"u","resourceVersion":"7",)"
      R"("annotations":{"crashdiag.io/rca":"r"}}},"type":"ADDED"})");
  ASSERT_TRUE(added) << added.error().what;
  ASSERT_TRUE(added->pod);
  EXPECT_EQ(added->pod->name, "p");
  EXPECT_EQ(added->pod->rca_annotation, "r");
  EXPECT_EQ(added->resource_version, "7");
}

TEST(PodRecord, OwnerAndInitContainersFromAFullPod) {
  auto pod = parse_pod_record(crashdiag::testing::read_file(
      crashdiag::testing::source_path("tests/data/k8s/10-get-pod-owned-by-replicaset.json")));
  ASSERT_TRUE(pod) << pod.error().what;
  EXPECT_EQ(pod->owner_kind, "ReplicaSet");
  EXPECT_FALSE(pod->owner_uid.empty());
  auto init = parse_pod_record(
      crashdiag::testing::read_file(crashdiag::testing::source_path("tests/data/k8s/11-get-pod-crash-init.json")));
  ASSERT_TRUE(init);
  ASSERT_FALSE(init->containers.empty());
  EXPECT_TRUE(init->containers[0].init);
  EXPECT_EQ(init->containers[0].waiting_reason, "CrashLoopBackOff");
}

// The one fact a record keeps about a container's data: a datastore (by image or data mount)
// that mounts a PersistentVolumeClaim. Table: spec fragments, and whether the container named
// "db" gets the flag.
struct DatastoreCase {
  const char* name;
  const char* spec;  // the pod's spec, JSON
  bool flagged;
};

void PrintTo(const DatastoreCase& c, std::ostream* os) {
  *os << c.name;
}

class RecordDatastore : public ::testing::TestWithParam<DatastoreCase> {};

TEST_P(RecordDatastore, FlagsADatastoreThatMountsAClaim) {
  const std::string pod = std::string(R"({"kind":"Pod","metadata":{"name":"db-0","namespace":"d","uid":"u"},"spec":)") +
                          GetParam().spec +
                          R"(,"status":{"containerStatuses":[{"name":"db","restartCount":0,"state":{"running":{}}}]}})";
  auto rec = parse_pod_record(pod);
  ASSERT_TRUE(rec) << rec.error().what;
  ASSERT_EQ(rec->containers.size(), 1U);
  EXPECT_EQ(rec->containers[0].datastore_pvc, GetParam().flagged);
}

INSTANTIATE_TEST_SUITE_P(
    Table, RecordDatastore,
    ::testing::Values(
        DatastoreCase{
            "postgres_with_claim",
            R"({"containers":[{"name":"db","image":"postgres:16","volumeMounts":[{"name":"data","mountPath":"/var/lib/postgresql"}]}],
                          "volumes":[{"name":"data","persistentVolumeClaim":{"claimName":"data-db-0"}}]})",
            true},
        // Volumes before containers or after: JSON order is free.
        DatastoreCase{"volumes_first",
                      R"({"volumes":[{"persistentVolumeClaim":{"claimName":"c"},"name":"data"}],
                          "containers":[{"volumeMounts":[{"mountPath":"/data","name":"data"}],"image":"docker.io/library/redis:7","name":"db"}]})",
                      true},
        DatastoreCase{
            "private_image_known_data_path",
            R"({"containers":[{"name":"db","image":"registry.local/acme/db:3","volumeMounts":[{"name":"data","mountPath":"/var/lib/mysql"}]}],
                          "volumes":[{"name":"data","persistentVolumeClaim":{"claimName":"c"}}]})",
            true},
        DatastoreCase{
            "postgres_on_empty_dir",
            R"({"containers":[{"name":"db","image":"postgres:16","volumeMounts":[{"name":"data","mountPath":"/var/lib/postgresql/data"}]}],
                          "volumes":[{"name":"data","emptyDir":{}}]})",
            false},
        DatastoreCase{"claim_mounted_by_nothing_here",
                      R"({"containers":[{"name":"db","image":"mongo:7"}],
                          "volumes":[{"name":"data","persistentVolumeClaim":{"claimName":"c"}}]})",
                      false},
        DatastoreCase{
            "exporter_is_not_the_datastore",
            R"({"containers":[{"name":"db","image":"prometheuscommunity/postgres-exporter:v0.15.0","volumeMounts":[{"name":"data","mountPath":"/cfg"}]}],
                          "volumes":[{"name":"data","persistentVolumeClaim":{"claimName":"c"}}]})",
            false},
        DatastoreCase{
            "web_app_with_claim",
            R"({"containers":[{"name":"db","image":"nginx:1.27","volumeMounts":[{"name":"data","mountPath":"/usr/share/nginx/html"}]}],
                          "volumes":[{"name":"data","persistentVolumeClaim":{"claimName":"c"}}]})",
            false}),
    [](const auto& info) { return std::string(info.param.name); });

// The real kubelet's recording of the second incident: postgres:15, its claim at the parent of PGDATA.
TEST(PodRecord, TheRecordedPostgresIncidentIsADatastoreWithAClaim) {
  auto rec = parse_pod_record(crashdiag::testing::read_file(
      crashdiag::testing::source_path("tests/data/node/postgres-volume-mount-probe/pod.json")));
  ASSERT_TRUE(rec) << rec.error().what;
  ASSERT_EQ(rec->containers.size(), 1U);
  EXPECT_TRUE(rec->containers[0].datastore_pvc);
}

TEST(PodRecord, MalformedLinesAreErrorsNotCrashes) {
  const std::string good = lines("03-watch-pods-all-namespaces-stream.events.jsonl").at(1);
  for (std::size_t n = 0; n < good.size(); n += 13) {
    EXPECT_FALSE(parse_watch_line(good.substr(0, n))) << "prefix of " << n << " bytes accepted";
  }
  EXPECT_FALSE(parse_watch_line(R"({"type":"WHATEVER","object":{}})"));
  EXPECT_FALSE(parse_watch_line(R"({"type":"ADDED"})"));
  EXPECT_FALSE(parse_watch_line(R"({"type":"ADDED","object":{"metadata":{"name":7}}})"));
  EXPECT_FALSE(parse_watch_line("[]"));
}

}  // namespace
}  // namespace crashdiag::core

namespace crashdiag::core {
namespace {

// The zero metav1.Time is JSON null (time.go MarshalJSON): a pod still parses, its time reads "",
// as the protobuf form's empty Time message does.
TEST(PodRecord, ANullTimeReadsAsEmpty) {
  auto r = parse_pod_record(R"({"kind":"Pod","metadata":{"name":"p","namespace":"n"},"status":{
    "conditions":[{"type":"Ready","status":"False","lastTransitionTime":null}],
    "containerStatuses":[{"name":"c","restartCount":1,"state":{"terminated":{"exitCode":2,"finishedAt":null}}}]}})");
  ASSERT_TRUE(r) << r.error().what;
  ASSERT_EQ(r->containers.size(), 1U);
  ASSERT_TRUE(r->containers[0].terminated);
  EXPECT_EQ(r->containers[0].terminated->exit_code, 2);
  EXPECT_EQ(r->containers[0].terminated->finished_at, "");
  EXPECT_EQ(r->not_ready_since, "");
}

// The bookmark that ends a streaming list's initial events (KEP-3157), in any kind's watch, with
// "type" and "object" in either order; nothing else reads as it.
TEST(PodRecord, OnlyTheInitialEventsEndBookmarkEndsInitialEvents) {
  const std::string end_object =
      R"({"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"12","creationTimestamp":null,)"
      R"("annotations":{"k8s.io/initial-events-end":"true"}},"spec":{"containers":null},"status":{}})";
  struct Row {
    const char* name;
    std::string line;
    bool ends;
  };
  for (const Row& row : std::vector<Row>{
           {"the bookmark", R"({"type":"BOOKMARK","object":)" + end_object + "}", true},
           {"object first", R"({"object":)" + end_object + R"(,"type":"BOOKMARK"})", true},
           {"a metadata watch's bookmark",
            R"({"type":"BOOKMARK","object":{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1",)"
            R"("metadata":{"resourceVersion":"9","annotations":{"k8s.io/initial-events-end":"true"}}}})",
            true},
           {"an ordinary bookmark",
            R"({"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"12"}}})", false},
           {"the annotation false",
            R"({"type":"BOOKMARK","object":{"metadata":{"annotations":{"k8s.io/initial-events-end":"false"}}}})",
            false},
           {"an ADDED pod carrying the annotation", R"({"type":"ADDED","object":)" + end_object + "}", false},
           {"not JSON", R"({"type":"BOOKMARK","object":{"metadata":)", false},
           {"an array", "[1,2]", false},
       }) {
    SCOPED_TRACE(row.name);
    EXPECT_EQ(ends_initial_events(row.line), row.ends);
  }
}

}  // namespace
}  // namespace crashdiag::core
