#include "crashdiag/core/packed_pod.hpp"

#include "packing.hpp"

#include <array>
#include <cstring>
#include <string>
#include <vector>

namespace crashdiag::core {

using namespace packing;  // NOLINT(google-build-using-namespace): this file is its user

PackedPod PackedPod::pack(const PodRecord& r) {
  // Reused between calls: packing a 150,000-pod list should not allocate a scratch per pod.
  thread_local std::vector<std::uint8_t> scratch;
  scratch.clear();
  Writer w(scratch);
  w.varint(r.namespace_.size());
  w.str(r.namespace_ + "/" + r.name);
  w.str(r.resource_version);
  w.uid(r.uid);
  w.str(r.owner_kind);
  // A controller names its pods after itself: "<replicaset>-<random>", "<statefulset>-<ordinal>",
  // "<job>-<random>" (generateName, k8s.io/kubernetes/pkg/controller/controller_utils.go
  // getPodsPrefix). Then the owner's name is the pod name's first n bytes, and n + 1 is stored
  // instead of the name; 0 means the name follows.
  const std::string_view name(r.name);
  if (name.substr(0, r.owner_name.size()) == r.owner_name) {
    w.varint(r.owner_name.size() + 1);
  } else {
    w.varint(0);
    w.str(r.owner_name);
  }
  w.uid(r.owner_uid);
  w.str(r.restart_policy);
  w.str(r.not_ready_since);
  w.str(r.rca_annotation);
  w.str(r.root_cause_annotation);
  std::uint8_t pod_flags = 0;
  if (r.deleting) pod_flags |= kDeleting;
  if (r.ignored) pod_flags |= kIgnored;
  w.byte(pod_flags);
  w.varint(r.containers.size());
  for (const ContainerRecord& c : r.containers) {
    w.str(c.name);
    std::uint8_t flags = 0;
    if (c.init) flags |= kInit;
    if (c.running) flags |= kRunning;
    if (c.ready) flags |= kReady;
    if (c.sidecar) flags |= kSidecar;
    if (c.datastore_pvc) flags |= kDatastorePvc;
    if (c.terminated) flags |= kTerminated;
    if (c.last_terminated) flags |= kLastTerminated;
    w.byte(flags);
    w.zigzag(c.restart_count);
    w.str(c.waiting_reason);
    if (c.terminated) w.termination(*c.terminated);
    if (c.last_terminated) w.termination(*c.last_terminated);
  }
  PackedPod out;
  out.data_ = std::make_unique<std::uint8_t[]>(scratch.size());  // NOLINT(modernize-avoid-c-arrays)
  std::memcpy(out.data_.get(), scratch.data(), scratch.size());
  return out;
}

PodRecord PackedPod::unpack() const {
  PodRecord r;
  if (!data_) return r;
  Reader in(data_.get());
  const std::uint64_t ns_size = in.varint();
  const std::string_view key = in.str();
  r.namespace_ = std::string(key.substr(0, ns_size));
  r.name = std::string(key.substr(std::min<std::size_t>(ns_size + 1, key.size())));
  r.resource_version = std::string(in.str());
  r.uid = in.uid();
  r.owner_kind = std::string(in.str());
  if (const std::uint64_t prefix = in.varint(); prefix > 0) {
    r.owner_name = r.name.substr(0, prefix - 1);
  } else {
    r.owner_name = std::string(in.str());
  }
  r.owner_uid = in.uid();
  r.restart_policy = std::string(in.str());
  r.not_ready_since = std::string(in.str());
  r.rca_annotation = std::string(in.str());
  r.root_cause_annotation = std::string(in.str());
  const std::uint8_t flags = in.byte();
  r.deleting = (flags & kDeleting) != 0;
  r.ignored = (flags & kIgnored) != 0;
  const std::uint64_t n = in.varint();
  r.containers.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    ContainerRecord c;
    c.name = std::string(in.str());
    const std::uint8_t cf = in.byte();
    c.init = (cf & kInit) != 0;
    c.running = (cf & kRunning) != 0;
    c.ready = (cf & kReady) != 0;
    c.sidecar = (cf & kSidecar) != 0;
    c.datastore_pvc = (cf & kDatastorePvc) != 0;
    c.restart_count = static_cast<int>(in.zigzag());
    c.waiting_reason = std::string(in.str());
    if ((cf & kTerminated) != 0) c.terminated = in.termination();
    if ((cf & kLastTerminated) != 0) c.last_terminated = in.termination();
    r.containers.push_back(std::move(c));
  }
  return r;
}

std::string_view PackedPod::key() const {
  if (!data_) return {};
  Reader in(data_.get());
  (void)in.varint();
  return in.str();
}

std::string_view PackedPod::resource_version() const {
  if (!data_) return {};
  Reader in(data_.get());
  (void)in.varint();
  (void)in.str();
  return in.str();
}

std::size_t PackedPod::size() const {
  if (!data_) return 0;
  Reader in(data_.get());
  (void)in.varint();
  for (int i = 0; i < 2; ++i) (void)in.str();  // key, resourceVersion
  in.skip_uid();
  (void)in.str();                        // owner kind
  if (in.varint() == 0) (void)in.str();  // owner name, unless a prefix of the pod's
  in.skip_uid();
  for (int i = 0; i < 4; ++i) (void)in.str();  // restartPolicy, notReadySince, two annotations
  (void)in.byte();
  const std::uint64_t n = in.varint();
  for (std::uint64_t i = 0; i < n; ++i) {
    (void)in.str();
    const std::uint8_t cf = in.byte();
    (void)in.zigzag();
    (void)in.str();
    if ((cf & kTerminated) != 0) (void)in.termination();
    if ((cf & kLastTerminated) != 0) (void)in.termination();
  }
  return static_cast<std::size_t>(in.at() - data_.get());
}

}  // namespace crashdiag::core
