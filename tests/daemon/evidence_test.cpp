// The evidence stage alone (issue 13 item 1: a stage seam with its own tests): EvidenceGatherer
// against the fake API server, with the daemon's three questions answered by the table. What it
// must request, and what it must not, for each kind of failure.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "daemon_harness.hpp"
#include "evidence_gatherer.hpp"

namespace crashdiag::daemon {
namespace {

using namespace harness;

int requests_to(const fake::FakeApiServer& server, const std::string& needle) {
  int n = 0;
  for (const auto& r : server.requests()) n += r.target.find(needle) != std::string::npos;
  return n;
}

core::CrashSignal signal_of(const std::string& pod, const std::string& container, const std::string& workload) {
  core::CrashSignal s;
  s.namespace_ = "shop";
  s.pod = pod;
  s.pod_uid = "uid-" + pod;
  s.container = container;
  s.workload = workload;
  s.has_previous_termination = true;
  return s;
}

struct EvidenceRow {
  const char* name;
  bool start_error = false;      // the web pod, whose container never ran; else the OOM-killed api pod
  bool from_watch_event = true;  // the pod JSON came with the watch event (no GET)
  bool rca_exists = false;       // the failure's RCA is recorded already
  int logs_gone = 0;             // log GETs answered "unable to retrieve container logs"
  bool expect_evidence = true;
  const char* expect_log_line = "";  // a line the log tail holds; "" for none
  bool expect_unavailable = false;   // the evidence says why there is no log
  int expect_log_gets = 0;
  int expect_pod_gets = 0;
  int expect_revision_lists = 0;
};

void PrintTo(const EvidenceRow& r, std::ostream* os) {
  *os << r.name;
}

class EvidenceTable : public ::testing::TestWithParam<EvidenceRow> {};

TEST_P(EvidenceTable, RequestsWhatTheFailureNeedsAndNothingElse) {
  quiet_logs();
  const EvidenceRow& row = GetParam();
  boost::asio::io_context ioc{1};
  Cluster c;
  if (row.start_error) {
    c.web_replicas(2);
  } else {
    c.api_oom(2);
  }
  if (row.logs_gone > 0) {
    fake::Fault fault;
    fault.kind = fake::FaultKind::kContainerLogsGone;
    fault.path_contains = "/log?";
    fault.times = row.logs_gone;
    c.server.inject(fault);
  }
  auto client = testing::client_for(ioc, c.server);
  Event kubelet_event;
  kubelet_event.reason = "BackOff";
  kubelet_event.message = "Back-off restarting failed container";
  std::vector<std::string> events_asked;
  EvidenceGatherer gatherer(
      ioc, *client, EvidenceOptions{500, 256 * 1024, std::chrono::milliseconds(10), true},
      [&](const std::string& uid) {
        events_asked.push_back(uid);
        return std::vector<Event>{kubelet_event};
      },
      [&](const std::string&) { return row.rca_exists; }, [](const json&, const std::string&) { return false; });

  const std::string pod = row.start_error ? "web-7d9f-0" : "api";
  const core::CrashSignal s =
      signal_of(pod, row.start_error ? "server" : "api", row.start_error ? "ReplicaSet/web-7d9f" : "Pod/api");
  std::string pod_json;
  if (row.from_watch_event) {
    pod_json = json{{"type", "MODIFIED"}, {"object", *c.server.get_object("pods", "shop", pod)}}.dump();
  }
  const int before = static_cast<int>(c.server.requests().size());
  std::optional<std::optional<Evidence>> got;
  boost::asio::co_spawn(
      ioc,
      [&]() -> boost::asio::awaitable<void> {
        // Named arguments: GCC 12 PR 99576 destroys temporaries in a co_await expression twice.
        core::CrashSignal signal = s;
        std::string event = pod_json;
        std::string rca = "rca-" + pod;
        std::optional<Evidence> ev = co_await gatherer.gather(std::move(signal), std::move(event), std::move(rca));
        got = std::move(ev);
      },
      boost::asio::detached);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!got && std::chrono::steady_clock::now() < deadline) ioc.run_for(20ms);
  ASSERT_TRUE(got.has_value()) << "gather() did not finish";
  ASSERT_EQ(got->has_value(), row.expect_evidence);
  ASSERT_GE(static_cast<int>(c.server.requests().size()), before);
  EXPECT_EQ(requests_to(c.server, "/log?"), row.expect_log_gets);
  EXPECT_EQ(requests_to(c.server, "/pods/" + pod) - requests_to(c.server, "/log?"), row.expect_pod_gets);
  EXPECT_EQ(requests_to(c.server, "/replicasets"), row.expect_revision_lists);
  if (!row.expect_evidence) return;
  const Evidence& ev = **got;
  EXPECT_EQ(ev.container, s.container);
  EXPECT_EQ(ev.pod.name, pod);
  ASSERT_EQ(ev.events.size(), 1U) << "the pod's Events come from the events store";
  EXPECT_EQ(events_asked, std::vector<std::string>{ev.pod.uid});
  EXPECT_EQ(!ev.logs.unavailable.empty(), row.expect_unavailable) << ev.logs.unavailable;
  if (*row.expect_log_line != '\0') {
    bool found = false;
    for (const auto& line : ev.logs.lines) found = found || line == row.expect_log_line;
    EXPECT_TRUE(found) << "the previous instance's log was not read";
  } else {
    EXPECT_TRUE(ev.logs.lines.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rows, EvidenceTable,
    ::testing::Values(
        // The OOM-killed pod ran: its previous instance's log is one GET; its pod JSON came with
        // the watch event; a bare pod has no earlier revision to list.
        EvidenceRow{"previous_log_once", false, true, false, 0, true, "INFO loading cache", false, 1, 0, 0},
        // Found by a list (no watch event): the pod is read once.
        EvidenceRow{"pod_read_when_no_event", false, false, false, 0, true, "INFO loading cache", false, 1, 1, 0},
        // The kubelet has not caught up with the restart: tried once more, then read.
        EvidenceRow{"transient_logs_gone_retried", false, true, false, 1, true, "INFO loading cache", false, 2, 0, 0},
        // Still gone on the second try: the evidence says why it has no log.
        EvidenceRow{"logs_gone_twice_says_why", false, true, false, 2, true, "", true, 2, 0, 0},
        // A StartError container never ran: no log to ask for; its Deployment's previous revision
        // is one list of ReplicaSets while its RCA is new.
        EvidenceRow{"start_error_no_log_new_rca", true, true, false, 0, true, "", false, 0, 0, 1},
        // The same once its RCA exists: nothing changed to compare with, no list.
        EvidenceRow{"start_error_known_rca", true, true, true, 0, true, "", false, 0, 0, 0}));

// A pod that is gone by the time its failure is looked at: no evidence, and nothing else asked.
TEST(Evidence, APodThatCannotBeReadGivesNoEvidence) {
  quiet_logs();
  boost::asio::io_context ioc{1};
  Cluster c;
  auto client = testing::client_for(ioc, c.server);
  EvidenceGatherer gatherer(
      ioc, *client, EvidenceOptions{}, [](const std::string&) { return std::vector<Event>{}; },
      [](const std::string&) { return false; }, [](const json&, const std::string&) { return false; });
  std::optional<std::optional<Evidence>> got;
  boost::asio::co_spawn(
      ioc,
      [&]() -> boost::asio::awaitable<void> {
        core::CrashSignal signal = signal_of("gone", "app", "Pod/gone");
        std::string event;
        std::string rca = "rca-gone";
        std::optional<Evidence> ev = co_await gatherer.gather(std::move(signal), std::move(event), std::move(rca));
        got = std::move(ev);
      },
      boost::asio::detached);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!got && std::chrono::steady_clock::now() < deadline) ioc.run_for(20ms);
  ASSERT_TRUE(got.has_value());
  EXPECT_FALSE(got->has_value());
  EXPECT_EQ(requests_to(c.server, "/log?"), 0);
}

}  // namespace
}  // namespace crashdiag::daemon
