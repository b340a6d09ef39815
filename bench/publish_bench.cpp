// Publishing under a burst: N workloads (1,000 by default; one Deployment -> ReplicaSet -> pod
// each) start failing at once. A fake API server in a child process serves them over TLS; the
// daemon diagnoses and publishes every one. Reported: latency from the watch event that
// reveals the failure (the daemon reads it) to the RCA write being accepted by the server
// (p50/p99/max), API requests per diagnosed incident by verb and resource, and resident memory.
// The deliberate evidence delay (DaemonOptions::evidence_delay, 2 s by default, which waits for
// the kubelet's Events) is set to 0 here: it is a wait, not work.
// The baseline in the same run: as many server-side applies of an RCA in a plain loop, same
// client, same server; printed with the ratio of the publisher's RCA throughput to it.
// Usage: crashdiag_publish_bench [workloads] [--watch-owners=false] [--evidence-delay-ms=N]
//        [--publish-concurrency=N] (the daemon's default, 4, otherwise) [--kubeconfig=PATH]
// With --kubeconfig only the publisher-alone comparison runs, against that cluster's apiserver.
// With --evidence-delay-ms the production wait is kept: it should add N ms to each RCA's latency
// and about N ms to the burst, not serialise the burst behind the workers.

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "cluster_objects.hpp"
#include "connect.hpp"
#include "crashdiag/core/rca.hpp"
#include "daemon.hpp"
#include "fake_apiserver.hpp"
#include "forked_fake.hpp"
#include "log.hpp"
#include "publisher.hpp"
#include "rule_loader.hpp"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string ns_of(int i) {
  return "team-" + std::to_string(i % 20);
}
std::string workload_of(int i) {
  return "svc-" + std::to_string(i);
}

json workload_pod(int i, bool crashing) {
  const std::string app = workload_of(i);
  json container = {{"name", "app"},
                    {"image", "registry.example.com/" + app + ":1.4"},
                    {"resources", {{"limits", {{"memory", "256Mi"}}}}}};
  json owner = {{"apiVersion", "apps/v1"},
                {"kind", "ReplicaSet"},
                {"name", app + "-6f7d8c9b5"},
                {"uid", "rs-" + app},
                {"controller", true}};
  json pod = crashdiag::fake::make_pod(ns_of(i), app + "-6f7d8c9b5-x" + std::to_string(i), container, owner);
  json st = {{"name", "app"},
             {"ready", !crashing},
             {"restartCount", crashing ? 1 : 0},
             {"image", "registry.example.com/" + app + ":1.4"},
             {"state", {{"running", {{"startedAt", "2026-11-22T04:00:00Z"}}}}},
             {"lastState", json::object()}};
  if (crashing) {
    st["state"] = {{"waiting", {{"reason", "CrashLoopBackOff"}, {"message", "back-off 10s"}}}};
    st["lastState"] = {
        {"terminated", {{"exitCode", 137}, {"reason", "OOMKilled"}, {"finishedAt", "2026-11-22T04:01:00Z"}}}};
  }
  pod["status"]["containerStatuses"] = json::array({st});
  return pod;
}

// The verbs RequestStats records for writes (reads are GET, list and watch).
bool is_write(const std::string& verb) {
  return verb == "PATCH" || verb == "POST" || verb == "PUT" || verb == "DELETE";
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto idx = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(idx, v.size() - 1)];
}

// The publisher alone (issue 14 item 4): `n` diagnoses handed to a Publisher of its own at once,
// with the same client against the same server, each written as its RCA and its status (two
// server-side applies); annotations and Events off. Its baseline, run first so that the
// publisher meets the bigger store: the very bodies it will send (each RCA, then its status),
// under other names, one request after the other in a plain loop with the same client. Once
// with one lane (one request in flight, as before --publish-concurrency) and once with the
// daemon's lanes.
void publisher_alone(boost::asio::io_context& ioc, crashdiag::kube::KubeClient& client, int n, int lanes) {
  crashdiag::core::RcaTracker tracker;
  crashdiag::daemon::PublisherOptions po;
  po.lanes = lanes;
  po.publish_annotation = false;
  po.publish_event = false;
  crashdiag::daemon::Publisher publisher(ioc, client, tracker, po, nullptr, [](const std::string&, const std::string&) {
    return std::optional<std::pair<std::string, std::string>>();
  });
  crashdiag::ContainerDiagnosis d;
  d.name = "app";
  crashdiag::Hypothesis h;
  h.category = "oom_killed";
  h.confidence = 0.9;
  h.rule_id = "bench";
  h.title = "killed";
  h.summary = "the container was OOM-killed";
  d.hypotheses.push_back(h);
  std::promise<std::pair<int, double>> raw_done;
  std::promise<double> took;
  boost::asio::co_spawn(
      ioc,
      [&]() -> boost::asio::awaitable<void> {
        for (int i = 0; i < n; ++i) {
          crashdiag::core::Occurrence o;
          const std::string w = "alone" + std::to_string(lanes) + "-" + std::to_string(i);
          o.target =
              crashdiag::core::RcaTarget{ns_of(i), crashdiag::core::WorkloadRef{"apps/v1", "Deployment", w, "uid-" + w},
                                         "app", false, "OOMKilled:137"};
          o.pod = w + "-x";
          o.pod_uid = "uid-" + o.pod;
          o.restart_count = 1;
          o.reason = "CrashLoopBackOff";
          o.exit_code = 137;
          o.now = crashdiag::core::WallTime{1'795'316'400'000};
          publisher.submit(tracker.record(o, &d, "bench"));
        }
        std::vector<std::pair<std::string, std::string>> bodies;  // path, body
        for (const auto& [rca_name, state] : tracker.all()) {
          json object = tracker.apply_object(state);
          json status = tracker.status_object(state);
          const std::string name = "same-" + rca_name;
          const std::string ns = object["metadata"]["namespace"];
          object["metadata"]["name"] = name;
          status["metadata"]["name"] = name;
          const std::string path = "/apis/crashdiag.io/v1alpha1/namespaces/" + ns + "/rootcauseanalyses/" + name;
          bodies.emplace_back(path, object.dump());
          bodies.emplace_back(path + "/status", status.dump());
        }
        int ok = 0;
        const auto r0 = Clock::now();
        for (auto& [path, body] : bodies) {
          crashdiag::kube::Request req{boost::beast::http::verb::patch,
                                       path + "?fieldManager=crashdiag&force=true&fieldValidation=Strict",
                                       "raw-apply",
                                       std::move(body),
                                       "application/apply-patch+yaml",
                                       ""};
          auto res = co_await client.request(std::move(req));
          if (res && (res->status == 200 || res->status == 201)) ++ok;
        }
        raw_done.set_value({ok, std::chrono::duration<double>(Clock::now() - r0).count()});
        const auto t0 = Clock::now();
        publisher.stop();  // writes everything queued, then run() ends
        co_await publisher.run([] { return true; });
        took.set_value(std::chrono::duration<double>(Clock::now() - t0).count());
      },
      boost::asio::detached);
  const auto [same_ok, same_s] = raw_done.get_future().get();
  const double seconds = took.get_future().get();
  const std::uint64_t writes = publisher.stats().rca_writes + publisher.stats().status_writes;  // accepted
  const double rate = seconds > 0 ? static_cast<double>(writes) / seconds : 0;
  const double same_rate = same_s > 0 ? same_ok / same_s : 0;
  std::printf(
      "publisher alone, %d lane%s: %llu applies in %.2f s => %.0f/s; the same %d bodies before it in a "
      "plain loop: %.2f s => %.0f/s; ratio %.2f\n",
      lanes, lanes == 1 ? "" : "s", static_cast<unsigned long long>(writes), seconds, rate, same_ok, same_s, same_rate,
      same_rate > 0 ? rate / same_rate : 0.0);
}

// Issue 14 item 4 against a real apiserver (--kubeconfig=PATH): only the publisher-alone part,
// since a real cluster's pods cannot be made to fail on cue. The CRD must be installed
// (kubectl apply -k manifests/); the namespaces team-0..team-19 are created if missing and left
// behind with the RCAs in them (kubectl delete ns team-0 ... team-19 removes them). The client's
// token bucket is opened wide for both sides: the comparison is the publisher against a plain
// loop, not either against --kube-api-qps.
int real_apiserver(const std::string& kubeconfig, int n, int lanes) {
  auto connection = crashdiag::kube::connect(kubeconfig, "");
  if (!connection) {
    std::fprintf(stderr, "crashdiag_publish_bench: %s\n", connection.error().c_str());
    return 2;
  }
  crashdiag::daemon::configure_logging(crashdiag::daemon::LogFormat::kText, crashdiag::daemon::LogLevel::kError);
  boost::asio::io_context ioc(1);
  crashdiag::kube::ClientOptions co;
  co.qps = 1e6;
  co.burst = 1'000'000;
  crashdiag::kube::KubeClient client(ioc.get_executor(), connection->endpoint, connection->tls, connection->tokens, co);
  auto work = boost::asio::make_work_guard(ioc);
  std::thread runner([&] { ioc.run(); });
  std::promise<int> created;
  boost::asio::co_spawn(
      ioc,
      [&]() -> boost::asio::awaitable<void> {
        int ok = 0;
        for (int i = 0; i < 20; ++i) {
          json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns_of(i)}}}};
          crashdiag::kube::Request req{
              boost::beast::http::verb::post, "/api/v1/namespaces", "namespaces", ns.dump(), "application/json", ""};
          auto res = co_await client.request(std::move(req));
          if (res && (res->status == 201 || res->status == 409)) ++ok;
        }
        created.set_value(ok);
      },
      boost::asio::detached);
  const int namespaces = created.get_future().get();
  if (namespaces != 20) {
    std::fprintf(stderr, "crashdiag_publish_bench: could create or find only %d of the 20 namespaces\n", namespaces);
    work.reset();
    ioc.stop();
    runner.join();
    return 1;
  }
  std::printf("real apiserver %s, %d diagnoses\n", connection->access.source.c_str(), n);
  publisher_alone(ioc, client, n, 1);
  publisher_alone(ioc, client, n, lanes);
  work.reset();
  ioc.stop();
  runner.join();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 1000;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--kubeconfig=", 0) != 0) continue;
    int lanes = crashdiag::daemon::PublisherOptions{}.lanes;
    for (int j = 2; j < argc; ++j) {
      const std::string a = argv[j];
      if (a.rfind("--publish-concurrency=", 0) == 0) lanes = std::atoi(a.c_str() + 22);
    }
    return real_apiserver(arg.substr(13), n, lanes);
  }
  auto fake = crashdiag::bench::ForkedFake::start(
      [n](crashdiag::fake::FakeApiServer& server) {
        for (int i = 0; i < n; ++i) {
          server.put_object("/apis/apps/v1", "deployments", crashdiag::bench::deployment(ns_of(i), workload_of(i)));
          server.put_object("/apis/apps/v1", "replicasets", crashdiag::bench::replicaset(ns_of(i), workload_of(i)));
          server.apply_pod(workload_pod(i, false));
        }
      },
      [n](crashdiag::fake::FakeApiServer& server, char cmd) {
        if (cmd != 'c') return;
        for (int i = 0; i < n; ++i) {
          json p = workload_pod(i, true);
          server.set_logs(ns_of(i), p["metadata"]["name"], "app", true, "INFO start\nINFO loading 2 GiB index\n");
          server.apply_pod(p);
        }
      });
  if (!fake) return 1;

  crashdiag::daemon::configure_logging(crashdiag::daemon::LogFormat::kText, crashdiag::daemon::LogLevel::kError);
  auto classifier = crashdiag::make_classifier({});
  if (!classifier) return 1;
  boost::asio::io_context ioc(1);
  auto client_ptr = fake->client(ioc);
  crashdiag::kube::KubeClient& client = *client_ptr;

  std::mutex mu;
  std::map<std::string, Clock::time_point> revealed;  // RCA name -> when the daemon read the failure
  std::map<std::string, Clock::time_point> written;   // RCA name -> when the server accepted it
  crashdiag::daemon::DaemonOptions options;
  options.evidence_delay = std::chrono::milliseconds(0);
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--evidence-delay-ms=", 0) == 0)
      options.evidence_delay = std::chrono::milliseconds(std::atoi(arg.c_str() + 20));
    if (arg.rfind("--publish-concurrency=", 0) == 0) options.publisher.lanes = std::atoi(arg.c_str() + 22);
  }
  // `--watch-owners=false` as the second argument: the owner chain and crashdiag.io/ignore by GET,
  // as before issue 14 item 3, for the side-by-side figure.
  for (int i = 2; i < argc; ++i)
    options.watch_owners = options.watch_owners && std::string(argv[i]) != "--watch-owners=false";
  options.on_signal = [&](const crashdiag::core::CrashSignal& s) {
    const std::string app = s.workload.substr(s.workload.find('/') + 1, s.workload.find("-6f7d") - 11);
    crashdiag::core::RcaTarget t{
        s.namespace_, {"apps/v1", "Deployment", app, "dep-" + app}, s.container, s.init, s.signature};
    std::lock_guard lock(mu);
    revealed.try_emplace(crashdiag::core::rca_name(t), Clock::now());
  };
  options.publisher.on_rca_written = [&](const std::string& name) {
    std::lock_guard lock(mu);
    written.try_emplace(name, Clock::now());
  };
  crashdiag::daemon::Daemon daemon(ioc, client, *classifier, options);
  boost::asio::co_spawn(ioc, daemon.run(), boost::asio::detached);
  std::thread runner([&] { ioc.run(); });
  crashdiag::bench::wait_until_synced(ioc, daemon);
  const long rss_before = crashdiag::bench::rss_kib();
  const std::uint64_t requests_before = client.stats().total();
  const auto snapshot_before = client.stats().snapshot();
  std::uint64_t writes_before = 0;
  for (const auto& [k, v] : snapshot_before) {
    if (is_write(std::get<0>(k))) writes_before += v;
  }
  long rss_peak = rss_before;
  fake->send('c');
  const auto start = Clock::now();
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    rss_peak = std::max(rss_peak, crashdiag::bench::rss_kib());
    std::lock_guard lock(mu);
    if (static_cast<int>(written.size()) >= n || Clock::now() - start > std::chrono::seconds(300)) break;
  }
  const double burst_s = std::chrono::duration<double>(Clock::now() - start).count();
  // The publisher's writes (applies, status applies, annotation patches, Event creates), counted
  // until none has been added for a second: its write throughput is those writes over the time
  // from the burst's start to the last of them, for the ratio to the raw loop below.
  auto writes_now = [&client] {
    std::uint64_t w = 0;
    for (const auto& [k, v] : client.stats().snapshot()) {
      if (is_write(std::get<0>(k))) w += v;
    }
    return w;
  };
  std::uint64_t writes_seen = writes_now();
  auto last_write = Clock::now();
  while (Clock::now() - last_write < std::chrono::seconds(1) && Clock::now() - start < std::chrono::seconds(300)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const std::uint64_t w = writes_now();
    if (w != writes_seen) {
      writes_seen = w;
      last_write = Clock::now();
    }
  }
  const double writes_s = std::chrono::duration<double>(last_write - start).count();
  const std::uint64_t requests = client.stats().total() - requests_before;
  auto snapshot_after = client.stats().snapshot();

  // The baseline (issue 14 item 4): the same number of server-side applies of an RCA, one after
  // the other in a plain loop, with the same client against the same server. The body is one of
  // the RCAs the publisher wrote (its spec, under new names), the query the publisher's.
  double raw_s = 0;
  int raw_ok = 0;
  {
    std::promise<void> done;
    boost::asio::co_spawn(
        ioc,
        [&]() -> boost::asio::awaitable<void> {
          std::string first;
          {
            std::lock_guard lock(mu);
            if (!written.empty()) first = written.begin()->first;
          }
          const int at = first.empty() ? 0 : std::atoi(first.substr(4).c_str());  // "svc-<i>-..."
          const std::string ns = ns_of(at);
          const std::string base = "/apis/crashdiag.io/v1alpha1/namespaces/" + ns + "/rootcauseanalyses/";
          crashdiag::kube::Request get{boost::beast::http::verb::get, base + first, "rootcauseanalyses", "", "", ""};
          auto got = co_await client.request(std::move(get));
          const json rca = got && got->status == 200 ? json::parse(got->body, nullptr, false) : json();
          if (!rca.is_object() || !rca.contains("spec")) {
            done.set_value();
            co_return;
          }
          const auto t0 = Clock::now();
          for (int i = 0; i < n; ++i) {
            const std::string name = "raw-" + std::to_string(i);
            json body = {{"apiVersion", rca["apiVersion"]},
                         {"kind", rca["kind"]},
                         {"metadata", {{"name", name}, {"namespace", ns}}},
                         {"spec", rca["spec"]}};
            crashdiag::kube::Request req{boost::beast::http::verb::patch,
                                         base + name + "?fieldManager=crashdiag&force=true&fieldValidation=Strict",
                                         "raw-apply",
                                         body.dump(),
                                         "application/apply-patch+yaml",
                                         ""};
            auto res = co_await client.request(std::move(req));
            if (res && (res->status == 200 || res->status == 201)) ++raw_ok;
          }
          raw_s = std::chrono::duration<double>(Clock::now() - t0).count();
          done.set_value();
        },
        boost::asio::detached);
    done.get_future().get();
  }
  publisher_alone(ioc, client, n, 1);
  publisher_alone(ioc, client, n, options.publisher.lanes);

  boost::asio::post(ioc, [&] { daemon.stop(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ioc.stop();
  runner.join();
  fake->stop();

  std::vector<double> ms;
  for (const auto& [name, t] : written) {
    auto r = revealed.find(name);
    if (r != revealed.end()) ms.push_back(std::chrono::duration<double, std::milli>(t - r->second).count());
  }
  std::printf("workloads failing at once: %d\nRCAs written: %zu in %.2f s\n", n, written.size(), burst_s);
  std::printf("watch event -> RCA accepted: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", percentile(ms, 0.5),
              percentile(ms, 0.99), percentile(ms, 1.0));
  std::printf("API requests: %llu => %.2f per incident\n", static_cast<unsigned long long>(requests),
              static_cast<double>(requests) / std::max<std::size_t>(1, written.size()));
  for (const auto& [k, v] : snapshot_after) {
    const auto before = snapshot_before.count(k) > 0 ? snapshot_before.at(k) : 0;
    if (v > before) {
      std::printf("  %s %s %d: %llu\n", std::get<0>(k).c_str(), std::get<1>(k).c_str(), std::get<2>(k),
                  static_cast<unsigned long long>(v - before));
    }
  }
  std::printf("rss: %.1f MiB before the burst, %.1f MiB peak during it\n", rss_before / 1024.0, rss_peak / 1024.0);
  const double publisher_rate = static_cast<double>(written.size()) / burst_s;
  const double raw_rate = raw_s > 0 ? raw_ok / raw_s : 0;
  std::printf("raw server-side applies, same client, plain loop: %d in %.2f s => %.0f/s\n", raw_ok, raw_s, raw_rate);
  std::printf("publisher: %.0f RCAs/s (each with its status, annotation and Event) => %.2f of the raw apply rate\n",
              publisher_rate, raw_rate > 0 ? publisher_rate / raw_rate : 0.0);
  const std::uint64_t writes = writes_seen - writes_before;
  const double write_rate = writes_s > 0 ? static_cast<double>(writes) / writes_s : 0;
  std::printf(
      "publisher writes: %llu in %.2f s (burst start to the last write) => %.0f/s => %.2f of the raw apply rate\n",
      static_cast<unsigned long long>(writes), writes_s, write_rate, raw_rate > 0 ? write_rate / raw_rate : 0.0);
  return 0;
}
