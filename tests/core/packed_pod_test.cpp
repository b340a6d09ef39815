// The store's packed record must give back exactly the PodRecord it was given, for what real
// apiservers send (the recorded watch streams and GETs) and for what a lying one could (uids that
// are not UUIDs, a '/' in a namespace, negative exit codes, strings longer than a one-byte
// varint), and must be small: the point of it is 150,000 pods in 48 MiB (issue 14 item 1).
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>
#include <sstream>

#include "crashdiag/core/keyed_table.hpp"
#include "crashdiag/core/packed_pod.hpp"
#include "crashdiag/core/pod_store.hpp"
#include "test_support.hpp"

namespace crashdiag::core {
namespace {

namespace fs = std::filesystem;

ContainerRecord container(std::string name) {
  ContainerRecord c;
  c.name = std::move(name);
  return c;
}

PodRecord replica() {
  PodRecord p;
  p.namespace_ = "team-17";
  p.name = "checkout-6f7d8c9b5-x2k8q";
  p.uid = "e93867ae-1b6a-49d1-8771-495b4e2cb4ef";
  p.resource_version = "48213377";
  p.owner_kind = "ReplicaSet";
  p.owner_name = "checkout-6f7d8c9b5";
  p.owner_uid = "0b4f0a57-6c2e-4c1e-9d4b-3f0de8e4b3aa";
  ContainerRecord app = container("app");
  app.running = true;
  app.ready = true;
  ContainerRecord proxy = container("istio-proxy");
  proxy.running = true;
  proxy.ready = true;
  p.containers = {app, proxy};
  return p;
}

struct Case {
  std::string name;
  PodRecord record;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  out.push_back({"empty", PodRecord{}});
  out.push_back({"a Deployment's replica", replica()});
  PodRecord crashing = replica();
  crashing.containers[0].running = false;
  crashing.containers[0].ready = false;
  crashing.containers[0].restart_count = 166;
  crashing.containers[0].waiting_reason = "CrashLoopBackOff";
  crashing.containers[0].last_terminated = TerminationRecord{128, "StartError", "2026-11-22T04:00:00Z"};
  crashing.not_ready_since = "2026-11-22T03:58:00Z";
  crashing.rca_annotation = "checkout-app-entrypoint-override";
  crashing.root_cause_annotation = "entrypoint_override: exec: \"server\": executable file not found in $PATH";
  out.push_back({"crash-looping, annotated", crashing});
  PodRecord init = replica();
  ContainerRecord wait = container("wait-for-db");
  wait.init = true;
  wait.terminated = TerminationRecord{0, "Completed", "2026-11-22T03:00:00Z"};
  ContainerRecord sidecar = container("log-shipper");
  sidecar.init = true;
  sidecar.sidecar = true;
  sidecar.running = true;
  init.containers.insert(init.containers.begin(), {wait, sidecar});
  init.containers.back().datastore_pvc = true;
  init.restart_policy = "OnFailure";
  out.push_back({"init containers and a sidecar", init});
  PodRecord odd;
  odd.namespace_ = "a/b";  // a lying server: keys still split where they were joined
  odd.name = "c";
  odd.uid = "E93867AE-1B6A-49D1-8771-495B4E2CB4EF";  // uppercase: would not print back the same as 16 bytes
  odd.owner_uid = "uid-web";                         // what the fake and hand-made fixtures use
  odd.owner_kind = "MyCustomController";
  odd.restart_policy = "";
  odd.deleting = true;
  odd.ignored = true;
  ContainerRecord weird = container(std::string(300, 'x'));  // a two-byte varint
  weird.restart_count = -1;
  weird.terminated = TerminationRecord{-1, "", ""};
  weird.last_terminated = TerminationRecord{2147483647, std::string(20000, 'r'), "x"};
  weird.waiting_reason = "Always";  // a common string in an unusual field
  odd.containers = {weird};
  out.push_back({"what a lying server could send", odd});
  PodRecord almost_uuid = replica();
  almost_uuid.uid = "e93867ae-1b6a-49d1-8771-495b4e2cb4eg";        // 'g': not hex
  almost_uuid.owner_uid = "e93867ae11b6a-49d1-8771-495b4e2cb4ef";  // no dash where one belongs
  out.push_back({"near-UUIDs", almost_uuid});
  return out;
}

TEST(PackedPod, GivesBackExactlyTheRecordItWasGiven) {
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    const PackedPod packed = PackedPod::pack(c.record);
    EXPECT_EQ(packed.unpack(), c.record);
    EXPECT_EQ(packed.key(), c.record.key());
    EXPECT_EQ(packed.resource_version(), c.record.resource_version);
    EXPECT_GT(packed.size(), 0U);
  }
  EXPECT_TRUE(PackedPod{}.empty());
  EXPECT_EQ(PackedPod{}.unpack(), PodRecord{});
}

// Every pod a real apiserver and a real kubelet produced in the recordings.
TEST(PackedPod, RoundTripsEveryRecordedPod) {
  std::size_t pods = 0;
  for (const char* dir : {"tests/data/k8s", "tests/data/node"}) {
    for (const auto& entry : fs::recursive_directory_iterator(crashdiag::testing::source_path(dir))) {
      const std::string path = entry.path().string();
      if (!entry.is_regular_file() || path.find(".json") == std::string::npos) continue;
      std::istringstream in(crashdiag::testing::read_file(path));
      for (std::string line; std::getline(in, line);) {
        std::vector<PodRecord> found;
        if (auto w = parse_watch_line(line); w && w->pod) found.push_back(*w->pod);
        if (auto r = parse_pod_record(line); r && !r->name.empty()) found.push_back(*r);
        for (const auto& rec : found) {
          SCOPED_TRACE(path + ": " + rec.key());
          EXPECT_EQ(PackedPod::pack(rec).unpack(), rec);
          ++pods;
        }
      }
    }
  }
  EXPECT_GE(pods, 20U) << "the recordings hold more pods than that";
}

// What the store keeps for an ordinary replica: about a tenth of the PodRecord it stood for
// (eleven std::strings, a vector and two ContainerRecords: over 1 KiB with their heap blocks).
// Its key, two UUIDs, resourceVersion and container names alone take 94 bytes.
TEST(PackedPod, AReplicaTakesLittleMoreThanItsNamesAndUids) {
  const PackedPod packed = PackedPod::pack(replica());
  EXPECT_LE(packed.size(), 110U);
  PodRecord unrelated_owner = replica();
  unrelated_owner.owner_name = "someone-else";
  EXPECT_EQ(PackedPod::pack(unrelated_owner).size(), packed.size() + unrelated_owner.owner_name.size() + 1)
      << "an owner whose name the pod's does not start with is stored whole";
  EXPECT_EQ(PackedPod::pack(unrelated_owner).unpack(), unrelated_owner);
}

TEST(PodStore, KeepsPackedRecordsAndHandsOutCopies) {
  PodStore store;
  std::vector<PodRecord> records;
  for (const auto& c : cases()) {
    records.push_back(c.record);
    records.back().name += "-" + std::to_string(records.size());  // one key each
    store.upsert(records.back());
  }
  EXPECT_EQ(store.size(), records.size());
  for (const auto& r : records) {
    SCOPED_TRACE(r.key());
    auto found = store.find(r.key());
    ASSERT_TRUE(found);
    EXPECT_EQ(*found, r);
  }
  PodRecord next = records[1];
  next.resource_version = "48213378";
  auto old = store.upsert(next);
  ASSERT_TRUE(old);
  EXPECT_EQ(old->resource_version, "48213377");
  EXPECT_EQ(store.find(next.key())->resource_version, "48213378");
  EXPECT_FALSE(store.find("team-17/nope"));
  std::size_t walked = 0;
  store.for_each([&](const PodRecord&) { ++walked; });
  EXPECT_EQ(walked, store.size());
}

// A streaming list's DELETED before its end bookmark unstages the pod: the commit reports it
// gone, so what was kept for it is forgotten.
TEST(PodStore, APodUnstagedBeforeTheCommitIsReportedGone) {
  PodStore store;
  PodRecord a = replica();
  PodRecord b = replica();
  b.name = "checkout-6f7d8c9b5-zzzzz";
  store.upsert(a);
  store.upsert(b);
  store.begin_snapshot();
  store.stage(a);
  store.stage(b);
  store.unstage(b.key());
  store.unstage("nobody/never-staged");  // harmless
  auto vanished = store.commit_snapshot([](const PodRecord*, const PodRecord&) {});
  ASSERT_EQ(vanished.size(), 1U);
  EXPECT_EQ(vanished[0].name, b.name);
  EXPECT_EQ(store.size(), 1U);
}

// A relist reports only what changed: a pod with the same resourceVersion is not looked at again.
TEST(PodStore, ARelistReportsOnlyPodsWhoseResourceVersionMoved) {
  PodStore store;
  PodRecord a = replica();
  PodRecord b = replica();
  b.name = "checkout-6f7d8c9b5-zzzzz";
  store.upsert(a);
  store.upsert(b);
  store.begin_snapshot();
  store.stage(a);
  b.resource_version = "48213399";
  store.stage(b);
  std::vector<std::string> changed;
  auto vanished = store.commit_snapshot([&](const PodRecord* old, const PodRecord& now) {
    ASSERT_NE(old, nullptr);
    EXPECT_EQ(old->resource_version, "48213377");
    changed.push_back(now.name);
  });
  EXPECT_TRUE(vanished.empty());
  EXPECT_EQ(changed, std::vector<std::string>{"checkout-6f7d8c9b5-zzzzz"});
}

}  // namespace
}  // namespace crashdiag::core

namespace crashdiag::core {
namespace {

struct Named {
  std::string name;
  int value = 0;
  [[nodiscard]] bool empty() const { return name.empty(); }
  [[nodiscard]] std::string_view key() const { return name; }
};

// The table against std::map as the model, through growth and deletions that shift runs back
// (a fixed seed: the same sequence each run). Small tables wrap runs around their end too.
TEST(KeyedTable, BehavesAsAMapThroughGrowthAndDeletions) {
  std::mt19937 rng(20261204);
  for (const int universe : {5, 40, 3000}) {
    SCOPED_TRACE("keys drawn from " + std::to_string(universe));
    KeyedTable<Named> table;
    std::map<std::string, int> model;
    for (int step = 0; step < 20000; ++step) {
      const std::string key = "ns/pod-" + std::to_string(rng() % static_cast<unsigned>(universe));
      switch (rng() % 3) {
        case 0:
        case 1: {
          const int value = static_cast<int>(rng() % 1000);
          EXPECT_EQ(table.put(Named{key, value}), model.count(key) == 0);
          model[key] = value;
          break;
        }
        default: {
          const Named taken = table.take(key);
          EXPECT_EQ(taken.empty(), model.count(key) == 0);
          if (!taken.empty()) {
            EXPECT_EQ(taken.value, model[key]);
          }
          model.erase(key);
        }
      }
      ASSERT_EQ(table.size(), model.size());
    }
    for (const auto& [key, value] : model) {
      const Named* found = table.find(key);
      ASSERT_NE(found, nullptr) << key;
      EXPECT_EQ(found->value, value);
    }
    std::size_t walked = 0;
    table.for_each([&](const Named& n) {
      ++walked;
      EXPECT_EQ(model.at(n.name), n.value);
    });
    EXPECT_EQ(walked, model.size());
    EXPECT_LE(table.size() * 4, table.capacity() * 3) << "at most three quarters full";
    EXPECT_EQ(table.find("ns/absent"), nullptr);
  }
  KeyedTable<Named> empty;
  EXPECT_EQ(empty.find("x"), nullptr);
  EXPECT_TRUE(empty.take("x").empty());
}

}  // namespace
}  // namespace crashdiag::core
