// The owner index (issue 14 item 3): metadata-only list+watch of the objects between a pod and
// the workload users know, and of Namespaces, so that resolving a failure's workload and reading
// crashdiag.io/ignore cost no request. The store and its lookups are pure
// (crashdiag/core/owner_index.hpp); this file only wires them to the watch loop.

#include <nlohmann/json.hpp>

#include "crashdiag/model/json_fields.hpp"
#include "daemon.hpp"
#include "log.hpp"
#include "watch_sink.hpp"

namespace crashdiag::daemon {

namespace {

void log_bad_meta_line(const std::string& resource, core::MetaParseError e, std::string_view line) {
  log(LogLevel::kWarn, "ignoring malformed watch event",
      {{"resource", resource}, {"error", std::string(core::to_string(e))}, {"line", std::string(line.substr(0, 160))}});
}

// kind, group-version path prefix, plural: what is watched. ReplicaSets and Jobs are the links
// of the owner chain (ReplicaSet -> Deployment, Job -> CronJob); the rest are the workloads
// crashdiag.io/ignore may be set on. Pods owned by anything else are named by their
// ownerReference, as before.
struct Watched {
  const char* kind;
  const char* prefix;
  const char* plural;
};
constexpr Watched kWatched[] = {
    {"ReplicaSet", "/apis/apps/v1", "replicasets"}, {"Job", "/apis/batch/v1", "jobs"},
    {"Deployment", "/apis/apps/v1", "deployments"}, {"StatefulSet", "/apis/apps/v1", "statefulsets"},
    {"DaemonSet", "/apis/apps/v1", "daemonsets"},   {"CronJob", "/apis/batch/v1", "cronjobs"},
};

}  // namespace

class Daemon::MetaHandler final : public Daemon::WatchSink {
 public:
  MetaHandler(Daemon& d, std::string kind, core::MetaStore& store) : d_(d), kind_(std::move(kind)), store_(store) {}
  void begin() override { store_.begin_snapshot(); }
  void stage(std::string_view item) override {
    auto rec = core::parse_meta_record(item);
    if (rec) store_.stage(*rec);
  }
  void discard() override { store_.discard_snapshot(); }
  std::size_t commit() override { return store_.commit_snapshot(); }
  std::optional<core::WatchEvent> parse(std::string_view line, const std::string& resource) override {
    auto parsed = core::parse_meta_watch_line(line);
    if (!parsed) {
      log_bad_meta_line(resource, parsed.error(), line);
      return std::nullopt;
    }
    pending_ = std::move(*parsed);
    core::WatchEvent ev;
    ev.type = core::watch_event_type(pending_.type);
    ev.resource_version = pending_.resource_version;
    ev.error_code = pending_.error_code;
    return ev;
  }
  void apply() override {
    if (!pending_.object) return;
    if (pending_.type == "DELETED") {
      store_.remove(pending_.object->key());
      d_.workload_deleted(kind_, *pending_.object);
    } else {
      store_.upsert(*pending_.object);
    }
    pending_.object.reset();
  }

 private:
  Daemon& d_;
  std::string kind_;
  core::MetaStore& store_;
  core::MetaWatchLine pending_;
};

void Daemon::workload_deleted(const std::string& kind, const core::MetaRecord& rec) {
  if (kind == "Namespace") return;  // the publisher closes namespaces (Publisher::close_namespace)
  // The spec look is keyed by the pod's direct owner (detect/spec_findings.cpp): a ReplicaSet or
  // Job, or the StatefulSet or DaemonSet itself.
  spec_findings_.forget(rec.namespace_ + "/" + kind + "/" + rec.name);
  // ReplicaSets are not workloads an RCA names; a Job a CronJob controls is named by its
  // CronJob, whose RCA outlives the Job.
  if (kind == "ReplicaSet" || (kind == "Job" && rec.controller)) return;
  if (spec_findings_.counted_in(rec.namespace_)) {
    spec_findings_.record(rec.namespace_, kind + "/" + rec.name, {});  // a deleted workload leaves the gauge
    update_findings_gauge();
  }
  forget_rcas(tracker_.forget_workload(rec.namespace_, kind, rec.name, rec.uid));
}

// A pod without a controller is its own workload (RcaTarget "Pod/name").
void Daemon::bare_pod_deleted(const core::PodRecord& pod) {
  if (!pod.owner_kind.empty()) return;
  forget_rcas(tracker_.forget_workload(pod.namespace_, "Pod", pod.name, pod.uid));
}

void Daemon::forget_rcas(const std::vector<std::string>& names) {
  if (names.empty()) return;
  for (const std::string& name : names) {
    for (const core::RcaUpdate& u : tracker_.unlink_dependents(name)) publisher_->submit(u);
  }
  publisher_->forget(names);
  update_active_gauge();
}

std::vector<Daemon::WatchSpec> Daemon::owner_watches() {
  std::vector<WatchSpec> out;
  auto add = [&](const std::string& kind, const std::string& resource, const std::string& path) {
    meta_handlers_.push_back(std::make_unique<MetaHandler>(*this, kind, meta_[kind]));
    out.push_back(WatchSpec{resource, path, meta_handlers_.back().get(), kube::kMetadataListAccept,
                            kube::kMetadataWatchAccept, "", false});
  };
  for (const auto& w : kWatched) {
    if (options_.namespaces.empty()) {
      add(w.kind, w.plural, std::string(w.prefix) + "/" + w.plural);
    } else {
      for (const auto& ns : options_.namespaces) {
        add(w.kind, w.plural, std::string(w.prefix) + "/namespaces/" + ns + "/" + w.plural);
      }
    }
  }
  // Namespaces are cluster-scoped: a daemon confined to --namespace neither reads them nor needs
  // to (Daemon::silenced).
  if (options_.namespaces.empty()) add("Namespace", "namespaces", "/api/v1/namespaces");
  return out;
}

const core::MetaStore* Daemon::meta(const std::string& kind) const {
  auto it = meta_.find(kind);
  return it == meta_.end() ? nullptr : &it->second;
}

bool Daemon::no_earlier_revision(const nlohmann::json& pod, const std::string& ns) const {
  const core::MetaStore* rs = meta("ReplicaSet");
  if (rs == nullptr || !rs->synced()) return false;
  if (!pod.is_object() || !pod.contains("metadata") || !pod["metadata"].is_object()) return false;
  const nlohmann::json& meta = pod["metadata"];
  if (!meta.contains("ownerReferences") || !meta["ownerReferences"].is_array()) return false;
  for (const auto& o : meta["ownerReferences"]) {
    if (!o.is_object() || !json_fields::bool_or(o, "controller", false)) continue;
    if (json_fields::string_or(o, "kind") != "ReplicaSet") return false;
    const std::optional<core::MetaRecord> owner = rs->find(ns, json_fields::string_or(o, "name"));
    if (!owner || !owner->controller) return false;
    // The Deployment controller keeps old ReplicaSets (scaled to 0) as its revision history
    // (spec.revisionHistoryLimit, pkg/controller/deployment/sync.go): one means no earlier one.
    return rs->controlled_by(ns, owner->controller->uid) <= 1;
  }
  return false;
}

}  // namespace crashdiag::daemon
