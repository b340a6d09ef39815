// The pure side of spec findings (operator/core/spec_findings.hpp): the Event on the workload and
// its deterministic name, the bounded memory of workloads looked at, and the gauge's counts.
#include "crashdiag/core/spec_findings.hpp"

#include <gtest/gtest.h>

namespace crashdiag::core {
namespace {

WorkloadFinding statefulset_finding() {
  return WorkloadFinding{"authentik", WorkloadRef{"apps/v1", "StatefulSet", "authentik-postgresql", "uid-sts"},
                         std::string(kDataNotPersistedReason),
                         "postgresql/spec.containers[0].volumeMounts[0]//var/lib/postgresql/data",
                         "PostgreSQL ... Fix: mount the claim at /var/lib/postgresql/data (the VOLUME itself)."};
}

TEST(FindingEvent, IsAWarningOnTheWorkloadThatIsCreatedOnce) {
  const WorkloadFinding f = statefulset_finding();
  const EventWrite ev = finding_event(f, "crashdiag-0", WallTime{1'795'341'600'000});
  EXPECT_TRUE(ev.create());
  EXPECT_FALSE(ev.counts);  // a 409 is "already told", never a bump
  EXPECT_EQ(ev.reason, "DataNotPersisted");
  EXPECT_EQ(ev.name.substr(0, ev.name.find('.')), "authentik-postgresql");
  EXPECT_EQ(ev.name.size(), std::string("authentik-postgresql").size() + 1 + 16);
  const auto& o = ev.object;
  EXPECT_EQ(o["metadata"]["name"], ev.name);
  EXPECT_EQ(o["metadata"]["namespace"], "authentik");
  EXPECT_EQ(o["involvedObject"]["kind"], "StatefulSet");
  EXPECT_EQ(o["involvedObject"]["apiVersion"], "apps/v1");
  EXPECT_EQ(o["involvedObject"]["name"], "authentik-postgresql");
  EXPECT_EQ(o["involvedObject"]["uid"], "uid-sts");
  EXPECT_EQ(o["type"], "Warning");
  EXPECT_EQ(o["reason"], "DataNotPersisted");
  EXPECT_EQ(o["message"], f.message);
  EXPECT_EQ(o["reportingInstance"], "crashdiag-0");
  EXPECT_EQ(o["firstTimestamp"], "2026-11-22T10:00:00Z");
  EXPECT_EQ(o["count"], 1);
}

TEST(FindingEvent, TheNameDependsOnTheFindingNotOnTheTimeOrTheReplica) {
  const WorkloadFinding f = statefulset_finding();
  const std::string name = finding_event(f, "crashdiag-0", WallTime{1}).name;
  EXPECT_EQ(finding_event(f, "crashdiag-1", WallTime{999'999}).name, name);
  struct Change {
    const char* what;
    void (*apply)(WorkloadFinding&);
  };
  const Change changes[] = {
      {"namespace", [](WorkloadFinding& x) { x.namespace_ = "other"; }},
      {"kind", [](WorkloadFinding& x) { x.workload.kind = "Deployment"; }},
      {"workload", [](WorkloadFinding& x) { x.workload.name = "db"; }},
      {"identity", [](WorkloadFinding& x) { x.identity = "postgresql/spec.containers[0].volumeMounts[1]"; }},
  };
  for (const Change& c : changes) {
    WorkloadFinding g = f;
    c.apply(g);
    EXPECT_NE(finding_event(g, "crashdiag-0", WallTime{1}).name, name) << c.what;
  }
  // Without a uid (a Deployment found by the name convention) no uid is claimed.
  WorkloadFinding no_uid = f;
  no_uid.workload.uid.clear();
  EXPECT_FALSE(finding_event(no_uid, "i", WallTime{1}).object["involvedObject"].contains("uid"));
  // A 253-character workload name still gives a valid Event name.
  WorkloadFinding long_name = f;
  long_name.workload.name = std::string(253, 'a');
  EXPECT_EQ(finding_event(long_name, "i", WallTime{1}).name.size(), 253U);
}

TEST(FindingTracker, LooksOncePerWorkloadWithinItsBound) {
  FindingTracker t(2);
  EXPECT_TRUE(t.first_look("ns/StatefulSet/a"));
  EXPECT_FALSE(t.first_look("ns/StatefulSet/a"));
  EXPECT_TRUE(t.first_look("ns/StatefulSet/b"));
  t.forget("ns/StatefulSet/b");  // the pod could not be read: look again
  EXPECT_TRUE(t.first_look("ns/StatefulSet/b"));
  EXPECT_TRUE(t.first_look("ns/StatefulSet/c"));  // over the bound: a, the oldest, is forgotten
  EXPECT_TRUE(t.first_look("ns/StatefulSet/a"));
  EXPECT_FALSE(t.first_look("ns/StatefulSet/c"));
  t.clear();
  EXPECT_TRUE(t.first_look("ns/StatefulSet/c"));
}

TEST(FindingTracker, CountsWorkloadsPerNamespaceAndFindingAndGoesBackToZero) {
  FindingTracker t;
  EXPECT_FALSE(t.counted_in("shop"));
  t.record("shop", "StatefulSet/db", {"data_not_persisted"});
  t.record("shop", "Deployment/cache", {"data_not_persisted"});
  t.record("shop", "StatefulSet/db", {"data_not_persisted"});  // twice: counted once
  t.record("blog", "StatefulSet/db", {"data_not_persisted"});
  t.record("blog", "Deployment/web", {});
  t.record("news", "Deployment/web", {});  // nothing found: nothing counted
  EXPECT_TRUE(t.counted_in("shop"));
  EXPECT_FALSE(t.counted_in("news"));
  using Counts = std::map<std::pair<std::string, std::string>, int>;
  EXPECT_EQ(t.counts(), (Counts{{{"blog", "data_not_persisted"}, 1}, {{"shop", "data_not_persisted"}, 2}}));
  // A fixed rollout (a new ReplicaSet looked at) finds nothing: the workload leaves the count.
  t.record("shop", "Deployment/cache", {});
  EXPECT_EQ(t.counts().at({"shop", "data_not_persisted"}), 1);
  t.clear();  // leadership lost: every series at 0, none gone
  EXPECT_EQ(t.counts(), (Counts{{{"blog", "data_not_persisted"}, 0}, {{"shop", "data_not_persisted"}, 0}}));
}

}  // namespace
}  // namespace crashdiag::core
