#include "crashdiag/model/template_diff.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "crashdiag/model/json_fields.hpp"
#include "crashdiag/model/rfc3339.hpp"

namespace crashdiag {

namespace {

using nlohmann::json;

std::string quoted_list(const std::vector<std::string>& items) {
  return json(items).dump();
}

std::string env_source(const EnvVar& e) {
  if (!e.value_from.empty()) return " (from " + e.value_from + ")";
  return "";
}

std::string volume_text(const Volume& v) {
  std::string kind;
  switch (v.kind) {
    case VolumeKind::kPvc:
      kind = "persistentVolumeClaim";
      break;
    case VolumeKind::kEmptyDir:
      kind = "emptyDir";
      break;
    case VolumeKind::kConfigMap:
      kind = "configMap";
      break;
    case VolumeKind::kSecret:
      kind = "secret";
      break;
    case VolumeKind::kHostPath:
      kind = "hostPath";
      break;
    case VolumeKind::kProjected:
      kind = "projected";
      break;
    case VolumeKind::kDownwardApi:
      kind = "downwardAPI";
      break;
    case VolumeKind::kOther:
      kind = "volume";
      break;
  }
  return kind + (v.source.empty() || v.source == v.name ? "" : " " + v.source) + (v.read_only ? ", read-only" : "");
}

std::string mount_text(const VolumeMount& m) {
  std::string s = "volume " + m.name;
  if (!m.sub_path.empty()) s += ", subPath " + m.sub_path;
  if (m.read_only) s += ", read-only";
  return s;
}

std::string probe_text(const Probe& p) {
  std::string handler;
  switch (p.kind) {
    case ProbeKind::kExec:
      handler = "exec " + quoted_list(p.exec_command);
      break;
    case ProbeKind::kHttpGet:
      handler = "httpGet " + p.http_path + " port " + p.port;
      break;
    case ProbeKind::kTcpSocket:
      handler = "tcpSocket port " + p.port;
      break;
    case ProbeKind::kGrpc:
      handler = "grpc port " + p.port;
      break;
    case ProbeKind::kUnknown:
      handler = "probe";
      break;
  }
  return handler + " (initialDelay " + std::to_string(p.initial_delay_seconds) + "s, period " +
         std::to_string(p.period_seconds) + "s, timeout " + std::to_string(p.timeout_seconds) + "s, failures " +
         std::to_string(p.failure_threshold) + ")";
}

template <typename T>
std::string opt_text(const std::optional<T>& v) {
  if (!v) return "unset";
  if constexpr (std::is_same_v<T, bool>) {
    return *v ? "true" : "false";
  } else {
    return std::to_string(*v);
  }
}

// What the ServiceAccount admission plugin adds to every pod and never to a template: the
// projected token volume "kube-api-access-<random>" mounted at this path
// (plugin/pkg/admission/serviceaccount/admission.go, BoundServiceAccountTokenVolume). A pod
// compared with its template must not report it as a change.
constexpr std::string_view kTokenMountPath = "/var/run/secrets/kubernetes.io/serviceaccount";
bool injected_volume(const Volume& v) {
  return v.name.rfind("kube-api-access-", 0) == 0 && v.kind == VolumeKind::kProjected;
}
bool injected_mount(const VolumeMount& m) {
  return m.mount_path == kTokenMountPath && m.name.rfind("kube-api-access-", 0) == 0;
}

class Differ {
 public:
  void pod_level(const Pod& before, const Pod& after) {
    std::map<std::string, const Volume*> old_volumes;
    for (const auto& v : before.volumes) {
      if (!injected_volume(v)) old_volumes[v.name] = &v;
    }
    for (const auto& v : after.volumes) {
      if (injected_volume(v)) continue;
      auto it = old_volumes.find(v.name);
      if (it == old_volumes.end()) {
        add("", ChangeAspect::kVolumes, "volumes." + v.name + " added (" + volume_text(v) + ")");
        continue;
      }
      if (volume_text(*it->second) != volume_text(v)) {
        add("", ChangeAspect::kVolumes, "volumes." + v.name + " " + volume_text(*it->second) + " → " + volume_text(v));
      }
      old_volumes.erase(it);
    }
    for (const auto& [name, v] : old_volumes) {
      add("", ChangeAspect::kVolumes, "volumes." + name + " removed (" + volume_text(*v) + ")");
    }
    if (before.enable_service_links != after.enable_service_links) {
      add("", ChangeAspect::kServiceLinks,
          std::string("enableServiceLinks ") + (before.enable_service_links ? "true" : "false") + " → " +
              (after.enable_service_links ? "true" : "false"));
    }
  }

  void containers(const Pod& before, const Pod& after) {
    std::map<std::string, const Container*> old_by_name;
    for (const auto& c : before.containers) old_by_name[(c.init ? "init/" : "") + c.name] = &c;
    int index = 0;
    int init_index = 0;
    for (const auto& c : after.containers) {
      const std::string at = c.init ? "initContainers[" + std::to_string(init_index++) + "]"
                                    : "containers[" + std::to_string(index++) + "]";
      auto it = old_by_name.find((c.init ? "init/" : "") + c.name);
      if (it == old_by_name.end()) {
        add(c.name, ChangeAspect::kContainers, at + " (" + c.name + ") added, image " + c.image);
        continue;
      }
      container(*it->second, c, at);
      old_by_name.erase(it);
    }
    for (const auto& [key, c] : old_by_name) {
      add(c->name, ChangeAspect::kContainers,
          std::string(c->init ? "initContainer " : "container ") + c->name + " removed");
    }
  }

  std::vector<TemplateChange> take() { return std::move(out_); }

 private:
  void add(const std::string& container, ChangeAspect aspect, std::string text) {
    out_.push_back(TemplateChange{container, aspect, std::move(text)});
  }

  void list(const std::string& name, ChangeAspect aspect, const std::string& field,
            const std::vector<std::string>& before, const std::vector<std::string>& after) {
    if (before == after) return;
    if (before.empty()) {
      add(name, aspect, field + " added " + quoted_list(after));
    } else if (after.empty()) {
      add(name, aspect, field + " removed (was " + quoted_list(before) + ")");
    } else {
      add(name, aspect, field + " " + quoted_list(before) + " → " + quoted_list(after));
    }
  }

  void container(const Container& b, const Container& a, const std::string& at) {
    const std::string& n = a.name;
    if (b.image != a.image) add(n, ChangeAspect::kImage, at + ".image " + b.image + " → " + a.image);
    list(n, ChangeAspect::kCommand, at + ".command", b.command, a.command);
    list(n, ChangeAspect::kArgs, at + ".args", b.args, a.args);
    env(b, a, at);
    std::map<std::string, std::string> old_from;
    for (const auto& e : b.env_from) old_from[e.kind + " " + e.name] = e.prefix;
    for (const auto& e : a.env_from) {
      if (old_from.erase(e.kind + " " + e.name) == 0) {
        add(n, ChangeAspect::kEnvFrom, at + ".envFrom " + e.kind + " " + e.name + " added");
      }
    }
    for (const auto& [key, prefix] : old_from) add(n, ChangeAspect::kEnvFrom, at + ".envFrom " + key + " removed");
    mounts(b, a, at);
    resource(n, at + ".resources.limits.memory", b.resources.memory_limit, a.resources.memory_limit);
    resource(n, at + ".resources.requests.memory", b.resources.memory_request, a.resources.memory_request);
    resource(n, at + ".resources.limits.cpu", b.resources.cpu_limit, a.resources.cpu_limit);
    resource(n, at + ".resources.requests.cpu", b.resources.cpu_request, a.resources.cpu_request);
    probe(n, ChangeAspect::kLivenessProbe, at + ".livenessProbe", b.liveness, a.liveness);
    probe(n, ChangeAspect::kReadinessProbe, at + ".readinessProbe", b.readiness, a.readiness);
    probe(n, ChangeAspect::kStartupProbe, at + ".startupProbe", b.startup, a.startup);
    const SecurityContext& bs = b.security_context;
    const SecurityContext& as = a.security_context;
    auto sc = [&](const char* field, const std::string& before, const std::string& after) {
      if (before != after) {
        add(n, ChangeAspect::kSecurityContext, at + ".securityContext." + field + " " + before + " → " + after);
      }
    };
    sc("runAsUser", opt_text(bs.run_as_user), opt_text(as.run_as_user));
    sc("runAsGroup", opt_text(bs.run_as_group), opt_text(as.run_as_group));
    sc("fsGroup", opt_text(bs.fs_group), opt_text(as.fs_group));
    sc("runAsNonRoot", opt_text(bs.run_as_non_root), opt_text(as.run_as_non_root));
    sc("readOnlyRootFilesystem", opt_text(bs.read_only_root_filesystem), opt_text(as.read_only_root_filesystem));
    sc("privileged", opt_text(bs.privileged), opt_text(as.privileged));
  }

  // Env values are never printed: they routinely hold credentials (evidence.hpp, EnvVar).
  void env(const Container& b, const Container& a, const std::string& at) {
    std::map<std::string, const EnvVar*> old;
    for (const auto& e : b.env) old[e.name] = &e;
    for (const auto& e : a.env) {
      auto it = old.find(e.name);
      if (it == old.end()) {
        add(a.name, ChangeAspect::kEnv, at + ".env " + e.name + " added" + env_source(e));
        continue;
      }
      const EnvVar& was = *it->second;
      if (was.value != e.value || was.value_from != e.value_from) {
        add(a.name, ChangeAspect::kEnv,
            at + ".env " + e.name + " changed" +
                (was.value_from != e.value_from ? " (source " + (was.value_from.empty() ? "value" : was.value_from) +
                                                      " → " + (e.value_from.empty() ? "value" : e.value_from) + ")"
                                                : std::string(" (value)")));
      }
      old.erase(it);
    }
    for (const auto& [name, e] : old) add(a.name, ChangeAspect::kEnv, at + ".env " + name + " removed");
  }

  void mounts(const Container& b, const Container& a, const std::string& at) {
    std::map<std::string, const VolumeMount*> old;
    for (const auto& m : b.mounts) {
      if (!injected_mount(m)) old[m.mount_path] = &m;
    }
    for (const auto& m : a.mounts) {
      if (injected_mount(m)) continue;
      auto it = old.find(m.mount_path);
      if (it == old.end()) {
        add(a.name, ChangeAspect::kMounts, at + ".volumeMounts " + m.mount_path + " added (" + mount_text(m) + ")");
        continue;
      }
      if (mount_text(*it->second) != mount_text(m)) {
        add(a.name, ChangeAspect::kMounts,
            at + ".volumeMounts " + m.mount_path + " " + mount_text(*it->second) + " → " + mount_text(m));
      }
      old.erase(it);
    }
    for (const auto& [path, m] : old) {
      add(a.name, ChangeAspect::kMounts, at + ".volumeMounts " + path + " removed (" + mount_text(*m) + ")");
    }
  }

  void resource(const std::string& name, const std::string& field, const std::string& before,
                const std::string& after) {
    if (before == after) return;
    add(name, ChangeAspect::kResources,
        field + " " + (before.empty() ? "unset" : before) + " → " + (after.empty() ? "unset" : after));
  }

  void probe(const std::string& name, ChangeAspect aspect, const std::string& field, const std::optional<Probe>& before,
             const std::optional<Probe>& after) {
    if (!before && !after) return;
    if (!before) {
      add(name, aspect, field + " added: " + probe_text(*after));
    } else if (!after) {
      add(name, aspect, field + " removed (was " + probe_text(*before) + ")");
    } else if (probe_text(*before) != probe_text(*after)) {
      add(name, aspect, field + " " + probe_text(*before) + " → " + probe_text(*after));
    }
  }

  std::vector<TemplateChange> out_;
};

std::string ago(const std::string& earlier, const std::string& later) {
  auto a = parse_rfc3339_seconds(earlier);
  auto b = parse_rfc3339_seconds(later);
  if (!a || !b || *b < *a) return "";
  const std::int64_t seconds = *b - *a;
  if (seconds < 120) return std::to_string(seconds) + "s";
  if (seconds < 7200) return std::to_string(seconds / 60) + "m";
  if (seconds < 172800) return std::to_string(seconds / 3600) + "h";
  return std::to_string(seconds / 86400) + "d";
}

}  // namespace

std::vector<TemplateChange> diff_templates(const Pod& before, const Pod& after) {
  Differ d;
  d.containers(before, after);
  d.pod_level(before, after);
  return d.take();
}

tl::expected<TemplateSource, ParseError> template_from_object(const json& object) {
  if (!object.is_object()) return tl::unexpected(ParseError{"$: expected an object holding a pod template"});
  TemplateSource out;
  const json empty = json::object();
  const json& meta = object.contains("metadata") && object["metadata"].is_object() ? object["metadata"] : empty;
  out.created = json_fields::string_or(meta, "creationTimestamp");
  out.revision =
      json_fields::string_or(json_fields::object_or_empty(meta, "annotations"), "deployment.kubernetes.io/revision");
  // By shape, not by kind: items of a List response carry no kind (the apiserver strips it).
  auto has = [](const json& j, const char* key) { return j.is_object() && j.contains(key); };
  const json* tmpl = nullptr;
  if (has(object, "data") && has(object["data"], "spec") && has(object["data"]["spec"], "template")) {
    tmpl = &object["data"]["spec"]["template"];  // ControllerRevision
    if (object.contains("revision") && object["revision"].is_number_integer()) {
      out.revision = std::to_string(object["revision"].get<long long>());
    }
  } else if (has(object, "spec") && has(object["spec"], "template")) {
    tmpl = &object["spec"]["template"];  // Deployment, ReplicaSet, StatefulSet, DaemonSet, Job
  } else if (has(object, "template")) {
    tmpl = &object["template"];  // PodTemplate
  } else if (has(object, "spec") && has(object["spec"], "containers")) {
    tmpl = &object;  // a Pod or a bare template
  }
  if (tmpl == nullptr || !tmpl->is_object()) {
    return tl::unexpected(ParseError{"$: no pod template (spec.template, data.spec.template, template or spec)"});
  }
  json as_pod = {{"apiVersion", "v1"},
                 {"kind", "Pod"},
                 {"metadata",
                  tmpl->contains("metadata") && (*tmpl)["metadata"].is_object() ? (*tmpl)["metadata"] : json::object()},
                 {"spec", tmpl->contains("spec") ? (*tmpl)["spec"] : json()}};
  // A template has no name of its own; the pod parser wants one.
  if (!as_pod["metadata"].contains("name"))
    as_pod["metadata"]["name"] = json_fields::string_or(meta, "name", "template");
  auto pod = pod_from_json(as_pod);
  if (!pod) return tl::unexpected(pod.error());
  out.pod = std::move(*pod);
  return out;
}

std::string describe_changes(const WhatChanged& w, const std::string& first_failure) {
  if (w.changes.empty()) {
    return "nothing in the pod template changed" +
           (w.previous_revision.empty() ? std::string(" from the previous template")
                                        : " since revision " + w.previous_revision) +
           ": the cause is outside the spec (a dependency, a Secret's or ConfigMap's content, the image behind "
           "the same tag, the node)";
  }
  std::string s = w.revision.empty() ? "changed since the previous template" : "changed in revision " + w.revision;
  if (const std::string before = ago(w.changed_at, first_failure); !before.empty()) {
    s += " (" + before + " before the first failure)";
  }
  s += ":";
  // One line: the first few changes, then how many more (the RCA and explain list them all).
  constexpr std::size_t kShown = 6;
  for (std::size_t i = 0; i < w.changes.size() && i < kShown; ++i) s += (i == 0 ? " " : "; ") + w.changes[i].text;
  if (w.changes.size() > kShown) s += "; and " + std::to_string(w.changes.size() - kShown) + " more";
  return s;
}

namespace {

std::optional<long long> revision_number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  long long n = 0;
  for (char c : text) {
    if (c < '0' || c > '9' || n > 1'000'000'000'000LL) return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

struct Owner {
  std::string kind;
  std::string name;
  std::string uid;
};

std::optional<Owner> controller_of(const nlohmann::json& object) {
  if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) return std::nullopt;
  const nlohmann::json& meta = object["metadata"];
  if (!meta.contains("ownerReferences") || !meta["ownerReferences"].is_array()) return std::nullopt;
  for (const auto& o : meta["ownerReferences"]) {
    if (json_fields::bool_or(o, "controller", false) && o.contains("kind") && o["kind"].is_string() &&
        o.contains("name") && o["name"].is_string()) {
      return Owner{o["kind"].get<std::string>(), o["name"].get<std::string>(),
                   o.contains("uid") && o["uid"].is_string() ? o["uid"].get<std::string>() : std::string()};
    }
  }
  return std::nullopt;
}

std::string name_of(const nlohmann::json& object) {
  if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) return {};
  const nlohmann::json& meta = object["metadata"];
  return meta.contains("name") && meta["name"].is_string() ? meta["name"].get<std::string>() : std::string();
}

std::string label_of(const nlohmann::json& object, const char* key) {
  if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) return {};
  const nlohmann::json& meta = object["metadata"];
  if (!meta.contains("labels") || !meta["labels"].is_object()) return {};
  const auto it = meta["labels"].find(key);
  return it != meta["labels"].end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool owned_by(const nlohmann::json& object, const Owner& workload) {
  const auto o = controller_of(object);
  if (!o || o->kind != workload.kind) return false;
  return !workload.uid.empty() && !o->uid.empty() ? o->uid == workload.uid : o->name == workload.name;
}

}  // namespace

std::optional<RevisionList> revision_list_of(const nlohmann::json& pod) {
  const auto owner = controller_of(pod);
  if (!owner || !pod["metadata"].contains("namespace") || !pod["metadata"]["namespace"].is_string()) {
    return std::nullopt;
  }
  const std::string ns = pod["metadata"]["namespace"].get<std::string>();
  if (owner->kind == "ReplicaSet")
    return RevisionList{"/apis/apps/v1/namespaces/" + ns + "/replicasets", "replicasets"};
  if (owner->kind == "StatefulSet" || owner->kind == "DaemonSet") {
    if (label_of(pod, "controller-revision-hash").empty()) return std::nullopt;
    return RevisionList{"/apis/apps/v1/namespaces/" + ns + "/controllerrevisions", "controllerrevisions"};
  }
  return std::nullopt;
}

std::optional<PreviousTemplate> previous_template_of(const nlohmann::json& pod, const nlohmann::json& revisions) {
  const auto owner = controller_of(pod);
  if (!owner || !revisions.is_object() || !revisions.contains("items") || !revisions["items"].is_array()) {
    return std::nullopt;
  }
  const nlohmann::json& items = revisions["items"];
  // The pod's own revision, and the workload whose revisions to compare.
  const nlohmann::json* current = nullptr;
  std::optional<Owner> workload;
  if (owner->kind == "ReplicaSet") {
    for (const auto& item : items) {
      if (name_of(item) == owner->name) current = &item;
    }
    if (current != nullptr) workload = controller_of(*current);
    if (workload && workload->kind != "Deployment") workload.reset();
  } else if (owner->kind == "StatefulSet" || owner->kind == "DaemonSet") {
    const std::string hash = label_of(pod, "controller-revision-hash");
    for (const auto& item : items) {
      const std::string n = name_of(item);
      if (!hash.empty() && (n == hash || n == owner->name + "-" + hash)) current = &item;
    }
    workload = owner;
  }
  if (current == nullptr || !workload) return std::nullopt;
  auto current_source = template_from_object(*current);
  if (!current_source) return std::nullopt;
  const auto current_rev = revision_number(current_source->revision);
  if (!current_rev) return std::nullopt;
  std::optional<TemplateSource> best;
  long long best_rev = 0;
  for (const auto& item : items) {
    if (!owned_by(item, *workload)) continue;
    auto source = template_from_object(item);
    if (!source) continue;
    const auto rev = revision_number(source->revision);
    if (!rev || *rev >= *current_rev || *rev <= best_rev) continue;
    best_rev = *rev;
    best = std::move(*source);
  }
  if (!best) return std::nullopt;
  return PreviousTemplate{std::move(best->pod), best->revision, current_source->revision, current_source->created};
}

}  // namespace crashdiag
