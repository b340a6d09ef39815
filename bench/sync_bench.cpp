// The daemon's footprint on a big cluster: a fake API server in a child process holds N pods
// (150,000 by default); the daemon lists and watches them over TLS. Reported: initial sync
// time, resident memory after the sync (and its growth over the process baseline), list
// requests made, then, after 10 workloads start crash-looping, API requests per diagnosed
// incident and whether any list was repeated (there must be none: no periodic relists).
// Usage: crashdiag_sync_bench [pods]

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <future>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "daemon.hpp"
#include "fake_apiserver.hpp"
#include "forked_fake.hpp"
#include "log.hpp"
#include "rule_loader.hpp"

namespace {

using nlohmann::json;

// A pod shaped like a Deployment's replica in a real cluster (labels, annotations, owner,
// two containers with env, probes, resources, managed fields): about 4 KB of JSON.
json realistic_pod(int i, bool crashing) {
  const std::string ns = "team-" + std::to_string(i % 200);
  const std::string app = "svc-" + std::to_string(i / 10);
  json container = {
      {"name", "app"},
      {"image", "registry.example.com/" + app + ":1.4." + std::to_string(i % 7)},
      {"ports", json::array({{{"containerPort", 8080}, {"name", "http"}, {"protocol", "TCP"}}})},
      {"env", json::array({{{"name", "LOG_LEVEL"}, {"value", "info"}},
                           {{"name", "DB_HOST"}, {"value", "postgres." + ns + ".svc"}}})},
      {"resources",
       {{"limits", {{"memory", "512Mi"}, {"cpu", "500m"}}}, {"requests", {{"memory", "256Mi"}, {"cpu", "100m"}}}}},
      {"livenessProbe", {{"httpGet", {{"path", "/healthz"}, {"port", 8080}}}, {"periodSeconds", 10}}},
      {"readinessProbe", {{"httpGet", {{"path", "/ready"}, {"port", 8080}}}, {"periodSeconds", 5}}},
      {"terminationMessagePath", "/dev/termination-log"},
      {"imagePullPolicy", "IfNotPresent"}};
  json owner = {{"apiVersion", "apps/v1"},
                {"kind", "ReplicaSet"},
                {"name", app + "-6f7d8c9b5"},
                {"uid", "rs-" + app},
                {"controller", true}};
  json pod = crashdiag::fake::make_pod(ns, app + "-6f7d8c9b5-" + std::to_string(i), container, owner);
  pod["metadata"]["labels"] = {{"app", app}, {"pod-template-hash", "6f7d8c9b5"}, {"team", ns}};
  pod["metadata"]["annotations"] = {{"kubectl.kubernetes.io/restartedAt", "2026-11-01T10:00:00Z"},
                                    {"prometheus.io/scrape", "true"}};
  pod["metadata"]["managedFields"] = json::array({{{"manager", "kube-controller-manager"},
                                                   {"operation", "Update"},
                                                   {"apiVersion", "v1"},
                                                   {"time", "2026-11-01T10:00:00Z"},
                                                   {"fieldsType", "FieldsV1"},
                                                   {"fieldsV1",
                                                    {{"f:metadata", {{"f:labels", {{"f:app", json::object()}}}}},
                                                     {"f:spec", {{"f:containers", json::object()}}}}}}});
  pod["spec"]["containers"].push_back({{"name", "proxy"},
                                       {"image", "envoyproxy/envoy:v1.30.1"},
                                       {"args", json::array({"-c", "/etc/envoy/envoy.yaml"})}});
  json statuses = json::array();
  for (const char* name : {"app", "proxy"}) {
    json st = {{"name", name},
               {"ready", true},
               {"restartCount", 0},
               {"started", true},
               {"image", "registry.example.com/x"},
               {"imageID", "registry.example.com/x@sha256:0123456789abcdef"},
               {"containerID", "containerd://0123456789abcdef0123456789abcdef"},
               {"state", {{"running", {{"startedAt", "2026-11-01T10:00:05Z"}}}}},
               {"lastState", json::object()}};
    if (crashing && std::string(name) == "app") {
      st["ready"] = false;
      st["restartCount"] = 3;
      st["state"] = {
          {"waiting", {{"reason", "CrashLoopBackOff"}, {"message", "back-off 40s restarting failed container"}}}};
      st["lastState"] = {
          {"terminated", {{"exitCode", 137}, {"reason", "OOMKilled"}, {"finishedAt", "2026-11-22T04:00:00Z"}}}};
    }
    statuses.push_back(st);
  }
  pod["status"]["containerStatuses"] = statuses;
  pod["status"]["conditions"] = json::array({{{"type", "Ready"}, {"status", crashing ? "False" : "True"}}});
  pod["status"]["podIP"] = "10.244." + std::to_string(i % 250) + "." + std::to_string(i % 200);
  return pod;
}

}  // namespace

int main(int argc, char** argv) {
  const int pods = argc > 1 ? std::atoi(argv[1]) : 150000;
  auto fake = crashdiag::bench::ForkedFake::start(
      [pods](crashdiag::fake::FakeApiServer& server) {
        for (int i = 0; i < pods; ++i) server.apply_pod(realistic_pod(i, false));
        server.compact();  // keep only the current state, as etcd would after compaction
      },
      [](crashdiag::fake::FakeApiServer& server, char cmd) {
        if (cmd != 'c') return;
        for (int w = 0; w < 10; ++w) {
          json p = realistic_pod(w * 10, true);
          server.apply_pod(p);
          server.set_logs(p["metadata"]["namespace"], p["metadata"]["name"], "app", true,
                          "INFO start\nINFO warming cache\n");
        }
      });
  if (!fake) return 1;

  crashdiag::daemon::configure_logging(crashdiag::daemon::LogFormat::kText, crashdiag::daemon::LogLevel::kError);
  auto classifier = crashdiag::make_classifier({});
  if (!classifier) return 1;
  boost::asio::io_context ioc(1);
  auto client_ptr = fake->client(ioc);
  crashdiag::kube::KubeClient& client = *client_ptr;
  std::atomic<int> diagnosed{0};
  crashdiag::daemon::DaemonOptions options;
  options.evidence_delay = std::chrono::milliseconds(100);
  options.on_diagnosis = [&](const crashdiag::daemon::DiagnosisRecord&) { diagnosed++; };
  crashdiag::daemon::Daemon daemon(ioc, client, *classifier, options);
  const long baseline = crashdiag::bench::rss_kib();
  const auto start = std::chrono::steady_clock::now();
  boost::asio::co_spawn(ioc, daemon.run(), boost::asio::detached);
  std::atomic<bool> synced{false};
  std::thread runner([&] { ioc.run(); });
  while (!synced) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::promise<bool> p;
    boost::asio::post(ioc, [&] { p.set_value(daemon.synced()); });
    synced = p.get_future().get();
  }
  const double sync_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const long rss = crashdiag::bench::rss_kib();
  auto count = [&](const std::string& verb, const std::string& resource) {
    std::uint64_t n = 0;
    for (const auto& [k, v] : client.stats().snapshot()) {
      if (std::get<0>(k) == verb && std::get<1>(k) == resource) n += v;
    }
    return n;
  };
  const std::uint64_t lists_at_sync = count("GET", "pods");
  const std::uint64_t total_at_sync = client.stats().total();
  fake->send('c');
  for (int waited = 0; diagnosed < 10 && waited < 3000; ++waited)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (diagnosed < 10) {
    for (const auto& [k, v] : client.stats().snapshot()) {
      std::fprintf(stderr, "request %s %s %d: %llu\n", std::get<0>(k).c_str(), std::get<1>(k).c_str(), std::get<2>(k),
                   static_cast<unsigned long long>(v));
    }
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const std::uint64_t after = client.stats().total();
  const std::uint64_t lists_after = count("GET", "pods");
  boost::asio::post(ioc, [&] { daemon.stop(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ioc.stop();
  runner.join();
  fake->stop();
  std::printf("pods: %d\ninitial sync: %.2f s\nrss after sync: %.1f MiB (baseline %.1f MiB, growth %.1f MiB)\n", pods,
              sync_s, rss / 1024.0, baseline / 1024.0, (rss - baseline) / 1024.0);
  std::printf("list requests for the initial sync: %llu (pages of 500)\n",
              static_cast<unsigned long long>(lists_at_sync));
  std::printf(
      "incidents diagnosed: %d\nAPI requests after the sync: %llu => %.2f per incident (logs %llu, replicasets %llu, "
      "pods %llu)\n",
      diagnosed.load(), static_cast<unsigned long long>(after - total_at_sync),
      static_cast<double>(after - total_at_sync) / diagnosed.load(),
      static_cast<unsigned long long>(count("GET", "pods/log")),
      static_cast<unsigned long long>(count("GET", "replicasets")),
      static_cast<unsigned long long>(lists_after - lists_at_sync));
  std::printf("pod lists after the sync (periodic relists): %llu\n",
              static_cast<unsigned long long>(lists_after - lists_at_sync));
  return 0;
}
