// The varint codec behind PackedPod and the owner index's packed records (packed_pod.hpp has
// the layout rules). Internal to crashdiag_core.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crashdiag/core/pod_record.hpp"

namespace crashdiag::core::packing {

// Strings every pod and owner repeats: restart policies, owner kinds and API versions, the
// kubelet's container state reasons (pkg/kubelet/container/sync_result.go, pkg/kubelet/kuberuntime). One byte each
// instead of their length. Only a cache: the table is never persisted, its order may change freely.
inline constexpr std::array<std::string_view, 25> kCommon = {
    "Always",
    "OnFailure",
    "Never",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "Node",
    "CrashLoopBackOff",
    "Completed",
    "Error",
    "OOMKilled",
    "ContainerCreating",
    "PodInitializing",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "ErrImagePull",
    "ImagePullBackOff",
    "StartError",
    "apps/v1",
    "batch/v1",
    "v1",
    "Deployment",
    "CronJob",
};

enum PodFlag : std::uint8_t { kDeleting = 1U << 0U, kIgnored = 1U << 1U };
enum ContainerFlag : std::uint8_t {
  kInit = 1U << 0U,
  kRunning = 1U << 1U,
  kReady = 1U << 2U,
  kSidecar = 1U << 3U,
  kDatastorePvc = 1U << 4U,
  kTerminated = 1U << 5U,
  kLastTerminated = 1U << 6U,
};

inline constexpr std::size_t kUuidChars = 36;
inline constexpr std::size_t kUuidBytes = 16;

inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // uppercase too: it would not print back the same
}

inline bool dash_at(std::size_t i) {
  return i == 8 || i == 13 || i == 18 || i == 23;
}

class Writer {
 public:
  explicit Writer(std::vector<std::uint8_t>& out) : out_(out) {}

  void varint(std::uint64_t v) {
    while (v >= 0x80U) {
      out_.push_back(static_cast<std::uint8_t>(v | 0x80U));
      v >>= 7U;
    }
    out_.push_back(static_cast<std::uint8_t>(v));
  }
  void zigzag(std::int64_t v) { varint((static_cast<std::uint64_t>(v) << 1U) ^ static_cast<std::uint64_t>(v >> 63)); }
  void byte(std::uint8_t b) { out_.push_back(b); }
  void str(std::string_view s) {
    for (std::size_t i = 0; i < kCommon.size(); ++i) {
      if (kCommon[i] == s) {
        varint(2 * i + 1);
        return;
      }
    }
    varint(2 * static_cast<std::uint64_t>(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void uid(std::string_view s) {
    std::array<std::uint8_t, kUuidBytes> bytes{};
    bool uuid = s.size() == kUuidChars;
    for (std::size_t i = 0, b = 0; uuid && i < kUuidChars; ++i) {
      if (dash_at(i)) {
        uuid = s[i] == '-';
        continue;
      }
      const int hi = hex_value(s[i]);
      const int lo = hex_value(s[++i]);
      uuid = hi >= 0 && lo >= 0;
      if (uuid) bytes[b++] = static_cast<std::uint8_t>((hi << 4) | lo);  // NOLINT(hicpp-signed-bitwise)
    }
    if (!uuid) {
      byte(0);
      str(s);
      return;
    }
    byte(1);
    out_.insert(out_.end(), bytes.begin(), bytes.end());
  }
  // "namespace/name" with the namespace's length before it: the first field of every record, the
  // key the stores look it up by, and split back exactly even if a lying server put a '/' in a
  // namespace.
  void key(const std::string& ns, const std::string& name) {
    varint(ns.size());
    str(ns + "/" + name);
  }
  // A controller names what it creates after itself: a ReplicaSet's pods "<replicaset>-<random>",
  // a StatefulSet's "<statefulset>-<ordinal>" (generateName,
  // k8s.io/kubernetes/pkg/controller/controller_utils.go getPodsPrefix), a Deployment's
  // ReplicaSets "<deployment>-<hash>", a CronJob's Jobs "<cronjob>-<n>". When `owner` is the first
  // n bytes of `name`, n + 1 is stored instead of it; 0 means the owner's name follows.
  void name_after(std::string_view name, const std::string& owner) {
    if (name.substr(0, owner.size()) == owner) {
      varint(owner.size() + 1);
      return;
    }
    varint(0);
    str(owner);
  }
  void termination(const TerminationRecord& t) {
    zigzag(t.exit_code);
    str(t.reason);
    str(t.finished_at);
  }

 private:
  std::vector<std::uint8_t>& out_;
};

// Reads what Writer wrote. The block was written by this process, so it is trusted: no bounds
// to check, only the order to follow.
class Reader {
 public:
  explicit Reader(const std::uint8_t* p) : p_(p) {}

  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (unsigned shift = 0;; shift += 7) {
      const std::uint8_t b = *p_++;
      v |= static_cast<std::uint64_t>(b & 0x7FU) << shift;
      if ((b & 0x80U) == 0) return v;
    }
  }
  std::int64_t zigzag() {
    const std::uint64_t v = varint();
    return static_cast<std::int64_t>(v >> 1U) ^ -static_cast<std::int64_t>(v & 1U);
  }
  std::uint8_t byte() { return *p_++; }
  std::string_view str() {
    const std::uint64_t n = varint();
    if ((n & 1U) != 0) return kCommon[n / 2];
    const std::string_view s(reinterpret_cast<const char*>(p_),
                             n / 2);  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
    p_ += n / 2;
    return s;
  }
  std::string uid() {
    if (byte() == 0) return std::string(str());
    static constexpr std::string_view kHex = "0123456789abcdef";
    std::string out(kUuidChars, '-');
    for (std::size_t i = 0; i < kUuidChars; ++i) {
      if (dash_at(i)) continue;
      const std::uint8_t b = byte();
      out[i] = kHex[b >> 4U];
      out[++i] = kHex[b & 0x0FU];
    }
    return out;
  }
  // What Writer::key wrote, in place.
  std::string_view key_view() {
    (void)varint();
    return str();
  }
  void key(std::string& ns, std::string& name) {
    const std::uint64_t ns_size = varint();
    const std::string_view key = str();
    ns = std::string(key.substr(0, ns_size));
    name = std::string(key.substr(std::min<std::size_t>(ns_size + 1, key.size())));
  }
  std::string name_after(const std::string& name) {
    if (const std::uint64_t prefix = varint(); prefix > 0) return name.substr(0, prefix - 1);
    return std::string(str());
  }
  TerminationRecord termination() {
    TerminationRecord t;
    t.exit_code = static_cast<int>(zigzag());
    t.reason = std::string(str());
    t.finished_at = std::string(str());
    return t;
  }
  [[nodiscard]] const std::uint8_t* at() const { return p_; }

 private:
  const std::uint8_t* p_;
};

// One exact-size block of what a Writer wrote (no capacity word: the record is its own length).
inline std::unique_ptr<std::uint8_t[]> to_block(
    const std::vector<std::uint8_t>& bytes) {                   // NOLINT(modernize-avoid-c-arrays)
  auto block = std::make_unique<std::uint8_t[]>(bytes.size());  // NOLINT(modernize-avoid-c-arrays)
  std::memcpy(block.get(), bytes.data(), bytes.size());
  return block;
}

// The writer's buffer, reused between records on this thread: packing a 150,000-pod list must
// not allocate a scratch buffer per pod.
inline std::vector<std::uint8_t>& scratch() {
  thread_local std::vector<std::uint8_t> buffer;
  buffer.clear();
  return buffer;
}

}  // namespace crashdiag::core::packing
