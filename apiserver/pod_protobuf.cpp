#include "pod_protobuf.hpp"

#include <cstdint>
#include <cstdio>

namespace crashdiag::fake {
namespace {

using json = nlohmann::json;

void varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7FU) | 0x80U);
    v >>= 7U;
  }
  out += static_cast<char>(v);
}

void bytes_field(std::string& out, int number, std::string_view value) {
  varint(out, (static_cast<std::uint64_t>(number) << 3U) | 2U);
  varint(out, value.size());
  out.append(value);
}

void varint_field(std::string& out, int number, std::int64_t v) {
  varint(out, static_cast<std::uint64_t>(number) << 3U);
  varint(out, static_cast<std::uint64_t>(v));  // negative int32/int64: ten bytes, sign-extended
}

// The generated marshallers write every non-pointer string, even empty; here a string is written
// when the JSON has it, which a reader cannot tell apart.
void string_of(std::string& out, int number, const json& obj, const char* key) {
  if (obj.is_object() && obj.contains(key) && obj[key].is_string())
    bytes_field(out, number, obj[key].get<std::string>());
}

void int_of(std::string& out, int number, const json& obj, const char* key) {
  if (obj.is_object() && obj.contains(key) && obj[key].is_number_integer())
    varint_field(out, number, obj[key].get<std::int64_t>());
}

void bool_of(std::string& out, int number, const json& obj, const char* key) {
  if (obj.is_object() && obj.contains(key) && obj[key].is_boolean())
    varint_field(out, number, obj[key].get<bool>() ? 1 : 0);
}

void strings_of(std::string& out, int number, const json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_array()) return;
  for (const auto& s : obj[key])
    if (s.is_string()) bytes_field(out, number, s.get<std::string>());
}

// "2026-12-06T15:25:37Z" to Unix seconds (days from civil, Howard Hinnant's algorithm).
std::int64_t unix_seconds(const std::string& t) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (std::sscanf(t.c_str(), "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s) != 6) return 0;
  y -= mo <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return (era * 146097 + doe - 719468) * 86400 + h * 3600 + mi * 60 + s;
}

// metav1.Time {seconds = 1}: written only when set (time_proto.go's MarshalTo skips the zero time).
void time_of(std::string& out, int number, const json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_string()) return;
  std::string t;
  varint_field(t, 1, unix_seconds(obj[key].get<std::string>()));
  bytes_field(out, number, t);
}

void map_of(std::string& out, int number, const json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_object()) return;
  for (const auto& [k, v] : obj[key].items()) {
    if (!v.is_string()) continue;
    std::string entry;
    bytes_field(entry, 1, k);
    bytes_field(entry, 2, v.get<std::string>());
    bytes_field(out, number, entry);
  }
}

template <typename Encode>
void messages_of(std::string& out, int number, const json& obj, const char* key, Encode&& encode) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_array()) return;
  for (const auto& item : obj[key]) bytes_field(out, number, encode(item));
}

std::string object_meta(const json& m) {
  std::string out;
  string_of(out, 1, m, "name");
  string_of(out, 2, m, "generateName");
  string_of(out, 3, m, "namespace");
  string_of(out, 5, m, "uid");
  string_of(out, 6, m, "resourceVersion");
  int_of(out, 7, m, "generation");
  time_of(out, 8, m, "creationTimestamp");
  time_of(out, 9, m, "deletionTimestamp");
  int_of(out, 10, m, "deletionGracePeriodSeconds");
  map_of(out, 11, m, "labels");
  map_of(out, 12, m, "annotations");
  messages_of(out, 13, m, "ownerReferences", [](const json& o) {
    std::string r;
    string_of(r, 1, o, "kind");
    string_of(r, 3, o, "name");
    string_of(r, 4, o, "uid");
    string_of(r, 5, o, "apiVersion");
    bool_of(r, 6, o, "controller");
    bool_of(r, 7, o, "blockOwnerDeletion");
    return r;
  });
  strings_of(out, 14, m, "finalizers");
  return out;
}

std::string container(const json& c) {
  std::string out;
  string_of(out, 1, c, "name");
  string_of(out, 2, c, "image");
  strings_of(out, 3, c, "command");
  strings_of(out, 4, c, "args");
  messages_of(out, 9, c, "volumeMounts", [](const json& m) {
    std::string r;
    string_of(r, 1, m, "name");
    bool_of(r, 2, m, "readOnly");
    string_of(r, 3, m, "mountPath");
    string_of(r, 4, m, "subPath");
    return r;
  });
  string_of(out, 14, c, "imagePullPolicy");
  string_of(out, 24, c, "restartPolicy");  // sidecars, 1.28+
  return out;
}

// VolumeSource's members by JSON name; each is written as an empty message except the claim's name.
int volume_source_field(const std::string& key) {
  static const std::pair<const char*, int> kSources[] = {
      {"hostPath", 1},   {"emptyDir", 2},   {"secret", 6}, {"nfs", 7},        {"persistentVolumeClaim", 10},
      {"configMap", 19}, {"projected", 26}, {"csi", 28},   {"ephemeral", 29}, {"downwardAPI", 16}};
  for (const auto& [name, field] : kSources)
    if (key == name) return field;
  return 0;
}

std::string pod_spec(const json& s) {
  std::string out;
  messages_of(out, 1, s, "volumes", [](const json& v) {
    std::string r;
    string_of(r, 1, v, "name");
    std::string source;
    if (v.is_object()) {
      for (const auto& [k, body] : v.items()) {
        const int field = volume_source_field(k);
        if (field == 0) continue;
        std::string member;
        if (field == 10) string_of(member, 1, body, "claimName");
        bytes_field(source, field, member);
      }
    }
    bytes_field(r, 2, source);
    return r;
  });
  messages_of(out, 2, s, "containers", container);
  string_of(out, 3, s, "restartPolicy");
  string_of(out, 10, s, "nodeName");
  messages_of(out, 20, s, "initContainers", container);
  return out;
}

std::string container_state(const json& st) {
  std::string out;
  if (!st.is_object()) return out;
  if (st.contains("waiting")) {
    std::string w;
    string_of(w, 1, st["waiting"], "reason");
    string_of(w, 2, st["waiting"], "message");
    bytes_field(out, 1, w);
  }
  if (st.contains("running")) {
    std::string r;
    time_of(r, 1, st["running"], "startedAt");
    bytes_field(out, 2, r);
  }
  if (st.contains("terminated")) {
    const json& t = st["terminated"];
    std::string r;
    int_of(r, 1, t, "exitCode");
    int_of(r, 2, t, "signal");
    string_of(r, 3, t, "reason");
    string_of(r, 4, t, "message");
    time_of(r, 5, t, "startedAt");
    time_of(r, 6, t, "finishedAt");
    string_of(r, 7, t, "containerID");
    bytes_field(out, 3, r);
  }
  return out;
}

std::string container_status(const json& c) {
  std::string out;
  string_of(out, 1, c, "name");
  if (c.is_object() && c.contains("state")) bytes_field(out, 2, container_state(c["state"]));
  if (c.is_object() && c.contains("lastState")) bytes_field(out, 3, container_state(c["lastState"]));
  bool_of(out, 4, c, "ready");
  int_of(out, 5, c, "restartCount");
  string_of(out, 6, c, "image");
  string_of(out, 7, c, "imageID");
  string_of(out, 8, c, "containerID");
  bool_of(out, 9, c, "started");
  return out;
}

std::string pod_status(const json& s) {
  std::string out;
  string_of(out, 1, s, "phase");
  messages_of(out, 2, s, "conditions", [](const json& c) {
    std::string r;
    string_of(r, 1, c, "type");
    string_of(r, 2, c, "status");
    time_of(r, 3, c, "lastProbeTime");
    time_of(r, 4, c, "lastTransitionTime");
    string_of(r, 5, c, "reason");
    string_of(r, 6, c, "message");
    return r;
  });
  string_of(out, 3, s, "message");
  string_of(out, 4, s, "reason");
  string_of(out, 5, s, "hostIP");
  string_of(out, 6, s, "podIP");
  time_of(out, 7, s, "startTime");
  messages_of(out, 8, s, "containerStatuses", container_status);
  string_of(out, 9, s, "qosClass");
  messages_of(out, 10, s, "initContainerStatuses", container_status);
  return out;
}

}  // namespace

std::string encode_pod_protobuf(const json& pod) {
  std::string out;
  if (!pod.is_object()) return out;
  if (pod.contains("metadata")) bytes_field(out, 1, object_meta(pod["metadata"]));
  if (pod.contains("spec")) bytes_field(out, 2, pod_spec(pod["spec"]));
  if (pod.contains("status")) bytes_field(out, 3, pod_status(pod["status"]));
  return out;
}

std::string encode_pod_list_protobuf(const json& list) {
  std::string body;
  std::string meta;
  const json empty = json::object();
  const json& m = list.contains("metadata") ? list["metadata"] : empty;
  bytes_field(meta, 1, "");  // selfLink, empty since 1.20
  bytes_field(meta, 2, m.value("resourceVersion", ""));
  bytes_field(meta, 3, m.value("continue", ""));
  int_of(meta, 4, m, "remainingItemCount");
  bytes_field(body, 1, meta);
  if (list.contains("items") && list["items"].is_array())
    for (const auto& item : list["items"]) bytes_field(body, 2, encode_pod_protobuf(item));
  std::string type_meta;
  bytes_field(type_meta, 1, "v1");
  bytes_field(type_meta, 2, "PodList");
  std::string out("k8s\0", 4);
  bytes_field(out, 1, type_meta);
  bytes_field(out, 2, body);
  bytes_field(out, 3, "");  // contentEncoding
  bytes_field(out, 4, "");  // contentType
  return out;
}

std::string encode_status_protobuf(const json& status) {
  std::string body;
  std::string meta;
  bytes_field(meta, 1, "");
  bytes_field(meta, 2, "");
  bytes_field(meta, 3, "");
  bytes_field(body, 1, meta);
  string_of(body, 2, status, "status");
  string_of(body, 3, status, "message");
  string_of(body, 4, status, "reason");
  int_of(body, 6, status, "code");
  std::string type_meta;
  bytes_field(type_meta, 1, "v1");
  bytes_field(type_meta, 2, "Status");
  std::string out("k8s\0", 4);
  bytes_field(out, 1, type_meta);
  bytes_field(out, 2, body);
  bytes_field(out, 3, "");
  bytes_field(out, 4, "");
  return out;
}

}  // namespace crashdiag::fake
