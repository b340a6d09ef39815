#include "crashdiag/core/packed_pod.hpp"

#include <array>
#include <cstring>
#include <string>
#include <vector>

namespace crashdiag::core {
namespace {

// Strings every pod repeats: restart policies, owner kinds, the kubelet's container state
// reasons (pkg/kubelet/container/sync_result.go, pkg/kubelet/kuberuntime). One byte each instead
// of their length. Only a cache: the table is never persisted, its order may change freely.
constexpr std::array<std::string_view, 20> kCommon = {
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

constexpr std::size_t kUuidChars = 36;
constexpr std::size_t kUuidBytes = 16;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // uppercase too: it would not print back the same
}

bool dash_at(std::size_t i) {
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
  void skip_uid() { (void)uid(); }
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

}  // namespace

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
