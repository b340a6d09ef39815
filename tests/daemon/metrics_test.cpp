#include "metrics.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <unistd.h>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>
#include <nlohmann/json.hpp>

#include "client.hpp"
#include "crashdiag/classifiers/categories.hpp"
#include "fake_apiserver.hpp"
#include "fake_client.hpp"
#include "tls.hpp"

namespace crashdiag::metrics {
namespace {

std::vector<std::string> all_categories() {
  std::vector<std::string> out;
  for (const CategoryInfo& c : categories()) out.emplace_back(c.id);
  return out;
}

struct Exposition {
  std::map<std::string, std::string> types;  // family -> counter/gauge/histogram
  std::set<std::string> helped;              // families with a non-empty HELP
  std::map<std::string, double> samples;     // `name{labels}` exactly as serialized -> value
};

Exposition parse(const std::string& text) {
  Exposition e;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream f(line.substr(7));
      std::string name;
      std::string type;
      f >> name >> type;
      e.types[name] = type;
    } else if (line.rfind("# HELP ", 0) == 0) {
      const std::string rest = line.substr(7);
      const auto space = rest.find(' ');
      if (space != std::string::npos && space + 1 < rest.size()) e.helped.insert(rest.substr(0, space));
    } else if (!line.empty() && line[0] != '#') {
      const auto space = line.rfind(' ');
      e.samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
  }
  return e;
}

std::size_t series_of(const Exposition& e, const std::string& name) {
  std::size_t n = 0;
  for (const auto& [series, value] : e.samples) {
    if (series == name || series.rfind(name + "{", 0) == 0) ++n;
  }
  return n;
}

class MetricsTest : public ::testing::Test {
 protected:
  Metrics m{all_categories(), "1.2.3"};
};

struct FamilyCase {
  const char* family;
  const char* type;
  bool at_start;  // has series known in advance, so it is exposed before anything happened
};
// prometheus-cpp (like client_golang) exposes a family only once it has a series.
constexpr FamilyCase kFamilies[] = {
    {"crashdiag_active_rcas", "gauge", false},
    {"crashdiag_spec_findings", "gauge", false},
    {"crashdiag_diagnoses_total", "counter", true},
    {"crashdiag_crash_signals_total", "counter", true},
    {"crashdiag_classification_duration_seconds", "histogram", true},
    {"crashdiag_api_requests_total", "counter", false},
    {"crashdiag_api_request_duration_seconds", "histogram", false},
    {"crashdiag_watch_restarts_total", "counter", true},
    {"crashdiag_publish_failures_total", "counter", false},
    {"crashdiag_publish_writes_total", "counter", true},
    {"crashdiag_publish_skipped_total", "counter", true},
    {"crashdiag_leader", "gauge", true},
    {"crashdiag_build_info", "gauge", true},
    {"crashdiag_watched_pods", "gauge", true},
    {"crashdiag_watch_last_event_timestamp_seconds", "gauge", false},  // absent, not 1970, until an event
    {"crashdiag_rules_loaded", "gauge", true},
    {"crashdiag_rules_reloads_total", "counter", true},
    {"crashdiag_rules_last_reload_successful", "gauge", true},
    {"crashdiag_alertmanager_posts_total", "counter", true},
};

TEST_F(MetricsTest, FamiliesWithKnownSeriesAreExposedAtStart) {
  const Exposition e = parse(m.serialize());
  std::size_t at_start = 0;
  for (const FamilyCase& c : kFamilies) {
    SCOPED_TRACE(c.family);
    EXPECT_EQ(e.types.contains(c.family), c.at_start);
    if (!c.at_start) continue;
    ++at_start;
    EXPECT_EQ(e.types.at(c.family), c.type);
    EXPECT_TRUE(e.helped.contains(c.family));
  }
  EXPECT_EQ(e.types.size(), at_start) << "a family without a test case";
}

TEST_F(MetricsTest, EveryFamilyHasTypeAndHelpOnceUsed) {
  m.set_active_rcas("shop", "oom_killed", false, 1);
  m.set_spec_findings("shop", "data_not_persisted", 1);
  m.api_request("get", "pods", 200, 0.01);
  m.publish_failure("rca", 409);
  m.watch_event("pods", 1'795'341'600.5);
  const Exposition e = parse(m.serialize());
  for (const FamilyCase& c : kFamilies) {
    SCOPED_TRACE(c.family);
    ASSERT_TRUE(e.types.contains(c.family));
    EXPECT_EQ(e.types.at(c.family), c.type);
    EXPECT_TRUE(e.helped.contains(c.family));
  }
  EXPECT_EQ(e.types.size(), std::size(kFamilies)) << "a family without a test case";
}

TEST_F(MetricsTest, KnownSeriesStartAtZero) {
  const Exposition e = parse(m.serialize());
  const std::vector<std::string> cats = all_categories();
  // Series count per family at start: what is known in advance, nothing else.
  struct Case {
    std::string family;
    std::size_t series;
  };
  const std::vector<Case> cases = {
      {"crashdiag_active_rcas", 0},
      {"crashdiag_spec_findings", 0},
      {"crashdiag_diagnoses_total", cats.size()},
      {"crashdiag_crash_signals_total", known_crash_reasons().size() + 1},
      {"crashdiag_classification_duration_seconds_count", 1},
      {"crashdiag_api_requests_total", 0},
      {"crashdiag_api_request_duration_seconds_count", 0},
      {"crashdiag_watch_restarts_total", 2 * watch_restart_reasons().size()},
      {"crashdiag_publish_failures_total", 0},
      {"crashdiag_publish_writes_total", publish_objects().size()},
      {"crashdiag_publish_skipped_total", publish_objects().size()},
      {"crashdiag_leader", 1},
      {"crashdiag_build_info", 1},
      {"crashdiag_watched_pods", 1},
      {"crashdiag_watch_last_event_timestamp_seconds", 0},
      {"crashdiag_rules_loaded", 1},
      {"crashdiag_rules_reloads_total", 2},
      {"crashdiag_rules_last_reload_successful", 1},
      {"crashdiag_alertmanager_posts_total", alertmanager_post_results().size()},
  };
  for (const Case& c : cases) EXPECT_EQ(series_of(e, c.family), c.series) << c.family;
  for (const std::string& c : cats) EXPECT_EQ(e.samples.at("crashdiag_diagnoses_total{category=\"" + c + "\"}"), 0);
  for (std::string_view r : known_crash_reasons()) {
    EXPECT_EQ(e.samples.at("crashdiag_crash_signals_total{reason=\"" + std::string(r) + "\"}"), 0) << r;
  }
  EXPECT_EQ(e.samples.at("crashdiag_crash_signals_total{reason=\"other\"}"), 0);
  for (const char* resource : {"pods", "events"}) {
    for (std::string_view r : watch_restart_reasons()) {
      EXPECT_EQ(e.samples.at("crashdiag_watch_restarts_total{reason=\"" + std::string(r) + "\",resource=\"" + resource +
                             "\"}"),
                0);
    }
  }
  for (const char* object : {"rca", "rca_status", "annotation", "event"}) {
    EXPECT_EQ(e.samples.at(std::string("crashdiag_publish_writes_total{object=\"") + object + "\"}"), 0);
    EXPECT_EQ(e.samples.at(std::string("crashdiag_publish_skipped_total{object=\"") + object + "\"}"), 0);
  }
  EXPECT_EQ(e.samples.at("crashdiag_leader"), 0);
  EXPECT_EQ(e.samples.at("crashdiag_watched_pods"), 0);
  EXPECT_EQ(e.samples.at("crashdiag_build_info{version=\"1.2.3\"}"), 1);
  EXPECT_EQ(e.samples.at("crashdiag_classification_duration_seconds_count"), 0);
  EXPECT_EQ(e.samples.at("crashdiag_rules_reloads_total{result=\"success\"}"), 0);
  EXPECT_EQ(e.samples.at("crashdiag_rules_reloads_total{result=\"failure\"}"), 0);
  EXPECT_EQ(e.samples.at("crashdiag_rules_last_reload_successful"), 1) << "no reload needed is not a failure";
  for (std::string_view r : alertmanager_post_results()) {
    EXPECT_EQ(e.samples.at("crashdiag_alertmanager_posts_total{result=\"" + std::string(r) + "\"}"), 0) << r;
  }
}

// Alertmanager posts by result; a result outside the closed set cannot mint a series.
TEST_F(MetricsTest, AlertmanagerPostsAreCountedByResult) {
  m.alertmanager_post("success");
  m.alertmanager_post("success");
  m.alertmanager_post("rejected");
  m.alertmanager_post("error");
  m.alertmanager_post("something-else");
  const Exposition e = parse(m.serialize());
  EXPECT_EQ(e.samples.at("crashdiag_alertmanager_posts_total{result=\"success\"}"), 2);
  EXPECT_EQ(e.samples.at("crashdiag_alertmanager_posts_total{result=\"rejected\"}"), 1);
  EXPECT_EQ(e.samples.at("crashdiag_alertmanager_posts_total{result=\"error\"}"), 2);
  EXPECT_EQ(series_of(e, "crashdiag_alertmanager_posts_total"), alertmanager_post_results().size());
}

// Like prometheus_config_last_reload_successful: a failure sets 0 until the next success.
TEST_F(MetricsTest, RuleReloadsAreCountedAndTheLastOneDecides) {
  struct Step {
    bool success;
    double failures, successes, last;
  };
  const Step steps[] = {{false, 1, 0, 0}, {false, 2, 0, 0}, {true, 2, 1, 1}};
  for (const Step& s : steps) {
    m.rules_reload(s.success);
    const Exposition e = parse(m.serialize());
    EXPECT_EQ(e.samples.at("crashdiag_rules_reloads_total{result=\"failure\"}"), s.failures);
    EXPECT_EQ(e.samples.at("crashdiag_rules_reloads_total{result=\"success\"}"), s.successes);
    EXPECT_EQ(e.samples.at("crashdiag_rules_last_reload_successful"), s.last);
  }
  m.set_rules_loaded(52);
  m.watch_event("events", 1'795'341'600);
  const Exposition e = parse(m.serialize());
  EXPECT_EQ(e.samples.at("crashdiag_rules_loaded"), 52);
  EXPECT_EQ(e.samples.at("crashdiag_watch_last_event_timestamp_seconds{resource=\"events\"}"), 1'795'341'600);
}

TEST_F(MetricsTest, ValuesAfterCalls) {
  m.set_active_rcas("shop", "oom_killed", false, 3);
  m.set_active_rcas("shop", "oom_killed", false, 2);  // a gauge: the caller's count, not a sum
  m.set_spec_findings("shop", "data_not_persisted", 2);
  m.set_spec_findings("shop", "data_not_persisted", 1);
  m.diagnosis("oom_killed");
  m.diagnosis("oom_killed");
  m.crash_signal("OOMKilled");
  m.crash_signal("SomethingNew");  // a runtime's own reason
  m.crash_signal("AlsoNew");
  m.classification_duration(0.00002);
  m.classification_duration(0.003);
  m.api_request("get", "pods", 200, 0.01);
  m.api_request("LIST", "pods", 200, 0.2);
  m.api_request("watch", "events", 0, 1.5);
  m.watch_restart("pods", "expired");
  m.watch_restart("events", "bogus");
  m.publish_write("rca");
  m.publish_skipped("annotation");
  m.publish_failure("rca_status", 409);
  m.publish_failure("event", 0);
  m.set_leader(true);
  m.set_watched_pods(42);
  const Exposition e = parse(m.serialize());

  const std::map<std::string, double> expected = {
      {"crashdiag_active_rcas{category=\"oom_killed\",consequence=\"false\",namespace=\"shop\"}", 2},
      {"crashdiag_spec_findings{finding=\"data_not_persisted\",namespace=\"shop\"}", 1},
      {"crashdiag_diagnoses_total{category=\"oom_killed\"}", 2},
      {"crashdiag_crash_signals_total{reason=\"OOMKilled\"}", 1},
      {"crashdiag_crash_signals_total{reason=\"other\"}", 2},
      {"crashdiag_classification_duration_seconds_count", 2},
      {"crashdiag_classification_duration_seconds_bucket{le=\"1e-05\"}", 0},
      {"crashdiag_classification_duration_seconds_bucket{le=\"2.5e-05\"}", 1},
      {"crashdiag_classification_duration_seconds_bucket{le=\"0.005\"}", 2},
      {"crashdiag_api_requests_total{code=\"200\",resource=\"pods\",verb=\"get\"}", 1},
      {"crashdiag_api_requests_total{code=\"200\",resource=\"pods\",verb=\"list\"}", 1},
      {"crashdiag_api_requests_total{code=\"error\",resource=\"events\",verb=\"watch\"}", 1},
      {"crashdiag_api_request_duration_seconds_count{resource=\"pods\",verb=\"list\"}", 1},
      {"crashdiag_api_request_duration_seconds_bucket{resource=\"pods\",verb=\"list\",le=\"0.25\"}", 1},
      {"crashdiag_api_request_duration_seconds_bucket{resource=\"pods\",verb=\"list\",le=\"0.1\"}", 0},
      {"crashdiag_watch_restarts_total{reason=\"expired\",resource=\"pods\"}", 1},
      {"crashdiag_watch_restarts_total{reason=\"error\",resource=\"events\"}", 1},
      {"crashdiag_publish_writes_total{object=\"rca\"}", 1},
      {"crashdiag_publish_skipped_total{object=\"annotation\"}", 1},
      {"crashdiag_publish_failures_total{code=\"409\",object=\"rca_status\"}", 1},
      {"crashdiag_publish_failures_total{code=\"error\",object=\"event\"}", 1},
      {"crashdiag_leader", 1},
      {"crashdiag_watched_pods", 42},
  };
  for (const auto& [series, value] : expected) {
    ASSERT_TRUE(e.samples.contains(series)) << series;
    EXPECT_DOUBLE_EQ(e.samples.at(series), value) << series;
  }
  EXPECT_EQ(series_of(e, "crashdiag_crash_signals_total"), known_crash_reasons().size() + 1) << "bounded";
  EXPECT_EQ(series_of(e, "crashdiag_watch_restarts_total"), 2 * watch_restart_reasons().size()) << "bounded";
}

TEST_F(MetricsTest, UnknownCategoryIsOther) {
  m.diagnosis("no_such_category");
  m.set_active_rcas("ns", "no_such_category", false, 1);
  const Exposition e = parse(m.serialize());
  EXPECT_EQ(e.samples.at("crashdiag_diagnoses_total{category=\"other\"}"), 1);
  EXPECT_EQ(e.samples.at("crashdiag_active_rcas{category=\"other\",consequence=\"false\",namespace=\"ns\"}"), 1);
  EXPECT_FALSE(e.samples.contains("crashdiag_diagnoses_total{category=\"no_such_category\"}"));
}

TEST_F(MetricsTest, CodeLabels) {
  struct Case {
    int code;
    const char* label;
  };
  for (const Case c : {Case{0, "error"}, Case{-1, "error"}, Case{1000, "error"}, Case{404, "404"}, Case{503, "503"}}) {
    m.api_request("post", "events", c.code, 0.1);
    const Exposition e = parse(m.serialize());
    EXPECT_TRUE(e.samples.contains(std::string("crashdiag_api_requests_total{code=\"") + c.label +
                                   "\",resource=\"events\",verb=\"post\"}"))
        << c.code;
  }
}

TEST_F(MetricsTest, ConcurrentUpdatesAreCounted) {
  constexpr int kThreads = 4;
  constexpr int kEach = 1000;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this] {
      for (int i = 0; i < kEach; ++i) {
        m.crash_signal("Error");
        m.api_request("get", "pods", 200, 0.001);
      }
    });
  }
  for (std::string out; out.empty();) out = m.serialize();  // scrapes race the writers
  for (auto& t : threads) t.join();
  const Exposition e = parse(m.serialize());
  EXPECT_EQ(e.samples.at("crashdiag_crash_signals_total{reason=\"Error\"}"), kThreads * kEach);
  EXPECT_EQ(e.samples.at("crashdiag_api_requests_total{code=\"200\",resource=\"pods\",verb=\"get\"}"),
            kThreads * kEach);
}

// `promtool check metrics` (its parser and its naming linter) on an exposition: exit 0 and no
// complaint.
void expect_promtool_clean(const char* promtool, const std::string& exposition) {
  const std::filesystem::path input =
      std::filesystem::temp_directory_path() / ("crashdiag_metrics_" + std::to_string(getpid()) + ".prom");
  {
    std::ofstream out(input);
    out << exposition;
  }
  const std::string command = std::string(promtool) + " check metrics < " + input.string() + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[4096];
  for (std::size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) output.append(buf, n);
  const int status = pclose(pipe);
  std::filesystem::remove(input);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << output;
  EXPECT_EQ(output, "") << "promtool lint complaints";
}

// promtool's own parser and linter (the metric and label naming conventions) on a populated registry.
TEST_F(MetricsTest, PromtoolCheckMetricsIsClean) {
  const char* promtool = "/usr/bin/promtool";
  // scripts/install-deps.sh installs promtool (Debian package prometheus), so a machine without it
  // is a broken set-up: fail, never skip (issue 13 item 7).
  ASSERT_EQ(access(promtool, X_OK), 0) << promtool
                                       << " not installed: run scripts/install-deps.sh (Debian package prometheus)";
  m.set_active_rcas("shop", "oom_killed", false, 1);
  m.diagnosis("oom_killed");
  m.crash_signal("Weird");
  m.classification_duration(0.001);
  m.api_request("list", "pods", 200, 0.3);
  m.api_request("watch", "pods", 0, 0.3);
  m.publish_failure("rca", 422);
  m.set_leader(true);

  expect_promtool_clean(promtool, m.serialize());
}

// client-go's workqueue_* families (k8s.io/component-base/metrics/prometheus/workqueue), labelled
// by the queue's name, fed by a core::WorkQueue through the sink. The unfinished-work gauges are
// computed at the scrape with the sink's clock.
TEST_F(MetricsTest, WorkQueueFamiliesAreClientGos) {
  EXPECT_FALSE(parse(m.serialize()).types.contains("workqueue_depth")) << "no series before a queue is named";
  core::TimePoint now{0};
  core::WorkQueueMetrics* sink = m.work_queue("diagnoses", [&now] { return now; });
  ASSERT_NE(sink, nullptr);
  EXPECT_EQ(m.work_queue("diagnoses"), sink) << "one set of series per name";
  core::WorkQueue q(core::ItemExponentialFailureRateLimiter(), sink);
  q.add("a", core::TimePoint{0});
  q.add("a", core::TimePoint{0});  // a duplicate: not an add
  q.add_after("b", core::Duration{2'000}, core::TimePoint{0});
  ASSERT_EQ(q.get(core::TimePoint{500}), "a");
  now = core::TimePoint{3'500};
  Exposition e = parse(m.serialize());
  const std::map<std::string, std::string> types = {
      {"workqueue_depth", "gauge"},
      {"workqueue_adds_total", "counter"},
      {"workqueue_queue_duration_seconds", "histogram"},
      {"workqueue_work_duration_seconds", "histogram"},
      {"workqueue_retries_total", "counter"},
      {"workqueue_unfinished_work_seconds", "gauge"},
      {"workqueue_longest_running_processor_seconds", "gauge"},
  };
  for (const auto& [family, type] : types) {
    SCOPED_TRACE(family);
    ASSERT_TRUE(e.types.contains(family));
    EXPECT_EQ(e.types.at(family), type);
    EXPECT_TRUE(e.helped.contains(family));
  }
  EXPECT_EQ(e.samples.at("workqueue_adds_total{name=\"diagnoses\"}"), 1);
  EXPECT_EQ(e.samples.at("workqueue_depth{name=\"diagnoses\"}"), 0) << "b is waiting, not queued";
  EXPECT_EQ(e.samples.at("workqueue_retries_total{name=\"diagnoses\"}"), 1) << "AddAfter counts a retry";
  EXPECT_EQ(e.samples.at("workqueue_queue_duration_seconds_count{name=\"diagnoses\"}"), 1);
  EXPECT_DOUBLE_EQ(e.samples.at("workqueue_queue_duration_seconds_sum{name=\"diagnoses\"}"), 0.5);
  EXPECT_EQ(e.samples.at("workqueue_queue_duration_seconds_bucket{name=\"diagnoses\",le=\"1\"}"), 1);
  EXPECT_EQ(e.samples.at("workqueue_queue_duration_seconds_bucket{name=\"diagnoses\",le=\"0.1\"}"), 0);
  EXPECT_DOUBLE_EQ(e.samples.at("workqueue_unfinished_work_seconds{name=\"diagnoses\"}"), 3.0);
  EXPECT_DOUBLE_EQ(e.samples.at("workqueue_longest_running_processor_seconds{name=\"diagnoses\"}"), 3.0);

  ASSERT_EQ(q.get(core::TimePoint{3'500}), "b");  // due at 2 s: queued 1.5 s
  now = core::TimePoint{4'500};
  e = parse(m.serialize());
  EXPECT_DOUBLE_EQ(e.samples.at("workqueue_unfinished_work_seconds{name=\"diagnoses\"}"), 4.0 + 1.0);
  EXPECT_DOUBLE_EQ(e.samples.at("workqueue_longest_running_processor_seconds{name=\"diagnoses\"}"), 4.0);
  q.done("a", core::TimePoint{4'500});
  q.done("b", core::TimePoint{4'500});
  e = parse(m.serialize());
  EXPECT_EQ(e.samples.at("workqueue_work_duration_seconds_count{name=\"diagnoses\"}"), 2);
  EXPECT_DOUBLE_EQ(e.samples.at("workqueue_work_duration_seconds_sum{name=\"diagnoses\"}"), 4.0 + 1.0);
  EXPECT_EQ(e.samples.at("workqueue_unfinished_work_seconds{name=\"diagnoses\"}"), 0);
  EXPECT_EQ(e.samples.at("workqueue_longest_running_processor_seconds{name=\"diagnoses\"}"), 0);
  EXPECT_EQ(e.samples.at("workqueue_adds_total{name=\"diagnoses\"}"), 2);
}

TEST_F(MetricsTest, PromtoolCheckMetricsIsCleanWithAWorkQueue) {
  const char* promtool = "/usr/bin/promtool";
  // scripts/install-deps.sh installs promtool (Debian package prometheus), so a machine without it
  // is a broken set-up: fail, never skip (issue 13 item 7).
  ASSERT_EQ(access(promtool, X_OK), 0) << promtool
                                       << " not installed: run scripts/install-deps.sh (Debian package prometheus)";
  core::WorkQueue q(core::ItemExponentialFailureRateLimiter(), m.work_queue("diagnoses"));
  q.add("a", core::steady_now());
  ASSERT_TRUE(q.get(core::steady_now()));
  expect_promtool_clean(promtool, m.serialize());
}

// The wiring the daemon uses: KubeClient's request observer feeding Metrics::api_request, against
// the fake API server over real TLS. Checks the observer's verb classification (list vs get,
// watch) and that a transport failure is reported once with code 0.
struct Observed {
  std::string verb;
  std::string resource;
  int code;
};

using testing::run;

std::unique_ptr<kube::KubeClient> client_for(boost::asio::io_context& ioc, const fake::FakeApiServer& server,
                                             std::uint16_t port, std::vector<Observed>& seen, Metrics& metrics) {
  kube::ClientOptions options;
  options.on_request = [&seen, &metrics](std::string_view verb, std::string_view resource, int code, double seconds) {
    seen.push_back(Observed{std::string(verb), std::string(resource), code});
    EXPECT_GE(seconds, 0);
    metrics.api_request(verb, resource, code, seconds);
  };
  return testing::client_for(ioc, server, options, port);
}

TEST(KubeClientObserver, FeedsApiRequestMetrics) {
  using boost::beast::http::verb;
  fake::FakeApiServer server;
  server.apply_pod(fake::make_pod("shop", "web-0", {{"name", "app"}, {"image", "busybox:1.36"}}));
  Metrics m(all_categories(), "test");
  std::vector<Observed> seen;
  boost::asio::io_context ioc;
  auto client = client_for(ioc, server, server.port(), seen, m);

  struct Case {
    verb method;
    std::string target;
    std::string resource;
    Observed want;
  };
  const std::vector<Case> cases = {
      {verb::get, "/api/v1/pods?limit=500", "pods", {"list", "pods", 200}},
      {verb::get, "/api/v1/namespaces/shop/pods", "pods", {"list", "pods", 200}},
      {verb::get, "/api/v1/namespaces/shop/pods/web-0", "pods", {"get", "pods", 200}},
      {verb::get, "/api/v1/namespaces/shop/pods/missing", "pods", {"get", "pods", 404}},
      {verb::get, "/api/v1/namespaces/shop/pods/web-0/log?container=app", "pods/log", {"get", "pods/log", 200}},
      {verb::get, "/api/v1/namespaces/shop/events", "events", {"list", "events", 200}},
      {verb::get, "/apis/apps/v1/namespaces/shop/replicasets/nope", "replicasets", {"get", "replicasets", 404}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.target);
    seen.clear();
    auto res = run(ioc, client->request(kube::Request{c.method, c.target, c.resource, "", ""}));
    ASSERT_TRUE(res) << res.error().what;
    ASSERT_EQ(seen.size(), 1U);
    EXPECT_EQ(seen[0].verb, c.want.verb);
    EXPECT_EQ(seen[0].resource, c.want.resource);
    EXPECT_EQ(seen[0].code, c.want.code);
  }

  // A watch is reported when its response header arrives, not when the stream ends.
  seen.clear();
  auto watched = run(ioc, client->watch(
                              kube::Request{verb::get, "/api/v1/pods?watch=1&resourceVersion=0", "pods", "", ""},
                              [](std::string_view) { return false; }, core::Duration(2'000)));
  EXPECT_TRUE(watched || watched.error().what == "idle");
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0].verb, "watch");
  EXPECT_EQ(seen[0].code, 200);

  const std::string text = m.serialize();
  EXPECT_NE(text.find("crashdiag_api_requests_total{code=\"200\",resource=\"pods\",verb=\"list\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("crashdiag_api_requests_total{code=\"404\",resource=\"pods\",verb=\"get\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("crashdiag_api_requests_total{code=\"200\",resource=\"pods\",verb=\"watch\"} 1"),
            std::string::npos);
}

TEST(KubeClientObserver, TransportFailureIsReportedOnceWithCodeZero) {
  fake::FakeApiServer server;
  // A port nothing listens on: bind one, note it, close it.
  boost::asio::io_context probe;
  boost::asio::ip::tcp::acceptor acceptor(probe, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const std::uint16_t closed_port = acceptor.local_endpoint().port();
  acceptor.close();
  Metrics m(all_categories(), "test");
  std::vector<Observed> seen;
  boost::asio::io_context ioc;
  auto client = client_for(ioc, server, closed_port, seen, m);
  auto res = run(ioc, client->request(kube::Request{boost::beast::http::verb::post, "/api/v1/namespaces/shop/events",
                                                    "events", "{}", ""}));
  ASSERT_FALSE(res);
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0].verb, "post");
  EXPECT_EQ(seen[0].code, 0);
  EXPECT_NE(m.serialize().find("crashdiag_api_requests_total{code=\"error\",resource=\"events\",verb=\"post\"} 1"),
            std::string::npos);
}

}  // namespace
}  // namespace crashdiag::metrics
