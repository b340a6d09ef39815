// The owner index (issue 14 item 3): metadata-only list+watch of the objects between a pod and
// the workload users know, and of Namespaces, so that resolving a failure's workload and reading
// crashdiag.io/ignore cost no request. The store and its lookups are pure
// (crashdiag/core/owner_index.hpp); this file only wires them to the watch loop.

#include <nlohmann/json.hpp>

#include "crashdiag/core/pod_record.hpp"
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
    core::WatchEvent ev;
    ev.type = core::watch_event_type(parsed->type);
    ev.resource_version = parsed->resource_version;
    ev.error_code = parsed->error_code;
    if (ev.type == core::WatchEventType::kBookmark) ev.initial_events_end = core::ends_initial_events(line);
    if (parsed->object) ev.object = std::move(*parsed);
    return ev;
  }
  void stage_event(std::any object) override {
    auto* line = std::any_cast<core::MetaWatchLine>(&object);
    if (line == nullptr || !line->object) return;
    if (line->type == "DELETED") {
      store_.unstage(line->object->key());
    } else {
      store_.stage(*line->object);
    }
  }
  void apply(std::any object) override {
    auto* line = std::any_cast<core::MetaWatchLine>(&object);
    if (line == nullptr || !line->object) return;
    if (line->type == "DELETED") {
      store_.remove(line->object->key());
      d_.workload_deleted(kind_, *line->object);
    } else {
      store_.upsert(*line->object);
    }
  }

 private:
  Daemon& d_;
  std::string kind_;
  core::MetaStore& store_;
};

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
