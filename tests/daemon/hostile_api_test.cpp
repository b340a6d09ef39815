// Issue 14 item 6: what the real API does to an operator, against the daemon. The fake answers
// each of these as kube-apiserver 1.26.1 does (tests/kube/fake_real_api_test.cpp compares it
// with the recordings in tests/data/k8s-real): a namespace deleted mid-publish, the request size
// limits, names at 253 characters, a pod of 100 containers and a termination message cut inside
// a UTF-8 sequence. Each test checks that crashdiag neither crashes nor retries forever, keeps its
// objects valid and within limits, and loses nothing it could have published.
#include <gtest/gtest.h>

#include <ostream>

#include "crashdiag/classifiers/categories.hpp"
#include "daemon_harness.hpp"
#include "metrics.hpp"

namespace crashdiag::daemon {
namespace {

using namespace harness;  // NOLINT(google-build-using-namespace)
using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kRcas = "crashdiag.io/v1alpha1/rootcauseanalyses";

std::vector<std::string> category_ids() {
  std::vector<std::string> out;
  for (const auto& c : categories()) out.emplace_back(c.id);
  return out;
}

int writes_to(const fake::FakeApiServer& server, const std::string& ns) {
  int n = 0;
  for (const auto& r : server.requests()) {
    n += r.method != "GET" && r.target.find("/namespaces/" + ns + "/") != std::string::npos;
  }
  return n;
}

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// The longest run of valid UTF-8 that `s` starts with equals `s`: no stray bytes.
bool valid_utf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t len = c < 0x80U ? 1 : (c >> 5U) == 0x6U ? 2 : (c >> 4U) == 0xEU ? 3 : (c >> 3U) == 0x1EU ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0U) != 0x80U) return false;
    }
    i += len;
  }
  return true;
}

// ---- 1. A namespace deleted mid-publish --------------------------------------------------------

struct Deletion {
  const char* name;
  fake::NamespaceState state;
  const char* code;  // the refusal, counted once (on whichever write met it first)
};

// The sum of crashdiag_publish_failures_total over objects for one HTTP code.
double failures(const std::string& metrics, const std::string& code) {
  const std::string series = "crashdiag_publish_failures_total{code=\"" + code + "\",";
  double sum = 0;
  for (auto at = metrics.find(series); at != std::string::npos; at = metrics.find(series, at + 1)) {
    const auto space = metrics.find(' ', at);
    sum += std::stod(metrics.substr(space + 1, metrics.find('\n', space) - space - 1));
  }
  return sum;
}

void PrintTo(const Deletion& d, std::ostream* os) {
  *os << d.name;
}

class NamespaceDeletedMidPublish : public ::testing::TestWithParam<Deletion> {};

// Pods fail in "fx" and in "shop"; fx is being deleted (its creates refused with 403
// NamespaceTerminating) or is gone (404 for the namespace) by the time crashdiag writes. The
// first refusal drops fx's writes and forgets its RCAs: one write to fx, none after, and shop's
// RCA, annotations and Events are all published.
TEST_P(NamespaceDeletedMidPublish, DropsItsWritesOnceForgetsItAndPublishesTheRest) {
  quiet_logs();
  const Deletion& d = GetParam();
  Cluster c;
  // Owned by a Job the fake does not hold: the namespace's deletion then removes no workload
  // the daemon knows (a deleted workload's or bare pod's RCAs are forgotten without a write,
  // Daemon::workload_deleted), so the retried write meets the refusal this test is about.
  c.server.apply_pod(failing_pod("fx", "batch", c.api_container(), owner("Job", "batch"), 2, 137, "OOMKilled"));
  c.server.set_logs("fx", "batch", "api", true, "INFO starting\n");
  // The first RCA write to fx fails with a 500, so the namespace goes while crashdiag waits to
  // retry (retry_base below): the deletion happens mid-publish, after the diagnosis.
  fake::Fault fault;
  fault.kind = fake::FaultKind::kInternalError;
  fault.path_contains = "/namespaces/fx/rootcauseanalyses";
  c.server.inject(fault);
  if (d.state == fake::NamespaceState::kTerminating) c.server.set_namespace_state("fx", d.state);
  metrics::Metrics m(category_ids(), "test");
  DaemonOptions o = publishing_options(&m);
  o.publisher.retry_base = 400ms;
  o.publisher.retry_cap = 400ms;
  Running r(c, o);
  ASSERT_TRUE(r.wait_for(1));
  if (d.state == fake::NamespaceState::kGone) c.server.set_namespace_state("fx", d.state);
  c.api_oom(2);  // a failure in another namespace, published in full

  ASSERT_TRUE(eventually([&] { return failures(m.serialize(), d.code) == 1; })) << m.serialize();
  ASSERT_TRUE(eventually([&] {
    auto rcas = c.server.list_objects(kRcas, "shop");
    auto pod = c.server.get_object("pods", "shop", "api");
    int events = 0;
    for (const auto& e : c.server.list_objects("events", "shop"))
      events += e.value("reason", "") == "RootCauseIdentified";
    return rcas.size() == 1 && rcas[0].contains("status") && pod && (*pod)["metadata"].contains("annotations") &&
           events == 1;
  })) << "another namespace's writes are not held up";
  const int attempts = writes_to(c.server, "fx");
  ASSERT_TRUE(r.settle());  // a retry would keep the publisher busy
  EXPECT_EQ(writes_to(c.server, "fx"), attempts) << "a namespace being deleted is not retried";
  // The 500, the pod's annotation and Event when they came before the deletion, then the one
  // refusal that closes the namespace.
  EXPECT_LE(attempts, 4);
  EXPECT_EQ(failures(m.serialize(), d.code), 1) << m.serialize();
  EXPECT_TRUE(c.server.list_objects(kRcas, "fx").empty());

  const auto forgotten = r.on_loop([&] {
    bool none = true;
    for (const auto& [name, s] : r.daemon->tracker().all()) none = none && s.target.namespace_ != "fx";
    return std::make_pair(none, r.daemon->publisher().stats().dropped);
  });
  EXPECT_TRUE(forgotten.first) << "the tracker still holds an RCA of fx";
  EXPECT_GE(forgotten.second, 1U);
  EXPECT_TRUE(
      has(m.serialize(), "crashdiag_active_rcas{category=\"oom_killed\",consequence=\"false\",namespace=\"fx\"} 0"))
      << m.serialize();

  // A new failure there is dropped without a request while the namespace is remembered closed.
  if (d.state == fake::NamespaceState::kTerminating) {
    c.server.apply_pod(failing_pod("fx", "batch", c.api_container(), nullptr, 3, 137, "OOMKilled"));
    ASSERT_TRUE(r.wait_for(3));
    ASSERT_TRUE(r.settle());
    EXPECT_EQ(writes_to(c.server, "fx"), attempts);
  }
}

INSTANTIATE_TEST_SUITE_P(States, NamespaceDeletedMidPublish,
                         ::testing::Values(Deletion{"terminating_403", fake::NamespaceState::kTerminating, "403"},
                                           Deletion{"gone_404", fake::NamespaceState::kGone, "404"}),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- 2. The request size limit -----------------------------------------------------------------

// A termination message and log lines that are long and mostly control characters make a status
// larger than its budget: the RCA is cut to fit and says so.
TEST(RequestSizeLimit, EvidenceIsCutToFitAndTheRcaSaysHowMuch) {
  quiet_logs();
  Cluster c;
  // A termination message of control characters: 6 bytes each in JSON (\u0001).
  c.server.apply_pod(failing_pod("shop", "noisy", c.api_container(), nullptr, 2, 1, "Error",
                                 "panic: runtime error: " + std::string(3000, '\x01')));
  std::string log;
  for (int i = 0; i < 60; ++i) {
    log += "ERROR request " + std::to_string(i) + " failed: " + std::string(1500, static_cast<char>('a' + i % 26)) +
           " \x01\x02\x03 fatal\n";
  }
  c.server.set_logs("shop", "noisy", "api", true, log);
  DaemonOptions o = publishing_options(nullptr);
  o.rca.max_status_bytes = 6 * 1024;
  Running r(c, o);
  ASSERT_TRUE(eventually([&] {
    auto rcas = c.server.list_objects(kRcas, "shop");
    return rcas.size() == 1 && rcas[0].contains("status") && rcas[0]["status"].contains("hypotheses");
  }));
  const json rca = c.server.list_objects(kRcas, "shop")[0];
  json status_only = {{"apiVersion", rca["apiVersion"]},
                      {"kind", rca["kind"]},
                      {"metadata", {{"name", rca["metadata"]["name"]}, {"namespace", "shop"}}},
                      {"status", rca["status"]}};
  EXPECT_LE(status_only.dump().size(), 6U * 1024U + 512U) << "the status as written, plus what the server adds";
  ASSERT_TRUE(rca["status"].contains("evidenceNotes"));
  const std::string notes = rca["status"]["evidenceNotes"].dump();
  EXPECT_TRUE(has(notes, "evidence truncated to fit the RCA size limit (6144 bytes)")) << notes;
  EXPECT_TRUE(has(notes, "bytes")) << notes;
}

// ---- 3. Names at 253 characters ----------------------------------------------------------------

struct LongName {
  const char* name;
  std::size_t workload_length;
  bool deployment;  // else a bare pod of that name
};

void PrintTo(const LongName& l, std::ostream* os) {
  *os << l.name;
}

class LongNames : public ::testing::TestWithParam<LongName> {};

// A name of `n` characters, a dash every ten, as DNS subdomains may be.
std::string long_name(std::size_t n) {
  std::string name;
  for (std::size_t i = 0; name.size() < n; ++i) name += (i % 10 == 9) ? '-' : static_cast<char>('a' + i % 26);
  name.back() = 'z';
  return name;
}

// A bare pod of 253 characters (a valid name: tests/data/k8s-real/23-create-pod-name-253-201), and
// a Deployment whose ReplicaSet (name + "-" + the pod-template hash) still fits 253, its pods
// named as the ReplicaSet controller's generateName makes them (the prefix cut to 58 characters
// plus 5 random: apiserver/pkg/storage/names/generate.go). The RCA's name, its labels and the
// Event's name must all pass the fake's validation, which is the real server's (422 otherwise).
TEST_P(LongNames, GetAValidRcaLabelsEventAndAnnotation) {
  quiet_logs();
  const LongName& l = GetParam();
  Cluster c;
  const std::string workload = long_name(l.workload_length);
  std::string pod_name = workload;
  json owner_ref = nullptr;
  if (l.deployment) {
    const std::string rs = workload + "-7d9f5c6b8";
    ASSERT_LE(rs.size(), 253U);
    c.server.put_object("/apis/apps/v1", "replicasets",
                        json{{"kind", "ReplicaSet"},
                             {"apiVersion", "apps/v1"},
                             {"metadata",
                              {{"name", rs},
                               {"namespace", "shop"},
                               {"uid", "5d0e2b7a-1c3f-4e8d-9a6b-7f2c1e0d3b4a"},
                               {"ownerReferences", json::array({{{"apiVersion", "apps/v1"},
                                                                 {"kind", "Deployment"},
                                                                 {"name", workload},
                                                                 {"uid", "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"},
                                                                 {"controller", true}}})}}}});
    pod_name = rs.substr(0, 58) + "x2k9p";
    owner_ref = {{"apiVersion", "apps/v1"},
                 {"kind", "ReplicaSet"},
                 {"name", rs},
                 {"uid", "5d0e2b7a-1c3f-4e8d-9a6b-7f2c1e0d3b4a"},
                 {"controller", true}};
  }
  json pod = failing_pod("shop", pod_name, c.api_container(), owner_ref, 2, 137, "OOMKilled");
  pod["metadata"]["uid"] = "0b3c6f5e-8d2a-4c1e-9f7b-2a6d4e8c1f30";  // make_pod's is made of the name
  c.server.apply_pod(pod);
  c.server.set_logs("shop", pod_name, "api", true, "INFO starting\n");
  metrics::Metrics m(category_ids(), "test");
  Running r(c, publishing_options(&m));
  ASSERT_TRUE(eventually([&] {
    for (const auto& e : c.server.list_objects("events", "shop")) {
      if (e.value("reason", "") == "RootCauseIdentified") return true;
    }
    return false;
  })) << m.serialize();
  ASSERT_TRUE(eventually([&] { return c.server.list_objects(kRcas, "shop").size() == 1; })) << m.serialize();
  const auto rcas = c.server.list_objects(kRcas, "shop");
  const json& meta = rcas[0]["metadata"];
  EXPECT_LE(meta["name"].get<std::string>().size(), 63U);
  const std::string label = meta["labels"]["crashdiag.io/workload"];
  EXPECT_EQ(label.size(), 63U);
  EXPECT_EQ(label.substr(0, 52), workload.substr(0, 52)) << "a readable prefix, then a hash";
  EXPECT_EQ(rcas[0]["spec"]["target"]["name"], workload) << "the full name is in the spec";
  EXPECT_EQ(rcas[0]["spec"]["target"]["kind"], l.deployment ? "Deployment" : "Pod");
  for (const auto& e : c.server.list_objects("events", "shop")) {
    EXPECT_LE(e["metadata"]["name"].get<std::string>().size(), 253U);
  }
  const json annotated = *c.server.get_object("pods", "shop", pod_name);
  EXPECT_EQ(annotated["metadata"]["annotations"]["crashdiag.io/rca"], meta["name"]);
  EXPECT_FALSE(has(m.serialize(), "crashdiag_publish_failures_total{code=\"422\"")) << m.serialize();
}

INSTANTIATE_TEST_SUITE_P(Names, LongNames,
                         ::testing::Values(LongName{"bare_pod_253", 253, false}, LongName{"deployment_242", 242, true}),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- 4. A hundred containers --------------------------------------------------------------------

// 100 containers, 10 of them crash-looping: one RCA per failing container, one log read each,
// and the pod's annotations well within the real server's 256 KiB (tests/data/k8s-real/
// 22-annotate-over-256kib-422).
TEST(ManyContainers, AHundredContainersTenFailingGiveTenRcasAndBoundedWork) {
  quiet_logs();
  Cluster c;
  json containers = json::array();
  json statuses = json::array();
  for (int i = 0; i < 100; ++i) {
    const std::string n = "c" + std::to_string(i);
    containers.push_back({{"name", n}, {"image", "busybox:1.36"}});
    json st = {{"name", n},
               {"ready", true},
               {"restartCount", 0},
               {"image", "busybox:1.36"},
               {"state", {{"running", {{"startedAt", "2026-11-22T03:00:00Z"}}}}}};
    if (i % 10 == 3) {
      st["ready"] = false;
      st["restartCount"] = 3;
      st["state"] = {{"waiting", {{"reason", "CrashLoopBackOff"}, {"message", "back-off 40s"}}}};
      st["lastState"] = {{"terminated",
                          {{"exitCode", 1},
                           {"reason", "Error"},
                           {"startedAt", "2026-11-22T03:00:00Z"},
                           {"finishedAt", "2026-11-22T03:00:09Z"}}}};
      c.server.set_logs("shop", "wide", n, true, "FATAL cannot open /etc/" + n + ".conf: no such file or directory\n");
    }
    statuses.push_back(st);
  }
  json pod = fake::make_pod("shop", "wide", containers[0]);
  pod["spec"]["containers"] = containers;
  pod["status"]["containerStatuses"] = statuses;
  c.server.apply_pod(pod);
  Running r(c, publishing_options(nullptr));
  ASSERT_TRUE(eventually([&] {
    auto rcas = c.server.list_objects(kRcas, "shop");
    return rcas.size() == 10 &&
           std::all_of(rcas.begin(), rcas.end(), [](const json& x) { return x.contains("status"); });
  })) << c.server.list_objects(kRcas, "shop").size();
  std::set<std::string> containers_seen;
  for (const auto& x : c.server.list_objects(kRcas, "shop")) containers_seen.insert(x["spec"]["target"]["container"]);
  EXPECT_EQ(containers_seen.size(), 10U) << "one RCA per (workload, container)";
  ASSERT_TRUE(r.settle());
  int log_reads = 0;
  for (const auto& req : c.server.requests()) log_reads += req.method == "GET" && has(req.target, "/log?");
  EXPECT_LE(log_reads, 10) << "one log read per failing container";
  const json annotations = (*c.server.get_object("pods", "shop", "wide"))["metadata"]["annotations"];
  std::size_t total = 0;
  for (const auto& [k, v] : annotations.items()) total += k.size() + v.get<std::string>().size();
  EXPECT_LE(total, 256U * 1024U);
  EXPECT_TRUE(annotations.contains("crashdiag.io/rca"));
}

// ---- 5. A termination message at the kubelet's 4 KiB cap ----------------------------------------

// The kubelet keeps the last 4096 bytes of /dev/termination-log, so the message can start inside
// a UTF-8 sequence (the apiserver then serves U+FFFD: recording 24); logs are raw bytes and may
// hold anything. The RCA and every JSON body crashdiag writes stay valid UTF-8: the fake's JSON
// parser refuses anything else.
TEST(TerminationMessageCap, AMessageCutInsideAUtf8SequenceAndInvalidLogBytesStillPublish) {
  quiet_logs();
  Cluster c;
  const json real = json::parse(
      testing::read_file(testing::source_path("tests/data/k8s-real/24-get-pod-termination-message-cut-mid-utf8.json")));
  const std::string message = real["status"]["containerStatuses"][0]["state"]["terminated"]["message"];
  ASSERT_EQ(message.rfind("\xEF\xBF\xBD", 0), 0U) << "the kubelet's cut, as the apiserver serves it";
  ASSERT_EQ(message.size(), 4098U) << "4096 bytes, the stray first one served as U+FFFD (3 bytes)";
  c.server.apply_pod(failing_pod("shop", "cut", c.api_container(), nullptr, 2, 1, "Error", message));
  c.server.set_logs("shop", "cut", "api", true,
                    "INFO start \xE2\x82\n"  // a line cut inside the euro sign
                    "ERROR bad bytes \xFF\xFE\xC0\xAF in the config\n"
                    "Error: open /etc/app/\xFF\xFE"
                    "config.yaml: no such file or directory\n");
  metrics::Metrics m(category_ids(), "test");
  Running r(c, publishing_options(&m));
  ASSERT_TRUE(eventually([&] {
    auto rcas = c.server.list_objects(kRcas, "shop");
    return rcas.size() == 1 && rcas[0].contains("status") && rcas[0]["status"].contains("hypotheses");
  })) << m.serialize();
  const json rca = c.server.list_objects(kRcas, "shop")[0];
  EXPECT_TRUE(valid_utf8(rca.dump()));
  bool quoted = false;  // the log line with invalid bytes is quoted, as U+FFFD
  for (const auto& h : rca["status"]["hypotheses"]) {
    for (const auto& e : h["evidence"]) {
      const std::string excerpt = e.value("excerpt", "");
      EXPECT_TRUE(valid_utf8(excerpt));
      quoted = quoted || excerpt.find("bad bytes \xEF\xBF\xBD") != std::string::npos;
    }
  }
  EXPECT_TRUE(quoted) << rca["status"]["hypotheses"].dump();
  EXPECT_EQ(failures(m.serialize(), "400"), 0) << m.serialize();
}

}  // namespace
}  // namespace crashdiag::daemon
