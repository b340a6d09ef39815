// --alertmanager-url against a real Alertmanager: Debian's prometheus-alertmanager, started by the
// test on a loopback port with a temporary config and storage directory (clustering off). What is
// checked is what Alertmanager's own API then lists (GET /api/v2/alerts): the alert the daemon
// posts for an RCA with its labels and annotations, re-sent (endsAt moving forward), resolved when
// the RCA resolves, the inhibit rule docs/publishing.md ships muting a dependent's alert while its
// cause's fires, and an Alertmanager that is down holding up nothing and being caught up with.
//
// The binary is installed by scripts/install-deps.sh, so its absence fails these tests instead of
// skipping them. CRASHDIAG_ALERTMANAGER names another binary.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "alert_sink.hpp"
#include "alertmanager_client.hpp"
#include "crashdiag/classifiers/categories.hpp"
#include "daemon_harness.hpp"
#include "metrics.hpp"

extern char** environ;  // NOLINT(readability-identifier-naming): POSIX's name

namespace crashdiag::daemon {
namespace {

using namespace harness;  // NOLINT(google-build-using-namespace)
using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kRcas = "crashdiag.io/v1alpha1/rootcauseanalyses";

std::vector<std::string> category_ids() {
  std::vector<std::string> out;
  for (const auto& c : categories()) out.emplace_back(c.id);
  return out;
}

std::string alertmanager_binary() {
  if (const char* env = std::getenv("CRASHDIAG_ALERTMANAGER"); env != nullptr && *env != '\0') return env;
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    std::stringstream dirs(path);
    for (std::string dir; std::getline(dirs, dir, ':');) {
      const fs::path candidate = fs::path(dir) / "prometheus-alertmanager";
      if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
  }
  return ::access("/usr/bin/prometheus-alertmanager", X_OK) == 0 ? "/usr/bin/prometheus-alertmanager" : "";
}

// A loopback port nothing listens on right now.
std::uint16_t free_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

core::AlertmanagerUrl loopback(std::uint16_t port) {
  return *core::parse_alertmanager_url("http://127.0.0.1:" + std::to_string(port));
}

// One request with the product's client, on a private loop.
tl::expected<AlertmanagerReply, AlertmanagerError> sync_request(const core::AlertmanagerUrl& url,
                                                                const std::string& path, const std::string& post) {
  boost::asio::io_context ioc;
  AlertmanagerClientOptions o;
  o.connect_timeout = 2000ms;
  o.request_timeout = 5000ms;
  AlertmanagerClient client(ioc.get_executor(), url, nullptr, o);
  std::optional<tl::expected<AlertmanagerReply, AlertmanagerError>> out;
  auto done = [&](const std::exception_ptr& e, tl::expected<AlertmanagerReply, AlertmanagerError> r) {
    if (e) std::rethrow_exception(e);
    out = std::move(r);
  };
  if (post.empty()) {
    boost::asio::co_spawn(ioc, client.get(path), done);
  } else {
    boost::asio::co_spawn(ioc, client.post_alerts(post), done);
  }
  ioc.run();
  return *out;
}

// The inhibit rule as docs/publishing.md ships it: from its `inhibit_rules:` line to the end of
// that code block. The test runs the documented rule, so the two cannot drift apart.
std::string documented_inhibit_rules() {
  std::ifstream in(testing::source_path("docs/publishing.md"));
  std::string line;
  std::string out;
  bool inside = false;
  while (std::getline(in, line)) {
    if (!inside && line.rfind("inhibit_rules:", 0) == 0) inside = true;
    if (inside && line.rfind("```", 0) == 0) break;
    if (inside) out += line + "\n";
  }
  return out;
}

class RealAlertmanager {
 public:
  RealAlertmanager() : dir_(fs::temp_directory_path() / ("crashdiag-am-" + std::to_string(::getpid()))) {
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "data");
    // A receiver with no integrations: nothing leaves the machine. Long group waits: the test reads
    // the API, not notifications.
    std::ofstream(dir_ / "alertmanager.yml") << "route:\n"
                                                "  receiver: blackhole\n"
                                                "  group_wait: 1h\n"
                                                "receivers:\n"
                                                "  - name: blackhole\n"
                                             << documented_inhibit_rules();
  }
  ~RealAlertmanager() {
    stop();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  RealAlertmanager(const RealAlertmanager&) = delete;
  RealAlertmanager& operator=(const RealAlertmanager&) = delete;

  // Starts it on `port` (0: a port the kernel picks, read back from its "Listening on" log line)
  // and waits until its API answers. False (with log()) if it did not.
  bool start(std::uint16_t port = 0) {
    port_ = port;
    const std::string binary = alertmanager_binary();
    std::vector<std::string> args = {binary,
                                     "--config.file=" + (dir_ / "alertmanager.yml").string(),
                                     "--storage.path=" + (dir_ / "data").string(),
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port),
                                     "--cluster.listen-address=",  // no gossip port: a single instance
                                     "--log.level=info"};
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string log = (dir_ / "alertmanager.log").string();
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    const int rc = posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = -1;
      return false;
    }
    bool exited = false;
    const bool ready = eventually(
        [&] {
          int status = 0;
          if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            exited = true;  // a bad config, or the port was taken
            return true;
          }
          if (port_ == 0) port_ = listening_port();
          if (port_ == 0) return false;
          auto answer = sync_request(url(), "/-/ready", "");
          return answer && answer->status == 200;
        },
        20s);
    return ready && !exited;
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  [[nodiscard]] core::AlertmanagerUrl url() const { return loopback(port_); }
  // From `msg="Listening on" address=127.0.0.1:40363` (exporter-toolkit's log line), or 0.
  [[nodiscard]] std::uint16_t listening_port() const {
    const std::string text = log();
    const std::string marker = "msg=\"Listening on\" address=127.0.0.1:";
    const auto at = text.find(marker);
    if (at == std::string::npos) return 0;
    return static_cast<std::uint16_t>(std::strtoul(text.c_str() + at + marker.size(), nullptr, 10));
  }
  [[nodiscard]] std::string log() const { return testing::read_file((dir_ / "alertmanager.log").string()); }

  // GET /api/v2/alerts: the alerts Alertmanager holds and whose endsAt has not passed.
  [[nodiscard]] json alerts() const {
    auto res = sync_request(url(), "/api/v2/alerts", "");
    if (!res || res->status != 200) return json::array();
    json j = json::parse(res->body, nullptr, false);
    return j.is_array() ? j : json::array();
  }
  [[nodiscard]] std::optional<json> alert_of(const std::string& rca) const {
    for (const json& a : alerts()) {
      if (a["labels"].value("crashdiag_rca", "") == rca) return a;
    }
    return std::nullopt;
  }
  [[nodiscard]] std::string metrics() const {
    auto res = sync_request(url(), "/metrics", "");
    return res && res->status == 200 ? res->body : "";
  }

 private:
  fs::path dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

// The daemon against the fake API server, with --alertmanager-url's sink on the same loop (its
// timers must be, as in `crashdiag run`).
struct AlertingDaemon {
  AlertingDaemon(Cluster& c, DaemonOptions o, const core::AlertmanagerUrl& url, const core::AlertOptions& alerts,
                 metrics::Metrics* m) {
    client = testing::client_for(ioc, c.server);
    AlertmanagerClientOptions co;
    co.connect_timeout = 1000ms;
    co.request_timeout = 3000ms;
    am = std::make_unique<AlertmanagerClient>(ioc.get_executor(), url, nullptr, co);
    AlertSinkOptions so;
    so.alerts = alerts;
    sink = std::make_unique<AlertSink>(ioc, *am, so, m);
    o.publisher.alerts = sink.get();
    o.random = [] { return 0.0; };
    o.evidence_delay = 50ms;
    o.idle_timeout = 1500ms;
    o.watch.min_watch_timeout_seconds = 1;
    o.watch.backoff.initial = 50ms;
    o.watch.backoff.cap = 400ms;
    daemon = std::make_unique<Daemon>(ioc, *client, testing::shipped_classifier(), o);
    boost::asio::co_spawn(ioc, daemon->run(), [this](const std::exception_ptr&) { finished = true; });
    thread = std::thread([this] { ioc.run(); });
  }
  ~AlertingDaemon() {
    // stop(): run() finishes the writes in flight, then returns.
    boost::asio::post(ioc, [this] { daemon->stop(); });
    eventually([this] { return finished.load(); }, 5'000ms);
    ioc.stop();
    thread.join();
  }
  AlertingDaemon(const AlertingDaemon&) = delete;
  AlertingDaemon& operator=(const AlertingDaemon&) = delete;
  AlertSinkStats stats() {
    std::promise<AlertSinkStats> p;
    boost::asio::post(ioc, [&] { p.set_value(sink->stats()); });
    return p.get_future().get();
  }

  boost::asio::io_context ioc{1};
  std::unique_ptr<kube::KubeClient> client;
  std::unique_ptr<AlertmanagerClient> am;
  std::unique_ptr<AlertSink> sink;
  std::unique_ptr<Daemon> daemon;
  std::thread thread;
  std::atomic<bool> finished{false};  // run() returned
};

json running_pod(const json& failing) {
  json pod = failing;
  auto& st = pod["status"]["containerStatuses"][0];
  st["state"] = json{{"running", {{"startedAt", "2026-11-22T03:10:00Z"}}}};
  st["ready"] = true;
  pod["status"]["phase"] = "Running";
  return pod;
}

std::string only_rca(const Cluster& c) {
  auto rcas = c.server.list_objects(kRcas, "shop");
  return rcas.size() == 1 ? rcas[0]["metadata"].value("name", "") : "";
}

double sample(const std::string& exposition, const std::string& series) {
  std::stringstream in(exposition);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

class AlertmanagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    quiet_logs();
    ASSERT_FALSE(alertmanager_binary().empty())
        << "prometheus-alertmanager is not installed: scripts/install-deps.sh installs it (Debian package "
           "prometheus-alertmanager)";
    ASSERT_NE(documented_inhibit_rules().find("inhibit_rules:"), std::string::npos)
        << "docs/publishing.md lost its inhibit rule";
  }
  static void start(RealAlertmanager& am) {
    ASSERT_TRUE(am.start()) << "prometheus-alertmanager did not start:\n" << am.log();
  }
};

// A dependent's alert (caused_by naming the cause's RCA) is inhibited while the cause's alert
// fires, and active again once it resolves. The alerts are built by the product's builder and
// posted by its client, by hand, to show the rule alone; the daemon's own links are the next
// test's.
TEST_F(AlertmanagerTest, TheDocumentedInhibitRuleMutesADependentWhileItsCauseFires) {
  RealAlertmanager am;
  ASSERT_NO_FATAL_FAILURE(start(am));
  const core::WallTime now = core::system_now();
  auto rca = [&](const std::string& name, const std::string& workload, const std::string& category) {
    core::RcaState s;
    s.target =
        core::RcaTarget{"shop", core::WorkloadRef{"apps/v1", "Deployment", workload, ""}, "app", false, "Error:1"};
    s.name = name;
    s.first_seen = s.phase_since = now - 1min;
    s.history.push_back(core::HistoryEntry{now - 1min, "Identified", category, ""});
    Hypothesis h;
    h.category = category;
    h.summary = "summary of " + category;
    h.remediation = "fix " + category;
    s.diagnosis.hypotheses.push_back(h);
    return s;
  };
  const core::RcaState cause = rca("postgres-1a2b3", "postgres", "disk_full");
  core::RcaState dependent = rca("web-4c5d6", "web", "db_connection_refused");
  dependent.caused_by = cause.name;
  const auto lookup = [&](const std::string& n) -> const core::RcaState* { return n == cause.name ? &cause : nullptr; };
  const core::AlertOptions o;
  const core::Alert cause_alert = core::build_alert(cause, core::alert_incident(cause, lookup), o, now);
  const core::Alert dependent_alert = core::build_alert(dependent, core::alert_incident(dependent, lookup), o, now);
  ASSERT_EQ(dependent_alert.labels.at("caused_by"), cause.name);

  const std::string body = json::array({core::to_json(cause_alert), core::to_json(dependent_alert)}).dump();
  auto posted = sync_request(am.url(), "", body);
  ASSERT_TRUE(posted) << posted.error().detail;
  ASSERT_EQ(posted->status, 200) << posted->body;

  json dep;
  json src;
  ASSERT_TRUE(eventually(
      [&] {
        dep = am.alert_of(dependent.name).value_or(json{});
        src = am.alert_of(cause.name).value_or(json{});
        return !dep.empty() && !src.empty() && dep["status"].value("state", "") == "suppressed";
      },
      20'000ms))
      << "dependent: " << dep.dump() << "\ncause: " << src.dump();
  EXPECT_EQ(dep["status"]["inhibitedBy"], json::array({src["fingerprint"]}));
  EXPECT_EQ(src["status"]["state"], "active");
  EXPECT_EQ(src["status"]["inhibitedBy"], json::array());

  // The cause resolves: its alert leaves the list and the dependent pages on its own.
  core::Alert resolved = cause_alert;
  resolved.ends_at = now;
  posted = sync_request(am.url(), "", json::array({core::to_json(resolved)}).dump());
  ASSERT_TRUE(posted && posted->status == 200);
  EXPECT_TRUE(eventually(
      [&] {
        dep = am.alert_of(dependent.name).value_or(json{});
        return !am.alert_of(cause.name) && !dep.empty() && dep["status"].value("state", "") == "active";
      },
      20'000ms))
      << dep.dump();
}

// The daemon links an app that cannot reach its Postgres to Postgres's RCA (status.causedBy), and
// its alert then carries caused_by and the cause's crashdiag_incident: with the documented inhibit
// rule Alertmanager suppresses the app's alert behind Postgres's.
TEST_F(AlertmanagerTest, TheDaemonsCauseLinkMutesTheDependentsAlert) {
  RealAlertmanager am;
  ASSERT_NO_FATAL_FAILURE(start(am));
  Cluster c;
  c.server.add_object(endpoint_slice(false));
  postgres_oom(c);
  add_app(c);
  metrics::Metrics m(category_ids(), "test");
  core::AlertOptions ao;
  ao.resend_interval = 1s;
  AlertingDaemon d(c, publishing_options(&m), am.url(), ao, &m);
  std::string cause;
  std::string dependent;
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& r : c.server.list_objects(kRcas, "shop")) {
          if (!r.contains("status")) continue;
          if (r["status"].value("workload", "") == "StatefulSet/postgres") cause = r["metadata"]["name"];
          if (r["status"].contains("causedBy")) dependent = r["metadata"]["name"];
        }
        return !cause.empty() && !dependent.empty();
      },
      20'000ms));
  json dep;
  json src;
  ASSERT_TRUE(eventually(
      [&] {
        dep = am.alert_of(dependent).value_or(json{});
        src = am.alert_of(cause).value_or(json{});
        return !dep.empty() && !src.empty() && dep["labels"].contains("caused_by") &&
               dep["status"].value("state", "") == "suppressed";
      },
      20'000ms))
      << "dependent: " << dep.dump() << "\ncause: " << src.dump() << "\n"
      << am.log();
  EXPECT_EQ(dep["labels"]["caused_by"], cause);
  EXPECT_EQ(dep["labels"]["crashdiag_incident"], cause);
  EXPECT_EQ(src["labels"]["crashdiag_incident"], cause);
  EXPECT_FALSE(src["labels"].contains("caused_by"));
  EXPECT_EQ(dep["status"]["inhibitedBy"], json::array({src["fingerprint"]}));
  EXPECT_EQ(src["status"]["state"], "active");
}

// The daemon's whole path: a failure becomes an RCA and an alert with the RCA's labels and
// annotations; the alert is re-sent (endsAt moves on); the pod recovers, the RCA resolves and the
// alert is resolved explicitly, long before the endsAt it was last given.
TEST_F(AlertmanagerTest, TheDaemonPostsAnRcaReSendsItAndResolvesIt) {
  RealAlertmanager am;
  ASSERT_NO_FATAL_FAILURE(start(am));
  Cluster c;
  c.api_oom(2);
  metrics::Metrics m(category_ids(), "test");
  DaemonOptions o = publishing_options(&m);
  o.rca.resolve_after = 1500ms;
  core::AlertOptions ao;
  ao.resend_interval = 1s;
  ao.validity_intervals = 60;  // endsAt a minute ahead: only an explicit resolve ends it within the test
  AlertingDaemon d(c, o, am.url(), ao, &m);

  std::string name;
  ASSERT_TRUE(eventually([&] { return !(name = only_rca(c)).empty(); }, 20'000ms));
  json alert;
  ASSERT_TRUE(eventually(
      [&] {
        alert = am.alert_of(name).value_or(json{});
        return !alert.empty();
      },
      20'000ms))
      << "Alertmanager lists: " << am.alerts().dump() << "\n"
      << am.log();
  const json expected_labels = {{"alertname", "CrashdiagRootCause"},
                                {"namespace", "shop"},
                                {"workload", "Pod/api"},
                                {"container", "api"},
                                {"category", "oom_killed"},
                                {"severity", "critical"},
                                {"crashdiag_rca", name},
                                {"crashdiag_incident", name}};
  EXPECT_EQ(alert["labels"], expected_labels) << "no caused_by: an OOM kill depends on nothing";
  EXPECT_EQ(alert["annotations"]["rca"], name);
  EXPECT_EQ(alert["annotations"]["describe"], "kubectl describe rca -n shop " + name);
  EXPECT_EQ(alert["annotations"]["summary"].get<std::string>().rfind("oom_killed: ", 0), 0U)
      << alert["annotations"].dump();
  EXPECT_FALSE(alert["annotations"].value("fix", "").empty());
  EXPECT_EQ(alert["status"]["state"], "active");
  // The RCA object is created before its status subresource is written (two requests), and the
  // alert may be posted in between: wait for the status instead of reading a half-written RCA.
  json rca;
  ASSERT_TRUE(eventually(
      [&] {
        rca = c.server.get_object(kRcas, "shop", name).value_or(json{});
        return rca.contains("status") && !rca["status"].value("hypotheses", json::array()).empty();
      },
      20'000ms))
      << rca.dump();
  EXPECT_EQ(alert["annotations"]["fix"], rca["status"]["hypotheses"][0]["remediation"]);

  // Re-sent: a later GET shows a later endsAt for the same alert.
  const std::string first_ends = alert["endsAt"];
  ASSERT_TRUE(eventually(
      [&] {
        auto again = am.alert_of(name);
        return again && (*again)["endsAt"].get<std::string>() > first_ends &&
               (*again)["fingerprint"] == alert["fingerprint"];
      },
      20'000ms));

  c.server.apply_pod(running_pod(*c.server.get_object("pods", "shop", "api")));
  ASSERT_TRUE(
      eventually([&] { return (*c.server.get_object(kRcas, "shop", name))["status"].value("phase", "") == "Resolved"; },
                 20'000ms));
  EXPECT_TRUE(eventually([&] { return !am.alert_of(name); }, 20'000ms))
      << "still listed as active after the RCA resolved: " << am.alerts().dump();
  // Ended by a resolved alert (endsAt now), not by its endsAt passing (a minute away).
  EXPECT_TRUE(eventually([&] {
    return sample(am.metrics(), R"(alertmanager_alerts_received_total{status="resolved",version="v2"})") >= 1;
  })) << am.metrics();
  const AlertSinkStats stats = d.stats();
  EXPECT_GE(stats.posts, 3U) << "first post, at least one re-send, the resolution";
  EXPECT_EQ(stats.failed, 0U);
  EXPECT_GE(sample(m.serialize(), R"(crashdiag_alertmanager_posts_total{result="success"})"), 3);
}

// Alertmanager is down when the failure happens: the RCA is published regardless, the failed
// posts are counted and retried with back-off, and once Alertmanager is up the alert arrives.
TEST_F(AlertmanagerTest, AnAlertmanagerThatIsDownHoldsUpNothingAndIsCaughtUpWith) {
  const std::uint16_t port = free_port();
  Cluster c;
  c.api_oom(2);
  metrics::Metrics m(category_ids(), "test");
  DaemonOptions o = publishing_options(&m);
  core::AlertOptions ao;
  ao.retry_base = 200ms;
  ao.retry_cap = 500ms;
  AlertingDaemon d(c, o, loopback(port), ao, &m);

  std::string name;
  ASSERT_TRUE(eventually([&] { return !(name = only_rca(c)).empty(); }, 20'000ms))
      << "the RCA is written while Alertmanager is unreachable";
  ASSERT_TRUE(eventually([&] { return d.stats().failed >= 2; }, 20'000ms));
  EXPECT_GE(sample(m.serialize(), R"(crashdiag_alertmanager_posts_total{result="error"})"), 2);
  EXPECT_EQ(d.stats().posts, 0U);

  RealAlertmanager am;
  ASSERT_TRUE(am.start(port)) << "port " << port << ":\n" << am.log();
  EXPECT_TRUE(eventually([&] { return am.alert_of(name).has_value(); }, 20'000ms))
      << "Alertmanager lists: " << am.alerts().dump();
  EXPECT_GE(sample(m.serialize(), R"(crashdiag_alertmanager_posts_total{result="success"})"), 1);
}

}  // namespace
}  // namespace crashdiag::daemon
