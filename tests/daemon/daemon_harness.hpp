// The daemon running on its own thread against the fake API server, and the scripted cluster the
// daemon tests share: a Deployment "web" (ReplicaSet web-7d9f) whose pods fail to start, and a
// bare pod "api" that is OOM-killed.
#pragma once

#include <gtest/gtest.h>

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <charconv>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "daemon.hpp"
#include "eventually.hpp"
#include "fake_apiserver.hpp"
#include "fake_client.hpp"
#include "leader_elector.hpp"
#include "log.hpp"
#include "test_support.hpp"
#include "tls.hpp"

namespace crashdiag::daemon::harness {

using nlohmann::json;
using namespace std::chrono_literals;

inline json owner(const std::string& kind, const std::string& name) {
  return json{{"apiVersion", kind == "ReplicaSet" ? "apps/v1" : "batch/v1"},
              {"kind", kind},
              {"name", name},
              {"uid", "uid-" + name},
              {"controller", true}};
}

// A pod whose container failed `restarts` times with the given last termination.
inline json failing_pod(const std::string& ns, const std::string& name, const json& container, const json& own,
                        int restarts, int exit_code, const std::string& reason, const std::string& message = "") {
  json pod = fake::make_pod(ns, name, container, own);
  json term = {{"exitCode", exit_code},
               {"reason", reason},
               {"startedAt", "2026-11-22T03:00:00Z"},
               {"finishedAt", "2026-11-22T03:00:" + std::to_string(10 + restarts) + "Z"}};
  if (!message.empty()) term["message"] = message;
  pod["status"]["containerStatuses"] =
      json::array({{{"name", container["name"]},
                    {"ready", false},
                    {"restartCount", restarts},
                    {"image", container["image"]},
                    {"state", {{"waiting", {{"reason", "CrashLoopBackOff"}, {"message", "back-off 40s"}}}}},
                    {"lastState", {{"terminated", term}}}}});
  return pod;
}

inline const char* kStartError =
    "failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: "
    "unable to start "
    "container process: exec: \"server\": executable file not found in $PATH: unknown";

struct Cluster {
  explicit Cluster(fake::FakeOptions options = {}) : server(std::move(options)) {
    server.put_object("/apis/apps/v1", "replicasets",
                      json{{"kind", "ReplicaSet"},
                           {"apiVersion", "apps/v1"},
                           {"metadata",
                            {{"name", "web-7d9f"},
                             {"namespace", "shop"},
                             {"uid", "uid-web-7d9f"},
                             {"ownerReferences", json::array({{{"apiVersion", "apps/v1"},
                                                               {"kind", "Deployment"},
                                                               {"name", "web"},
                                                               {"uid", "uid-web"},
                                                               {"controller", true}}})}}}});
  }
  json web_container() const {
    return {{"name", "server"}, {"image", "ghcr.io/goauthentik/server:2024.2.1"}, {"command", json::array({"server"})}};
  }
  json api_container() const {
    return {{"name", "api"}, {"image", "eclipse-temurin:21"}, {"resources", {{"limits", {{"memory", "512Mi"}}}}}};
  }
  void web_replicas(int restarts) {
    for (int i = 0; i < 3; ++i) {
      server.apply_pod(failing_pod("shop", "web-7d9f-" + std::to_string(i), web_container(),
                                   owner("ReplicaSet", "web-7d9f"), restarts, 128, "StartError", kStartError));
    }
  }
  void api_oom(int restarts) {
    server.apply_pod(failing_pod("shop", "api", api_container(), nullptr, restarts, 137, "OOMKilled"));
    server.set_logs("shop", "api", "api", true, "INFO starting\nINFO loading cache\n");
  }
  fake::FakeApiServer server;
};

// The dependency scenario (issue 15 item 2): a Deployment "shop" whose app cannot connect to the
// Service "postgres", whose StatefulSet's pod is OOM-killed (or starting, or healthy).
inline json controller(const std::string& kind, const std::string& name) {
  return {{"apiVersion", "apps/v1"}, {"kind", kind}, {"name", name}, {"uid", "uid-" + name}, {"controller", true}};
}

inline json postgres_container() {
  return {{"name", "postgres"}, {"image", "postgres:16"}, {"resources", {{"limits", {{"memory", "256Mi"}}}}}};
}

inline json app_container() {
  return {{"name", "app"}, {"image", "ghcr.io/example/shop:1.4"}};
}

// The Service "postgres"'s slice, as the EndpointSlice controller writes it: every pod its
// selector matches, with conditions.ready.
inline json endpoint_slice(bool ready) {
  return {
      {"kind", "EndpointSlice"},
      {"apiVersion", "discovery.k8s.io/v1"},
      {"metadata",
       {{"name", "postgres-8x2kq"}, {"namespace", "shop"}, {"labels", {{"kubernetes.io/service-name", "postgres"}}}}},
      {"addressType", "IPv4"},
      {"endpoints", json::array({{{"addresses", json::array({"10.244.0.17"})},
                                  {"conditions", {{"ready", ready}}},
                                  {"targetRef", {{"kind", "Pod"}, {"namespace", "shop"}, {"name", "postgres-0"}}}}})},
      {"ports", json::array({{{"name", "pg"}, {"port", 5432}, {"protocol", "TCP"}}})}};
}

inline void add_app(Cluster& c) {
  c.server.put_object("/apis/apps/v1", "replicasets",
                      json{{"kind", "ReplicaSet"},
                           {"apiVersion", "apps/v1"},
                           {"metadata",
                            {{"name", "shop-5c8d7"},
                             {"namespace", "shop"},
                             {"uid", "uid-shop-5c8d7"},
                             {"ownerReferences", json::array({controller("Deployment", "shop")})}}}});
  c.server.apply_pod(
      failing_pod("shop", "shop-5c8d7-x2k9p", app_container(), controller("ReplicaSet", "shop-5c8d7"), 4, 1, "Error"));
  c.server.set_logs("shop", "shop-5c8d7-x2k9p", "app", true,
                    "INFO starting shop 1.4\n"
                    "psycopg2.OperationalError: connection to server at \"postgres\" (10.96.12.7), port 5432 failed: "
                    "Connection refused\n"
                    "\tIs the server running on that host and accepting TCP/IP connections?\n");
}

inline void postgres_oom(Cluster& c) {
  c.server.apply_pod(failing_pod("shop", "postgres-0", postgres_container(), controller("StatefulSet", "postgres"), 3,
                                 137, "OOMKilled"));
  c.server.set_logs("shop", "postgres-0", "postgres", true, "LOG:  database system is ready to accept connections\n");
}

using testing::eventually;

// Reads daemon state on its loop's thread (the daemon is single-threaded by design).
template <typename F>
auto on_loop(boost::asio::io_context& ioc, F read) {
  std::promise<decltype(read())> p;
  boost::asio::post(ioc, [&] { p.set_value(read()); });
  return p.get_future().get();
}

// The barrier a test needs before asserting that nothing more arrives, instead of sleeping for
// "long enough": the daemon has seen every change the fake held when it was called (each watch
// is sent a bookmark at the current resourceVersion, as the watch cache sends them, and every
// watch whose first list is in must reach it) and has nothing left to do for them
// (Daemon::quiet: nothing queued, delayed, diagnosed or unwritten). The fake's resourceVersions
// are integers; a real server's are opaque, which is why this lives in the tests.
inline bool settle(fake::FakeApiServer& server, boost::asio::io_context& ioc, Daemon& daemon,
                   std::chrono::milliseconds timeout = 10'000ms) {
  const std::uint64_t target = server.resource_version();
  auto caught_up = [&] {
    const std::vector<std::string> versions = daemon.watch_versions();
    if (versions.empty()) return false;
    for (const std::string& v : versions) {
      std::uint64_t n = 0;
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc{} || end != v.data() + v.size() || n < target) return false;
    }
    return daemon.quiet();
  };
  return eventually(
      [&] {
        server.send_bookmarks();  // again each time: a watch opened since may not have had one
        return on_loop(ioc, caught_up);
      },
      timeout);
}

// Publishing with short intervals and retries, so that tests see writes within milliseconds.
inline DaemonOptions publishing_options(metrics::Metrics* m) {
  DaemonOptions o;
  o.metrics = m;
  o.instance = "crashdiag-test-0";
  o.publisher.status_interval = 200ms;
  o.publisher.event_interval = 200ms;
  o.publisher.retry_base = 50ms;
  o.publisher.retry_cap = 200ms;
  o.resolve_check_interval = 100ms;
  return o;
}

struct Running {
  Running(Cluster& c, DaemonOptions options) : cluster(c) {
    client = testing::client_for(ioc, c.server);
    options.on_diagnosis = [this](const DiagnosisRecord& r) {
      std::lock_guard lock(mu);
      records.push_back(r);
    };
    options.random = [] { return 0.0; };
    // Short unless the test chose its own (the default is production's 2 s).
    if (options.evidence_delay == DaemonOptions{}.evidence_delay) options.evidence_delay = 50ms;
    // Repeats are written within production's 10 s / 60 s; settle() waits for what is due, so a
    // test that did not choose the intervals gets publishing_options()'s short ones.
    const PublisherOptions production;
    const PublisherOptions quick = publishing_options(nullptr).publisher;
    auto shorten = [](core::Duration& d, core::Duration prod, core::Duration q) {
      if (d == prod) d = q;
    };
    shorten(options.publisher.status_interval, production.status_interval, quick.status_interval);
    shorten(options.publisher.event_interval, production.event_interval, quick.event_interval);
    shorten(options.publisher.retry_base, production.retry_base, quick.retry_base);
    shorten(options.publisher.retry_cap, production.retry_cap, quick.retry_cap);
    // Short watches and a short idle deadline unless the test chose its own (production's 90 s
    // and 300 s).
    if (options.idle_timeout == DaemonOptions{}.idle_timeout) options.idle_timeout = 1500ms;
    if (options.watch.min_watch_timeout_seconds == core::WatchMachineConfig{}.min_watch_timeout_seconds) {
      options.watch.min_watch_timeout_seconds = 1;
    }
    options.watch.backoff.initial = 50ms;
    options.watch.backoff.cap = 400ms;
    daemon = std::make_unique<Daemon>(ioc, *client, testing::shipped_classifier(), options);
    boost::asio::co_spawn(ioc, daemon->run(), [this](const std::exception_ptr&) { finished = true; });
    thread = std::thread([this] { ioc.run(); });
  }
  ~Running() {
    // stop(): run() finishes the writes in flight, then returns.
    boost::asio::post(ioc, [this] { daemon->stop(); });
    eventually([this] { return finished.load(); }, 5'000ms);
    ioc.stop();
    thread.join();
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout = 8000ms) {
    return eventually(
        [&] {
          std::lock_guard lock(mu);
          return records.size() >= n;
        },
        timeout);
  }
  std::vector<DiagnosisRecord> snapshot() {
    std::lock_guard lock(mu);
    return records;
  }
  template <typename F>
  auto on_loop(F read) {
    return harness::on_loop(ioc, read);
  }
  // See settle() above.
  bool settle(std::chrono::milliseconds timeout = 10'000ms) {
    return harness::settle(cluster.server, ioc, *daemon, timeout);
  }
  bool synced() {
    return on_loop([this] { return daemon->synced(); });
  }
  Cluster& cluster;
  boost::asio::io_context ioc{1};
  std::unique_ptr<kube::KubeClient> client;
  std::unique_ptr<Daemon> daemon;
  std::thread thread;
  std::mutex mu;
  std::vector<DiagnosisRecord> records;
  std::atomic<bool> finished{false};  // run() returned
};

// A replica of `crashdiag run --leader-elect`: its own loop, client, daemon and elector (a Lease in
// crashdiag-system with 3 s / 2 s / 0.5 s), the daemon leading only while the elector does.
struct Replica {
  Replica(Cluster& c, const std::string& identity, const std::function<void(DaemonOptions&)>& tweak = {}) {
    client = testing::client_for(ioc, c.server);
    DaemonOptions o = publishing_options(nullptr);
    o.start_leading = false;
    o.instance = identity;
    o.evidence_delay = 50ms;
    o.random = [] { return 0.0; };
    o.on_diagnosis = [this](const DiagnosisRecord&) { ++diagnoses; };
    if (tweak) tweak(o);
    daemon = std::make_unique<Daemon>(ioc, *client, testing::shipped_classifier(), o);
    LeaderElectorOptions eo;
    eo.election.namespace_ = "crashdiag-system";
    eo.election.name = "crashdiag-leader";
    eo.election.identity = identity;
    eo.election.lease_duration = 3000ms;
    eo.election.renew_deadline = 2000ms;
    eo.election.retry_period = 500ms;
    eo.random = [] { return 0.5; };
    eo.on_started_leading = [this] { daemon->set_leading(true); };
    eo.on_stopped_leading = [this] { daemon->set_leading(false); };
    elector = std::make_unique<LeaderElector>(ioc, *client, std::move(eo));
    boost::asio::co_spawn(ioc, daemon->run(), [this](const std::exception_ptr&) {
      daemon_done = true;
      elector->stop();  // writes finished: release the lease
    });
    boost::asio::co_spawn(ioc, elector->run(), [this](const std::exception_ptr&) { elector_done = true; });
    thread = std::thread([this] { ioc.run(); });
  }
  ~Replica() { kill(); }
  bool leading() {
    if (killed) return false;
    std::promise<bool> p;
    boost::asio::post(ioc, [&] { p.set_value(elector->is_leader() && daemon->leading()); });
    return p.get_future().get();
  }
  // SIGTERM: stop, finish writes, release the lease.
  void terminate() {
    boost::asio::post(ioc, [this] { daemon->stop(); });
    eventually([this] { return daemon_done.load() && elector_done.load(); });
    kill();
  }
  // The process dies: no release, the lease has to expire.
  void kill() {
    if (killed) return;
    killed = true;
    ioc.stop();
    thread.join();
  }
  boost::asio::io_context ioc{1};
  std::unique_ptr<kube::KubeClient> client;
  std::unique_ptr<Daemon> daemon;
  std::unique_ptr<LeaderElector> elector;
  std::thread thread;
  std::atomic<int> diagnoses{0};
  std::atomic<bool> daemon_done{false};
  std::atomic<bool> elector_done{false};
  bool killed = false;
};

// The daemon's log lines at info and above while it lives, kept instead of printed: for a test
// that asserts what the daemon says. Made before the daemon starts and destroyed after it stops
// (the logger's sinks are swapped, which is not safe while another thread logs).
class CapturedLog {
 public:
  CapturedLog() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(4096)) {
    auto logger = spdlog::default_logger();
    saved_sinks_ = logger->sinks();
    saved_level_ = logger->level();
    sink_->set_pattern("%v");
    logger->sinks() = {sink_};
    logger->set_level(spdlog::level::info);
  }
  ~CapturedLog() {
    auto logger = spdlog::default_logger();
    logger->sinks() = saved_sinks_;
    logger->set_level(saved_level_);
  }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;
  // The lines that contain `text`.
  [[nodiscard]] std::size_t count(std::string_view text) const {
    std::size_t n = 0;
    for (const auto& line : sink_->last_formatted()) n += line.find(text) != std::string::npos ? 1 : 0;
    return n;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::vector<spdlog::sink_ptr> saved_sinks_;
  spdlog::level::level_enum saved_level_ = spdlog::level::info;
};

inline void quiet_logs() {
  static bool done = [] {
    // CRASHDIAG_TEST_LOG=debug|info shows the daemon's log when a test needs explaining.
    LogLevel level = LogLevel::kError;
    if (const char* env = std::getenv("CRASHDIAG_TEST_LOG"); env != nullptr) (void)parse_log_level(env, level);
    configure_logging(LogFormat::kText, level);
    return true;
  }();
  (void)done;
}

}  // namespace crashdiag::daemon::harness
