// The daemon's lifecycle (issue 13 item 1): construction, run() which starts every stage's
// coroutines (watch/, queue/, publish/) and sleeps until its next due time, stop(), leadership
// and the take-over that continues earlier leaders' RCAs, and readiness and health. Each stage
// lives in its own folder under operator/src/; docs/architecture.md follows one pod through them.
#include "daemon.hpp"
#include "crashdiag/core/protobuf.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>
#include <random>

#include "crashdiag/core/backoff.hpp"
#include "crashdiag/model/json_fields.hpp"
#include "event_store.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "no_throw.hpp"
#include "pod_handler.hpp"

namespace crashdiag::daemon {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using nlohmann::json;

namespace {

// What an exception that ended a coroutine says. Nothing in the daemon throws on purpose (errors
// are values); this is for what slips through (bad_alloc, a library's exception).
std::string describe(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {  // not swallowed: the caller logs it and the daemon reports unhealthy
    return "an exception that is not a std::exception";
  }
}

// The completion handler of a daemon coroutine: a normal end says nothing; an exception is
// logged with the coroutine's name and makes /healthz fail (Daemon::healthy), so the kubelet
// restarts a daemon that lost a watch or a worker instead of leaving it half alive.
auto on_death(std::shared_ptr<std::string> died, std::string name) {
  return [died = std::move(died), name = std::move(name)](const std::exception_ptr& e) {
    if (!e) return;
    const std::string what = describe(e);
    log(LogLevel::kError, "a daemon coroutine ended with an exception", {{"coroutine", name}, {"error", what}});
    if (died->empty()) *died = name + " ended with an exception: " + what;
  };
}

void log_take_over(std::size_t rcas, std::size_t pods) {
  log(LogLevel::kInfo, "leading: taking over existing root-cause analyses",
      {{"rcas", std::to_string(rcas)}, {"pods", std::to_string(pods)}});
}

void log_resolved(const core::RcaState& s) {
  log(LogLevel::kInfo, "root cause resolved", {{"namespace", s.target.namespace_}, {"rca", s.name}});
}

}  // namespace

Daemon::Daemon(asio::io_context& ioc, kube::KubeClient& client, const Classifier& classifier, DaemonOptions options)
    // Non-owning: the caller keeps `classifier` alive (the no-op deleter).
    : Daemon(
          ioc, client,
          std::make_unique<ClassifierHolder>(std::shared_ptr<const Classifier>(&classifier, [](const Classifier*) {})),
          nullptr, std::move(options)) {}

Daemon::Daemon(asio::io_context& ioc, kube::KubeClient& client, ClassifierHolder& classifiers, DaemonOptions options)
    : Daemon(ioc, client, nullptr, &classifiers, std::move(options)) {}

Daemon::Daemon(asio::io_context& ioc, kube::KubeClient& client, std::unique_ptr<ClassifierHolder> own,
               ClassifierHolder* shared, DaemonOptions options)
    : ioc_(ioc),
      client_(client),
      own_classifiers_(std::move(own)),
      classifiers_(shared != nullptr ? *shared : *own_classifiers_),
      options_(std::move(options)),
      queue_(
          core::ItemExponentialFailureRateLimiter(),
          options_.metrics != nullptr ? options_.metrics->work_queue("diagnoses", options_.clock.monotonic) : nullptr),
      tracker_(options_.rca) {
  work_ready_ = std::make_unique<asio::steady_timer>(ioc_, asio::steady_timer::time_point::max());
  delay_wake_ = std::make_unique<asio::steady_timer>(ioc_, asio::steady_timer::time_point::max());
  loop_wake_ = std::make_shared<asio::steady_timer>(ioc_, asio::steady_timer::time_point::max());
  owners_settled_ = std::make_unique<asio::steady_timer>(ioc_, asio::steady_timer::time_point::min());
  if (!options_.random) {
    auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
    options_.random = [rng] { return std::uniform_real_distribution<double>(0.0, 1.0)(*rng); };
  }
  options_.publisher.clock = options_.clock;
  // A namespace being deleted: the publisher has forgotten its RCAs, so their gauge series drop.
  options_.publisher.on_namespace_closed = [this,
                                            next = options_.publisher.on_namespace_closed](const std::string& ns) {
    update_active_gauge();
    if (next) next(ns);
  };
  pod_handler_ = std::make_unique<PodHandler>(*this);
  event_handler_ = std::make_unique<EventHandler>(options_.max_events_per_pod);
  evidence_ = std::make_unique<EvidenceGatherer>(
      ioc_, client_,
      EvidenceOptions{options_.log_tail_lines, options_.log_limit_bytes, options_.log_retry_delay,
                      options_.what_changed},
      [this](const std::string& uid) { return event_handler_->for_pod(uid); },
      [this](const std::string& rca) { return tracker_.find(rca) != nullptr; },
      [this](const nlohmann::json& pod, const std::string& ns) { return no_earlier_revision(pod, ns); });
  publisher_ = std::make_unique<Publisher>(
      ioc_, client_, tracker_, options_.publisher, options_.metrics,
      [this](const std::string& ns, const std::string& pod) -> std::optional<std::pair<std::string, std::string>> {
        const std::optional<core::PodRecord> rec = pods_.find(ns + "/" + pod);
        if (!rec) return std::nullopt;
        return std::make_pair(rec->rca_annotation, rec->root_cause_annotation);
      });
  take_over_pending_ = options_.start_leading;
}

Daemon::~Daemon() = default;

void Daemon::stop() {
  stopping_ = true;
  queue_.shut_down();
  work_ready_->cancel();
  delay_wake_->cancel();
  loop_wake_->cancel();
  // The watches and lists in flight end now, not at their next bytes: on a real apiserver a
  // quiet watch's next bytes are a bookmark about a minute away, and the run() that waited for
  // them took 85 s to stop (measured on kube-apiserver 1.26 with the k8s rig).
  client_.cancel_streams();
}

void Daemon::set_leading(bool leading) {
  if (leading) {
    take_over_pending_ = true;  // run() reads the existing RCAs, then starts diagnosing
    loop_wake_->cancel();
    return;
  }
  take_over_pending_ = false;
  if (!leading_) return;
  leading_ = false;
  // Queued and delayed failures are forgotten; one being diagnosed is dropped when its worker
  // sees leadership lost, and its key stays out of other workers' hands until then.
  queue_.clear();
  jobs_.clear();
  tracker_ = core::RcaTracker(options_.rca);
  publisher_->reset();
  // Only the leader's counts are true: a follower exporting frozen ones would keep alerts firing
  // for RCAs the new leader has since resolved. The empty tracker sets every series to zero.
  update_active_gauge();
  spec_findings_.clear();  // a new term looks again; its Events answer 409 where already told
  update_findings_gauge();
  log(LogLevel::kInfo, "stopped leading: no more writes from this replica");
}

void Daemon::time_moved() {
  if (loop_wake_) loop_wake_->cancel();
  if (delay_wake_) delay_wake_->cancel();
}

std::size_t Daemon::pods_with_events() const {
  return event_handler_->pods_with_events();
}

std::vector<std::string> Daemon::watch_versions() const {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < versions_.size(); ++i) {
    if (synced_[i]) out.push_back(versions_[i]);
  }
  return out;
}

bool Daemon::quiet() const {
  return queue_.len() == 0 && queue_.waiting_count() == 0 && queue_.processing_count() == 0 && jobs_.empty() &&
         *spec_checks_ == 0 && !take_over_pending_ && publisher_->idle();
}

bool Daemon::synced() const {
  // The owner watches are optional: without them (RBAC without list/watch, or not synced yet)
  // the daemon asks the server per failure instead. A daemon that lost a coroutine is not ready
  // either (healthy() says which).
  if (synced_.empty() || !died_->empty()) return false;
  for (std::size_t i = 0; i < synced_.size(); ++i) {
    if (required_[i] && !synced_[i]) return false;
  }
  return true;
}

bool Daemon::healthy(std::string* why) const {
  if (!died_->empty()) {
    if (why != nullptr) *why = *died_;
    return false;
  }
  // The idle deadline restarts a silent watch; a request timeout bounds a list. A watch quiet
  // for longer than both plus a grace period is wedged, and a restart of the process helps.
  const core::Duration deadline = options_.health_deadline.value_or(options_.idle_timeout + core::Duration(60'000));
  const core::TimePoint now = options_.clock.now();
  for (std::size_t i = 0; i < activity_.size(); ++i) {
    if (now - activity_[i] > deadline) {
      if (why != nullptr) {
        *why = "watch " + watch_names_[i] + " made no progress for " +
               std::to_string((now - activity_[i]).count() / 1000) + "s";
      }
      return false;
    }
  }
  return true;
}

asio::awaitable<void> Daemon::take_over() {
  // Read what earlier leaders wrote so occurrences, firstSeen and history continue.
  // Listed where the daemon watches: with --namespace, a namespace-scoped install (RoleBindings per
  // namespace) may not list RCAs cluster-wide, and a 403 there would restart every count at zero.
  std::vector<std::string> collections;
  if (options_.namespaces.empty()) {
    collections.emplace_back("/apis/crashdiag.io/v1alpha1/rootcauseanalyses");
  } else {
    for (const auto& ns : options_.namespaces) {
      collections.push_back("/apis/crashdiag.io/v1alpha1/namespaces/" + ns + "/rootcauseanalyses");
    }
  }
  std::size_t seeded = 0;
  for (const std::string& collection : collections) {
    std::string cont;
    for (int page = 0; page < 100; ++page) {
      std::string target = collection + "?limit=500";
      if (!cont.empty()) target += "&continue=" + kube::url_encode(cont);
      // A 5xx, a 429 or a dropped connection is the server's passing trouble: starting from
      // scratch then would restart every count at zero and reopen what was resolved. Retried
      // with backoff while still taking over; a 404 (no CRD yet) or 403 starts from scratch.
      tl::expected<kube::Response, kube::TransportError> res =
          tl::unexpected(kube::TransportError{"not sent", kube::TransportFailure::kNotSent});
      // Attempts follow each other, so the backoff never sees a healthy pause to reset after.
      core::Backoff backoff(core::BackoffPolicy{core::Duration{200}, core::Duration{5'000}});
      for (int attempt = 0; attempt < 8 && take_over_pending_ && !stopping_; ++attempt) {
        kube::Request list_req{http::verb::get, target, "rootcauseanalyses", "", ""};  // named: GCC 12 PR 99576
        res = co_await client_.request(std::move(list_req));
        const bool transient = !res || res->status >= 500 || res->status == 429;
        if (!transient) break;
        log(LogLevel::kWarn, "take-over: listing the RCAs failed; retrying",
            {{"status", res ? std::to_string(res->status) : res.error().what},
             {"attempt", std::to_string(attempt + 1)}});
        asio::steady_timer wait(ioc_, std::chrono::duration_cast<asio::steady_timer::duration>(
                                          backoff.next(core::TimePoint{attempt}, options_.random)));
        co_await wait.async_wait(kNoThrow);
      }
      if (!res || res->status != 200) break;  // no CRD yet, or no permission: start from scratch
      json body = json::parse(res->body, nullptr, false);
      if (!body.is_object() || !body.contains("items") || !body["items"].is_array()) break;
      for (const auto& item : body["items"]) {
        // Another shard's RCAs are that shard's to continue and resolve.
        if (!item.contains("metadata") || !item["metadata"].is_object() ||
            !core::owns(options_.shard, json_fields::string_or(item["metadata"], "namespace"))) {
          continue;
        }
        tracker_.seed(item);
        ++seeded;
      }
      cont = body.contains("metadata") && body["metadata"].is_object()
                 ? json_fields::string_or(body["metadata"], "continue")
                 : "";
      if (cont.empty()) break;
    }
  }
  if (!take_over_pending_) co_return;  // lost it again while reading
  take_over_pending_ = false;
  leading_ = true;
  publisher_->wake();  // it sleeps while not leading
  update_active_gauge();
  // Failures that are going on right now: the pod store knows them already.
  std::size_t walked = 0;
  pods_.for_each([&](const core::PodRecord& pod) {
    ++walked;
    for (const auto& sig : core::detect_crashes(nullptr, pod, detect_options())) enqueue(sig, "", false);
    look_at_spec(pod, "");
  });
  log_take_over(seeded, walked);
}

asio::awaitable<void> Daemon::run() {
  std::vector<WatchSpec> watches;
  const std::string pod_selector =
      options_.label_selector.empty() ? "" : "&labelSelector=" + kube::url_encode(options_.label_selector);
  auto add = [&](const std::string& prefix) {
    watches.push_back(WatchSpec{"pods", prefix + "/pods", pod_handler_.get(),
                                options_.pod_list_protobuf ? core::pb::kProtobufThenJson : "", "", pod_selector, true,
                                options_.pod_list_protobuf});
    // Events are served from etcd, not the watch cache (kube-apiserver's default storage gives
    // them none), and etcd-served watches of some releases send no initial-events-end bookmark: a
    // streaming list of Events could wait out its whole timeout. They are listed.
    watches.push_back(WatchSpec{"events", prefix + "/events", event_handler_.get(), "", "", "", true, false, false});
  };
  if (options_.namespaces.empty()) {
    add("/api/v1");
  } else {
    for (const auto& ns : options_.namespaces) add("/api/v1/namespaces/" + ns);
  }
  if (options_.watch_owners) {
    for (auto& w : owner_watches()) {
      watches.push_back(std::move(w));
      ++owner_watches_unsettled_;
    }
    // However slow the owner lists are, diagnoses start within this.
    owners_settled_->expires_after(std::chrono::duration_cast<asio::steady_timer::duration>(options_.owner_sync_wait));
  }
  for (auto& w : watches) {
    std::string name = "watch " + w.resource;
    asio::co_spawn(ioc_, watch_loop(std::move(w)), on_death(died_, std::move(name)));
  }
  for (int i = 0; i < options_.max_concurrent_diagnoses; ++i) {
    asio::co_spawn(ioc_, worker(), on_death(died_, "diagnosis worker " + std::to_string(i)));
  }
  asio::co_spawn(ioc_, delayer(), on_death(died_, "evidence delay queue"));
  // Shared: the completion may run after this frame is gone if the io_context is torn down.
  auto publisher_done = std::make_shared<bool>(false);
  // The completion only touches what it owns: the timer outlives the daemon's frame (shared).
  asio::co_spawn(ioc_, publisher_->run([this] { return leading_; }),
                 [publisher_done, wake = loop_wake_](const std::exception_ptr&) {
                   *publisher_done = true;
                   wake->cancel();
                 });
  // Woken, not polled (issue 13 item 3): the loop sleeps until its next due time (the next
  // resolve check while leading, the earliest --unready-after deadline) or until wake() says there
  // is work (leadership won, a new deadline, stop). The watched-pods gauge is set where the store
  // changes.
  // The resolve check is scheduled on the monotonic clock (a step of the wall clock neither
  // skips nor repeats it); what it compares, an RCA's lastSeen with now, is wall time, as written.
  // With no Active RCA there is nothing to resolve, so the check is not scheduled at all and a
  // quiet cluster costs no wake-ups (issue 13 item 3); record() wakes this loop when one appears.
  core::TimePoint next_resolve = options_.clock.now();
  while (!stopping_) {
    if (take_over_pending_) co_await take_over();
    const bool check_resolve = leading_ && tracker_.any_active();
    if (!check_resolve) next_resolve = options_.clock.now();  // the first check comes at once
    if (check_resolve && options_.clock.now() >= next_resolve) {
      next_resolve = options_.clock.now() + options_.resolve_check_interval;
      auto resolved = tracker_.resolve_idle(wall_now(), [this](const core::RcaState& r) { return still_failing(r); });
      for (const auto& name : resolved) {
        publisher_->resolved(name);
        log_resolved(*tracker_.find(name));
        unlink_dependents(name);
      }
      if (!resolved.empty()) update_active_gauge();
    }
    check_unready_deadlines();
    if (stopping_ || take_over_pending_) continue;
    // Each wait in its own clock's terms: the resolve check's on the monotonic one, an unready
    // deadline's (a lastTransitionTime plus --unready-after) on the wall one.
    std::optional<core::Duration> wait;
    resolve_scheduled_ = leading_ && tracker_.any_active();
    if (resolve_scheduled_) wait = next_resolve - options_.clock.now();
    if (!unready_deadlines_.empty()) {
      const core::Duration until_deadline = core::WallTime{unready_deadlines_.begin()->first * 1000} - wall_now();
      wait = wait ? std::min(*wait, until_deadline) : until_deadline;
    }
    if (wait) {
      loop_wake_->expires_after(
          std::chrono::duration_cast<asio::steady_timer::duration>(std::max(*wait, core::Duration{1})));
    } else {
      loop_wake_->expires_at(asio::steady_timer::time_point::max());
    }
    co_await loop_wake_->async_wait(kNoThrow);
  }
  // Finish the writes in flight (the caller bounds how long by stopping the io_context): the
  // publisher's completion wakes this loop.
  publisher_->stop();
  while (!*publisher_done) {
    loop_wake_->expires_at(asio::steady_timer::time_point::max());
    co_await loop_wake_->async_wait(kNoThrow);
  }
}

}  // namespace crashdiag::daemon
