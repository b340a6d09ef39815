// The fake's protobuf answer for pod lists (`Accept: application/vnd.kubernetes.protobuf,...`), as
// kube-apiserver sends it for built-in types: `k8s\0` + runtime.Unknown {typeMeta {v1, PodList},
// raw = PodList} (recorded in tests/data/k8s/pb/). Field numbers are k8s.io/api/core/v1's and
// apimachinery's generated.proto (v1.26.1).
//
// A subset, and said so: the fields a pod's status, identity, owners, annotations, containers
// (name, image, command, args, volumeMounts, restartPolicy) and volumes (name, and which source
// kind) carry. Everything else in the JSON object is left out, where the real server would encode
// it; a client that skips unknown fields, as every protobuf reader must, reads the same either way.
// Only pod lists: a single pod and other built-in types are answered in JSON, which the real server
// would not do. Errors follow pods (serve, fake_server.cpp): every error of a pod request, and any
// 401, is a protobuf Status to a protobuf-first client, except the shutdown filter's 503 (JSON)
// and the 429 (text), as on the real server; other kinds' errors stay JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace crashdiag::fake {

// One Pod message (no envelope), from the pod's JSON.
[[nodiscard]] std::string encode_pod_protobuf(const nlohmann::json& pod);
// A whole list body, from the PodList's JSON (metadata.resourceVersion, continue,
// remainingItemCount, items).
[[nodiscard]] std::string encode_pod_list_protobuf(const nlohmann::json& list);
// A Status in its envelope, as the real server answers an error to a client that put protobuf first
// (tests/data/k8s/pb/list-bad-continue.pb, unauthorized.pb, list-expired.pb: byte for byte).
[[nodiscard]] std::string encode_status_protobuf(const nlohmann::json& status);

}  // namespace crashdiag::fake
