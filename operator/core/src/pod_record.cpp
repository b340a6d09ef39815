#include "crashdiag/core/pod_record.hpp"

#include <simdjson.h>

#include <algorithm>

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

simdjson::error_code read_termination(od::object obj, TerminationRecord& t) {
  for (auto field : obj) {
    std::string_view key;
    if (auto err = field.unescaped_key().get(key)) return err;
    if (key == "exitCode") {
      int64_t v = 0;
      if (auto err = field.value().get_int64().get(v)) return err;
      t.exit_code = static_cast<int>(v);
    } else if (key == "reason") {
      if (auto err = read_string(field.value(), t.reason)) return err;
    } else if (key == "finishedAt") {
      if (auto err = read_string(field.value(), t.finished_at)) return err;
    }
  }
  return simdjson::SUCCESS;
}

simdjson::error_code read_state(od::object obj, ContainerRecord& c, bool last) {
  for (auto field : obj) {
    std::string_view key;
    if (auto err = field.unescaped_key().get(key)) return err;
    if (key == "waiting" && !last) {
      od::object w;
      if (auto err = field.value().get_object().get(w)) return err;
      for (auto wf : w) {
        std::string_view wk;
        if (auto err = wf.unescaped_key().get(wk)) return err;
        if (wk == "reason") {
          if (auto err = read_string(wf.value(), c.waiting_reason)) return err;
        }
      }
    } else if (key == "running" && !last) {
      c.running = true;
    } else if (key == "terminated") {
      od::object t;
      if (auto err = field.value().get_object().get(t)) return err;
      TerminationRecord rec;
      if (auto err = read_termination(t, rec)) return err;
      (last ? c.last_terminated : c.terminated) = rec;
    }
  }
  return simdjson::SUCCESS;
}

simdjson::error_code read_statuses(od::array arr, std::vector<ContainerRecord>& out, bool init) {
  for (auto item : arr) {
    od::object obj;
    if (auto err = item.get_object().get(obj)) return err;
    ContainerRecord c;
    c.init = init;
    for (auto field : obj) {
      std::string_view key;
      if (auto err = field.unescaped_key().get(key)) return err;
      if (key == "name") {
        if (auto err = read_string(field.value(), c.name)) return err;
      } else if (key == "restartCount") {
        int64_t v = 0;
        if (auto err = field.value().get_int64().get(v)) return err;
        c.restart_count = static_cast<int>(v);
      } else if (key == "ready") {
        if (auto err = field.value().get_bool().get(c.ready)) return err;
      } else if (key == "state" || key == "lastState") {
        od::object s;
        if (auto err = field.value().get_object().get(s)) return err;
        if (auto err = read_state(s, c, key == "lastState")) return err;
      }
    }
    out.push_back(std::move(c));
  }
  return simdjson::SUCCESS;
}

simdjson::error_code read_pod(od::object pod, PodRecord& r, bool& is_pod) {
  std::vector<std::string> sidecars;
  for (auto field : pod) {
    std::string_view key;
    if (auto err = field.unescaped_key().get(key)) return err;
    if (key == "kind") {
      std::string kind;
      if (auto err = read_string(field.value(), kind)) return err;
      is_pod = kind == "Pod";
    } else if (key == "metadata") {
      od::object meta;
      if (auto err = field.value().get_object().get(meta)) return err;
      for (auto m : meta) {
        std::string_view mk;
        if (auto err = m.unescaped_key().get(mk)) return err;
        if (mk == "name") {
          if (auto err = read_string(m.value(), r.name)) return err;
        } else if (mk == "namespace") {
          if (auto err = read_string(m.value(), r.namespace_)) return err;
        } else if (mk == "uid") {
          if (auto err = read_string(m.value(), r.uid)) return err;
        } else if (mk == "resourceVersion") {
          if (auto err = read_string(m.value(), r.resource_version)) return err;
        } else if (mk == "deletionTimestamp") {
          r.deleting = true;
        } else if (mk == "annotations") {
          // Only crashdiag's own two: publishing patches them only when they would change.
          od::object ann;
          if (auto err = m.value().get_object().get(ann)) return err;
          for (auto a : ann) {
            std::string_view ak;
            if (auto err = a.unescaped_key().get(ak)) return err;
            if (ak == "crashdiag.io/rca") {
              if (auto err = read_string(a.value(), r.rca_annotation)) return err;
            } else if (ak == "crashdiag.io/root-cause") {
              if (auto err = read_string(a.value(), r.root_cause_annotation)) return err;
            }
          }
        } else if (mk == "ownerReferences") {
          od::array owners;
          if (auto err = m.value().get_array().get(owners)) return err;
          for (auto o : owners) {
            od::object owner;
            if (auto err = o.get_object().get(owner)) return err;
            std::string kind;
            std::string name;
            std::string uid;
            bool controller = false;
            for (auto of : owner) {
              std::string_view ok;
              if (auto err = of.unescaped_key().get(ok)) return err;
              if (ok == "kind") {
                if (auto err = read_string(of.value(), kind)) return err;
              } else if (ok == "name") {
                if (auto err = read_string(of.value(), name)) return err;
              } else if (ok == "uid") {
                if (auto err = read_string(of.value(), uid)) return err;
              } else if (ok == "controller") {
                if (auto err = of.value().get_bool().get(controller)) return err;
              }
            }
            if (controller || r.owner_kind.empty()) {
              r.owner_kind = std::move(kind);
              r.owner_name = std::move(name);
              r.owner_uid = std::move(uid);
            }
          }
        }
      }
    } else if (key == "spec") {
      od::object spec;
      if (auto err = field.value().get_object().get(spec)) return err;
      for (auto s : spec) {
        std::string_view sk;
        if (auto err = s.unescaped_key().get(sk)) return err;
        if (sk == "restartPolicy") {
          if (auto err = read_string(s.value(), r.restart_policy)) return err;
        } else if (sk == "initContainers") {
          // Sidecars (KEP-753): init containers with restartPolicy Always restart like main ones.
          od::array inits;
          if (auto err = s.value().get_array().get(inits)) return err;
          for (auto item : inits) {
            od::object ic;
            if (auto err = item.get_object().get(ic)) return err;
            std::string name;
            std::string policy;
            for (auto f : ic) {
              std::string_view fk;
              if (auto err = f.unescaped_key().get(fk)) return err;
              if (fk == "name") {
                if (auto err = read_string(f.value(), name)) return err;
              } else if (fk == "restartPolicy") {
                if (auto err = read_string(f.value(), policy)) return err;
              }
            }
            if (policy == "Always") sidecars.push_back(std::move(name));
          }
        }
      }
    } else if (key == "status") {
      od::object status;
      if (auto err = field.value().get_object().get(status)) return err;
      for (auto s : status) {
        std::string_view sk;
        if (auto err = s.unescaped_key().get(sk)) return err;
        if (sk == "initContainerStatuses" || sk == "containerStatuses") {
          od::array arr;
          if (auto err = s.value().get_array().get(arr)) return err;
          if (auto err = read_statuses(arr, r.containers, sk == "initContainerStatuses")) return err;
        } else if (sk == "conditions") {
          od::array conditions;
          if (auto err = s.value().get_array().get(conditions)) return err;
          for (auto item : conditions) {
            od::object cond;
            if (auto err = item.get_object().get(cond)) return err;
            std::string type;
            std::string value;
            std::string since;
            for (auto f : cond) {
              std::string_view fk;
              if (auto err = f.unescaped_key().get(fk)) return err;
              if (fk == "type") {
                if (auto err = read_string(f.value(), type)) return err;
              } else if (fk == "status") {
                if (auto err = read_string(f.value(), value)) return err;
              } else if (fk == "lastTransitionTime") {
                if (auto err = read_string(f.value(), since)) return err;
              }
            }
            if (type == "Ready" && value == "False") r.not_ready_since = std::move(since);
          }
        }
      }
    }
  }
  for (ContainerRecord& c : r.containers) {
    c.sidecar = c.init && std::find(sidecars.begin(), sidecars.end(), c.name) != sidecars.end();
  }
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
    for (auto f : o) {
      std::string_view k;
      if (auto err = f.unescaped_key().get(k)) return tl::unexpected(RecordError{simdjson::error_message(err)});
      if (k == "code") {
        int64_t code = 0;
        if (auto err = f.value().get_int64().get(code))
          return tl::unexpected(RecordError{simdjson::error_message(err)});
        line.error_code = static_cast<int>(code);
      } else if (k == "reason") {
        if (auto err = read_string(f.value(), line.error_reason))
          return tl::unexpected(RecordError{simdjson::error_message(err)});
      }
    }
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
