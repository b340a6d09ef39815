// The pod record from the protobuf encoding: the same fields pod_record.cpp reads from JSON, by
// their numbers in k8s.io/api/core/v1/generated.proto and
// k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto (v1.26.1, the rig's source; Container's
// restartPolicy = 24 came with sidecars in 1.28). A field of the wrong wire type is a malformed
// message; unknown fields are skipped, as any protobuf reader does.
#include <algorithm>

#include "crashdiag/core/pod_record.hpp"
#include "crashdiag/core/protobuf.hpp"
#include "crashdiag/model/datastore.hpp"
#include "pod_spec_facts.hpp"

namespace crashdiag::core {
namespace {

using pb::Field;
using pb::Reader;
using pb::WireType;

// Each reader returns false on a malformed message.
bool read_string(const Field& f, std::string& out) {
  if (f.type != WireType::kBytes) return false;
  out.assign(f.bytes);
  return true;
}

bool read_int(const Field& f, int& out) {
  if (f.type != WireType::kVarint) return false;
  // int32 is written sign-extended to 64 bits.
  out = static_cast<int>(static_cast<std::int32_t>(static_cast<std::uint32_t>(f.varint)));
  return true;
}

bool read_bool(const Field& f, bool& out) {
  if (f.type != WireType::kVarint) return false;
  out = f.varint != 0;
  return true;
}

// Calls on(field) for each field of the embedded message `f`; false if either is malformed.
template <typename OnField>
bool each_field(const Field& f, OnField&& on) {
  if (f.type != WireType::kBytes) return false;
  Reader r(f.bytes);
  Field inner;
  while (r.next(inner))
    if (!on(inner)) return false;
  return r.ok();
}

// metav1.Time {seconds = 1} as the RFC 3339 string JSON carries.
bool read_time(const Field& f, std::string& out) {
  std::int64_t seconds = 0;
  const bool ok = each_field(f, [&](const Field& t) {
    if (t.number != 1) return true;
    if (t.type != WireType::kVarint) return false;
    seconds = static_cast<std::int64_t>(t.varint);
    return true;
  });
  if (ok) out = pb::rfc3339(seconds);
  return ok;
}

bool read_termination(const Field& f, TerminationRecord& t) {
  return each_field(f, [&](const Field& x) {
    if (x.number == 1) return read_int(x, t.exit_code);
    if (x.number == 3) return read_string(x, t.reason);
    if (x.number == 6) return read_time(x, t.finished_at);
    return true;
  });
}

// ContainerState {waiting = 1 {reason = 1}, running = 2, terminated = 3}. A set state is
// written even when empty (a pointer field), so its presence is what counts, as a JSON key's.
bool read_state(const Field& f, ContainerRecord& c, bool last) {
  return each_field(f, [&](const Field& s) {
    if (s.number == 1 && !last) {
      return each_field(s, [&](const Field& w) { return w.number != 1 || read_string(w, c.waiting_reason); });
    }
    if (s.number == 2 && !last) {
      if (s.type != WireType::kBytes) return false;
      c.running = true;
    } else if (s.number == 3) {
      TerminationRecord rec;
      if (!read_termination(s, rec)) return false;
      (last ? c.last_terminated : c.terminated) = rec;
    }
    return true;
  });
}

bool read_status_entry(const Field& f, std::vector<ContainerRecord>& out, bool init) {
  ContainerRecord c;
  c.init = init;
  const bool ok = each_field(f, [&](const Field& x) {
    switch (x.number) {
      case 1:
        return read_string(x, c.name);
      case 2:
        return read_state(x, c, false);
      case 3:
        return read_state(x, c, true);
      case 4:
        return read_bool(x, c.ready);
      case 5:
        return read_int(x, c.restart_count);
      default:
        return true;
    }
  });
  if (ok) out.push_back(std::move(c));
  return ok;
}

bool read_owner(const Field& f, PodRecord& r) {
  std::string kind;
  std::string name;
  std::string uid;
  bool controller = false;
  const bool ok = each_field(f, [&](const Field& x) {
    if (x.number == 1) return read_string(x, kind);
    if (x.number == 3) return read_string(x, name);
    if (x.number == 4) return read_string(x, uid);
    if (x.number == 6) return read_bool(x, controller);
    return true;
  });
  if (ok && (controller || r.owner_kind.empty())) {
    r.owner_kind = std::move(kind);
    r.owner_name = std::move(name);
    r.owner_uid = std::move(uid);
  }
  return ok;
}

bool read_metadata(const Field& f, PodRecord& r) {
  return each_field(f, [&](const Field& x) {
    switch (x.number) {
      case 1:
        return read_string(x, r.name);
      case 3:
        return read_string(x, r.namespace_);
      case 5:
        return read_string(x, r.uid);
      case 6:
        return read_string(x, r.resource_version);
      case 9:  // deletionTimestamp, a pointer: written only when set
        r.deleting = true;
        return x.type == WireType::kBytes;
      case 12: {  // annotations: map entries {key = 1, value = 2}
        std::string key;
        std::string value;
        if (!each_field(x, [&](const Field& e) {
              if (e.number == 1) return read_string(e, key);
              if (e.number == 2) return read_string(e, value);
              return true;
            }))
          return false;
        if (key == "crashdiag.io/rca") {
          r.rca_annotation = std::move(value);
        } else if (key == "crashdiag.io/root-cause") {
          r.root_cause_annotation = std::move(value);
        } else if (key == "crashdiag.io/ignore") {
          r.ignored = value == "true";
        }
        return true;
      }
      case 13:
        return read_owner(x, r);
      default:
        return true;
    }
  });
}

using Spec = detail::PodSpecFacts;
using detail::SpecContainer;

bool read_spec_container(const Field& f, Spec& spec) {
  SpecContainer c;
  const bool ok = each_field(f, [&](const Field& x) {
    if (x.number == 1) return read_string(x, c.name);
    if (x.number == 2) {
      if (x.type != WireType::kBytes) return false;
      if (datastore_of_image(x.bytes) != Datastore::kNone) c.datastore = true;
      return true;
    }
    if (x.number != 9) return true;
    return each_field(x, [&](const Field& m) {  // VolumeMount {name = 1, mountPath = 3}
      if (m.number == 1) {
        c.mounted.emplace_back();
        return read_string(m, c.mounted.back());
      }
      if (m.number == 3) {
        if (m.type != WireType::kBytes) return false;
        if (datastore_of_mount(m.bytes) != Datastore::kNone) c.datastore = true;
      }
      return true;
    });
  });
  if (ok && c.datastore) spec.datastores.push_back(std::move(c));
  return ok;
}

bool read_spec(const Field& f, PodRecord& r, Spec& spec) {
  return each_field(f, [&](const Field& x) {
    switch (x.number) {
      case 1: {  // Volume {name = 1, volumeSource = 2 {persistentVolumeClaim = 10}}
        std::string name;
        bool pvc = false;
        if (!each_field(x, [&](const Field& v) {
              if (v.number == 1) return read_string(v, name);
              if (v.number != 2) return true;
              return each_field(v, [&](const Field& s) {
                if (s.number == 10) pvc = true;
                return true;
              });
            }))
          return false;
        if (pvc) spec.pvcs.push_back(std::move(name));
        return true;
      }
      case 2:
        return read_spec_container(x, spec);
      case 3:
        return read_string(x, r.restart_policy);
      case 20: {  // initContainers: sidecars (KEP-753) have restartPolicy = 24 Always
        std::string name;
        std::string policy;
        if (!each_field(x, [&](const Field& c) {
              if (c.number == 1) return read_string(c, name);
              if (c.number == 24) return read_string(c, policy);
              return true;
            }))
          return false;
        if (policy == "Always") spec.sidecars.push_back(std::move(name));
        return true;
      }
      default:
        return true;
    }
  });
}

bool read_status(const Field& f, PodRecord& r) {
  // The JSON form lists initContainerStatuses before containerStatuses (PodStatus's Go field
  // order); protobuf writes by field number (8 before 10). The record keeps JSON's order.
  std::vector<ContainerRecord> init;
  std::vector<ContainerRecord> main;
  const bool ok = each_field(f, [&](const Field& x) {
    if (x.number == 8) return read_status_entry(x, main, false);
    if (x.number == 10) return read_status_entry(x, init, true);
    if (x.number != 2) return true;
    std::string type;
    std::string status;
    std::string since;
    if (!each_field(x, [&](const Field& c) {  // PodCondition
          if (c.number == 1) return read_string(c, type);
          if (c.number == 2) return read_string(c, status);
          if (c.number == 4) return read_time(c, since);
          return true;
        }))
      return false;
    if (type == "Ready" && status == "False") r.not_ready_since = std::move(since);
    return true;
  });
  for (auto& c : init) r.containers.push_back(std::move(c));
  for (auto& c : main) r.containers.push_back(std::move(c));
  return ok;
}

bool read_pod(std::string_view message, PodRecord& r) {
  Spec spec;
  Reader pod(message);
  Field f;
  while (pod.next(f)) {
    if (f.number == 1 && !read_metadata(f, r)) return false;
    if (f.number == 2 && !read_spec(f, r, spec)) return false;
    if (f.number == 3 && !read_status(f, r)) return false;
  }
  if (!pod.ok()) return false;
  detail::apply_spec_facts(r, spec);
  return true;
}

}  // namespace

tl::expected<PodRecord, RecordError> parse_pod_record_protobuf(std::string_view message) {
  PodRecord r;
  if (!read_pod(message, r)) return tl::unexpected(RecordError{"malformed protobuf Pod"});
  if (r.name.empty()) return tl::unexpected(RecordError{"pod without metadata.name"});
  return r;
}

tl::expected<WatchLine, RecordError> parse_watch_frame_protobuf(std::string_view frame) {
  // The frame is a bare WatchEvent (the stream's serializer is protobuf's raw one, without the
  // envelope: k8s.io/apimachinery/pkg/runtime/serializer/protobuf NewRawSerializer), recorded from
  // kube-apiserver 1.26 in tests/data/k8s/pb/; its object's raw carries the envelope.
  WatchLine line;
  std::string_view object;
  bool has_object = false;
  Reader r(frame);
  Field f;
  while (r.next(f)) {
    if (f.number == 1 && !read_string(f, line.type)) return tl::unexpected(RecordError{"malformed WatchEvent.type"});
    if (f.number != 2) continue;
    // RawExtension {raw = 1}
    if (!each_field(f, [&](const Field& x) {
          if (x.number != 1) return true;
          if (x.type != WireType::kBytes) return false;
          object = x.bytes;
          has_object = true;
          return true;
        }))
      return tl::unexpected(RecordError{"malformed WatchEvent.object"});
  }
  if (!r.ok()) return tl::unexpected(RecordError{"malformed WatchEvent"});
  if (line.type.empty()) return tl::unexpected(RecordError{"watch event without type"});
  if (line.type != "ADDED" && line.type != "MODIFIED" && line.type != "DELETED" && line.type != "BOOKMARK" &&
      line.type != "ERROR") {
    return tl::unexpected(RecordError{"unknown watch event type " + line.type});
  }
  // As parse_watch_line: only ADDED, MODIFIED and DELETED need their pod.
  if (!has_object) {
    if (line.type == "ERROR" || line.type == "BOOKMARK") return line;
    return tl::unexpected(RecordError{"watch event without object"});
  }
  auto inner = pb::unwrap(object);
  if (!inner) return tl::unexpected(RecordError{"object: without the k8s protobuf envelope"});
  if (line.type == "ERROR") {
    // A Status (meta/v1): reason = 4, code = 6.
    Reader status(inner->raw);
    while (status.next(f)) {
      if (f.number == 4 && !read_string(f, line.error_reason)) return tl::unexpected(RecordError{"malformed Status"});
      if (f.number == 6 && !read_int(f, line.error_code)) return tl::unexpected(RecordError{"malformed Status"});
    }
    if (!status.ok()) return tl::unexpected(RecordError{"malformed Status"});
    return line;
  }
  if (inner->kind != "Pod") return tl::unexpected(RecordError{"object: not a Pod"});
  PodRecord pod;
  if (!read_pod(inner->raw, pod)) return tl::unexpected(RecordError{"object: malformed protobuf Pod"});
  line.resource_version = pod.resource_version;
  // A BOOKMARK's object is a Pod with only metadata.resourceVersion set.
  if (line.type != "BOOKMARK") {
    if (pod.name.empty()) return tl::unexpected(RecordError{"object: pod without metadata.name"});
    line.pod = std::move(pod);
  }
  return line;
}

}  // namespace crashdiag::core
