#include "daemon.hpp"
#include "crashdiag/model/json_fields.hpp"
#include "no_throw.hpp"
#include "watch_sink.hpp"

#include <simdjson.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <random>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "crashdiag/classifiers/dependency.hpp"
#include "crashdiag/core/backoff.hpp"
#include "crashdiag/core/list_decoder.hpp"
#include "crashdiag/model/failure.hpp"
#include "crashdiag/model/log_tail.hpp"
#include "crashdiag/model/parse.hpp"
#include "crashdiag/model/template_diff.hpp"
#include "kinds.hpp"
#include "log.hpp"
#include "metrics.hpp"

namespace crashdiag::daemon {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using nlohmann::json;

namespace {

// A pod list is hundreds of MB parsed item by item: the parser's and the list's short-lived
// blocks are freed, but glibc keeps freed memory below its heap top and in its arenas instead of
// returning it (M_TRIM_THRESHOLD applies only at the top of the main heap), so the resident size
// after a sync stays at its high-water mark. malloc_trim(0) returns the free pages of every arena
// (glibc 2.8+, malloc/malloc.c mtrim). Once per list, not per event: it walks the whole heap.
void give_back_freed_memory() {
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
}

double unix_seconds(core::WallTime t) {
  return std::chrono::duration<double>(t.since_origin()).count();
}

// Log helpers live outside coroutines (GCC 12 mishandles initializer lists of string literals
// inside coroutine bodies), one per happening.
void log_watch_failure(const std::string& resource, int status, const std::string& reason) {
  log(LogLevel::kWarn, "watch request failed",
      {{"resource", resource}, {"status", std::to_string(status)}, {"reason", reason}});
}
void log_forbidden(const std::string& resource, const std::string& path) {
  // 403: the ServiceAccount lacks the RBAC rule; say which, once.
  log(LogLevel::kWarn, "forbidden: grant the missing RBAC rule",
      {{"resource", resource},
       {"path", path},
       {"rule", "apiGroups: [\"\"], resources: [\"" + resource + "\"], verbs: [\"list\", \"watch\"]"}});
}
void log_synced(const std::string& resource, std::size_t objects) {
  log(LogLevel::kInfo, "initial list synced", {{"resource", resource}, {"objects", std::to_string(objects)}});
}
void log_bad_line(const std::string& resource, const std::string& what, std::string_view line = {}) {
  // The start of the line (bounded) says which object it was without flooding the log.
  log(LogLevel::kWarn, "ignoring malformed watch event",
      {{"resource", resource}, {"error", what}, {"line", std::string(line.substr(0, 160))}});
}
void log_gather_failed(const core::CrashSignal& s, const std::string& what) {
  log(LogLevel::kWarn, "cannot gather evidence",
      {{"namespace", s.namespace_}, {"pod", s.pod}, {"container", s.container}, {"error", what}});
}
// The diagnosis goes ahead without the log, and says so in its evidence notes.
void log_logs_unavailable(const core::CrashSignal& s, const std::string& why) {
  log(LogLevel::kWarn, "logs unavailable",
      {{"namespace", s.namespace_}, {"pod", s.pod}, {"container", s.container}, {"reason", why}});
}
void log_restart_checked(const core::CrashSignal& s, const std::string& category) {
  log(LogLevel::kDebug, "restart looked at: no re-initialisation",
      {{"namespace", s.namespace_}, {"pod", s.pod}, {"container", s.container}, {"best", category}});
}
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

void log_diagnosis(const DiagnosisRecord& r) {
  const Hypothesis& top = r.diagnosis.hypotheses.front();
  char conf[16];
  std::snprintf(conf, sizeof conf, "%.2f", top.confidence);
  log(LogLevel::kInfo, "diagnosis",
      {{"namespace", r.signal.namespace_},
       {"workload", r.workload},
       {"pod", r.signal.pod},
       {"container", r.signal.container},
       {"reason", r.signal.reason},
       {"category", top.category},
       {"confidence", conf},
       {"summary", top.summary},
       {"rule", top.rule_id},
       {"rca", r.rca},
       {"change", std::string(core::to_string(r.change))}});
}

}  // namespace

// ---- handlers: what to do with list items and watch events of each resource ------------------

class Daemon::EventHandler final : public Daemon::WatchSink {
 public:
  explicit EventHandler(std::size_t per_pod) : per_pod_(per_pod) {}
  void begin() override { staging_.clear(); }
  void stage(std::string_view item) override { add(staging_, item); }
  void discard() override { staging_.clear(); }
  std::size_t commit() override {
    by_pod_.swap(staging_);
    staging_.clear();
    return by_pod_.size();
  }
  std::optional<core::WatchEvent> parse(std::string_view line, const std::string& resource) override {
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("type")) {
      log_bad_line(resource, "not a watch event");
      return std::nullopt;
    }
    core::WatchEvent ev;
    const std::string type = j["type"].is_string() ? j["type"].get<std::string>() : "";
    pending_ = j;
    ev.type = core::watch_event_type(type);
    const json& obj = j.contains("object") ? j["object"] : json();
    if (ev.type == core::WatchEventType::kError) {
      ev.error_code =
          obj.is_object() && obj.contains("code") && obj["code"].is_number_integer() ? obj["code"].get<int>() : 0;
    } else if (obj.is_object() && obj.contains("metadata") && obj["metadata"].contains("resourceVersion")) {
      ev.resource_version = obj["metadata"]["resourceVersion"].get<std::string>();
    }
    return ev;
  }
  void apply() override {
    if (!pending_.contains("object")) return;
    if (pending_["type"] == "DELETED") {
      // Events expire (the apiserver's --event-ttl, 1 h by default) and arrive as DELETED; a
      // failure that goes on re-emits its events, so dropping expired ones loses nothing current
      // and keeps the cache bounded by what the cluster holds.
      remove(pending_["object"]);
      return;
    }
    add(by_pod_, pending_["object"].dump());
  }
  // The pod is gone: its events can no longer be evidence.
  void forget_pod(const std::string& uid) { by_pod_.erase(uid); }
  [[nodiscard]] std::size_t pods_with_events() const { return by_pod_.size(); }
  [[nodiscard]] std::vector<Event> for_pod(const std::string& uid) const {
    auto it = by_pod_.find(uid);
    if (it == by_pod_.end()) return {};
    std::vector<Event> out;
    for (const auto& [name, ev] : it->second) out.push_back(ev);
    return out;
  }

 private:
  using Map = std::map<std::string, std::map<std::string, Event>>;  // pod uid -> event name -> event
  void remove(const json& obj) {
    if (!obj.is_object() || !obj.contains("involvedObject") || !obj.contains("metadata")) return;
    const std::string uid = json_fields::string_or(obj["involvedObject"], "uid");
    auto it = by_pod_.find(uid);
    if (it == by_pod_.end()) return;
    it->second.erase(json_fields::string_or(obj["metadata"], "name"));
    if (it->second.empty()) by_pod_.erase(it);
  }
  void add(Map& map, std::string_view item) {
    std::string text(item);
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return;
    if (!j.contains("kind")) j["kind"] = "Event";  // list items carry no kind
    auto parsed = parse_events_json(j.dump());
    if (!parsed || parsed->empty()) return;
    Event& e = parsed->front();
    if (e.involved_kind != "Pod" || e.involved_uid.empty()) return;
    if (e.source_component == "crashdiag") return;  // our own RootCauseIdentified: a conclusion, not evidence
    const std::string name = json_fields::string_or(j["metadata"], "name");
    auto& events = map[e.involved_uid];
    events[name] = std::move(e);
    while (events.size() > per_pod_) events.erase(events.begin());
  }
  std::size_t per_pod_;
  Map by_pod_;
  Map staging_;
  json pending_;
};

class Daemon::PodHandler final : public Daemon::WatchSink {
 public:
  explicit PodHandler(Daemon& d) : d_(d) {}
  void begin() override { d_.pods_.begin_snapshot(); }
  void stage(std::string_view item) override {
    auto rec = core::parse_pod_record(item);
    if (rec) d_.pods_.stage(*rec);
  }
  void discard() override { d_.pods_.discard_snapshot(); }
  std::size_t commit() override {
    auto vanished = d_.pods_.commit_snapshot(
        [&](const core::PodRecord* old, const core::PodRecord& now) { d_.detect(old, now, ""); });
    for (const auto& gone : vanished) {  // deleted while we were not watching
      d_.event_handler_->forget_pod(gone.uid);
      d_.tracker_.forget_pod(gone.uid);
      d_.bare_pod_deleted(gone);
    }
    set_gauge();
    give_back_freed_memory();
    return d_.pods_.size();
  }
  std::optional<core::WatchEvent> parse(std::string_view line, const std::string& resource) override {
    auto parsed = core::parse_watch_line(line);
    if (!parsed) {
      log_bad_line(resource, parsed.error().what, line);
      return std::nullopt;
    }
    pending_ = std::move(*parsed);
    pending_line_.assign(line);
    core::WatchEvent ev;
    ev.resource_version = pending_.resource_version;
    ev.error_code = pending_.error_code;
    ev.type = core::watch_event_type(pending_.type);
    return ev;
  }
  void apply() override {
    if (!pending_.pod) return;
    if (pending_.type == "DELETED") {
      d_.pods_.remove(pending_.pod->key());
      d_.event_handler_->forget_pod(pending_.pod->uid);
      d_.tracker_.forget_pod(pending_.pod->uid);
      d_.bare_pod_deleted(*pending_.pod);
      set_gauge();
      return;
    }
    auto old = d_.pods_.upsert(*pending_.pod);
    d_.detect(old ? &*old : nullptr, *pending_.pod, pending_line_);
    if (!old) set_gauge();
  }

 private:
  void set_gauge() {
    if (d_.options_.metrics != nullptr) d_.options_.metrics->set_watched_pods(static_cast<double>(d_.pods_.size()));
  }
  Daemon& d_;
  core::WatchLine pending_;
  std::string pending_line_;
};

// ---- the daemon ---------------------------------------------------------------------------------

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

core::DetectOptions Daemon::detect_options(bool deadline_check) const {
  core::DetectOptions o;
  o.unready.now_unix = std::chrono::duration_cast<std::chrono::seconds>(wall_now().since_origin()).count();
  o.unready.unready_after_seconds = std::chrono::duration_cast<std::chrono::seconds>(options_.unready_after).count();
  o.deadline_check = deadline_check;
  return o;
}

void Daemon::detect(const core::PodRecord* old, const core::PodRecord& now, const std::string& pod_json) {
  const core::DetectOptions o = detect_options();
  // The list's commit calls this before its records are in the store, so enqueue() cannot look
  // the pod up yet: the pod at hand decides.
  if (now.ignored) {
    if (!core::detect_crashes(old, now, o).empty()) ++ignored_;
    return;
  }
  for (const auto& s : core::detect_crashes(old, now, o)) enqueue(s, pod_json);
  look_at_spec(now, pod_json);
  // A pod that runs unready produces no further watch events while it stays so: look at it again
  // when it has been unready for --unready-after.
  if (auto due = core::unready_deadline(now, o.unready.unready_after_seconds); due && *due > *o.unready.now_unix) {
    const bool earliest = unready_deadlines_.empty() || *due < unready_deadlines_.begin()->first;
    unready_deadlines_.emplace(*due, now.key());
    if (earliest) loop_wake_->cancel();  // run() sleeps until the earliest deadline
  }
}

void Daemon::check_unready_deadlines() {
  const core::DetectOptions o = detect_options(/*deadline_check=*/true);
  while (!unready_deadlines_.empty() && unready_deadlines_.begin()->first <= *o.unready.now_unix) {
    const auto [due, key] = *unready_deadlines_.begin();
    unready_deadlines_.erase(unready_deadlines_.begin());
    const std::optional<core::PodRecord> pod = pods_.find(key);
    // Gone, Ready again, or unready since another time (a new deadline was scheduled for that).
    if (!pod || core::unready_deadline(*pod, o.unready.unready_after_seconds) != due) continue;
    for (const auto& s : core::detect_crashes(&*pod, *pod, o)) enqueue(s, "");
  }
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

std::size_t Daemon::pods_with_events() const {
  return event_handler_->pods_with_events();
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

std::optional<core::WorkloadRef> Daemon::cached_workload(const core::CrashSignal& s) const {
  const std::size_t slash = s.workload.find('/');
  const std::string kind = s.workload.substr(0, slash);
  if (kind != "ReplicaSet" && kind != "Job") return std::nullopt;  // resolved without a lookup, in the worker
  const core::WorkloadRef direct{"", kind, s.workload.substr(slash + 1), s.workload_uid};
  if (const auto known = core::top_level_from(meta(kind), direct, s.namespace_); known.known) return known.workload;
  auto it = owner_cache_.find(s.namespace_ + "/" + s.workload);
  if (it == owner_cache_.end()) return std::nullopt;
  return it->second;
}

namespace {

core::RcaTarget make_target(const core::CrashSignal& s, const core::WorkloadRef& workload) {
  return core::RcaTarget{s.namespace_, workload, s.container, s.init, s.signature};
}

core::Occurrence make_occurrence(const core::CrashSignal& s, const core::RcaTarget& target, core::WallTime now) {
  core::Occurrence o;
  o.target = target;
  o.pod = s.pod;
  o.pod_uid = s.pod_uid;
  o.restart_count = s.restart_count;
  o.reason = s.reason;
  if (s.signature.find(':') != std::string::npos) o.exit_code = s.exit_code;
  o.first_sight = s.first_sight;
  o.now = now;
  return o;
}

void log_take_over(std::size_t rcas, std::size_t pods) {
  log(LogLevel::kInfo, "leading: taking over existing root-cause analyses",
      {{"rcas", std::to_string(rcas)}, {"pods", std::to_string(pods)}});
}

void log_resolved(const core::RcaState& s) {
  log(LogLevel::kInfo, "root cause resolved", {{"namespace", s.target.namespace_}, {"rca", s.name}});
}

}  // namespace

void Daemon::record(const core::CrashSignal& s, const core::RcaTarget& target, const ContainerDiagnosis* diagnosis) {
  const core::RcaUpdate update = tracker_.record(make_occurrence(s, target, wall_now()), diagnosis, options_.instance);
  publisher_->submit(update);
  if (update.change == core::RcaChange::kReopened) link_waiting_dependents(update.name);
  if (update.change != core::RcaChange::kUnchanged && update.change != core::RcaChange::kRepeated)
    update_active_gauge();
}

void Daemon::update_active_gauge() {
  if (options_.metrics == nullptr) return;
  auto counts = tracker_.active_counts();
  // Series that drop to zero stay at zero rather than vanish: a vanished series reads as
  // "no data" in alerts, zero reads as "resolved".
  for (const auto& key : gauge_series_) {
    if (counts.count(key) == 0) options_.metrics->set_active_rcas(key.namespace_, key.category, key.consequence, 0);
  }
  for (const auto& [key, n] : counts) {
    options_.metrics->set_active_rcas(key.namespace_, key.category, key.consequence, n);
    gauge_series_.insert(key);
  }
}

bool Daemon::still_failing(const core::RcaState& rca) const {
  // A database that initialised itself empty has not recovered by running: the same pod (same
  // uid, same spec) loses its data again at its next restart. Active until that pod is replaced,
  // which is what fixing the workload's volumeMounts does (a StatefulSet pod keeps its name, not
  // its uid).
  if (const Hypothesis* top = rca.top(); top != nullptr && top->category == "data_reinitialized") {
    for (const auto& p : rca.pods) {
      const std::optional<core::PodRecord> rec = pods_.find(rca.target.namespace_ + "/" + p.name);
      if (rec && !rec->deleting && rec->uid == p.uid) return true;
    }
    return false;
  }
  for (const auto& p : rca.pods) {
    const std::optional<core::PodRecord> rec = pods_.find(rca.target.namespace_ + "/" + p.name);
    if (!rec || rec->deleting) continue;
    for (const auto& c : rec->containers) {
      if (c.name != rca.target.container || c.init != rca.target.init) continue;
      // Waiting in a failure reason (back-off between restarts, image pull retries) is still
      // failing even though no new termination arrives (CrashLoopBackOff waits up to 5 min).
      if (crashdiag::is_failure_waiting_reason(c.waiting_reason)) return true;
    }
  }
  return false;
}

void Daemon::enqueue(const core::CrashSignal& signal, std::string pod_json, bool count) {
  if (!core::owns(options_.shard, signal.namespace_)) return;  // another shard's: not counted here either
  // A pod a list shows again (after a restart of crashdiag, a take-over, a relist) with a failure
  // an RCA already holds: nothing happened since.
  if (signal.first_sight && tracker_.counted(signal.pod_uid, signal.restart_count)) return;
  // The cluster owner's silence, for every way a failure is found (a watch event, the initial
  // list, a relist, a new leader's walk of its store, an unready deadline): the pod's own
  // annotation and --exclude-namespaces are known here; the workload's and the namespace's
  // annotations are read before diagnosing (silenced()).
  const std::optional<core::PodRecord> pod = pods_.find(signal.namespace_ + "/" + signal.pod);
  if ((pod && pod->ignored) || std::find(options_.exclude_namespaces.begin(), options_.exclude_namespaces.end(),
                                         signal.namespace_) != options_.exclude_namespaces.end()) {
    ++ignored_;
    return;
  }
  if (count) {
    if (options_.on_signal) options_.on_signal(signal);
    ++signals_;
    if (options_.metrics != nullptr) options_.metrics->crash_signal(signal.reason);
  }
  if (!leading_) return;  // followers only keep their pod store warm
  // Fast path: a failure already diagnosed recently only counts. No evidence, no queue.
  if (auto workload = cached_workload(signal)) {
    const core::RcaTarget target = make_target(signal, *workload);
    if (!tracker_.needs_diagnosis(target, wall_now())) {
      record(signal, target, nullptr);
      return;
    }
  }
  // One diagnosis per failure at a time: replicas failing the same way while it waits out the
  // delay, is queued or is gathered wait for it, then only count.
  const std::string key = signal.dedupe_key();
  const core::TimePoint now = queue_now();
  if (queue_.tracked(key)) {
    jobs_[key].push_back(Job{signal, ""});  // the pod JSON is not needed to count
    // Being diagnosed: the key is marked and handed out again when its worker is done
    // (client-go's queue.go Add and Done), to one worker, never to two at once. Waiting or
    // queued: these jobs go with it.
    if (queue_.processing(key)) queue_.add(key, now);
    return;
  }
  jobs_[key].push_back(Job{signal, std::move(pod_json)});
  if (options_.evidence_delay.count() > 0) {
    const std::optional<core::TimePoint> earliest = queue_.next_due();
    queue_.add_after(key, options_.evidence_delay, now);
    if (queue_.next_due() != earliest) delay_wake_->cancel();  // the delayer sleeps until the earliest
    return;
  }
  queue_.add(key, now);
  work_ready_->cancel();
}

asio::awaitable<void> Daemon::delayer() {
  // client-go's waiting loop (delaying_queue.go), on one timer armed to the queue's next due time.
  while (!stopping_) {
    queue_.advance(queue_now());
    if (queue_.len() > 0) work_ready_->cancel();
    const std::optional<core::TimePoint> due = queue_.next_due();
    // The wait is a difference of two readings of the injected clock, so a test clock and the
    // real one arm the timer the same way.
    if (due) {
      delay_wake_->expires_after(
          std::chrono::duration_cast<asio::steady_timer::duration>(std::max(*due - queue_now(), core::Duration{0})));
    } else {
      delay_wake_->expires_at(asio::steady_timer::time_point::max());
    }
    co_await delay_wake_->async_wait(kNoThrow);  // due, cancelled by enqueue() or by stop()
  }
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
    watches.push_back(WatchSpec{"pods", prefix + "/pods", pod_handler_.get(), "", "", pod_selector, true});
    watches.push_back(WatchSpec{"events", prefix + "/events", event_handler_.get(), "", "", "", true});
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
  core::WallTime next_resolve = wall_now();
  while (!stopping_) {
    if (take_over_pending_) co_await take_over();
    if (leading_ && wall_now() >= next_resolve) {
      next_resolve = wall_now() + options_.resolve_check_interval;
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
    std::optional<core::WallTime> due;
    if (leading_) due = next_resolve;
    if (!unready_deadlines_.empty()) {
      const core::WallTime deadline{unready_deadlines_.begin()->first * 1000};
      due = due ? std::min(*due, deadline) : deadline;
    }
    if (due) {
      const auto wait = std::max(*due - wall_now(), core::Duration{1});
      loop_wake_->expires_after(std::chrono::duration_cast<asio::steady_timer::duration>(wait));
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

asio::awaitable<void> Daemon::watch_loop(WatchSpec spec) {
  // Nothing in this frame may refer to the daemon from a destructor: pending frames are
  // destroyed with the io_context, which may outlive the daemon.
  core::WatchMachine machine(options_.watch, options_.random);
  const std::string& resource = spec.resource;
  const std::string& path = spec.path;
  WatchSink& sink = *spec.sink;
  const std::size_t watch_index = synced_.size();
  synced_.push_back(false);
  required_.push_back(spec.required);
  activity_.push_back(options_.clock.now());
  watch_names_.push_back(path);
  auto restarted = [this, &resource](const char* why) {
    if (options_.metrics != nullptr) options_.metrics->watch_restart(resource, why);
  };
  const std::string& selector = spec.selector;
  // An optional watch (the owner index) is settled once its first list is in or has failed:
  // diagnoses wait for that at start-up (Daemon::owners_settled), as client-go controllers wait
  // for their informers to sync, but never for a watch the server refuses (RBAC without it).
  bool settled = spec.required;
  auto settle = [&] {
    if (settled) return;
    settled = true;
    if (--owner_watches_unsettled_ == 0) owners_settled_->cancel();
  };

  std::deque<core::Command> commands;
  // crashdiag_watch_last_event_timestamp_seconds at most once a second: a relist-sized burst of
  // watch lines should not take the metrics family's lock per line for a value alerts read in
  // minutes.
  double last_event_reported = 0;
  auto feed = [&](const core::Input& in) {
    activity_[watch_index] = options_.clock.now();
    for (auto& c : machine.step(in, options_.clock.now())) commands.push_back(std::move(c));
  };
  // The server answered, but not with 200: tell the machine (it backs off, or relists on 410).
  auto refused = [&](const kube::Response& res) {
    if (res.status == 403 && warned_forbidden_.insert(resource).second) log_forbidden(resource, path);
    const std::string reason = kube::status_message(res.body);
    log_watch_failure(resource, res.status, reason);
    restarted(res.status == 410 ? "expired" : "http");
    feed(core::RequestFailed{res.status, res.retry_after, reason});
  };
  feed(core::Start{});
  while (!stopping_) {
    if (commands.empty()) break;  // cannot happen: every state asks for the next request
    core::Command cmd = std::move(commands.front());
    commands.pop_front();
    if (auto* list = std::get_if<core::ListCommand>(&cmd)) {
      std::string target =
          path + "?limit=" + std::to_string(list->limit) + "&resourceVersion=" + list->resource_version + selector;
      if (!list->continue_token.empty()) target += "&continue=" + kube::url_encode(list->continue_token);
      kube::Request res_req{http::verb::get, target, resource, "", "",
                            spec.list_accept};  // named: GCC 12 PR 99576 double-destroys temporaries in co_await
      // Decoded as it streams in, item by item: with resourceVersion=0 a real apiserver ignores
      // `limit` and sends the whole list in one body (ListDecoder's comment has the source).
      core::ListDecoder decoder(options_.max_list_item_bytes, [&](std::string_view item) { sink.stage(item); });
      std::optional<core::ListDecodeError> decode_error;
      auto res = co_await client_.stream(
          std::move(res_req),
          [&](std::string_view chunk) {
            activity_[watch_index] = options_.clock.now();
            decode_error = decoder.feed(chunk);
            return !decode_error && !stopping_;
          },
          options_.list_read_timeout);
      if (stopping_) break;  // cancelled by stop(): not a failure to report
      if (!res) {
        log_watch_failure(resource, 0, res.error().what);
        feed(core::RequestFailed{0, std::nullopt, res.error().what});
        settle();
        continue;
      }
      if (res->status != 200) {
        refused(*res);
        settle();
        continue;
      }
      if (stopping_) break;
      if (!decode_error) decode_error = decoder.finish();
      if (decode_error) {
        const std::string why(core::to_string(*decode_error));
        log_watch_failure(resource, 200, why);
        feed(core::RequestFailed{0, std::nullopt, why});
        settle();
        continue;
      }
      const std::string rv = decoder.resource_version();
      const std::string cont = decoder.continue_token();
      feed(core::ListPage{rv, cont});
    } else if (auto* watch = std::get_if<core::WatchCommand>(&cmd)) {
      std::string target =
          path + "?watch=1&allowWatchBookmarks=true&timeoutSeconds=" + std::to_string(watch->timeout_seconds) +
          "&resourceVersion=" + watch->resource_version + selector;
      kube::Request watch_req{http::verb::get, target, resource, "", "", spec.watch_accept};  // named: GCC 12 PR 99576
      auto res = co_await client_.watch(
          std::move(watch_req),
          [&](std::string_view line) {
            activity_[watch_index] = options_.clock.now();
            auto ev = sink.parse(line, resource);
            if (!ev) return true;
            if (const double now_s = unix_seconds(wall_now());
                options_.metrics != nullptr && now_s - last_event_reported >= 1.0) {
              options_.metrics->watch_event(resource, now_s);
              last_event_reported = now_s;
            }
            if (ev->type == core::WatchEventType::kError) restarted(ev->error_code == 410 ? "expired" : "error");
            for (auto& c : machine.step(*ev, options_.clock.now())) {
              if (std::holds_alternative<core::ApplyEvent>(c)) {
                sink.apply();
              } else if (std::holds_alternative<core::CloseWatch>(c)) {
                // keep the rest of the machine's commands (relist or backoff) for the loop
                continue;
              } else {
                commands.push_back(std::move(c));
              }
            }
            return commands.empty() && !stopping_;  // anything queued means: leave this stream
          },
          options_.idle_timeout);
      if (!commands.empty() || stopping_) continue;  // the machine already decided what is next
      if (!res) {
        restarted(res.error().kind == kube::TransportFailure::kIdle ? "idle" : "error");
        feed(res.error().kind == kube::TransportFailure::kIdle
                 ? core::Input{core::IdleDeadline{}}
                 : core::Input{core::RequestFailed{0, std::nullopt, res.error().what}});
        continue;
      }
      if (res->status != 200) {
        refused(*res);
        continue;
      }
      restarted("closed");
      feed(core::WatchClosed{});
    } else if (auto* sleep = std::get_if<core::SleepCommand>(&cmd)) {
      asio::steady_timer timer(ioc_, std::chrono::duration_cast<std::chrono::steady_clock::duration>(sleep->delay));
      co_await timer.async_wait(kNoThrow);
      feed(core::TimerFired{});
    } else if (std::holds_alternative<core::BeginSnapshot>(cmd)) {
      sink.begin();
    } else if (std::holds_alternative<core::CommitSnapshot>(cmd)) {
      log_synced(resource, sink.commit());
      synced_[watch_index] = true;
      settle();
    } else if (std::holds_alternative<core::DiscardSnapshot>(cmd)) {
      sink.discard();
    } else if (std::holds_alternative<core::ApplyEvent>(cmd)) {
      sink.apply();
    }
  }
}

asio::awaitable<void> Daemon::worker() {
  while (!stopping_) {
    const std::optional<std::string> key = queue_.get(queue_now());
    if (!key) {
      co_await work_ready_->async_wait(kNoThrow);  // cancelled by enqueue(), the delayer, stop()
      continue;
    }
    // get() moves due keys into the queue too: more than this one may have become ready.
    if (queue_.len() > 0) work_ready_->cancel();
    // The key's jobs: the failure diagnosed first, then the replicas that failed the same way
    // meanwhile, which only count once it is recorded. Jobs arriving from now on wait for done().
    std::vector<Job> jobs;
    if (auto node = jobs_.extract(*key)) jobs = std::move(node.mapped());
    for (Job& job : jobs) {
      if (stopping_ || !leading_) break;  // losing leadership forgets what is queued
      co_await diagnose(std::move(job));
    }
    // controller-runtime's reconcileHandler on success: the key's failures are forgotten, then
    // done() hands it out again if it was added while diagnosed.
    queue_.forget(*key);
    queue_.done(*key, queue_now());
  }
}

namespace {

std::string api_version_of(const std::string& kind) {
  // Another controller's kind: named, but no ownerReference (its group is unknown).
  const auto k = kube::kind_path(kind);
  return k ? std::string(k->api_version) : std::string();
}

core::WorkloadRef owner_of(const std::string& body, core::WorkloadRef fallback) {
  json obj = json::parse(body, nullptr, false);
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) return fallback;
  const json& meta = obj["metadata"];
  if (fallback.uid.empty()) fallback.uid = json_fields::string_or(meta, "uid");
  if (!meta.contains("ownerReferences") || !meta["ownerReferences"].is_array()) return fallback;
  for (const auto& o : meta["ownerReferences"]) {
    if (!o.is_object() || !json_fields::bool_or(o, "controller", false)) continue;
    return core::WorkloadRef{json_fields::string_or(o, "apiVersion"), json_fields::string_or(o, "kind"),
                             json_fields::string_or(o, "name"), json_fields::string_or(o, "uid")};
  }
  return fallback;
}

}  // namespace

namespace {

// The pod-template-hash label the Deployment controller puts on a ReplicaSet's pods and into its
// name: when the ReplicaSet's name is "<x>-<that label>", x is the Deployment (any hash form,
// including the decimal one of clusters before 1.8's SafeEncodeString).
std::optional<std::string> deployment_by_label(const std::string& rs, const std::string& pod_event) {
  if (pod_event.empty()) return std::nullopt;
  const json ev = json::parse(pod_event, nullptr, false);
  const json* obj = ev.is_object() && ev.contains("object") ? &ev["object"] : &ev;
  if (!obj->is_object() || !obj->contains("metadata") || !(*obj)["metadata"].is_object()) return std::nullopt;
  const json& meta = (*obj)["metadata"];
  if (!meta.contains("labels") || !meta["labels"].is_object()) return std::nullopt;
  const auto it = meta["labels"].find("pod-template-hash");
  if (it == meta["labels"].end() || !it->is_string()) return std::nullopt;
  const std::string suffix = "-" + it->get<std::string>();
  if (suffix.size() < 2 || rs.size() <= suffix.size() ||
      rs.compare(rs.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return std::nullopt;
  }
  return rs.substr(0, rs.size() - suffix.size());
}

std::optional<std::string> deployment_of_replicaset(const std::string& rs) {
  const auto dash = rs.rfind('-');
  if (dash == std::string::npos || dash == 0) return std::nullopt;
  const std::string_view hash = std::string_view(rs).substr(dash + 1);
  constexpr std::string_view kSafe = "bcdfghjklmnpqrstvwxz2456789";
  if (hash.size() < 6 || hash.size() > 10) return std::nullopt;
  for (char c : hash) {
    if (kSafe.find(c) == std::string_view::npos) return std::nullopt;
  }
  return rs.substr(0, dash);
}

}  // namespace

asio::awaitable<core::WorkloadRef> Daemon::top_level_workload(std::string ns, std::string kind, std::string name,
                                                              std::string uid, std::string pod, std::string pod_event) {
  // ReplicaSet -> Deployment and Job -> CronJob: the controllers users know. Looked up on
  // demand and cached: one GET per ReplicaSet or Job, not per failure.
  core::WorkloadRef direct{api_version_of(kind), kind, name, uid};
  if (kind != "ReplicaSet" && kind != "Job") co_return direct;
  // The owner index first (no request); a GET only when it cannot say.
  if (const auto known = core::top_level_from(meta(kind), direct, ns); known.known) co_return known.workload;
  const std::string key = ns + "/" + kind + "/" + name;
  if (auto it = owner_cache_.find(key); it != owner_cache_.end()) co_return it->second;
  const kube::KindPath k = *kube::kind_path(kind);
  const std::string plural(k.plural);
  kube::Request res_req{http::verb::get, std::string(k.prefix) + "/namespaces/" + ns + "/" + plural + "/" + name,
                        plural, "", ""};  // named: GCC 12 PR 99576 double-destroys temporaries in co_await
  auto res = co_await client_.request(std::move(res_req));
  if (!res || res->status != 200) {
    // Not cached: asked again next time. Meanwhile the name convention, so that one Deployment
    // never becomes two RCAs (one under its ReplicaSet's name): the Deployment controller names
    // its ReplicaSets "<deployment>-<pod-template-hash>" (pkg/controller/deployment/sync.go,
    // getNewReplicaSet; the hash is rand.SafeEncodeString of a uint32, 6-10 characters of
    // "bcdfghjklmnpqrstvwxz2456789"). The uid is unknown, so no ownerReference is written.
    // The pod's own pod-template-hash label first: it says which suffix is the hash.
    if (kind == "ReplicaSet") {
      if (pod_event.empty() && !pod.empty()) {  // found by a list: one GET, only on this rare path
        kube::Request pod_req{http::verb::get, "/api/v1/namespaces/" + ns + "/pods/" + pod, "pods", "",
                              ""};  // named: GCC 12 PR 99576 double-destroys temporaries in co_await
        auto got = co_await client_.request(std::move(pod_req));
        if (got && got->status == 200) pod_event = std::move(got->body);
      }
      auto deployment = deployment_by_label(name, pod_event);
      if (!deployment) deployment = deployment_of_replicaset(name);
      if (deployment) co_return core::WorkloadRef{"apps/v1", "Deployment", *deployment, ""};
    }
    co_return direct;
  }
  core::WorkloadRef top = owner_of(res->body, direct);
  owner_cache_[key] = top;
  if (owner_cache_.size() > 4096) owner_cache_.erase(owner_cache_.begin());  // bounded, as ignore_cache_
  co_return top;
}

namespace {

// Where a top-level workload is read: built-in controllers only (another controller's custom
// resource is named by its ownerReference, but its plural is unknown without discovery).
std::optional<std::pair<std::string, std::string>> workload_path(const core::WorkloadRef& w, const std::string& ns) {
  const auto k = kube::kind_path(w.kind);
  if (!k || k->kind == "Pod" || w.name.empty()) return std::nullopt;
  return std::make_pair(std::string(k->prefix) + "/namespaces/" + ns + "/" + std::string(k->plural) + "/" + w.name,
                        std::string(k->plural));
}

bool ignore_annotation(const std::string& body) {
  json obj = json::parse(body, nullptr, false);
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) return false;
  const json& meta = obj["metadata"];
  if (!meta.contains("annotations") || !meta["annotations"].is_object()) return false;
  const auto it = meta["annotations"].find(std::string(core::kIgnoreAnnotation));
  return it != meta["annotations"].end() && it->is_string() && it->get<std::string>() == "true";
}

}  // namespace

asio::awaitable<bool> Daemon::annotated_ignore(std::string path, std::string resource) {
  const core::WallTime now = wall_now();
  if (auto it = ignore_cache_.find(path); it != ignore_cache_.end() && now < it->second.until) {
    co_return it->second.ignored;
  }
  kube::Request req{http::verb::get, path, resource, "", ""};  // named: GCC 12 PR 99576
  auto res = co_await client_.request(std::move(req));
  // Not readable (gone, or RBAC without the grant): not silenced, and not asked again until the
  // entry expires, so a failing workload does not turn into a GET per restart.
  const bool ignored = res && res->status == 200 && ignore_annotation(res->body);
  if (!res || res->status != 200) {
    log(LogLevel::kDebug, "crashdiag.io/ignore not read",
        {{"object", path}, {"error", res ? "HTTP " + std::to_string(res->status) : res.error().what}});
  }
  ignore_cache_[path] = IgnoreEntry{ignored, now + options_.ignore_cache_ttl};
  if (ignore_cache_.size() > 4096) ignore_cache_.erase(ignore_cache_.begin());
  co_return ignored;
}

asio::awaitable<bool> Daemon::silenced(std::string ns, core::WorkloadRef workload) {
  // Namespaces are cluster-scoped: a daemon confined to --namespace runs under RoleBindings that
  // cannot read them (403), and its owner chose the namespaces already.
  if (options_.namespaces.empty()) {
    const auto known = core::ignored_in(meta("Namespace"), "", ns);  // the owner index, if it knows
    if (known ? *known : co_await annotated_ignore("/api/v1/namespaces/" + ns, "namespaces")) co_return true;
  }
  auto path = workload_path(workload, ns);
  if (!path) co_return false;
  if (const auto known = core::ignored_in(meta(workload.kind), ns, workload.name)) co_return *known;
  co_return co_await annotated_ignore(path->first, path->second);
}

asio::awaitable<void> Daemon::diagnose(Job job) {
  // At start-up, until the owner index has its first lists (or they failed, or owner_sync_wait
  // passed): else every failure found by the first pod list would cost the GETs it saves.
  if (owner_watches_unsettled_ > 0) co_await owners_settled_->async_wait(kNoThrow);
  const core::CrashSignal& s = job.signal;
  const std::size_t slash = s.workload.find('/');
  std::string owner_kind = s.workload.substr(0, slash);
  std::string owner_name = s.workload.substr(slash + 1);
  std::string ns = s.namespace_;
  std::string owner_uid = s.workload_uid;
  const core::WorkloadRef workload = co_await top_level_workload(
      std::move(ns), std::move(owner_kind), std::move(owner_name), std::move(owner_uid), s.pod, job.pod_json);
  if (!leading_) co_return;
  if (co_await silenced(s.namespace_, workload)) {
    ++ignored_;
    co_return;
  }
  if (!leading_) co_return;
  const core::RcaTarget target = make_target(s, workload);
  if (!tracker_.needs_diagnosis(target, wall_now())) {
    record(s, target, nullptr);  // diagnosed meanwhile (a replica of the same failure)
    co_return;
  }
  co_await gather_and_classify(std::move(job), target);
}

// Issue 15, item 1: the template of the revision before the failing one
// (crashdiag/model/template_diff.hpp says where each workload keeps them). One list of the
// namespace's ReplicaSets or ControllerRevisions, only when a workload's RCA is new and the owner
// index does not already show a single revision. nullopt: a first revision, another kind of
// owner, or nothing readable.
asio::awaitable<std::optional<PreviousTemplate>> Daemon::previous_template(std::string pod_text, std::string ns) {
  std::optional<PreviousTemplate> none;
  const json pod = json::parse(pod_text, nullptr, false);
  const auto list = revision_list_of(pod);
  if (!list || no_earlier_revision(pod, ns)) co_return none;
  kube::Request list_req{http::verb::get, list->path, list->resource, "",
                         ""};  // named: GCC 12 PR 99576 double-destroys temporaries in co_await
  auto res = co_await client_.request(std::move(list_req));
  if (!res || res->status != 200) {
    log(LogLevel::kWarn, "cannot read the workload's revisions",
        {{"namespace", ns},
         {"pod", pod.is_object() && pod.contains("metadata") ? json_fields::string_or(pod["metadata"], "name") : ""},
         {"error", res ? "HTTP " + std::to_string(res->status) : res.error().what}});
    co_return none;
  }
  co_return previous_template_of(pod, json::parse(res->body, nullptr, false));
}

asio::awaitable<void> Daemon::gather_and_classify(Job job, core::RcaTarget target) {
  const core::CrashSignal& s = job.signal;
  // The evidence delay was waited out before the job reached a worker (delayer()).
  // The full pod: from the watch event that revealed the failure, else one GET.
  std::string pod_text;
  if (!job.pod_json.empty()) {
    json line = json::parse(job.pod_json, nullptr, false);
    if (line.is_object() && line.contains("object")) pod_text = line["object"].dump();
  }
  if (pod_text.empty()) {
    kube::Request res_req{http::verb::get, "/api/v1/namespaces/" + s.namespace_ + "/pods/" + s.pod, "pods", "",
                          ""};  // named: GCC 12 PR 99576 double-destroys temporaries in co_await
    auto res = co_await client_.request(std::move(res_req));
    if (!res || res->status != 200) {
      log_gather_failed(s, res ? "GET pod: HTTP " + std::to_string(res->status) : res.error().what);
      co_return;
    }
    pod_text = std::move(res->body);
  }
  auto pod = parse_pod_json(pod_text);
  if (!pod) {
    log_gather_failed(s, pod.error().what);
    co_return;
  }
  Evidence ev;
  ev.pod = std::move(*pod);
  ev.container = s.container;
  // Previous logs exist only when a previous instance terminated; a StartError container never
  // ran, so there is nothing to fetch (its evidence is the termination message and events).
  const Container* c = ev.pod.find_container(s.container);
  const bool never_ran =
      c != nullptr && c->status && c->status->last_terminated && c->status->last_terminated->reason == "StartError";
  // The failed instance's log is the evidence: the previous container's whenever there is one,
  // even if the container runs again now (its current log is of a healthy restart, or of the
  // next attempt that has not failed yet). Without a previous instance, a container that
  // terminated (a Job's only run) or runs unready has only its current log.
  const bool running_now = c != nullptr && c->status && c->status->running;
  const bool has_previous = c != nullptr && c->status && c->status->last_terminated;
  // A Restarted signal (a datastore with a claim running again) is the exception: the new
  // instance's log is what shows whether it found its data or initialised an empty database.
  const bool want_previous = !s.current_log && (s.has_previous_termination || has_previous) && !never_ran;
  const bool want_current = s.current_log || (!want_previous && !never_ran &&
                                              (running_now || (c != nullptr && c->status && c->status->terminated)));
  if (want_previous || want_current) {
    const std::string target =
        "/api/v1/namespaces/" + s.namespace_ + "/pods/" + s.pod + "/log?container=" + kube::url_encode(s.container) +
        (want_previous ? "&previous=true" : "") + "&tailLines=" + std::to_string(options_.log_tail_lines) +
        "&limitBytes=" + std::to_string(options_.log_limit_bytes);
    for (int attempt = 0; attempt < 2; ++attempt) {
      kube::Request res_req{http::verb::get, target, "pods/log", "",
                            ""};  // named: GCC 12 PR 99576 double-destroys temporaries in co_await
      auto res = co_await client_.request(std::move(res_req));
      if (res && res->status == 200) {
        ev.logs = make_log_tail(res->body);
        ev.logs.unavailable.clear();
        ev.logs.current_instance = want_current;
        break;
      }
      ev.logs.unavailable =
          res ? "HTTP " + std::to_string(res->status) + ": " + kube::status_message(res->body) : res.error().what;
      // For a few seconds around a restart the kubelet has garbage-collected the dead container
      // while the status still names it: "unable to retrieve container logs for containerd://..."
      // (../shared/k8s-fixtures/node/README.md). It succeeds a moment later: one more try.
      const bool transient = res && ev.logs.unavailable.find("unable to retrieve container logs") != std::string::npos;
      if (!transient || attempt == 1) {
        log_logs_unavailable(s, ev.logs.unavailable);
        break;
      }
      asio::steady_timer wait(ioc_, options_.log_retry_delay);
      co_await wait.async_wait(kNoThrow);
    }
  }
  ev.events = events_for_pod(event_handler_->for_pod(ev.pod.uid), ev.pod);
  if (options_.what_changed && tracker_.find(core::rca_name(target)) == nullptr) {
    std::string pod_copy = pod_text;  // named: GCC 12 PR 99576 double-destroys temporaries in co_await
    std::string ns = s.namespace_;
    ev.previous = co_await previous_template(std::move(pod_copy), std::move(ns));
  }
  const auto started = std::chrono::steady_clock::now();
  const std::shared_ptr<const Classifier> classifier = classifiers_.get();  // held across a reload
  ContainerDiagnosis diagnosis = classifier->diagnose(ev);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  if (!leading_ || diagnosis.hypotheses.empty()) co_return;  // lost leadership while gathering
  // A Restarted signal is a look at a healthy restart, not a failure: only a re-initialisation is
  // worth an RCA. Nothing is recorded otherwise, so the next restart is looked at again.
  if (s.current_log && diagnosis.hypotheses.front().category != "data_reinitialized") {
    log_restart_checked(s, diagnosis.hypotheses.front().category);
    co_return;
  }
  if (options_.metrics != nullptr) {
    options_.metrics->classification_duration(took.count());
    options_.metrics->diagnosis(diagnosis.hypotheses.front().category);
  }
  // A failure on a dependency: the Service it names and the workload behind it. One list, only
  // when the RCA is new or its cause is looked at again (needs_diagnosis), not per restart.
  std::optional<DependencyState> dependency;
  if (options_.link_dependencies) {
    const auto deps = dependencies_of(ev, diagnosis.hypotheses.front());
    if (!deps.empty()) {
      DependencyRef ref = deps.front();  // named: GCC 12 PR 99576 double-destroys temporaries in co_await
      dependency = co_await resolve_dependency(std::move(ref));
      if (!leading_) co_return;
      bool has_rca = false;
      for (const auto& w : dependency->workloads) {
        has_rca = has_rca || tracker_.active_for_workload(dependency->ref.namespace_, w.kind, w.name) != nullptr;
      }
      note_dependency(*dependency, diagnosis, has_rca);
    }
  }
  const core::RcaUpdate update = tracker_.record(make_occurrence(s, target, wall_now()), &diagnosis, options_.instance);
  link_dependency(update.name, dependency, update.change);
  publisher_->submit(update);
  link_waiting_dependents(update.name);
  update_active_gauge();
  DiagnosisRecord rec;
  rec.signal = s;
  rec.workload = target.workload.display();
  rec.diagnosis = std::move(diagnosis);
  rec.rca = update.name;
  rec.change = update.change;
  const core::RcaState* state = tracker_.find(update.name);
  rec.occurrences = state != nullptr ? state->occurrences : 1;
  ++diagnoses_;
  log_diagnosis(rec);
  if (options_.on_diagnosis) options_.on_diagnosis(rec);
}

}  // namespace crashdiag::daemon
