#include "crashdiag/core/packed_pod.hpp"

#include "packing.hpp"

#include <string>
#include <vector>

namespace crashdiag::core {

using namespace packing;  // NOLINT(google-build-using-namespace): this file is its user

namespace {

// The fields in the order pack() writes them; size() reads them the same way.
PodRecord read_pod(Reader& in) {
  PodRecord r;
  in.key(r.namespace_, r.name);
  r.resource_version = std::string(in.str());
  r.uid = in.uid();
  r.owner_kind = std::string(in.str());
  r.owner_name = in.name_after(r.name);
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

}  // namespace

PackedPod PackedPod::pack(const PodRecord& r) {
  std::vector<std::uint8_t>& bytes = scratch();
  Writer w(bytes);
  w.key(r.namespace_, r.name);
  w.str(r.resource_version);
  w.uid(r.uid);
  w.str(r.owner_kind);
  w.name_after(r.name, r.owner_name);
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
  out.data_ = to_block(bytes);
  return out;
}

PodRecord PackedPod::unpack() const {
  if (!data_) return {};
  Reader in(data_.get());
  return read_pod(in);
}

std::string_view PackedPod::key() const {
  if (!data_) return {};
  Reader in(data_.get());
  return in.key_view();
}

std::string_view PackedPod::resource_version() const {
  if (!data_) return {};
  Reader in(data_.get());
  (void)in.key_view();
  return in.str();
}

std::size_t PackedPod::size() const {
  if (!data_) return 0;
  Reader in(data_.get());
  (void)read_pod(in);
  return static_cast<std::size_t>(in.at() - data_.get());
}

}  // namespace crashdiag::core
