#include "demo_command.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "crashdiag/core/rca.hpp"
#include "fake_apiserver.hpp"
#include "incidents.hpp"
#include "run_command.hpp"

namespace crashdiag {

namespace {

using nlohmann::json;
using std::chrono::milliseconds;

core::WallTime wall_now() {
  return core::system_now();
}

std::string random_token() {
  std::random_device rd;
  std::ostringstream out;
  for (int i = 0; i < 4; ++i) out << std::hex << std::setw(8) << std::setfill('0') << rd();
  return out.str();
}

std::string failure_text(const json& pod, const std::string& container) {
  for (const char* key : {"initContainerStatuses", "containerStatuses"}) {
    for (const auto& c : pod["status"].value(key, json::array())) {
      if (c.value("name", "") != container) continue;
      std::string out;
      const json state = c.value("state", json::object());
      if (state.contains("waiting")) out = state["waiting"].value("reason", "");
      const json last = c.value("lastState", json::object()).value("terminated", json::object());
      if (!last.empty()) {
        out += (out.empty() ? "" : ", ") + std::string("last exit ") + std::to_string(last.value("exitCode", 0)) +
               " (" + last.value("reason", "") + ")";
      }
      out += ", " + std::to_string(c.value("restartCount", 0)) + " restarts";
      return out;
    }
  }
  return "failing";
}

class Replay {
 public:
  Replay(fake::FakeApiServer& server, std::vector<demo::Incident> incidents, milliseconds resolve_after,
         std::string kubeconfig, double exit_after)
      : server_(server),
        incidents_(std::move(incidents)),
        steps_(demo::timeline(incidents_, resolve_after)),
        kubeconfig_(std::move(kubeconfig)),
        exit_after_(exit_after) {}
  ~Replay() { stop(); }
  Replay(const Replay&) = delete;
  Replay& operator=(const Replay&) = delete;

  void start() {
    started_ = std::chrono::steady_clock::now();
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  // Sleeps until `at` after the start (plus what awaits added); false when stopping.
  bool wait_until(milliseconds at) {
    std::unique_lock lock(mu_);
    return !cv_.wait_until(lock, started_ + at + late_, [this] { return stopping_; });
  }

  // The analysis the daemon published for incident i: the one listing its pod.
  std::optional<json> rca_for(std::size_t i) const {
    for (const auto& r : server_.list_objects("crashdiag.io/v1alpha1/rootcauseanalyses", pod_namespace(i))) {
      for (const auto& p : r.value("status", json::object()).value("pods", json::array())) {
        if (p.value("name", "") == pod_name(i)) return r;
      }
    }
    return std::nullopt;
  }
  bool holds(const demo::Step& step) const {
    using Await = demo::Step::Await;
    switch (step.await) {
      case Await::kNothing:
        return true;
      case Await::kAllDiagnosed:
        for (std::size_t i = 0; i < incidents_.size(); ++i) {
          if (!rca_for(i)) return false;
        }
        return true;
      case Await::kResolved:
        return std::all_of(step.of.begin(), step.of.end(), [&](std::size_t i) {
          auto r = rca_for(i);
          return r && r->value("status", json::object()).value("phase", "") == "Resolved";
        });
      case Await::kRecounted:
        return std::all_of(step.of.begin(), step.of.end(), [&](std::size_t i) {
          auto r = rca_for(i);
          const json st = r ? r->value("status", json::object()) : json::object();
          return st.value("phase", "") == "Active" && st.value("occurrences", 0) >= 2;
        });
    }
    return true;
  }
  // Polls the step's condition for up to 60 s; the time it took delays the rest of the replay.
  // False when stopping.
  bool await(const demo::Step& step) {
    const auto begin = std::chrono::steady_clock::now();
    const auto limit = begin + std::chrono::seconds(60);
    while (!holds(step)) {
      if (std::chrono::steady_clock::now() > limit) {
        say("(the daemon has not got there after 60 s; going on)");
        break;
      }
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, milliseconds(200), [this] { return stopping_; })) return false;
    }
    late_ += std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - begin);
    return true;
  }
  void say(const std::string& text) {
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    std::ostringstream line;
    line << "[" << std::fixed << std::setprecision(1) << std::setw(5) << t << "s] " << text << "\n";
    std::cout << line.str() << std::flush;
  }
  std::string pod_name(std::size_t i) const { return incidents_[i].pod["metadata"].value("name", ""); }
  std::string pod_namespace(std::size_t i) const { return incidents_[i].pod["metadata"].value("namespace", ""); }

  // The replay thread's body: nothing may escape a std::thread (std::terminate would take the
  // server and the daemon down mid-write), so an error ends the demo as Ctrl-C would.
  void run() {
    try {
      replay();
    } catch (const std::exception& e) {
      std::cerr << "crashdiag demo: the replay failed: " << e.what() << "\n";
      ::kill(::getpid(), SIGTERM);
    }
  }

  void replay() {
    std::size_t started = 0;
    for (const demo::Step& step : steps_) {
      if (!wait_until(step.at) || !await(step)) return;
      const std::size_t i = step.incident;
      const core::WallTime now = wall_now();
      switch (step.kind) {
        case demo::Step::Kind::kStart: {
          // add_object replaces what exists, so a namespace two incidents share is harmless.
          for (json& owner : demo::owner_objects(incidents_[i].pod)) server_.add_object(std::move(owner));
          server_.apply_pod(demo::started_pod(demo::failing_pod(incidents_[i], now), now));
          if (++started == incidents_.size()) say(std::to_string(started) + " pods started, all Running and Ready");
          break;
        }
        case demo::Step::Kind::kFail: {
          json pod = demo::failing_pod(incidents_[i], now);
          const std::string container = demo::failing_container(pod);
          if (!incidents_[i].previous_log.empty() && !container.empty()) {
            server_.set_logs(pod_namespace(i), pod_name(i), container, true, incidents_[i].previous_log);
          }
          for (json& ev : demo::failing_events(incidents_[i], now)) server_.add_event(std::move(ev));
          say(pod_namespace(i) + "/" + pod_name(i) + " " + container + ": " + failure_text(pod, container));
          server_.apply_pod(std::move(pod));
          break;
        }
        case demo::Step::Kind::kRecover: {
          if (auto current = server_.get_object("pods", pod_namespace(i), pod_name(i))) {
            server_.apply_pod(demo::recovered_pod(*current, now));
            say(pod_namespace(i) + "/" + pod_name(i) + " recovered: Running and Ready (" + incidents_[i].name + ")");
          }
          break;
        }
        case demo::Step::Kind::kRecur: {
          if (auto current = server_.get_object("pods", pod_namespace(i), pod_name(i))) {
            json pod = demo::recurred_pod(demo::failing_pod(incidents_[i], now), *current, now);
            const std::string container = demo::failing_container(pod);
            say(pod_namespace(i) + "/" + pod_name(i) + " " + container +
                " fails again: " + failure_text(pod, container));
            server_.apply_pod(std::move(pod));
          }
          break;
        }
        case demo::Step::Kind::kShow: {
          const bool wide = step.note.find("Resolved") != std::string::npos ||
                            step.note.find("Active again") != std::string::npos;  // show PHASE
          say(step.note + ":");
          std::cout << "$ kubectl get rca -A" << (wide ? " -o wide" : "") << "\n";
          if (auto table = server_.table("crashdiag.io/v1alpha1", "rootcauseanalyses")) {
            std::cout << demo::render_table(*table, true, wide);
          }
          std::cout << std::endl;
          break;
        }
      }
    }
    finish();
  }

  void finish() {
    const std::string k = "kubectl --kubeconfig " + kubeconfig_;
    // The first incident report's analysis, the one the README walks through.
    std::string rca = "<name>";
    const std::string rca_ns = "authentik";
    for (const auto& r : server_.list_objects("crashdiag.io/v1alpha1/rootcauseanalyses", rca_ns)) {
      if (r.value("status", json::object()).value("category", "") == "entrypoint_override") {
        rca = r["metadata"].value("name", rca);
      }
    }
    std::cout << "The replay is over; the API server keeps serving" << (exit_after_ < 0 ? " until Ctrl-C" : "")
              << ". Look around with the real kubectl:\n"
              << "  " << k << " get rca -A\n"
              << "  " << k << " describe rca -n " << rca_ns << " " << rca << "\n"
              << "  " << k << " get pods -A\n"
              << "  " << k << " get pods -n " << rca_ns << " -o jsonpath='{.items[*].metadata.annotations}'\n"
              << "  " << k << " get events -n " << rca_ns << "\n"
              << std::endl;
    if (exit_after_ < 0) return;
    const milliseconds end = steps_.empty() ? milliseconds(0) : steps_.back().at;
    if (!wait_until(end + milliseconds(static_cast<long long>(exit_after_ * 1000)))) return;
    ::kill(::getpid(), SIGTERM);  // run_daemon's signal handling: stop, finish writes, exit 0
  }

  fake::FakeApiServer& server_;
  std::vector<demo::Incident> incidents_;
  std::vector<demo::Step> steps_;
  std::string kubeconfig_;
  double exit_after_;
  std::chrono::steady_clock::time_point started_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  milliseconds late_{0};  // how much the awaits delayed the timeline (replay thread only)
};

}  // namespace

int run_demo(const DemoOptions& o) {
  auto resolve_after = core::parse_duration(o.resolve_after);
  if (!resolve_after) {
    std::cerr << "crashdiag demo: --resolve-after \"" << o.resolve_after << "\": not a duration; use e.g. 15s\n";
    return 2;
  }
  std::vector<demo::Incident> incidents;
  std::unique_ptr<fake::FakeApiServer> server;
  try {
    incidents = demo::bundled_incidents();
    fake::FakeOptions fo;
    fo.token = random_token();
    fo.bookmark_interval = milliseconds(10'000);
    server = std::make_unique<fake::FakeApiServer>(fo);
    server->write_kubeconfig(o.kubeconfig_out);
  } catch (const std::exception& e) {
    std::cerr << "crashdiag demo: " << e.what()
              << (o.kubeconfig_out.empty() ? "" : " (choose another path with --kubeconfig-out)") << "\n";
    return 2;
  }
  // Absolute, so that the kubectl lines printed below work from another terminal.
  std::error_code ec;
  const std::string kubeconfig = std::filesystem::absolute(o.kubeconfig_out, ec).string();
  std::cout << "crashdiag demo: a Kubernetes API server at " << server->url() << " (TLS, in this process) replays "
            << incidents.size() << " recorded incidents;\n"
            << "the crashdiag daemon watches it exactly as `crashdiag run` watches a cluster.\n"
            << "kubeconfig: " << kubeconfig << "\n";

  Replay replay(*server, std::move(incidents), milliseconds(resolve_after->count()), kubeconfig, o.exit_after);
  RunOptions run;
  run.kubeconfig = o.kubeconfig_out;
  run.log_level = o.log_level;
  run.resolve_after = o.resolve_after;
  run.metrics_bind_address = o.metrics_bind_address;
  run.health_probe_bind_address = o.health_probe_bind_address;
  run.on_started = [&replay](std::uint16_t metrics_port, std::uint16_t health_port) {
    std::cout << "metrics: http://127.0.0.1:" << metrics_port << "/metrics   health: http://127.0.0.1:" << health_port
              << "/healthz\n"
              << std::endl;
    replay.start();
  };
  const int rc = run_daemon(run);
  replay.stop();
  return rc;
}

}  // namespace crashdiag
