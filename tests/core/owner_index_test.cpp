#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "crashdiag/core/owner_index.hpp"
#include "test_support.hpp"

// tests/data/k8s/12-*: recorded from a real kube-apiserver v1.26.1 (the k8s-rig) on 2026-12-03 with
// client-go's metadata media types (curl, `Accept: application/json;as=PartialObjectMetadataList;
// g=meta.k8s.io;v=v1,application/json` for lists, `as=PartialObjectMetadata` for the watch). The
// watch saw `kubectl set image` roll the Deployment, an annotation on its ReplicaSets, their
// deletion and the controller re-creating one.

namespace crashdiag::core {
namespace {

std::string data(const std::string& name) {
  return crashdiag::testing::read_file(crashdiag::testing::source_path("tests/data/k8s/" + name));
}

std::vector<std::string> lines(const std::string& name) {
  std::istringstream in(data(name));
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) {
    if (!l.empty()) out.push_back(l);
  }
  return out;
}

std::vector<MetaRecord> items(const std::string& name) {
  const auto list = nlohmann::json::parse(data(name));
  std::vector<MetaRecord> out;
  for (const auto& item : list["items"]) {
    auto rec = parse_meta_record(item.dump());
    EXPECT_TRUE(rec) << to_string(rec.error());
    if (rec) out.push_back(std::move(*rec));
  }
  return out;
}

TEST(OwnerIndex, ReadsARecordedMetadataListOfReplicaSets) {
  const auto rs = items("12-list-replicasets-metadata-rv0.json");
  ASSERT_EQ(rs.size(), 1U);
  EXPECT_EQ(rs[0].name, "web-69bfd85876");
  EXPECT_EQ(rs[0].namespace_, "meta-rec");
  EXPECT_EQ(rs[0].uid, "8cae499c-6568-4db2-9738-dd3f93055139");
  ASSERT_TRUE(rs[0].controller);
  EXPECT_EQ(rs[0].controller->kind, "Deployment");
  EXPECT_EQ(rs[0].controller->api_version, "apps/v1");
  EXPECT_EQ(rs[0].controller->name, "web");
  EXPECT_EQ(rs[0].controller->uid, "f3f6e800-bbcc-4b76-a0bd-3625ab0ef292");
  // The Deployment controller copies the Deployment's annotations to its ReplicaSets.
  EXPECT_TRUE(rs[0].ignore);
}

TEST(OwnerIndex, ReadsNamespacesAndJobsWithoutOwners) {
  const auto ns = items("12-list-namespaces-metadata-rv0.json");
  ASSERT_GE(ns.size(), 5U);
  for (const auto& n : ns) {
    EXPECT_TRUE(n.namespace_.empty()) << n.name;  // cluster-scoped
    EXPECT_EQ(n.ignore, n.name == "meta-rec") << n.name;
  }
  const auto jobs = items("12-list-jobs-metadata-rv0.json");
  ASSERT_EQ(jobs.size(), 1U);
  EXPECT_EQ(jobs[0].name, "once");
  EXPECT_FALSE(jobs[0].controller);
}

TEST(OwnerIndex, ReadsARecordedMetadataWatch) {
  const auto events = lines("12-watch-replicasets-metadata-stream.events.jsonl");
  ASSERT_EQ(events.size(), 9U);
  std::vector<std::string> types;
  for (const auto& e : events) {
    auto line = parse_meta_watch_line(e);
    ASSERT_TRUE(line) << to_string(line.error()) << ": " << e.substr(0, 120);
    types.push_back(line->type);
    EXPECT_FALSE(line->resource_version.empty());
    EXPECT_EQ(line->object.has_value(), line->type != "BOOKMARK");
  }
  EXPECT_EQ(types, (std::vector<std::string>{"ADDED", "MODIFIED", "MODIFIED", "DELETED", "DELETED", "ADDED", "MODIFIED",
                                             "MODIFIED", "BOOKMARK"}));
  EXPECT_EQ(parse_meta_watch_line(events.back())->resource_version, "5375");
}

TEST(OwnerIndex, ParsesWhatTheServerMightSendTable) {
  struct Case {
    const char* name;
    const char* line;
    bool ok;
    const char* type;
    int error_code;
    bool ignore;
    const char* controller;
  };
  const Case cases[] = {
      {"object before type", R"({"object":{"metadata":{"name":"a","namespace":"n"}},"type":"ADDED"})", true, "ADDED", 0,
       false, ""},
      {"410 expired", R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}})", true, "ERROR",
       410, false, ""},
      {"ignore only when exactly true",
       R"({"type":"ADDED","object":{"metadata":{"name":"a","annotations":{"crashdiag.io/ignore":"yes"}}}})", true,
       "ADDED", 0, false, ""},
      {"ignore true",
       R"({"type":"ADDED","object":{"metadata":{"name":"a","annotations":{"crashdiag.io/ignore":"true"}}}})", true,
       "ADDED", 0, true, ""},
      {"only the controlling owner",
       R"({"type":"ADDED","object":{"metadata":{"name":"a","ownerReferences":[{"kind":"X","name":"x"},)"
       R"({"kind":"CronJob","name":"nightly","controller":true}]}}})",
       true, "ADDED", 0, false, "nightly"},
      {"fields of the wrong type read as absent",
       R"({"type":"ADDED","object":{"metadata":{"name":"a","uid":7,"annotations":[],"ownerReferences":{}}}})", true,
       "ADDED", 0, false, ""},
      {"no name", R"({"type":"ADDED","object":{"metadata":{}}})", false, "", 0, false, ""},
      {"no object", R"({"type":"ADDED"})", false, "", 0, false, ""},
      {"not JSON", R"({"type":"ADDED","object":{"metadata":)", false, "", 0, false, ""},
      {"invalid UTF-8 in a name", "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"\xff\"}}}", false, "", 0,
       false, ""},
  };
  for (const auto& c : cases) {
    auto line = parse_meta_watch_line(c.line);
    ASSERT_EQ(line.has_value(), c.ok) << c.name;
    if (!c.ok) continue;
    EXPECT_EQ(line->type, c.type) << c.name;
    EXPECT_EQ(line->error_code, c.error_code) << c.name;
    if (line->object) {
      EXPECT_EQ(line->object->ignore, c.ignore) << c.name;
      EXPECT_EQ(line->object->controller ? line->object->controller->name : "", c.controller) << c.name;
    }
  }
}

MetaRecord rec(std::string ns, std::string name, std::string uid, std::optional<WorkloadRef> owner = {}) {
  MetaRecord r;
  r.namespace_ = std::move(ns);
  r.name = std::move(name);
  r.uid = std::move(uid);
  r.controller = std::move(owner);
  return r;
}

TEST(OwnerIndex, TopLevelWorkloadTable) {
  MetaStore rs;
  const WorkloadRef deploy{"apps/v1", "Deployment", "web", "d-1"};
  rs.begin_snapshot();
  rs.stage(rec("shop", "web-5c2f1", "rs-1", deploy));
  rs.stage(rec("shop", "bare", "rs-2"));
  EXPECT_FALSE(top_level_from(&rs, {"apps/v1", "ReplicaSet", "web-5c2f1", "rs-1"}, "shop").known)
      << "a lookup before the first list is committed cannot answer";
  rs.commit_snapshot();

  struct Case {
    const char* name;
    WorkloadRef direct;
    std::string ns;
    bool known;
    std::string kind;
    std::string workload;
    std::string uid;
  };
  const Case cases[] = {
      {"ReplicaSet to its Deployment",
       {"apps/v1", "ReplicaSet", "web-5c2f1", "rs-1"},
       "shop",
       true,
       "Deployment",
       "web",
       "d-1"},
      {"the pod's owner uid may be absent",
       {"apps/v1", "ReplicaSet", "web-5c2f1", ""},
       "shop",
       true,
       "Deployment",
       "web",
       "d-1"},
      {"a bare ReplicaSet is the workload",
       {"apps/v1", "ReplicaSet", "bare", ""},
       "shop",
       true,
       "ReplicaSet",
       "bare",
       "rs-2"},
      {"not seen yet: ask the server", {"apps/v1", "ReplicaSet", "web-new", "rs-9"}, "shop", false, "", "", ""},
      {"another namespace's namesake", {"apps/v1", "ReplicaSet", "web-5c2f1", "rs-1"}, "other", false, "", "", ""},
      {"a recreated namesake (uid differs): ask",
       {"apps/v1", "ReplicaSet", "web-5c2f1", "rs-7"},
       "shop",
       false,
       "",
       "",
       ""},
      {"StatefulSet is itself", {"apps/v1", "StatefulSet", "db", "s-1"}, "shop", true, "StatefulSet", "db", "s-1"},
      {"Job without an index: ask", {"batch/v1", "Job", "nightly-1", "j-1"}, "shop", false, "", "", ""},
  };
  for (const auto& c : cases) {
    const MetaStore* store = c.direct.kind == "ReplicaSet" ? &rs : nullptr;
    const auto got = top_level_from(store, c.direct, c.ns);
    EXPECT_EQ(got.known, c.known) << c.name;
    if (!c.known) continue;
    EXPECT_EQ(got.workload.kind, c.kind) << c.name;
    EXPECT_EQ(got.workload.name, c.workload) << c.name;
    EXPECT_EQ(got.workload.uid, c.uid) << c.name;
  }
}

// The store keeps records packed: each must come back exactly, as the recordings have them and
// as a lying server could send them, and a Deployment's ReplicaSet must cost little more than its
// names and uids.
TEST(OwnerIndex, PackedRecordsComeBackExactly) {
  std::vector<MetaRecord> records;
  for (const auto& e : lines("12-watch-replicasets-metadata-stream.events.jsonl")) {
    if (auto line = parse_meta_watch_line(e); line && line->object) records.push_back(*line->object);
  }
  ASSERT_GE(records.size(), 8U);
  MetaRecord rs = rec("shop", "web-6f7d8c9b5", "0b4f0a57-6c2e-4c1e-9d4b-3f0de8e4b3aa",
                      WorkloadRef{"apps/v1", "Deployment", "web", "e93867ae-1b6a-49d1-8771-495b4e2cb4ef"});
  rs.resource_version = "48213377";
  records.push_back(rs);
  MetaRecord adopted = rs;  // a controller whose name the object's does not start with
  adopted.controller->name = "other";
  adopted.controller->api_version = "example.com/v1beta1";
  adopted.controller->kind = "Rollout";
  records.push_back(adopted);
  MetaRecord ns = rec("", "shop", "NS-UPPERCASE-UID");
  ns.ignore = true;
  records.push_back(ns);
  records.push_back(MetaRecord{});
  for (const auto& r : records) {
    SCOPED_TRACE(r.key());
    const PackedMeta packed = PackedMeta::pack(r);
    EXPECT_EQ(packed.unpack(), r);
    EXPECT_EQ(packed.key(), r.key());
  }
  EXPECT_LE(PackedMeta::pack(rs).size(), 70U) << "key 20, two uuids 34, resourceVersion 9, a few tags";
}

TEST(OwnerIndex, AnUnstagedObjectIsNotCommitted) {
  MetaStore rs;
  rs.begin_snapshot();
  rs.stage(rec("shop", "web-aaaaa", "rs-1"));
  rs.stage(rec("shop", "web-bbbbb", "rs-2"));
  rs.unstage("shop/web-bbbbb");
  EXPECT_EQ(rs.commit_snapshot(), 1U);
  EXPECT_TRUE(rs.find("shop", "web-aaaaa"));
  EXPECT_FALSE(rs.find("shop", "web-bbbbb"));
}

TEST(OwnerIndex, StoreSnapshotsWatchUpdatesAndRevisions) {
  MetaStore rs;
  const WorkloadRef deploy{"apps/v1", "Deployment", "web", "d-1"};
  rs.begin_snapshot();
  rs.stage(rec("shop", "web-aaaaa", "rs-1", deploy));
  rs.commit_snapshot();
  EXPECT_EQ(rs.controlled_by("shop", "d-1"), 1U);
  rs.upsert(rec("shop", "web-bbbbb", "rs-2", deploy));  // a rollout: a second revision
  rs.upsert(rec("shopfront", "web-ccccc", "rs-3", WorkloadRef{"apps/v1", "Deployment", "web", "d-1"}));
  EXPECT_EQ(rs.controlled_by("shop", "d-1"), 2U) << "the namespace 'shopfront' is another key range";
  EXPECT_EQ(rs.controlled_by("shop", ""), 0U);
  rs.remove("shop/web-aaaaa");
  EXPECT_EQ(rs.controlled_by("shop", "d-1"), 1U);
  // A relist that fails half-way leaves the last good content.
  rs.begin_snapshot();
  rs.stage(rec("shop", "only", "rs-9"));
  rs.discard_snapshot();
  EXPECT_TRUE(rs.find("shop", "web-bbbbb"));
  EXPECT_FALSE(rs.find("shop", "only"));
  // A relist replaces everything: objects deleted meanwhile are gone.
  rs.begin_snapshot();
  rs.stage(rec("shop", "only", "rs-9"));
  EXPECT_EQ(rs.commit_snapshot(), 1U);
  EXPECT_FALSE(rs.find("shop", "web-bbbbb"));

  MetaStore namespaces;
  EXPECT_FALSE(ignored_in(&namespaces, "", "shop")) << "not synced: unknown";
  MetaRecord quiet = rec("", "shop", "ns-1");
  quiet.ignore = true;
  namespaces.begin_snapshot();
  namespaces.stage(quiet);
  namespaces.commit_snapshot();
  EXPECT_EQ(ignored_in(&namespaces, "", "shop"), std::optional<bool>(true));
  EXPECT_FALSE(ignored_in(&namespaces, "", "other")) << "not seen: unknown, not false";
  EXPECT_FALSE(ignored_in(nullptr, "", "shop"));
}

}  // namespace
}  // namespace crashdiag::core
