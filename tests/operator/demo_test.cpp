// `crashdiag demo`'s pure parts: the bundled incidents, the pod at each point of the replay, the
// owner chain it creates, the timeline and the kubectl-style table.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "fake_apiserver.hpp"
#include "incidents.hpp"

namespace crashdiag::demo {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

const std::vector<Incident>& incidents() {
  static const std::vector<Incident> all = bundled_incidents();
  return all;
}

const Incident& incident(const std::string& name) {
  for (const auto& i : incidents()) {
    if (i.name == name) return i;
  }
  throw std::runtime_error("no bundled incident " + name);
}

// 2026-11-22T10:00:00Z
constexpr core::WallTime kNow{1'795'341'600'000};

TEST(DemoIncidents, BothIncidentReportsAndAtLeastADozenMore) {
  std::set<std::string> names;
  for (const auto& i : incidents()) {
    names.insert(i.name);
    EXPECT_TRUE(i.pod.is_object()) << i.name;
    EXPECT_FALSE(i.events.empty()) << i.name << ": the kubelet's Events are part of the evidence";
    EXPECT_FALSE(i.pod["metadata"].value("name", "").empty()) << i.name;
  }
  EXPECT_TRUE(names.count("authentik-command-vs-args"));        // ../shared/incidents: the ENTRYPOINT one
  EXPECT_TRUE(names.count("authentik-postgres-volume-mount"));  // ../shared/incidents: the PGDATA one
  EXPECT_GE(names.size(), 14U);
}

TEST(DemoIncidents, FailingPodIsTheRecordingMovedToNow) {
  const Incident& oom = incident("oom-java-heap");
  const json pod = failing_pod(oom, kNow);
  EXPECT_FALSE(pod["metadata"].contains("resourceVersion")) << "the API server assigns it";
  const json& c = pod["status"]["containerStatuses"][0];
  EXPECT_EQ(c["lastState"]["terminated"]["reason"], "OOMKilled");
  // The recording was taken at 09:03:24 (the last BackOff Event), 3m40s after the OOM kill at
  // 08:59:44: the latest time becomes now and the gaps stay.
  EXPECT_EQ(c["lastState"]["terminated"]["finishedAt"], "2026-11-22T09:56:20Z");
  EXPECT_EQ(c["restartCount"], oom.pod["status"]["containerStatuses"][0]["restartCount"]);
  // MicroTime keeps its form, and the gaps between times are kept.
  const auto events = failing_events(oom, kNow);
  ASSERT_FALSE(events.empty());
  const std::string micro = events.front()["eventTime"].get<std::string>();
  EXPECT_EQ(micro, "2026-11-22T09:38:03.050000Z") << "08:41:27.050710 moved by the same offset, to the millisecond";
}

TEST(DemoIncidents, ShiftTimesLeavesEverythingButTimestamps) {
  json v = {{"at", "2024-03-14T08:59:44Z"},
            {"micro", "2024-03-14T08:59:44.123456Z"},
            {"message", "back-off 5m0s restarting failed container"},
            {"date_in_text", "failed at 2024-03-14T08:59:44Z"},
            {"n", 3}};
  shift_times(v, milliseconds(60'000));
  EXPECT_EQ(v["at"], "2024-03-14T09:00:44Z");
  EXPECT_EQ(v["micro"], "2024-03-14T09:00:44.123000Z");  // millisecond precision (core::parse_time)
  EXPECT_EQ(v["message"], "back-off 5m0s restarting failed container");
  EXPECT_EQ(v["date_in_text"], "failed at 2024-03-14T08:59:44Z");
  EXPECT_EQ(v["n"], 3);
}

TEST(DemoIncidents, StartRecoverRecur) {
  const Incident& oom = incident("oom-java-heap");
  const json failing = failing_pod(oom, kNow);
  const json started = started_pod(failing, kNow - milliseconds(60'000));
  const json& s = started["status"]["containerStatuses"][0];
  EXPECT_EQ(started["status"]["phase"], "Running");
  EXPECT_EQ(s["restartCount"], 0);
  EXPECT_TRUE(s["state"].contains("running"));
  EXPECT_TRUE(s["lastState"].empty());
  EXPECT_EQ(s["ready"], true);
  for (const auto& init : started["status"]["initContainerStatuses"]) {
    EXPECT_EQ(init["state"]["terminated"]["exitCode"], 0) << "init containers completed";
  }

  const json recovered = recovered_pod(failing, kNow + milliseconds(5'000));
  const json& r = recovered["status"]["containerStatuses"][0];
  EXPECT_TRUE(r["state"].contains("running"));
  EXPECT_EQ(r["ready"], true);
  EXPECT_EQ(r["restartCount"], failing["status"]["containerStatuses"][0]["restartCount"]) << "the kubelet keeps it";
  EXPECT_EQ(r["lastState"]["terminated"]["reason"], "OOMKilled");

  const json again =
      recurred_pod(failing_pod(oom, kNow + milliseconds(60'000)), recovered, kNow + milliseconds(60'000));
  const json& a = again["status"]["containerStatuses"][0];
  EXPECT_EQ(a["restartCount"], r["restartCount"].get<int>() + 1);
  EXPECT_EQ(a["state"]["waiting"]["reason"], "CrashLoopBackOff");
  EXPECT_EQ(a["lastState"]["terminated"]["finishedAt"], "2026-11-22T10:01:00Z") << "this time it ends now";
}

TEST(DemoIncidents, FailingContainerIsTheOneWhoseLogsAreEvidence) {
  struct Row {
    std::string incident;
    std::string container;
  };
  const std::vector<Row> rows = {
      {"authentik-command-vs-args", "authentik-server"},  // StartError, never ran: no logs at all
      {"init-container-wait-for-db", "wait-for-db"},      // an init container, listed first
      {"image-pull-tag-missing", "invoice-worker"},       // waiting in ImagePullBackOff, 0 restarts
  };
  for (const Row& row : rows) {
    EXPECT_EQ(failing_container(failing_pod(incident(row.incident), kNow)), row.container) << row.incident;
  }
  // Healthy: nothing to name.
  EXPECT_EQ(failing_container(started_pod(failing_pod(incident("oom-java-heap"), kNow), kNow)), "");
}

TEST(DemoIncidents, OwnerChainsTheDaemonWalks) {
  struct Row {
    std::string incident;
    std::vector<std::string> kinds;  // after the Namespace
    std::string top;                 // the top-level owner's name
  };
  const std::vector<Row> rows = {
      {"authentik-command-vs-args", {"Deployment", "ReplicaSet"}, "authentik-server"},
      {"authentik-postgres-volume-mount", {"StatefulSet"}, "authentik-postgresql"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.incident);
    const json& pod = incident(row.incident).pod;
    const auto objects = owner_objects(pod);
    ASSERT_EQ(objects.size(), row.kinds.size() + 1);
    EXPECT_EQ(objects[0]["kind"], "Namespace");
    EXPECT_EQ(objects[0]["metadata"]["name"], pod["metadata"]["namespace"]);
    for (std::size_t i = 0; i < row.kinds.size(); ++i) EXPECT_EQ(objects[i + 1]["kind"], row.kinds[i]);
    EXPECT_EQ(objects[1]["metadata"]["name"], row.top);
    // The pod's controller reference resolves to an object with that uid.
    const json& ref = pod["metadata"]["ownerReferences"][0];
    EXPECT_EQ(objects.back()["metadata"]["uid"], ref["uid"]);
    if (objects.size() == 3) {
      EXPECT_EQ(objects[2]["metadata"]["ownerReferences"][0]["uid"], objects[1]["metadata"]["uid"]);
    }
  }
}

// The replay creates these objects on the API server, which validates them as a real one would:
// every bundled incident's chain, and the Job and DaemonSet branches no bundled incident uses.
TEST(DemoIncidents, EveryOwnerChainIsAcceptedByTheApiServer) {
  fake::FakeApiServer server;
  std::vector<json> pods;
  for (const auto& i : incidents()) pods.push_back(failing_pod(i, kNow));
  for (const std::string kind : {"Job", "DaemonSet"}) {
    const std::string owner_name = kind == "Job" ? "nightly-29001" : "node-agent";
    json pod = failing_pod(incident("oom-java-heap"), kNow);
    pod["metadata"]["name"] = owner_name + "-x2k9";
    pod["metadata"]["uid"] = "uid-pod-" + owner_name;
    pod["metadata"]["ownerReferences"] = json::array({{{"apiVersion", kind == "Job" ? "batch/v1" : "apps/v1"},
                                                       {"kind", kind},
                                                       {"name", owner_name},
                                                       {"uid", "uid-" + owner_name},
                                                       {"controller", true}}});
    pods.push_back(std::move(pod));
  }
  for (const json& pod : pods) {
    SCOPED_TRACE(pod["metadata"]["name"].get<std::string>());
    const auto objects = owner_objects(pod);
    for (const json& o : objects) EXPECT_NO_THROW(server.add_object(o)) << o.dump();
    EXPECT_NO_THROW(server.add_object(started_pod(pod, kNow)));
    EXPECT_NO_THROW(server.add_object(pod));
    for (const json& ev : failing_events(incident("oom-java-heap"), kNow)) EXPECT_NO_THROW(server.add_event(ev));
  }
  EXPECT_TRUE(server.get_object("batch/v1/jobs", "payments", "nightly-29001").has_value());
  EXPECT_TRUE(server.get_object("apps/v1/daemonsets", "payments", "node-agent").has_value());
  EXPECT_TRUE(server.get_object("apps/v1/deployments", "authentik", "authentik-server").has_value());
}

TEST(DemoTimeline, StartFailShowRecoverResolveRecur) {
  const auto steps = timeline(incidents(), milliseconds(15'000));
  ASSERT_FALSE(steps.empty());
  EXPECT_TRUE(std::is_sorted(steps.begin(), steps.end(), [](const Step& a, const Step& b) { return a.at < b.at; }));
  auto count = [&](Step::Kind k) {
    return std::count_if(steps.begin(), steps.end(), [&](const Step& s) { return s.kind == k; });
  };
  EXPECT_EQ(count(Step::Kind::kStart), static_cast<long>(incidents().size()));
  EXPECT_EQ(count(Step::Kind::kFail), static_cast<long>(incidents().size()));
  EXPECT_EQ(count(Step::Kind::kRecover), 3);
  EXPECT_EQ(count(Step::Kind::kRecur), 1);
  EXPECT_EQ(count(Step::Kind::kShow), 3);
  // The Resolved table comes at least resolve_after after the last recovery.
  milliseconds last_recover{0};
  milliseconds resolved_show{0};
  for (const auto& s : steps) {
    if (s.kind == Step::Kind::kRecover) last_recover = s.at;
    if (s.kind == Step::Kind::kShow && s.note.find("Resolved") != std::string::npos) resolved_show = s.at;
  }
  EXPECT_GE(resolved_show - last_recover, milliseconds(15'000));
  // Each table waits for what it claims, so a slow machine delays it instead of showing less.
  for (const auto& s : steps) {
    if (s.kind == Step::Kind::kShow) {
      EXPECT_NE(s.await, Step::Await::kNothing) << s.note;
    }
    if (s.kind == Step::Kind::kRecur) {
      EXPECT_EQ(s.await, Step::Await::kResolved) << "reopen needs a resolved RCA";
    }
  }
}

TEST(DemoTable, PrintedAsKubectlPrintsIt) {
  const json table = {{"columnDefinitions",
                       {{{"name", "Name"}, {"priority", 0}},
                        {{"name", "Category"}, {"priority", 0}},
                        {{"name", "Count"}, {"priority", 0}},
                        {{"name", "Phase"}, {"priority", 1}}}},
                      {"rows",
                       {{{"cells", {"authentik-server-start-error-1", "entrypoint_override", 3, "Active"}},
                         {"object", {{"metadata", {{"namespace", "authentik"}}}}}},
                        {{"cells", {"ledger-oom", "oom_killed", 12, "Reopened"}},
                         {"object", {{"metadata", {{"namespace", "payments"}}}}}}}}};
  EXPECT_EQ(render_table(table, true, false),
            "NAMESPACE   NAME                             CATEGORY              COUNT\n"
            "authentik   authentik-server-start-error-1   entrypoint_override   3\n"
            "payments    ledger-oom                       oom_killed            12\n");
  EXPECT_EQ(render_table(table, false, true),
            "NAME                             CATEGORY              COUNT   PHASE\n"
            "authentik-server-start-error-1   entrypoint_override   3       Active\n"
            "ledger-oom                       oom_killed            12      Reopened\n");
  EXPECT_EQ(render_table({{"columnDefinitions", table["columnDefinitions"]}, {"rows", json::array()}}, true, false),
            "No resources found\n");
}

}  // namespace
}  // namespace crashdiag::demo
