#include <gtest/gtest.h>

#include <sstream>

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
