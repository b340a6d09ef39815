// Publishing against the fake API server: what a user sees (`kubectl get rca`, the pod's
// annotations and Events, the metrics) for the scenarios of issue 4, including a server that
// rejects or fails writes. The fake validates every RCA against the shipped CRD's schema, so a
// passing test also means the CRD and the writer agree.
#include <gtest/gtest.h>

#include <ostream>

#include <fstream>
#include <future>
#include <sstream>

#include "crashdiag/classifiers/categories.hpp"
#include "daemon_harness.hpp"
#include "leader_elector.hpp"
#include "metrics.hpp"

namespace crashdiag::daemon {
namespace {

using namespace harness;  // NOLINT(google-build-using-namespace)
using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kRcas = "crashdiag.io/v1alpha1/rootcauseanalyses";
constexpr core::WallTime kFixedNow{1'795'316'400'000};  // 2026-11-22T02:46:40Z

std::vector<std::string> category_ids() {
  std::vector<std::string> out;
  for (const auto& c : categories()) out.emplace_back(c.id);
  return out;
}

std::vector<json> events_with_reason(const fake::FakeApiServer& server, const std::string& reason) {
  std::vector<json> out;
  for (const auto& e : server.list_objects("events", "shop")) {
    if (e.value("reason", "") == reason) out.push_back(e);
  }
  return out;
}

// What the golden file holds: the object as `kubectl get rca -o json` shows it, minus what the
// server invents per run (uid, resourceVersion, timestamps of its own, managedFields times).
json normalized(json rca) {
  auto& meta = rca["metadata"];
  meta.erase("uid");
  meta.erase("resourceVersion");
  meta.erase("creationTimestamp");
  if (meta.contains("managedFields")) {
    for (auto& f : meta["managedFields"]) f.erase("time");
  }
  auto& pods = rca["status"]["pods"];
  std::sort(pods.begin(), pods.end(), [](const json& a, const json& b) { return a["name"] < b["name"]; });
  return rca;
}

void expect_golden(const json& actual, const std::string& name) {
  const std::string path = std::string(CRASHDIAG_SOURCE_DIR) + "/tests/golden/publish/" + name;
  const std::string text = actual.dump(2) + "\n";
  if (std::getenv("CRASHDIAG_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path) << text;
    return;
  }
  std::ifstream in(path);
  ASSERT_TRUE(in) << "missing golden file " << path << " (CRASHDIAG_UPDATE_GOLDEN=1 writes it)";
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(text, expected.str()) << "golden " << path << " differs (CRASHDIAG_UPDATE_GOLDEN=1 rewrites it)";
}

// A diagnosis of container "app" with one hypothesis, as the classifier would hand it over.
ContainerDiagnosis one_hypothesis(const std::string& category, double confidence, const std::string& rule,
                                  const std::string& title, const std::string& summary) {
  ContainerDiagnosis d;
  d.name = "app";
  Hypothesis h;
  h.category = category;
  h.confidence = confidence;
  h.rule_id = rule;
  h.title = title;
  h.summary = summary;
  d.hypotheses.push_back(h);
  return d;
}

// Container "app" of Deployment `workload`'s pod `pod` in "shop", failing once more at `now`:
// exit `exit_code` with `signature`, its `restarts`-th restart.
core::Occurrence failing_occurrence(const std::string& workload, const std::string& workload_uid,
                                    const std::string& pod, core::WallTime now, const std::string& signature,
                                    int exit_code, int restarts) {
  core::Occurrence o;
  o.target = core::RcaTarget{"shop", core::WorkloadRef{"apps/v1", "Deployment", workload, workload_uid}, "app", false,
                             signature};
  o.pod = pod;
  o.pod_uid = "uid-" + pod;
  o.restart_count = restarts;
  o.reason = "CrashLoopBackOff";
  o.exit_code = exit_code;
  o.now = now;
  return o;
}

// OOM-killed once more at `now`.
core::Occurrence oom_occurrence(const std::string& workload, const std::string& pod, core::WallTime now) {
  return failing_occurrence(workload, "", pod, now, "OOMKilled:137", 137, 1);
}

int count_requests(const fake::FakeApiServer& server, const std::string& method, const std::string& needle) {
  int n = 0;
  for (const auto& r : server.requests()) n += r.method == method && r.target.find(needle) != std::string::npos;
  return n;
}

TEST(Publish, ThreeCrashLoopingReplicasGiveOneRcaTheirAnnotationsAndOneEventEach) {
  quiet_logs();
  fake::FakeOptions fo;
  fo.clock = [] { return std::string("2026-11-22T02:46:40Z"); };
  Cluster c(fo);
  c.web_replicas(3);
  metrics::Metrics m(category_ids(), "test");
  DaemonOptions o = publishing_options(&m);
  o.clock.wall = [] { return kFixedNow; };
  Running r(c, o);

  ASSERT_TRUE(eventually([&] { return events_with_reason(c.server, "RootCauseIdentified").size() == 3; }));
  const auto rcas = c.server.list_objects(kRcas, "shop");
  ASSERT_EQ(rcas.size(), 1U) << "replicas must roll up into one RCA";
  const std::string name = rcas[0]["metadata"]["name"];
  ASSERT_TRUE(eventually([&] {
    auto rca = c.server.get_object(kRcas, "shop", name);
    return rca && (*rca)["status"].value("occurrences", 0) == 3;
  }));
  const json rca = *c.server.get_object(kRcas, "shop", name);
  EXPECT_EQ(rca["status"]["category"], "entrypoint_override");
  EXPECT_EQ(rca["status"]["workload"], "Deployment/web");
  EXPECT_EQ(rca["metadata"]["ownerReferences"][0]["uid"], "uid-web");
  expect_golden(normalized(rca), "deployment-web-start-error.json");

  for (int i = 0; i < 3; ++i) {
    const std::string pod = "web-7d9f-" + std::to_string(i);
    ASSERT_TRUE(eventually([&] {
      auto p = c.server.get_object("pods", "shop", pod);
      return p && p->contains("metadata") && (*p)["metadata"].contains("annotations");
    })) << pod;
    const json ann = (*c.server.get_object("pods", "shop", pod))["metadata"]["annotations"];
    EXPECT_EQ(ann.value("crashdiag.io/rca", ""), name);
    EXPECT_EQ(ann.value("crashdiag.io/root-cause", "").rfind("entrypoint_override: ", 0), 0U);
  }
  std::set<std::string> evented;
  for (const auto& e : events_with_reason(c.server, "RootCauseIdentified")) {
    evented.insert(e["involvedObject"]["name"].get<std::string>());
    EXPECT_EQ(e["type"], "Warning");
    EXPECT_EQ(e["reportingComponent"], "crashdiag.io/crashdiag");
    EXPECT_EQ(e["reportingInstance"], "crashdiag-test-0");
    const std::string note = e["message"];
    EXPECT_LE(note.size(), 1024U);
    EXPECT_NE(note.find("kubectl get rca -n shop " + name), std::string::npos) << note;
  }
  EXPECT_EQ(evented.size(), 3U) << "one Event per pod";

  const std::string text = m.serialize();
  EXPECT_NE(text.find("crashdiag_diagnoses_total{category=\"entrypoint_override\"} 1"), std::string::npos) << text;
  EXPECT_NE(
      text.find("crashdiag_active_rcas{category=\"entrypoint_override\",consequence=\"false\",namespace=\"shop\"} 1"),
      std::string::npos);
  EXPECT_NE(text.find("crashdiag_crash_signals_total{reason=\"CrashLoopBackOff\"} 3"), std::string::npos);

  // Nothing changes any more: no further writes.
  ASSERT_TRUE(r.settle());
  const int applies = count_requests(c.server, "PATCH", "/rootcauseanalyses/");
  const int annotations = count_requests(c.server, "PATCH", "/pods/");
  ASSERT_TRUE(r.settle());
  EXPECT_EQ(count_requests(c.server, "PATCH", "/rootcauseanalyses/"), applies);
  EXPECT_EQ(count_requests(c.server, "PATCH", "/pods/"), annotations);
  EXPECT_EQ(annotations, 3) << "each pod annotated once";
  EXPECT_EQ(count_requests(c.server, "GET", "/log?"), 0) << "StartError containers never ran: no logs to read";
}

// --publish chooses the outputs; what is left out is never written, and the metrics stay.
struct PublishChoice {
  const char* name;
  bool rca, annotation, event;
};

void PrintTo(const PublishChoice& c, std::ostream* os) {
  *os << c.name;
}

class PublishOnly : public ::testing::TestWithParam<PublishChoice> {};

TEST_P(PublishOnly, WritesWhatWasChosenAndNothingElse) {
  quiet_logs();
  Cluster c;
  c.web_replicas(3);
  metrics::Metrics m(category_ids(), "test");
  DaemonOptions o = publishing_options(&m);
  o.publisher.publish_rca = GetParam().rca;
  o.publisher.publish_annotation = GetParam().annotation;
  o.publisher.publish_event = GetParam().event;
  Running r(c, o);
  ASSERT_TRUE(r.wait_for(1));
  // Whatever is chosen is there within a second; what is not stays absent after it.
  auto annotated = [&] {
    auto p = c.server.get_object("pods", "shop", "web-7d9f-0");
    return p && (*p)["metadata"].contains("annotations");
  };
  auto have = [&] {
    return (!GetParam().rca || c.server.list_objects(kRcas, "shop").size() == 1) &&
           (!GetParam().annotation || annotated()) &&
           (!GetParam().event || events_with_reason(c.server, "RootCauseIdentified").size() == 3);
  };
  ASSERT_TRUE(eventually(have));
  ASSERT_TRUE(r.settle());
  EXPECT_EQ(c.server.list_objects(kRcas, "shop").size(), GetParam().rca ? 1U : 0U);
  EXPECT_EQ(annotated(), GetParam().annotation);
  EXPECT_EQ(events_with_reason(c.server, "RootCauseIdentified").size(), GetParam().event ? 3U : 0U);
  EXPECT_NE(m.serialize().find("crashdiag_diagnoses_total{category=\"entrypoint_override\"} 1"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Choices, PublishOnly,
                         ::testing::Values(PublishChoice{"rca_only", true, false, false},
                                           PublishChoice{"annotation_and_event", false, true, true},
                                           PublishChoice{"event_only", false, false, true},
                                           PublishChoice{"nothing_but_metrics", false, false, false}),
                         [](const auto& info) { return std::string(info.param.name); });

json running_pod(const json& failing) {
  json pod = failing;
  auto& st = pod["status"]["containerStatuses"][0];
  st["state"] = json{{"running", {{"startedAt", "2026-11-22T03:10:00Z"}}}};
  st["ready"] = true;
  pod["status"]["phase"] = "Running";
  return pod;
}

TEST(Publish, RecoveredPodsResolveTheRcaAndAReturningFailureReopensIt) {
  quiet_logs();
  Cluster c;
  c.api_oom(2);
  metrics::Metrics m(category_ids(), "test");
  DaemonOptions o = publishing_options(&m);
  o.rca.resolve_after = 1500ms;
  Running r(c, o);

  std::string name;
  ASSERT_TRUE(eventually([&] {
    auto rcas = c.server.list_objects(kRcas, "shop");
    if (rcas.size() != 1 || !rcas[0].contains("status")) return false;
    name = rcas[0]["metadata"]["name"];
    return rcas[0]["status"].value("phase", "") == "Active";
  }));
  EXPECT_EQ((*c.server.get_object(kRcas, "shop", name))["status"]["category"], "oom_killed");

  const json failing = *c.server.get_object("pods", "shop", "api");
  c.server.apply_pod(running_pod(failing));
  ASSERT_TRUE(eventually([&] {
    return (*c.server.get_object(kRcas, "shop", name))["status"].value("phase", "") == "Resolved";
  })) << "the pod has run for longer than --resolve-after";
  json resolved = *c.server.get_object(kRcas, "shop", name);
  EXPECT_EQ(resolved["status"]["conditions"][0]["type"], "Resolved");
  EXPECT_EQ(resolved["status"]["conditions"][0]["status"], "True");
  EXPECT_EQ(resolved["status"]["history"].back()["change"], "Resolved");
  const int before = resolved["status"]["occurrences"];
  EXPECT_TRUE(eventually([&] {
    return m.serialize().find(
               "crashdiag_active_rcas{category=\"oom_killed\",consequence=\"false\",namespace=\"shop\"} 0") !=
           std::string::npos;
  }));

  c.api_oom(3);  // OOM-killed again
  ASSERT_TRUE(eventually([&] {
    auto rca = *c.server.get_object(kRcas, "shop", name);
    return rca["status"].value("phase", "") == "Active" && rca["status"].value("occurrences", 0) > before;
  })) << "the failure returned";
  json reopened = *c.server.get_object(kRcas, "shop", name);
  EXPECT_EQ(reopened["status"]["history"].back()["change"], "Reopened");
  EXPECT_EQ(reopened["status"]["conditions"][0]["status"], "False");
  EXPECT_EQ(c.server.list_objects(kRcas, "shop").size(), 1U) << "the same RCA, not a new one";
}

struct WriteFault {
  const char* name;
  fake::FaultKind kind;
  int times;
  bool eventually_written;  // transient: retried until written; permanent: reported, not retried forever
  const char* metric;       // the failure counted
};

void PrintTo(const WriteFault& f, std::ostream* os) {
  *os << f.name;
}

class PublishUnderWriteFault : public ::testing::TestWithParam<WriteFault> {};

TEST_P(PublishUnderWriteFault, IsRetriedOrReportedAndTheDaemonKeepsGoing) {
  quiet_logs();
  const WriteFault& f = GetParam();
  Cluster c;
  fake::Fault fault;
  fault.kind = f.kind;
  fault.path_contains = "/rootcauseanalyses/";
  fault.times = f.times;
  fault.retry_after_seconds = 0;
  c.server.inject(fault);
  c.api_oom(2);
  metrics::Metrics m(category_ids(), "test");
  Running r(c, publishing_options(&m));

  ASSERT_TRUE(r.wait_for(1));
  ASSERT_TRUE(eventually([&] { return m.serialize().find(f.metric) != std::string::npos; }))
      << "failure not counted: " << f.metric << "\n"
      << m.serialize();
  if (f.eventually_written) {
    EXPECT_TRUE(eventually([&] {
      auto rcas = c.server.list_objects(kRcas, "shop");
      return rcas.size() == 1 && rcas[0].contains("status");
    })) << "a transient failure must be retried";
  } else {
    // A retry would keep the publisher busy: settled means none is pending.
    ASSERT_TRUE(r.settle()) << "retried forever";
    const int attempts = count_requests(c.server, "PATCH", "/rootcauseanalyses/");
    ASSERT_TRUE(r.settle());
    EXPECT_EQ(count_requests(c.server, "PATCH", "/rootcauseanalyses/"), attempts) << "retried forever";
    EXPECT_EQ(attempts, 1) << "a refusal of this content is not retried";
  }
  // The daemon keeps going: the pod is annotated and a new failure elsewhere is published.
  EXPECT_TRUE(eventually([&] {
    auto p = c.server.get_object("pods", "shop", "api");
    return p && (*p)["metadata"].contains("annotations");
  }));
  c.web_replicas(1);
  EXPECT_TRUE(r.wait_for(2));
}

INSTANTIATE_TEST_SUITE_P(
    Faults, PublishUnderWriteFault,
    ::testing::Values(WriteFault{"internal_error_500", fake::FaultKind::kInternalError, 2, true,
                                 "crashdiag_publish_failures_total{code=\"500\",object=\"rca\"} 2"},
                      WriteFault{"too_many_requests_429", fake::FaultKind::kTooManyRequests, 5, true,
                                 "crashdiag_publish_failures_total{code=\"429\",object=\"rca\"} 1"},
                      WriteFault{"conflict_409", fake::FaultKind::kConflict, 2, true,
                                 "crashdiag_publish_failures_total{code=\"409\",object=\"rca\"} 1"},
                      WriteFault{"invalid_422", fake::FaultKind::kInvalid, 100, false,
                                 "crashdiag_publish_failures_total{code=\"422\",object=\"rca\"} 1"},
                      // The apiserver's 500 for an apply the schema cannot type: not retried.
                      WriteFault{"apply_type_error_500", fake::FaultKind::kApplyTypeError, 100, false,
                                 "crashdiag_publish_failures_total{code=\"500\",object=\"rca\"} 1"}),
    [](const auto& info) { return std::string(info.param.name); });

// One crashdiag replica with leader election: its own io_context, thread, client, daemon and
// elector, as separate pods would have. Short lease timings keep the test fast; the algorithm is
// the same as with 15 s / 10 s / 2 s.

struct Failover {
  const char* name;
  bool graceful;  // SIGTERM (lease released) or a crash (lease expires)
};

void PrintTo(const Failover& f, std::ostream* os) {
  *os << f.name;
}

// Only the leader's counts are true: a replica that loses the lease drops its active RCAs to zero
// instead of exporting frozen counts that would keep alerts firing.
TEST(Publish, AReplicaThatStopsLeadingExportsNoActiveRcas) {
  quiet_logs();
  Cluster c;
  c.web_replicas(3);
  metrics::Metrics m(category_ids(), "test");
  Running r(c, publishing_options(&m));
  const std::string series =
      "crashdiag_active_rcas{category=\"entrypoint_override\",consequence=\"false\",namespace=\"shop\"} ";
  ASSERT_TRUE(eventually([&] { return m.serialize().find(series + "1") != std::string::npos; }));
  r.on_loop([&] {
    r.daemon->set_leading(false);
    return true;
  });
  EXPECT_NE(m.serialize().find(series + "0"), std::string::npos);
}

// Issue 12: a 5xx while a new leader lists the RCAs is retried; starting from scratch instead
// would restart every count at zero.
TEST(Publish, ATransientErrorListingTheRcasOnTakeOverIsRetried) {
  quiet_logs();
  Cluster c;
  c.web_replicas(3);
  std::string first_seen;
  {
    Running first(c, publishing_options(nullptr));
    ASSERT_TRUE(eventually([&] {
      auto rcas = c.server.list_objects(kRcas, "shop");
      return rcas.size() == 1 && rcas[0].contains("status") && rcas[0]["status"].value("occurrences", 0) == 3;
    }));
    first_seen = c.server.list_objects(kRcas, "shop")[0]["status"]["firstSeen"];
  }
  c.server.inject({fake::FaultKind::kInternalError, "/rootcauseanalyses?limit", false, true, 2});
  Running next(c, publishing_options(nullptr));
  ASSERT_TRUE(eventually([&] { return next.synced(); }));
  c.web_replicas(4);  // one more restart of each replica
  ASSERT_TRUE(eventually([&] {
    auto rcas = c.server.list_objects(kRcas, "shop");
    return rcas.size() == 1 && rcas[0]["status"].value("occurrences", 0) == 6;
  })) << "occurrences: "
      << c.server.list_objects(kRcas, "shop")[0]["status"].value("occurrences", 0);
  EXPECT_EQ(c.server.list_objects(kRcas, "shop")[0]["status"]["firstSeen"], first_seen);
}

// Issue 12: a new process (a restart, or a leader taking over) finds a Resolved RCA whose pod now
// runs with the old failure in lastState. That is not a new failure: the RCA stays Resolved with
// its cause, and is not rediagnosed from the healthy container's current log.
TEST(Publish, ARestartLeavesAResolvedRcaResolvedWithItsCause) {
  quiet_logs();
  Cluster c;
  c.api_oom(2);
  DaemonOptions o = publishing_options(nullptr);
  o.rca.resolve_after = 1000ms;
  std::string name;
  {
    Running first(c, o);
    ASSERT_TRUE(eventually([&] {
      auto rcas = c.server.list_objects(kRcas, "shop");
      if (rcas.size() != 1 || !rcas[0].contains("status")) return false;
      name = rcas[0]["metadata"]["name"];
      return rcas[0]["status"].value("phase", "") == "Active";
    }));
    c.server.apply_pod(running_pod(*c.server.get_object("pods", "shop", "api")));
    c.server.set_logs("shop", "api", "api", false, "INFO serving\n");
    ASSERT_TRUE(eventually(
        [&] { return (*c.server.get_object(kRcas, "shop", name))["status"].value("phase", "") == "Resolved"; }));
  }
  const json before = *c.server.get_object(kRcas, "shop", name);
  Running next(c, o);
  ASSERT_TRUE(eventually([&] { return next.synced(); }));
  ASSERT_TRUE(next.settle());  // a take-over and its walk of the store
  const json after = *c.server.get_object(kRcas, "shop", name);
  EXPECT_EQ(after["status"]["phase"], "Resolved");
  EXPECT_EQ(after["status"]["category"], "oom_killed");
  EXPECT_EQ(after["status"]["occurrences"], before["status"]["occurrences"]);
  EXPECT_EQ(after["status"]["history"].size(), before["status"]["history"].size());
  EXPECT_TRUE(next.snapshot().empty()) << "nothing was diagnosed again";
}

// Issue 12: a restart mid-incident, then a new look at the same failure whose log the kubelet will
// not give (the fault script answers every log GET with "unable to retrieve container logs"): the
// RCA keeps the cause found from the log, and says what the new look could not read.
TEST(Publish, ARestartMidIncidentNeverTurnsACauseIntoUnknown) {
  quiet_logs();
  Cluster c;
  auto fail = [&](int restarts) {
    c.server.apply_pod(failing_pod("shop", "cfg", c.api_container(), nullptr, restarts, 1, "Error"));
  };
  fail(2);
  c.server.set_logs("shop", "cfg", "api", true,
                    "INFO loading /etc/app/config.yaml\nFATAL error loading config file /etc/app/config.yaml: "
                    "yaml: line 3: did not find expected key\n");
  DaemonOptions o = publishing_options(nullptr);
  o.rca.rediagnose_after = 100ms;
  o.log_retry_delay = 20ms;
  std::string name;
  {
    Running first(c, o);
    ASSERT_TRUE(eventually([&] {
      auto rcas = c.server.list_objects(kRcas, "shop");
      if (rcas.size() != 1 || !rcas[0].contains("status")) return false;
      name = rcas[0]["metadata"]["name"];
      return rcas[0]["status"].value("category", "") == "config_parse_error";
    }));
  }
  c.server.inject(fake::Fault{fake::FaultKind::kContainerLogsGone, "/log?", false, false, 50, 0, 0});
  Running next(c, o);
  ASSERT_TRUE(eventually([&] { return next.synced(); }));
  ASSERT_TRUE(next.settle());  // taken over, and the store walked
  fail(4);                     // the same failure again, after the restart
  ASSERT_TRUE(next.wait_for(1)) << "the new look never happened";
  EXPECT_EQ(next.snapshot()[0].diagnosis.hypotheses.front().category, "unknown") << "the new look found nothing";
  ASSERT_TRUE(eventually([&] {
    const json st = (*c.server.get_object(kRcas, "shop", name))["status"];
    return st.contains("evidenceNotes") &&
           st["evidenceNotes"].dump().find("logs could not be fetched") != std::string::npos;
  }));
  const json st = (*c.server.get_object(kRcas, "shop", name))["status"];
  EXPECT_EQ(st["category"], "config_parse_error");
  EXPECT_EQ(st["hypotheses"].back()["category"], "unknown") << "the new look's telling lines are kept last";
}

class LeaderFailover : public ::testing::TestWithParam<Failover> {};

TEST_P(LeaderFailover, OneWriterAndTheOtherTakesOverWithoutDuplicates) {
  quiet_logs();
  Cluster c;
  c.web_replicas(3);
  Replica a(c, "replica-a");
  Replica b(c, "replica-b");
  ASSERT_TRUE(eventually([&] { return events_with_reason(c.server, "RootCauseIdentified").size() == 3; }));
  ASSERT_TRUE(eventually([&] { return a.leading() != b.leading(); })) << "exactly one leader";
  Replica& leader = a.leading() ? a : b;
  Replica& follower = a.leading() ? b : a;
  EXPECT_EQ(follower.diagnoses.load(), 0) << "a follower neither diagnoses nor writes";
  EXPECT_EQ(c.server.list_objects(kRcas, "shop").size(), 1U);

  const auto stopped = std::chrono::steady_clock::now();
  if (GetParam().graceful) {
    leader.terminate();
  } else {
    leader.kill();
  }
  c.api_oom(2);  // a new failure only the new leader can publish
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& r : c.server.list_objects(kRcas, "shop")) {
          if (r["spec"]["target"]["name"] == "api" && r.contains("status")) return true;
        }
        return false;
      },
      15'000ms))
      << "the other replica must write within 15 s";
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped).count();
  EXPECT_TRUE(follower.leading());
  if (GetParam().graceful) {
    EXPECT_LT(took, 3.0) << "a released lease is taken within a retry period";
  }
  // Let the new leader re-walk the crash-looping web pods: nothing may be duplicated.
  ASSERT_TRUE(settle(c.server, follower.ioc, *follower.daemon));
  EXPECT_EQ(c.server.list_objects(kRcas, "shop").size(), 2U);
  auto web_events = events_with_reason(c.server, "RootCauseIdentified");
  std::set<std::string> names;
  for (const auto& e : web_events) names.insert(e["metadata"]["name"].get<std::string>());
  EXPECT_EQ(web_events.size(), 4U) << "3 web pods + api, each once";
  EXPECT_EQ(names.size(), web_events.size());
  for (const auto& e : web_events) EXPECT_EQ(e["count"], 1) << "a takeover is not a new occurrence";
  const json web = c.server.list_objects(kRcas, "shop")[0]["spec"]["target"]["name"] == "web"
                       ? c.server.list_objects(kRcas, "shop")[0]
                       : c.server.list_objects(kRcas, "shop")[1];
  EXPECT_EQ(web["status"]["occurrences"], 3) << "counts continue, not restart or double";
}

INSTANTIATE_TEST_SUITE_P(Leaders, LeaderFailover,
                         ::testing::Values(Failover{"sigterm_releases_the_lease", true},
                                           Failover{"crash_lease_expires", false}),
                         [](const auto& info) { return std::string(info.param.name); });

// Fake options that hold the response to the first status write whose target contains `needle`
// until `during` has run on `ioc`'s thread: a deterministic "meanwhile" for a write on the wire.
// The fake calls before_response on its own thread, which waits here while the publisher's
// thread runs `during`.
fake::FakeOptions holding_first_status_write(boost::asio::io_context& ioc, std::string needle,
                                             std::function<void()>& during, int& status_writes) {
  fake::FakeOptions fo;
  fo.before_response = [&ioc, &during, &status_writes, needle = std::move(needle)](const std::string& method,
                                                                                   const std::string& target) {
    if (method != "PATCH" || target.find(needle) == std::string::npos || target.find("/status") == std::string::npos ||
        status_writes++ != 0) {
      return;
    }
    std::promise<void> done;
    boost::asio::post(ioc, [&] {
      during();
      done.set_value();
    });
    done.get_future().wait();
  };
  return fo;
}

// A publisher of RCAs only (no annotations, no Events) at the fixed time.
Publisher rca_only_publisher(boost::asio::io_context& ioc, kube::KubeClient& client, core::RcaTracker& tracker) {
  PublisherOptions po;
  po.clock.wall = [] { return kFixedNow; };
  po.publish_annotation = false;
  po.publish_event = false;
  return Publisher(ioc, client, tracker, po, nullptr, [](const std::string&, const std::string&) {
    return std::optional<std::pair<std::string, std::string>>();
  });
}

// A submit that arrives while the same RCA's write is on the wire (a cause linked between its
// apply and its status write, as issue 15's links do) is written too: the entry stays dirty
// instead of being erased when the older write completes. Made deterministic by the fake
// holding the status write's response until the link has been submitted.
TEST(Publisher, ASubmitWhileThatRcasWriteIsInFlightIsWrittenAfterIt) {
  quiet_logs();
  boost::asio::io_context ioc{1};
  core::RcaTracker tracker;
  std::function<void()> during;
  int status_writes = 0;
  Cluster c(holding_first_status_write(ioc, "/rootcauseanalyses/shop-app", during, status_writes));
  auto client = testing::client_for(ioc, c.server);
  Publisher publisher = rca_only_publisher(ioc, *client, tracker);
  const ContainerDiagnosis d =
      one_hypothesis("db_connection_refused", 0.8, "rule.db", "refused", "the database refused the connection");
  auto occurrence = [](const std::string& workload, const std::string& pod) {
    return failing_occurrence(workload, "uid-" + workload, pod, kFixedNow, "Error:1", 1, 2);
  };
  const core::RcaUpdate cause = tracker.record(occurrence("postgres", "postgres-0"), &d, "test");
  const core::RcaUpdate app = tracker.record(occurrence("shop-app", "shop-app-x2k9p"), &d, "test");
  ASSERT_EQ(app.name.rfind("shop-app", 0), 0U) << app.name;
  during = [&] {
    auto linked = tracker.link(app.name, cause.name, "Service shop/postgres");
    ASSERT_TRUE(linked);
    publisher.submit(*linked);
  };
  publisher.submit(app);
  boost::asio::co_spawn(ioc, publisher.run([] { return true; }), boost::asio::detached);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  std::optional<json> written;
  while (std::chrono::steady_clock::now() < deadline) {
    ioc.run_for(20ms);
    for (const auto& r : c.server.list_objects(kRcas, "shop")) {
      if (r["metadata"]["name"] == app.name && r.contains("status") && r["status"].contains("causedBy")) written = r;
    }
    if (written) break;
  }
  publisher.stop();
  ioc.run_for(200ms);
  EXPECT_GE(status_writes, 2) << "the link was never written after the held status write";
  ASSERT_TRUE(written) << "status.causedBy lost: the entry was erased when the older write completed";
  EXPECT_EQ((*written)["status"]["causedBy"]["name"], cause.name);
}

// A workload deleted and created again under its name while its RCA's write is on the wire: the
// tracker forgets the old RCA and records the new one under the same name, with the new owner.
// The write that completes afterwards carried the old owner, so the new content is written
// after it (a generation counted per entry started again at 1 and looked unchanged).
TEST(Publisher, AnRcaForgottenAndRecordedAgainDuringItsWriteIsWrittenWithTheNewOwner) {
  quiet_logs();
  boost::asio::io_context ioc{1};
  core::RcaTracker tracker;
  std::function<void()> during;
  int status_writes = 0;
  Cluster c(holding_first_status_write(ioc, "/rootcauseanalyses/", during, status_writes));
  auto client = testing::client_for(ioc, c.server);
  Publisher publisher = rca_only_publisher(ioc, *client, tracker);
  const ContainerDiagnosis d = one_hypothesis("oom_killed", 0.9, "rule.oom", "oom", "killed");
  const core::RcaUpdate first =
      tracker.record(failing_occurrence("web", "uid-old", "web-1", kFixedNow, "OOMKilled:137", 137, 1), &d, "test");
  std::string again_name;
  during = [&] {
    publisher.forget(tracker.forget_workload("shop", "Deployment", "web", "uid-old"));
    const core::RcaUpdate again =
        tracker.record(failing_occurrence("web", "uid-new", "web-2", kFixedNow, "OOMKilled:137", 137, 1), &d, "test");
    again_name = again.name;
    publisher.submit(again);
  };
  publisher.submit(first);
  boost::asio::co_spawn(ioc, publisher.run([] { return true; }), boost::asio::detached);
  auto owner_uid = [&]() -> std::string {
    const auto rca = c.server.get_object(kRcas, "shop", first.name);
    if (!rca || !(*rca)["metadata"].contains("ownerReferences")) return "";
    return (*rca)["metadata"]["ownerReferences"][0].value("uid", "");
  };
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline && !(publisher.idle() && owner_uid() == "uid-new"))
    ioc.run_for(20ms);
  ASSERT_EQ(again_name, first.name) << "the same workload's RCA keeps its name";
  EXPECT_EQ(owner_uid(), "uid-new") << "the RCA still names the deleted workload as its owner";
  publisher.stop();
  ioc.run_for(200ms);
}

// The publisher remembers when each Event was last written only to space out its count bumps,
// which matters for one event_interval: older entries are swept, so on a cluster whose pods come
// and go the memory follows the Event rate, not the history (it grew to its 10,000 cap before).
TEST(Publisher, EventsWrittenLongerAgoThanTheIntervalAreForgotten) {
  quiet_logs();
  boost::asio::io_context ioc{1};
  core::RcaTracker tracker;
  Cluster c;
  auto client = testing::client_for(ioc, c.server);
  core::ManualClock clock(kFixedNow);
  PublisherOptions po;
  po.clock = clock.clock();  // the intervals run on its monotonic reading, the Events carry its wall one
  po.event_interval = 1000ms;
  po.publish_rca = false;
  po.publish_annotation = false;
  Publisher publisher(ioc, *client, tracker, po, nullptr, [](const std::string&, const std::string&) {
    return std::optional<std::pair<std::string, std::string>>(
        std::pair<std::string, std::string>());  // the pod is there
  });
  const ContainerDiagnosis d = one_hypothesis("oom_killed", 0.9, "rule.oom", "oom", "killed");
  auto fail = [&](int i) {
    publisher.submit(
        tracker.record(oom_occurrence("w" + std::to_string(i), "p" + std::to_string(i), clock.wall_now()), &d, "test"));
  };
  boost::asio::co_spawn(ioc, publisher.run([] { return true; }), boost::asio::detached);
  auto written = [&](std::uint64_t n) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (publisher.stats().event_creates < n && std::chrono::steady_clock::now() < deadline) ioc.run_for(20ms);
    return publisher.stats().event_creates;
  };
  for (int i = 0; i < 140; ++i) fail(i);
  ASSERT_EQ(written(140), 140U);
  clock.advance(5s);  // the first 140 are now older than the interval
  for (int i = 140; i < 280; ++i) fail(i);
  ASSERT_EQ(written(280), 280U);  // a sweep at the 256th
  EXPECT_LE(publisher.events_remembered(), 140U) << "Events written 5 s ago, with a 1 s interval, are still remembered";
  publisher.stop();
  ioc.run_for(200ms);
}

// A retry is due on the monotonic clock: a failed write is tried again after its backoff even
// when the wall clock steps back an hour meanwhile (on the wall reading it would wait the hour).
TEST(Publisher, AWallClockStepNeitherDelaysNorSkipsARetry) {
  quiet_logs();
  boost::asio::io_context ioc{1};
  core::RcaTracker tracker;
  Cluster c;
  fake::Fault fault;
  fault.kind = fake::FaultKind::kInternalError;
  fault.path_contains = "/rootcauseanalyses/";
  fault.times = 1;
  fault.retry_after_seconds = 0;
  c.server.inject(fault);
  auto client = testing::client_for(ioc, c.server);
  core::ManualClock clock(kFixedNow);
  PublisherOptions po;
  po.clock = clock.clock();
  po.retry_base = 10'000ms;  // far longer than the test waits in real time
  po.publish_annotation = false;
  po.publish_event = false;
  Publisher publisher(ioc, *client, tracker, po, nullptr, [](const std::string&, const std::string&) {
    return std::optional<std::pair<std::string, std::string>>();
  });
  const ContainerDiagnosis d = one_hypothesis("oom_killed", 0.9, "rule.oom", "oom", "killed");
  publisher.submit(tracker.record(oom_occurrence("web", "web-1", clock.wall_now()), &d, "test"));
  boost::asio::co_spawn(ioc, publisher.run([] { return true; }), boost::asio::detached);
  auto run_until = [&](const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done() && std::chrono::steady_clock::now() < deadline) ioc.run_for(20ms);
    return done();
  };
  ASSERT_TRUE(run_until([&] { return count_requests(c.server, "PATCH", "/rootcauseanalyses/") == 1; }));
  ioc.run_for(100ms);
  EXPECT_TRUE(c.server.list_objects(kRcas, "shop").empty()) << "the first write was to fail";

  clock.step_wall(-3'600'000ms);
  clock.advance(10'000ms);  // the backoff has passed on the monotonic clock
  publisher.wake();
  EXPECT_TRUE(run_until([&] { return c.server.list_objects(kRcas, "shop").size() == 1; }))
      << "the retry waited for the wall clock to catch up with its step";
  publisher.stop();
  ioc.run_for(200ms);
}

// Under a burst the queue holds news and repeats at once: a new cause is written before a
// repeat's counters (issue 14 item 4), whatever their names' order.
TEST(Publisher, ANewCauseIsWrittenBeforeARepeatThatIsDueAsWell) {
  quiet_logs();
  boost::asio::io_context ioc{1};
  core::RcaTracker tracker;
  Cluster c;
  auto client = testing::client_for(ioc, c.server);
  core::ManualClock clock(kFixedNow);
  PublisherOptions po;
  po.clock = clock.clock();
  po.lanes = 1;
  po.publish_annotation = false;
  po.publish_event = false;
  Publisher publisher(ioc, *client, tracker, po, nullptr, [](const std::string&, const std::string&) {
    return std::optional<std::pair<std::string, std::string>>();
  });
  const ContainerDiagnosis d = one_hypothesis("oom_killed", 0.9, "rule.oom", "oom", "killed");
  const core::RcaUpdate first = tracker.record(oom_occurrence("aaa", "aaa-1", clock.wall_now()), &d, "test");
  publisher.submit(first);
  boost::asio::co_spawn(ioc, publisher.run([] { return true; }), boost::asio::detached);
  auto run_until = [&](const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done() && std::chrono::steady_clock::now() < deadline) ioc.run_for(20ms);
    return done();
  };
  ASSERT_TRUE(run_until([&] { return publisher.idle() && publisher.stats().status_writes == 1; }));

  clock.advance(po.status_interval + 1000ms);  // the repeat is due at once
  core::Occurrence again = oom_occurrence("aaa", "aaa-1", clock.wall_now());
  again.restart_count = 2;
  const core::RcaUpdate repeat = tracker.record(again, &d, "test");
  ASSERT_EQ(repeat.change, core::RcaChange::kRepeated);
  const core::RcaUpdate news = tracker.record(oom_occurrence("zzz", "zzz-1", clock.wall_now()), &d, "test");
  ASSERT_EQ(news.change, core::RcaChange::kIdentified);
  ASSERT_LT(repeat.name, news.name) << "the repeat must come first by name for the test to mean anything";
  const std::size_t before = c.server.requests().size();
  publisher.submit(repeat);
  publisher.submit(news);
  publisher.wake();
  ASSERT_TRUE(run_until([&] { return publisher.idle() && publisher.stats().status_writes == 3; }));
  std::vector<std::string> order;
  const auto requests = c.server.requests();
  for (std::size_t i = before; i < requests.size(); ++i) {
    if (requests[i].method == "PATCH") order.push_back(requests[i].target);
  }
  ASSERT_FALSE(order.empty());
  EXPECT_NE(order.front().find("/rootcauseanalyses/" + news.name), std::string::npos)
      << "the repeat of " << repeat.name << " went first: " << order.front();
  publisher.stop();
  ioc.run_for(200ms);
}

// Writes of a burst are in flight together (issue 14 item 4: one writer waiting for each answer
// ran at a tenth of the client's rate), on as many pooled connections as there are lanes, and
// every object is still written exactly once: its apply, its status, its Event.
struct LanesCase {
  int lanes;
  const char* why;
};

class PublisherLanes : public ::testing::TestWithParam<LanesCase> {};

TEST_P(PublisherLanes, ABurstIsWrittenOnAsManyConnectionsAsLanesAndEachObjectOnce) {
  quiet_logs();
  boost::asio::io_context ioc{1};
  core::RcaTracker tracker;
  Cluster c;
  auto client = testing::client_for(ioc, c.server);
  const std::size_t connections_before = c.server.connections();
  core::ManualClock clock(kFixedNow);
  PublisherOptions po;
  po.clock = clock.clock();
  po.lanes = GetParam().lanes;
  po.publish_annotation = false;
  Publisher publisher(ioc, *client, tracker, po, nullptr, [](const std::string&, const std::string&) {
    return std::optional<std::pair<std::string, std::string>>(std::pair<std::string, std::string>());
  });
  const ContainerDiagnosis d = one_hypothesis("oom_killed", 0.9, "rule.oom", "oom", "killed");
  constexpr int kWorkloads = 24;
  std::vector<std::string> names;
  for (int i = 0; i < kWorkloads; ++i) {
    const core::RcaUpdate u =
        tracker.record(oom_occurrence("w" + std::to_string(i), "p" + std::to_string(i), clock.wall_now()), &d, "test");
    names.push_back(u.name);
    publisher.submit(u);
  }
  boost::asio::co_spawn(ioc, publisher.run([] { return true; }), boost::asio::detached);
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!(publisher.idle() && publisher.stats().event_creates == kWorkloads) &&
         std::chrono::steady_clock::now() < deadline) {
    ioc.run_for(20ms);
  }
  ASSERT_TRUE(publisher.idle()) << GetParam().why;
  EXPECT_EQ(c.server.list_objects(kRcas, "shop").size(), static_cast<std::size_t>(kWorkloads));
  for (const std::string& name : names) {
    EXPECT_EQ(count_requests(c.server, "PATCH", "/rootcauseanalyses/" + name + "?"), 1) << name;
    EXPECT_EQ(count_requests(c.server, "PATCH", "/rootcauseanalyses/" + name + "/status?"), 1) << name;
  }
  EXPECT_EQ(count_requests(c.server, "POST", "/events"), kWorkloads);
  EXPECT_EQ(c.server.connections() - connections_before, static_cast<std::size_t>(GetParam().lanes)) << GetParam().why;
  publisher.stop();
  ioc.run_for(200ms);
}

INSTANTIATE_TEST_SUITE_P(Lanes, PublisherLanes,
                         ::testing::Values(LanesCase{1, "one writer: one request at a time, one connection"},
                                           LanesCase{4, "four writers: four requests in flight from the start"}));

}  // namespace
}  // namespace crashdiag::daemon
