#include "publisher.hpp"
#include "crashdiag/model/json_fields.hpp"
#include "no_throw.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "alert_sink.hpp"
#include "log.hpp"
#include "metrics.hpp"

namespace crashdiag::daemon {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using nlohmann::json;

namespace {

constexpr std::string_view kApplyType = "application/apply-patch+yaml";
constexpr std::string_view kMergeType = "application/merge-patch+json";
constexpr std::size_t kMaxAnnotatedMemory = 10'000;
constexpr std::size_t kMinEventSweep = 256;
constexpr std::size_t kMaxClosedNamespaces = 1'024;

// Evidence quotes logs, which may hold invalid UTF-8: written as U+FFFD (what Go's encoding/json
// does too) instead of nlohmann's type_error, which would end the writer coroutine.
std::string to_body(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The answers to a write into a namespace being deleted (403 Forbidden with the cause
// NamespaceTerminating, from NamespaceLifecycle admission: staging/src/k8s.io/apiserver/pkg/
// admission/plugin/namespace/lifecycle/admission.go) or already gone (404 NotFound whose details
// name the namespace, not the object); tests/data/k8s-real/20-*-403 and 21-*-404.
bool namespace_closed(int status, const std::string& body, const std::string& ns) {
  if (status != 403 && status != 404) return false;
  const json j = json::parse(body, nullptr, false);
  const json& details = json_fields::object_or_empty(j, "details");
  if (status == 404) {
    return json_fields::string_or(details, "kind") == "namespaces" && json_fields::string_or(details, "name") == ns;
  }
  const json* causes = json_fields::field(details, "causes");
  if (causes == nullptr || !causes->is_array()) return false;
  return std::any_of(causes->begin(), causes->end(),
                     [](const json& c) { return json_fields::string_or(c, "reason") == "NamespaceTerminating"; });
}

std::string rca_path(const std::string& ns, const std::string& name) {
  return "/apis/crashdiag.io/v1alpha1/namespaces/" + ns + "/rootcauseanalyses/" + name;
}

// Server-side apply: fieldManager is required; force because crashdiag is the only writer of
// these fields and must win over a stale manager (e.g. a kubectl edit); Strict so a field the
// CRD does not know is an error instead of being pruned silently.
std::string apply_query(const std::string& manager) {
  return "?fieldManager=" + manager + "&force=true&fieldValidation=Strict";
}

std::string annotation_patch(const core::PodWrites& w) {
  json patch;
  patch["metadata"]["annotations"][std::string(core::kRcaAnnotation)] = w.rca;
  patch["metadata"]["annotations"][std::string(core::kRootCauseAnnotation)] = w.root_cause;
  return to_body(patch);
}

std::string event_bump(const json& event, std::uint64_t count) {
  json patch;
  patch["count"] = count;
  patch["lastTimestamp"] = json_fields::string_or(event, "lastTimestamp");
  return to_body(patch);
}

std::uint64_t existing_count(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("count") && j["count"].is_number_unsigned()) return j["count"].get<std::uint64_t>();
  return 1;
}

void log_rejected(const std::string& object, const std::string& name, int status, const std::string& message) {
  log(LogLevel::kWarn, "write rejected by the API server",
      {{"object", object}, {"name", name}, {"status", std::to_string(status)}, {"message", message}});
}
void log_giving_up(const std::string& object, const std::string& name, int attempts, const std::string& what) {
  log(LogLevel::kWarn, "giving up on a write",
      {{"object", object}, {"name", name}, {"attempts", std::to_string(attempts)}, {"last_error", what}});
}
void log_published(const std::string& name, const std::string& ns, const std::string& phase) {
  log(LogLevel::kInfo, "published root-cause analysis", {{"namespace", ns}, {"rca", name}, {"phase", phase}});
}

kube::Request make_request(http::verb verb, std::string target, std::string resource, std::string body,
                           std::string_view content_type) {
  return kube::Request{verb, std::move(target), std::move(resource), std::move(body), std::string(content_type)};
}

}  // namespace

Publisher::Publisher(asio::io_context& ioc, kube::KubeClient& client, core::RcaTracker& tracker,
                     PublisherOptions options, metrics::Metrics* metrics, AnnotationLookup annotations)
    : client_(client),
      tracker_(tracker),
      options_(std::move(options)),
      metrics_(metrics),
      annotations_(std::move(annotations)),
      ioc_(ioc) {
  options_.lanes = std::max(1, options_.lanes);
  for (int i = 0; i < options_.lanes; ++i)
    wake_.push_back(std::make_unique<asio::steady_timer>(ioc, asio::steady_timer::time_point::max()));
}

void Publisher::submit(const core::RcaUpdate& update) {
  // Alertmanager hears of news only: repeats change no label or annotation of the alert, and
  // its re-sends carry the latest state anyway.
  if (options_.alerts != nullptr &&
      (update.change == core::RcaChange::kIdentified || update.change == core::RcaChange::kChanged ||
       update.change == core::RcaChange::kReopened || update.change == core::RcaChange::kLinked)) {
    options_.alerts->touch(update.name);
  }
  if (update.change == core::RcaChange::kUnchanged && !update.pod) return;
  if (const core::RcaState* s = tracker_.find(update.name); s != nullptr && closed(s->target.namespace_)) {
    // Nothing can be written there: forget it again rather than queue it.
    ++stats_.dropped;
    const std::string ns = s->target.namespace_;  // a copy: forgetting frees `s`
    (void)tracker_.forget_namespace(ns);
    return;
  }
  const core::TimePoint now = options_.clock.now();
  if (update.change != core::RcaChange::kUnchanged && options_.publish_rca) {
    auto [it, inserted] = dirty_.try_emplace(update.name);
    // Repeats only move counters and lastSeen: coalesce them. Everything else is news.
    core::TimePoint due = now;
    if (update.change == core::RcaChange::kRepeated) {
      auto last = last_status_.find(update.name);
      if (last != last_status_.end()) due = std::max(now, last->second + options_.status_interval);
    }
    if (inserted || due < it->second.not_before) it->second.not_before = due;
    if (update.change != core::RcaChange::kRepeated) it->second.news = true;
    it->second.generation = ++next_generation_;
  }
  if (update.pod && (options_.publish_annotation || options_.publish_event)) {
    PodJob job{*update.pod, now, 0, !options_.publish_annotation};
    if (!options_.publish_event) job.writes.event.reset();
    if (job.writes.event && !job.writes.event->create()) {
      // A bump: keep only the newest per Event, no earlier than event_interval after the last write.
      auto last = event_written_.find(job.writes.event->name);
      if (last != event_written_.end()) job.not_before = std::max(now, last->second + options_.event_interval);
      for (auto& queued : pods_) {
        if (queued.writes.event && queued.writes.event->name == job.writes.event->name) {
          queued.writes = job.writes;
          wake();
          return;
        }
      }
    }
    pods_.push_back(std::move(job));
  }
  wake();
}

void Publisher::submit_workload_event(const std::string& ns, core::EventWrite event) {
  if (!options_.publish_event) return;
  if (closed(ns)) {
    ++stats_.dropped;
    return;
  }
  PodJob job{core::PodWrites{ns, "", "", "", "", std::move(event)}, options_.clock.now(), 0, true};
  job.workload = true;
  pods_.push_back(std::move(job));
  wake();
}

void Publisher::resolved(const std::string& name) {
  if (options_.alerts != nullptr) options_.alerts->touch(name);
  if (!options_.publish_rca) return;
  Pending& p = dirty_[name];
  p.not_before = core::TimePoint{0};
  p.news = true;
  p.generation = ++next_generation_;
  wake();
}

void Publisher::stop() {
  stopping_ = true;
  if (options_.alerts != nullptr) options_.alerts->stop();
  wake();
}

void Publisher::wake_lanes() {
  for (auto& timer : wake_) timer->cancel();
}

void Publisher::wake() {
  wake_lanes();
  if (options_.alerts != nullptr) options_.alerts->wake();
}

void Publisher::reset() {
  if (options_.alerts != nullptr) options_.alerts->reset();
  dirty_.clear();
  written_.clear();
  statuses_.clear();
  last_status_.clear();
  pods_.clear();
  event_written_.clear();
  closed_.clear();
  ++term_;
}

bool Publisher::idle() const {
  return dirty_.empty() && pods_.empty() && rcas_in_flight_.empty() && pods_in_flight_.empty();
}

void Publisher::schedule_retry(Pending& p, core::TimePoint now) {
  ++p.attempts;
  auto delay = options_.retry_base * (1LL << std::min(p.attempts - 1, 10));
  p.not_before = now + std::min<core::Duration>(delay, options_.retry_cap);
}

bool Publisher::closed(const std::string& ns) {
  auto it = closed_.find(ns);
  if (it == closed_.end()) return false;
  if (options_.clock.now() - it->second < options_.closed_namespace_memory) return true;
  closed_.erase(it);
  return false;
}

void Publisher::forget(const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    dirty_.erase(name);
    written_.erase(name);
    statuses_.erase(name);
    last_status_.erase(name);
    if (options_.alerts != nullptr) options_.alerts->touch(name);  // its alert resolves
  }
}

void Publisher::close_namespace(const std::string& ns, const std::string& object, int status,
                                const std::string& message) {
  const bool known = closed(ns);
  if (closed_.size() >= kMaxClosedNamespaces && !known) {
    closed_.erase(std::min_element(closed_.begin(), closed_.end(),
                                   [](const auto& a, const auto& b) { return a.second < b.second; }));
  }
  closed_[ns] = options_.clock.now();
  std::size_t dropped = 0;
  for (const std::string& name : tracker_.forget_namespace(ns)) {
    dropped += dirty_.erase(name);
    written_.erase(name);
    statuses_.erase(name);
    last_status_.erase(name);
  }
  dropped += std::erase_if(pods_, [&](const PodJob& j) { return j.writes.namespace_ == ns; });
  stats_.dropped += dropped + 1;
  if (!known) {
    log(LogLevel::kWarn, "namespace is being deleted: writes to it dropped and its analyses forgotten",
        {{"namespace", ns},
         {"object", object},
         {"status", std::to_string(status)},
         {"message", message},
         {"dropped", std::to_string(dropped + 1)}});
  }
  if (options_.on_namespace_closed) options_.on_namespace_closed(ns);
}

Publisher::Outcome Publisher::classify(const std::string& object, const std::string& ns, const std::string& name,
                                       int status, const std::string& body) {
  if (metrics_ != nullptr) metrics_->publish_failure(object, status);
  // Throttling, server trouble and lost connections pass; 409 means someone else wrote in
  // between (the caller has re-read). Anything else is the server refusing this content: sending
  // it again cannot help.
  const std::string message = kube::status_message(body);
  if (namespace_closed(status, body, ns)) {
    close_namespace(ns, object, status, message);
    return Outcome::kDropped;
  }
  // ...except one 500: a server-side apply whose fields the schema does not know is answered
  // 500 "failed to create typed patch object" by the real apiserver, not 4xx
  // (kubernetes/kubernetes#122480). It is this content, not the server: retrying cannot help.
  // The same for etcd's own size limit (--max-request-bytes, 1.5 MiB by default), which the
  // apiserver passes on as a 500 without a reason (tests/data/k8s-real/22-create-podtemplate-
  // 2mib-etcd-too-large.http): the same object would be refused again.
  const bool apply_type_error =
      status == 500 && (message.find("failed to create typed patch object") != std::string::npos ||
                        message == "etcdserver: request is too large");
  if (!apply_type_error && (status == 0 || status == 409 || status == 429 || status >= 500)) return Outcome::kRetry;
  log_rejected(object, name, status, message);
  ++stats_.rejected;
  return Outcome::kGiveUp;
}

asio::awaitable<Publisher::Outcome> Publisher::write_rca(std::string name) {
  const core::RcaState* s = tracker_.find(name);
  if (s == nullptr) co_return Outcome::kDone;
  const std::string ns = s->target.namespace_;
  const std::string path = rca_path(ns, name);
  std::string body = to_body(tracker_.apply_object(*s));
  std::size_t hash = std::hash<std::string>{}(body);
  if (written_[name] != hash) {
    for (int round = 0;; ++round) {
      auto req = make_request(http::verb::patch, path + apply_query(options_.field_manager), "rootcauseanalyses", body,
                              kApplyType);
      auto res = co_await client_.request(std::move(req));
      const int status = res ? res->status : 0;
      if (status == 200 || status == 201) {
        if (tracker_.find(name) != nullptr) written_[name] = hash;  // not if forgotten meanwhile
        ++stats_.rca_writes;
        if (options_.on_rca_written) options_.on_rca_written(name);
        if (metrics_ != nullptr) metrics_->publish_write("rca");
        break;
      }
      if (status == 409 && round == 0) {
        // Re-read, then apply again: with force=true a conflict can only come from something
        // between us and etcd (a webhook, a stale cache); one fresh attempt settles it.
        auto get = make_request(http::verb::get, path, "rootcauseanalyses", "", "");
        auto current = co_await client_.request(std::move(get));
        if (current && current->status == 200) continue;
      }
      const Outcome out = classify("rca", ns, name, status, res ? res->body : res.error().what);
      if (out == Outcome::kGiveUp) written_[name] = hash;  // do not send this content again
      co_return out;
    }
  } else {
    ++stats_.skipped;
    if (metrics_ != nullptr) metrics_->publish_skipped("rca");
  }
  s = tracker_.find(name);  // the tracker may have changed while we waited
  if (s == nullptr) co_return Outcome::kDone;
  const bool active = s->active;
  body = to_body(tracker_.status_object(*s));
  hash = std::hash<std::string>{}(body);
  if (statuses_[name] == hash) {
    ++stats_.skipped;
    if (metrics_ != nullptr) metrics_->publish_skipped("rca_status");
    co_return Outcome::kDone;
  }
  auto req = make_request(http::verb::patch, path + "/status" + apply_query(options_.field_manager),
                          "rootcauseanalyses/status", body, kApplyType);
  auto res = co_await client_.request(std::move(req));
  const int status = res ? res->status : 0;
  if (status == 200 || status == 201) {
    if (tracker_.find(name) != nullptr) {  // not if forgotten meanwhile: its memory went with it
      statuses_[name] = hash;
      last_status_[name] = options_.clock.now();
    }
    ++stats_.status_writes;
    if (metrics_ != nullptr) metrics_->publish_write("rca_status");
    log_published(name, ns, active ? "Active" : "Resolved");
    co_return Outcome::kDone;
  }
  if (status == 404) {
    // Deleted since we wrote it (by a user, or garbage collected): create it again.
    written_.erase(name);
    co_return Outcome::kRetry;
  }
  const Outcome out = classify("rca_status", ns, name, status, res ? res->body : res.error().what);
  if (out == Outcome::kGiveUp) statuses_[name] = hash;
  co_return out;
}

asio::awaitable<Publisher::Outcome> Publisher::write_event(core::PodWrites& w) {
  core::EventWrite& ev = *w.event;
  const std::string collection = "/api/v1/namespaces/" + w.namespace_ + "/events";
  const std::string path = collection + "/" + ev.name;
  std::uint64_t count = ev.count;
  bool create = ev.create();
  if (!create) {
    auto req = make_request(http::verb::patch, path, "events", event_bump(ev.object, count), kMergeType);
    auto res = co_await client_.request(std::move(req));
    const int status = res ? res->status : 0;
    if (status == 200) {
      ++stats_.event_updates;
      if (metrics_ != nullptr) metrics_->publish_write("event");
      co_return Outcome::kDone;
    }
    if (status != 404) co_return classify("event", w.namespace_, ev.name, status, res ? res->body : res.error().what);
    create = true;  // expired (event TTL): make it again, count included
  }
  auto req = make_request(http::verb::post, collection, "events", to_body(ev.object), "application/json");
  auto res = co_await client_.request(std::move(req));
  const int status = res ? res->status : 0;
  if (status == 201) {
    ++stats_.event_creates;
    if (metrics_ != nullptr) metrics_->publish_write("event");
    co_return Outcome::kDone;
  }
  if (status == 409) {
    // Same deterministic name: this Event exists already (written by a previous leader or a
    // previous run). Aggregate into it instead of creating a copy.
    if (!ev.counts) co_return Outcome::kDone;
    auto get = make_request(http::verb::get, path, "events", "", "");
    auto current = co_await client_.request(std::move(get));
    if (current && current->status == 200) {
      count = existing_count(current->body) + 1;
      auto bump = make_request(http::verb::patch, path, "events", event_bump(ev.object, count), kMergeType);
      auto patched = co_await client_.request(std::move(bump));
      if (patched && patched->status == 200) {
        ++stats_.event_updates;
        if (metrics_ != nullptr) metrics_->publish_write("event");
        co_return Outcome::kDone;
      }
    }
    co_return Outcome::kRetry;
  }
  co_return classify("event", w.namespace_, ev.name, status, res ? res->body : res.error().what);
}

asio::awaitable<Publisher::Outcome> Publisher::write_pod(PodJob& job) {
  core::PodWrites& w = job.writes;
  // An Event on a workload: no pod to look up or annotate, and never bumped.
  if (job.workload) co_return co_await write_event(w);
  auto current = annotations_ ? annotations_(w.namespace_, w.pod) : std::nullopt;
  if (!current) co_return Outcome::kDone;  // the pod is gone: nothing to annotate or report on
  if (!job.annotated) {
    if (current->first == w.rca && current->second == w.root_cause) {
      ++stats_.skipped;
      if (metrics_ != nullptr) metrics_->publish_skipped("annotation");
      job.annotated = true;
    } else {
      auto req = make_request(http::verb::patch, "/api/v1/namespaces/" + w.namespace_ + "/pods/" + w.pod, "pods",
                              annotation_patch(w), kMergeType);
      auto res = co_await client_.request(std::move(req));
      const int status = res ? res->status : 0;
      if (status == 404) co_return Outcome::kDone;
      if (status != 200)
        co_return classify("annotation", w.namespace_, w.pod, status, res ? res->body : res.error().what);
      job.annotated = true;
      ++stats_.annotation_writes;
      if (metrics_ != nullptr) metrics_->publish_write("annotation");
    }
  }
  if (!w.event) co_return Outcome::kDone;
  const Outcome out = co_await write_event(w);
  if (out == Outcome::kDone) {
    const core::TimePoint now = options_.clock.now();
    event_written_[w.event->name] = now;
    // A write older than event_interval no longer delays a bump (submit()): forget it, in sweeps
    // whenever the map has doubled since the last, so its size follows the Event rate over one
    // interval rather than growing to the cap on a cluster that churns (bench/soak.cpp).
    if (event_written_.size() >= next_event_sweep_) {
      std::erase_if(event_written_, [&](const auto& e) { return e.second + options_.event_interval < now; });
      next_event_sweep_ = std::max<std::size_t>(kMinEventSweep, 2 * event_written_.size());
    }
  }
  if (event_written_.size() > kMaxAnnotatedMemory) event_written_.erase(event_written_.begin());
  co_return out;
}

std::map<std::string, Publisher::Pending>::iterator Publisher::next_rca(core::TimePoint now) {
  auto repeat = dirty_.end();
  for (auto it = dirty_.begin(); it != dirty_.end(); ++it) {
    if ((it->second.not_before > now && !stopping_) || rcas_in_flight_.count(it->first) > 0) continue;
    if (it->second.news) return it;
    if (repeat == dirty_.end()) repeat = it;
  }
  return repeat;
}

std::string Publisher::pod_key(const PodJob& job) {
  // A pod's annotation and Event are written in order by one lane; a workload's Event has no pod.
  if (job.workload) return "event/" + job.writes.namespace_ + "/" + job.writes.event->name;
  return "pod/" + job.writes.namespace_ + "/" + job.writes.pod;
}

std::size_t Publisher::next_pod(core::TimePoint now) const {
  for (std::size_t i = 0; i < pods_.size(); ++i) {
    if ((pods_[i].not_before > now && !stopping_) || pods_in_flight_.count(pod_key(pods_[i])) > 0) continue;
    return i;
  }
  return std::string::npos;
}

asio::awaitable<void> Publisher::run(std::function<bool()> may_write) {
  if (options_.alerts != nullptr) {
    // Its own coroutine: a slow or unreachable Alertmanager never holds up a write below. It
    // ends with stop(); an exception escaping it is a bug, rethrown out of the io_context.
    asio::co_spawn(ioc_, options_.alerts->run(tracker_, may_write), [](const std::exception_ptr& e) {
      if (e) std::rethrow_exception(e);
    });
  }
  // Lane 0 runs here; the others on their own coroutines, and run() returns when all have ended
  // (the daemon waits for it to drain on stop). Their count and the timer that wakes run() are
  // shared with the lanes' completion handlers, so nothing they touch lives in this frame. An
  // exception escaping a lane is a bug: lane 0's is rethrown once the others have ended, the
  // others' out of the io_context, as the alert sink's is.
  struct Lanes {
    explicit Lanes(asio::io_context& ioc, std::size_t n)
        : running(n), done(ioc, asio::steady_timer::time_point::max()) {}
    std::size_t running;
    asio::steady_timer done;
  };
  auto lanes = std::make_shared<Lanes>(ioc_, wake_.size() - 1);
  for (std::size_t i = 1; i < wake_.size(); ++i) {
    asio::co_spawn(ioc_, lane(i, may_write), [lanes](const std::exception_ptr& e) {
      if (--lanes->running == 0) lanes->done.cancel();
      if (e) std::rethrow_exception(e);
    });
  }
  std::exception_ptr failed;
  try {
    co_await lane(0, may_write);
  } catch (const std::exception& e) {
    log(LogLevel::kError, "publisher lane failed", {{"error", e.what()}});
    failed = std::current_exception();
    stopping_ = true;  // the other lanes finish what is queued and end
    wake_lanes();
  }
  while (lanes->running > 0) co_await lanes->done.async_wait(kNoThrow);
  if (failed) std::rethrow_exception(failed);
}

asio::awaitable<void> Publisher::lane(std::size_t index, std::function<bool()> may_write) {
  asio::steady_timer& wake = *wake_[index];
  while (!stopping_ || !idle()) {
    if (!may_write()) {
      if (stopping_) break;  // not the leader: nothing of ours to finish
      // Until leadership is won (the daemon wakes us) or more is queued.
      wake.expires_at(asio::steady_timer::time_point::max());
      co_await wake.async_wait(kNoThrow);
      continue;
    }
    const core::TimePoint now = options_.clock.now();
    bool worked = false;
    if (auto it = next_rca(now); it != dirty_.end()) {
      std::string name = it->first;
      const std::uint64_t generation = it->second.generation;
      rcas_in_flight_.insert(name);
      const Outcome out = co_await write_rca(name);
      rcas_in_flight_.erase(name);
      auto again = dirty_.find(name);  // the map may have changed while we waited
      if (again != dirty_.end()) {
        if (again->second.generation != generation && !stopping_) {
          // Submitted again while this write was on the wire (a cause linked between the apply
          // and the status write, say): what was sent may predate it. Written again; the
          // content hashes skip whatever did reach the server.
          again->second.attempts = 0;
        } else if (out == Outcome::kRetry && again->second.attempts + 1 < options_.max_attempts && !stopping_) {
          schedule_retry(again->second, options_.clock.now());
        } else {
          if (out == Outcome::kRetry) log_giving_up("rca", name, again->second.attempts + 1, "retries exhausted");
          dirty_.erase(again);
        }
      }
      worked = true;
    } else if (const std::size_t i = next_pod(now); i != std::string::npos) {
      PodJob job = std::move(pods_[i]);
      pods_.erase(pods_.begin() + static_cast<std::ptrdiff_t>(i));
      const std::string key = pod_key(job);
      const std::uint64_t term = term_;
      pods_in_flight_.insert(key);
      const Outcome out = co_await write_pod(job);
      pods_in_flight_.erase(key);
      if (term != term_ || closed(job.writes.namespace_)) {
        // Leadership was lost meanwhile, or the namespace is going: nothing of it to retry.
      } else if (out == Outcome::kRetry && job.attempts + 1 < options_.max_attempts && !stopping_) {
        Pending p{job.not_before, job.attempts};
        schedule_retry(p, options_.clock.now());
        job.not_before = p.not_before;
        job.attempts = p.attempts;
        // A newer job for the same pod was queued while this one was on the wire: its annotation
        // is the current one, and this retry must not put the older cause back. Its Event stays.
        if (std::any_of(pods_.begin(), pods_.end(), [&](const PodJob& q) { return pod_key(q) == key; }))
          job.annotated = true;
        pods_.push_back(std::move(job));
      } else if (out == Outcome::kRetry) {
        log_giving_up(job.workload ? "event" : "pod", job.workload ? job.writes.event->name : job.writes.pod,
                      job.attempts + 1, "retries exhausted");
      }
      worked = true;
    }
    if (worked) {
      // The object this lane held may have more queued for it, which the other lanes skipped
      // while it was in flight; or a retry was scheduled: let them look again.
      wake_lanes();
      continue;
    }
    if (stopping_) break;
    // Asleep until the earliest write this lane could take is due (a coalesced repeat, a retry's
    // backoff), or until submit()/resolved()/stop() or another lane's finished write wakes it.
    std::optional<core::TimePoint> due;
    for (const auto& [name, p] : dirty_) {
      if (rcas_in_flight_.count(name) == 0) due = due ? std::min(*due, p.not_before) : p.not_before;
    }
    for (const auto& job : pods_) {
      if (pods_in_flight_.count(pod_key(job)) == 0) due = due ? std::min(*due, job.not_before) : job.not_before;
    }
    if (due) {
      const auto wait = std::max(*due - options_.clock.now(), core::Duration{1});
      wake.expires_after(std::chrono::duration_cast<asio::steady_timer::duration>(wait));
    } else {
      wake.expires_at(asio::steady_timer::time_point::max());
    }
    co_await wake.async_wait(kNoThrow);
  }
}

}  // namespace crashdiag::daemon
