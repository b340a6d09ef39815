// A PodRecord as the store keeps it: one heap block per pod, every field packed behind a varint,
// the pod's uid and its owner's as 16 bytes. The store holds a record for every pod in the
// cluster while only a handful ever fail (issue 14 item 1: 150,000 pods in 48 MiB), so the
// record the daemon works with (PodRecord, eleven std::strings and a vector of containers, about
// 1 KiB on the heap) is unpacked only when a pod is looked at: a watch event's old state, a
// relist's changed pods, a deadline, a new leader's walk.
//
// Layout, in order (every string: varint n, then n/2 bytes when n is even, or entry (n-1)/2 of a
// fixed table of strings the kubelet and the controllers repeat in every pod when n is odd):
//   key "namespace/name" (no '/' in either: apimachinery's DNS-1123 validation), resourceVersion,
//   uid, owner kind, owner name (or, as controllers name their pods, the length of the pod name's
//   prefix it is), owner uid, restartPolicy, notReadySince, the two crashdiag
//   annotations, a flags byte (deleting, ignored), a container count, and per container its name,
//   a flags byte, restartCount, waiting reason and the two terminations that are set.
// A uid is 0x01 + 16 bytes when it is a canonical lowercase UUID (what the apiserver assigns:
// k8s.io/apimachinery/pkg/util/uuid, google/uuid's String()), else 0x00 + a string, so any
// value round-trips exactly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "crashdiag/core/pod_record.hpp"

namespace crashdiag::core {

class PackedPod {
 public:
  PackedPod() = default;
  [[nodiscard]] static PackedPod pack(const PodRecord& record);
  [[nodiscard]] PodRecord unpack() const;

  // Read in place, without unpacking.
  [[nodiscard]] std::string_view key() const;               // "namespace/name"
  [[nodiscard]] std::string_view resource_version() const;  // compared on a relist
  [[nodiscard]] std::size_t size() const;                   // bytes of the block (walks it)
  [[nodiscard]] bool empty() const { return data_ == nullptr; }

 private:
  // The block alone, no length word: the store's node is then a pointer, and every field knows
  // its own length.
  std::unique_ptr<std::uint8_t[]> data_;  // NOLINT(modernize-avoid-c-arrays)
};

}  // namespace crashdiag::core
