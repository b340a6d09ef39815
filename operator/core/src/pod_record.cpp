#include "crashdiag/core/pod_record.hpp"

#include <simdjson.h>

#include <algorithm>

#include "crashdiag/model/datastore.hpp"
#include "pod_spec_facts.hpp"

namespace crashdiag::core {
namespace {

namespace od = simdjson::ondemand;

// simdjson On-Demand walks each object's fields in document order exactly once; unknown fields
// are skipped without being parsed, which is where the speed comes from on 10 KB pod objects
// of which we keep a few hundred bytes.

simdjson::error_code read_string(od::value v, std::string& out) {
  std::string_view s;
  auto err = v.get_string().get(s);
  if (err == simdjson::SUCCESS) out.assign(s);
  return err;
}

// A metav1.Time: RFC 3339, or null for the zero time (time.go MarshalJSON), which reads as "" as
// the protobuf form's empty message does.
simdjson::error_code read_time(od::value v, std::string& out) {
  bool null = false;
  if (auto err = v.is_null().get(null)) return err;
  if (null) {
    out.clear();
    return simdjson::SUCCESS;
  }
  return read_string(v, out);
}

simdjson::error_code read_int(od::value v, int& out) {
  int64_t n = 0;
  auto err = v.get_int64().get(n);
  if (err == simdjson::SUCCESS) out = static_cast<int>(n);
  return err;
}

// Calls on(key, value) for each field of an object, in document order; the first error stops it.
template <typename OnField>
simdjson::error_code each_field(od::object obj, OnField&& on) {
  for (auto field : obj) {
    std::string_view key;
    if (auto err = field.unescaped_key().get(key)) return err;
    od::value value;
    if (auto err = field.value().get(value)) return err;
    if (auto err = on(key, value)) return err;
  }
  return simdjson::SUCCESS;
}

template <typename OnField>
simdjson::error_code each_field(od::value v, OnField&& on) {
  od::object obj;
  if (auto err = v.get_object().get(obj)) return err;
  return each_field(obj, std::forward<OnField>(on));
}

// Calls on(object) for each element of an array of objects; the first error stops it.
template <typename OnObject>
simdjson::error_code each_object(od::value v, OnObject&& on) {
  od::array arr;
  if (auto err = v.get_array().get(arr)) return err;
  for (auto item : arr) {
    od::object obj;
    if (auto err = item.get_object().get(obj)) return err;
    if (auto err = on(obj)) return err;
  }
  return simdjson::SUCCESS;
}

simdjson::error_code read_termination(od::value v, TerminationRecord& t) {
  return each_field(v, [&](std::string_view key, od::value value) {
    if (key == "exitCode") return read_int(value, t.exit_code);
    if (key == "reason") return read_string(value, t.reason);
    if (key == "finishedAt") return read_time(value, t.finished_at);
    return simdjson::SUCCESS;
  });
}

simdjson::error_code read_state(od::value v, ContainerRecord& c, bool last) {
  return each_field(v, [&](std::string_view key, od::value value) {
    if (key == "waiting" && !last) {
      return each_field(value, [&](std::string_view wk, od::value wv) {
        return wk == "reason" ? read_string(wv, c.waiting_reason) : simdjson::SUCCESS;
      });
    }
    if (key == "running" && !last) {
      c.running = true;
    } else if (key == "terminated") {
      TerminationRecord rec;
      if (auto err = read_termination(value, rec)) return err;
      (last ? c.last_terminated : c.terminated) = rec;
    }
    return simdjson::SUCCESS;
  });
}

simdjson::error_code read_statuses(od::value v, std::vector<ContainerRecord>& out, bool init) {
  return each_object(v, [&](od::object obj) {
    ContainerRecord c;
    c.init = init;
    auto err = each_field(obj, [&](std::string_view key, od::value value) {
      if (key == "name") return read_string(value, c.name);
      if (key == "restartCount") return read_int(value, c.restart_count);
      if (key == "ready") return value.get_bool().get(c.ready);
      if (key == "state" || key == "lastState") return read_state(value, c, key == "lastState");
      return simdjson::SUCCESS;
    });
    if (err == simdjson::SUCCESS) out.push_back(std::move(c));
    return err;
  });
}

simdjson::error_code read_metadata(od::value v, PodRecord& r) {
  return each_field(v, [&](std::string_view key, od::value value) {
    if (key == "name") return read_string(value, r.name);
    if (key == "namespace") return read_string(value, r.namespace_);
    if (key == "uid") return read_string(value, r.uid);
    if (key == "resourceVersion") return read_string(value, r.resource_version);
    if (key == "deletionTimestamp") {
      r.deleting = true;
    } else if (key == "annotations") {
      // Only crashdiag's own: its two results (publishing patches them only when they would
      // change) and the owner's crashdiag.io/ignore.
      return each_field(value, [&](std::string_view ak, od::value av) {
        if (ak == "crashdiag.io/rca") return read_string(av, r.rca_annotation);
        if (ak == "crashdiag.io/root-cause") return read_string(av, r.root_cause_annotation);
        if (ak == "crashdiag.io/ignore") {
          std::string v;
          auto err = read_string(av, v);
          r.ignored = v == "true";
          return err;
        }
        return simdjson::SUCCESS;
      });
    } else if (key == "ownerReferences") {
      return each_object(value, [&](od::object owner) {
        std::string kind;
        std::string name;
        std::string uid;
        bool controller = false;
        auto err = each_field(owner, [&](std::string_view ok, od::value ov) {
          if (ok == "kind") return read_string(ov, kind);
          if (ok == "name") return read_string(ov, name);
          if (ok == "uid") return read_string(ov, uid);
          if (ok == "controller") return ov.get_bool().get(controller);
          return simdjson::SUCCESS;
        });
        if (err == simdjson::SUCCESS && (controller || r.owner_kind.empty())) {
          r.owner_kind = std::move(kind);
          r.owner_name = std::move(name);
          r.owner_uid = std::move(uid);
        }
        return err;
      });
    }
    return simdjson::SUCCESS;
  });
}

using detail::PodSpecFacts;
using detail::SpecContainer;

// The spec's volumes that are PersistentVolumeClaims (a StatefulSet's volumeClaimTemplates become
// such volumes in each pod: pkg/controller/statefulset/stateful_set_utils.go updateStorage).
simdjson::error_code read_pvc_volumes(od::value v, std::vector<std::string>& pvcs) {
  return each_object(v, [&](od::object vol) {
    std::string name;
    bool pvc = false;
    auto err = each_field(vol, [&](std::string_view k, od::value fv) {
      if (k == "name") return read_string(fv, name);
      if (k == "persistentVolumeClaim") pvc = true;
      return simdjson::SUCCESS;
    });
    if (err == simdjson::SUCCESS && pvc) pvcs.push_back(std::move(name));
    return err;
  });
}

simdjson::error_code read_spec_containers(od::value v, std::vector<SpecContainer>& out) {
  return each_object(v, [&](od::object obj) {
    SpecContainer c;
    auto err = each_field(obj, [&](std::string_view key, od::value value) {
      if (key == "name") return read_string(value, c.name);
      if (key == "image") {
        std::string_view image;
        auto e = value.get_string().get(image);
        if (e == simdjson::SUCCESS && datastore_of_image(image) != Datastore::kNone) c.datastore = true;
        return e;
      }
      if (key != "volumeMounts") return simdjson::SUCCESS;
      return each_object(value, [&](od::object mount) {
        return each_field(mount, [&](std::string_view mk, od::value mv) {
          if (mk == "name") {
            c.mounted.emplace_back();
            return read_string(mv, c.mounted.back());
          }
          if (mk == "mountPath") {
            std::string_view path;
            auto e = mv.get_string().get(path);
            if (e == simdjson::SUCCESS && datastore_of_mount(path) != Datastore::kNone) c.datastore = true;
            return e;
          }
          return simdjson::SUCCESS;
        });
      });
    });
    if (err == simdjson::SUCCESS && c.datastore) out.push_back(std::move(c));
    return err;
  });
}

simdjson::error_code read_spec(od::value v, PodRecord& r, PodSpecFacts& spec) {
  return each_field(v, [&](std::string_view key, od::value value) {
    if (key == "restartPolicy") return read_string(value, r.restart_policy);
    if (key == "volumes" || key == "containers") {
      // A BOOKMARK's object is a Pod with `"containers": null` (tests/data/k8s/03-*).
      bool null = false;
      if (auto err = value.is_null().get(null)) return err;
      if (null) return simdjson::SUCCESS;
      return key == "volumes" ? read_pvc_volumes(value, spec.pvcs) : read_spec_containers(value, spec.datastores);
    }
    if (key != "initContainers") return simdjson::SUCCESS;
    // Sidecars (KEP-753): init containers with restartPolicy Always restart like main ones.
    return each_object(value, [&](od::object ic) {
      std::string name;
      std::string policy;
      auto err = each_field(ic, [&](std::string_view fk, od::value fv) {
        if (fk == "name") return read_string(fv, name);
        if (fk == "restartPolicy") return read_string(fv, policy);
        return simdjson::SUCCESS;
      });
      if (err == simdjson::SUCCESS && policy == "Always") spec.sidecars.push_back(std::move(name));
      return err;
    });
  });
}

simdjson::error_code read_status(od::value v, PodRecord& r) {
  return each_field(v, [&](std::string_view key, od::value value) {
    if (key == "initContainerStatuses" || key == "containerStatuses") {
      return read_statuses(value, r.containers, key == "initContainerStatuses");
    }
    if (key != "conditions") return simdjson::SUCCESS;
    return each_object(value, [&](od::object cond) {
      std::string type;
      std::string status;
      std::string since;
      auto err = each_field(cond, [&](std::string_view fk, od::value fv) {
        if (fk == "type") return read_string(fv, type);
        if (fk == "status") return read_string(fv, status);
        if (fk == "lastTransitionTime") return read_time(fv, since);
        return simdjson::SUCCESS;
      });
      if (err == simdjson::SUCCESS && type == "Ready" && status == "False") r.not_ready_since = std::move(since);
      return err;
    });
  });
}

simdjson::error_code read_pod(od::object pod, PodRecord& r, bool& is_pod) {
  PodSpecFacts spec;
  auto err = each_field(pod, [&](std::string_view key, od::value value) {
    if (key == "kind") {
      std::string kind;
      auto e = read_string(value, kind);
      is_pod = kind == "Pod";
      return e;
    }
    if (key == "metadata") return read_metadata(value, r);
    if (key == "spec") return read_spec(value, r, spec);
    if (key == "status") return read_status(value, r);
    return simdjson::SUCCESS;
  });
  if (err) return err;
  detail::apply_spec_facts(r, spec);
  return simdjson::SUCCESS;
}

thread_local od::parser tls_parser;

}  // namespace

tl::expected<PodRecord, RecordError> parse_pod_record(std::string_view json) {
  simdjson::padded_string padded(json);
  od::document doc;
  if (auto err = tls_parser.iterate(padded).get(doc)) return tl::unexpected(RecordError{simdjson::error_message(err)});
  od::object obj;
  if (auto err = doc.get_object().get(obj)) return tl::unexpected(RecordError{simdjson::error_message(err)});
  PodRecord r;
  bool is_pod = true;
  if (auto err = read_pod(obj, r, is_pod)) return tl::unexpected(RecordError{simdjson::error_message(err)});
  if (!is_pod) return tl::unexpected(RecordError{"not a Pod"});
  if (r.name.empty()) return tl::unexpected(RecordError{"pod without metadata.name"});
  return r;
}

namespace {

// The event's object, once its type is known: a Status for ERROR, else a Pod.
tl::expected<void, RecordError> read_event_object(od::object o, WatchLine& line) {
  if (line.type == "ERROR") {
    // A Status object (k8s.io/apimachinery/pkg/apis/meta/v1 Status): code and reason.
    auto err = each_field(o, [&](std::string_view key, od::value value) {
      if (key == "code") return read_int(value, line.error_code);
      if (key == "reason") return read_string(value, line.error_reason);
      return simdjson::SUCCESS;
    });
    if (err) return tl::unexpected(RecordError{simdjson::error_message(err)});
    return {};
  }
  PodRecord r;
  bool is_pod = true;
  if (auto err = read_pod(o, r, is_pod))
    return tl::unexpected(RecordError{"object: " + std::string(simdjson::error_message(err))});
  line.resource_version = r.resource_version;
  // A BOOKMARK's object is a Pod with only metadata.resourceVersion set.
  if (line.type != "BOOKMARK") line.pod = std::move(r);
  return {};
}

}  // namespace

bool ends_initial_events(std::string_view line) {
  simdjson::padded_string padded(line);
  od::document doc;
  if (tls_parser.iterate(padded).get(doc)) return false;
  od::object obj;
  if (doc.get_object().get(obj)) return false;
  bool bookmark = false;
  bool marked = false;
  // Either order of "type" and "object"; a bookmark is a few hundred bytes.
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return false;
    if (key == "type") {
      std::string_view type;
      if (field.value().get_string().get(type)) return false;
      bookmark = type == "BOOKMARK";
    } else if (key == "object") {
      std::string_view value;
      auto v = field.value()["metadata"]["annotations"]["k8s.io/initial-events-end"];
      marked = v.get_string().get(value) == simdjson::SUCCESS && value == "true";
    }
  }
  return bookmark && marked;
}

tl::expected<WatchLine, RecordError> parse_watch_line(std::string_view json) {
  simdjson::padded_string padded(json);
  od::document doc;
  if (auto err = tls_parser.iterate(padded).get(doc)) return tl::unexpected(RecordError{simdjson::error_message(err)});
  od::object obj;
  if (auto err = doc.get_object().get(obj)) return tl::unexpected(RecordError{simdjson::error_message(err)});
  WatchLine line;
  // The apiserver writes "type" before "object" (watch.Event's field order), but JSON objects
  // are unordered: an object that comes first is kept raw and read once the type is known.
  std::string_view deferred;
  for (auto field : obj) {
    std::string_view key;
    if (auto err = field.unescaped_key().get(key)) return tl::unexpected(RecordError{simdjson::error_message(err)});
    if (key == "type") {
      if (auto err = read_string(field.value(), line.type))
        return tl::unexpected(RecordError{"type: " + std::string(simdjson::error_message(err))});
    } else if (key == "object") {
      od::object o;
      if (auto err = field.value().get_object().get(o))
        return tl::unexpected(RecordError{"object: " + std::string(simdjson::error_message(err))});
      if (line.type.empty()) {
        if (auto err = o.raw_json().get(deferred))
          return tl::unexpected(RecordError{"object: " + std::string(simdjson::error_message(err))});
        continue;
      }
      if (auto done = read_event_object(o, line); !done) return tl::unexpected(done.error());
    }
  }
  if (!deferred.empty() && !line.type.empty()) {
    const std::string copy(deferred);
    simdjson::padded_string again(copy);
    od::document d2;
    od::object o;
    if (auto err = tls_parser.iterate(again).get(d2)) return tl::unexpected(RecordError{simdjson::error_message(err)});
    if (auto err = d2.get_object().get(o)) return tl::unexpected(RecordError{simdjson::error_message(err)});
    if (auto done = read_event_object(o, line); !done) return tl::unexpected(done.error());
  }
  if (line.type.empty()) return tl::unexpected(RecordError{"watch event without type"});
  if (line.type != "ADDED" && line.type != "MODIFIED" && line.type != "DELETED" && line.type != "BOOKMARK" &&
      line.type != "ERROR") {
    return tl::unexpected(RecordError{"unknown watch event type " + line.type});
  }
  if (line.type != "ERROR" && line.type != "BOOKMARK" && !line.pod)
    return tl::unexpected(RecordError{"watch event without object"});
  return line;
}

}  // namespace crashdiag::core
