#pragma once
// What the daemon keeps of the objects a pod's owner chain and its silencing run through
// (ReplicaSets, Jobs, the top-level workloads, Namespaces), fed by metadata-only list+watch
// (issue 14 item 3): resolving a failing pod's workload and reading crashdiag.io/ignore then cost
// no request. Pure: no I/O, no clock.
//
// The apiserver serves any resource as PartialObjectMetadata when the client asks for
// `application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1` (lists) or
// `...;as=PartialObjectMetadata;...` (watches), as client-go's metadata informers do
// (k8s.io/client-go/metadata/metadata.go; apiserver handlers/response.go, transformResponseObject).
// Only `metadata` is read, so a full object parses the same way: a server that ignored the media
// type parameter would cost bandwidth, not correctness.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "crashdiag/core/rca.hpp"

namespace crashdiag::core {

// The facts kept per object: a few short strings, no spec, no managedFields.
struct MetaRecord {
  std::string namespace_;  // empty for cluster-scoped objects (Namespaces)
  std::string name;
  std::string uid;
  std::string resource_version;
  std::optional<WorkloadRef> controller;  // the ownerReference with controller: true
  bool ignore = false;                    // annotation crashdiag.io/ignore: "true"
  [[nodiscard]] std::string key() const { return namespace_ + "/" + name; }
  bool operator==(const MetaRecord&) const = default;
};

enum class MetaParseError {
  kMalformedJson,  // not JSON, or not an object
  kNoMetadata,     // no metadata object
  kNoName,         // metadata without a name
};
[[nodiscard]] std::string_view to_string(MetaParseError e);

// One list item or watch event object (PartialObjectMetadata or the full object).
[[nodiscard]] tl::expected<MetaRecord, MetaParseError> parse_meta_record(std::string_view json);

// One line of a metadata watch. `object` is empty for ERROR events and for BOOKMARKs (whose
// object carries only a resourceVersion).
struct MetaWatchLine {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
  std::string resource_version;
  int error_code = 0;  // ERROR: the Status code (410 = expired)
  std::optional<MetaRecord> object;
};
[[nodiscard]] tl::expected<MetaWatchLine, MetaParseError> parse_meta_watch_line(std::string_view line);

// One kind's objects, keyed "namespace/name". Snapshots as PodStore does: a relist replaces the
// content atomically, so a lookup never sees half a list.
// A MetaRecord in one block (the codec of packed_pod.hpp): a cluster keeps up to
// revisionHistoryLimit (10) old ReplicaSets per Deployment, so the index can hold more objects
// than there are pods, and each must cost little more than its names.
class PackedMeta {
 public:
  [[nodiscard]] static PackedMeta pack(const MetaRecord& rec);
  [[nodiscard]] MetaRecord unpack() const;
  [[nodiscard]] std::string_view key() const;  // "namespace/name"
  [[nodiscard]] std::size_t size() const;      // bytes of the block (walks it)

 private:
  std::unique_ptr<std::uint8_t[]> data_;  // NOLINT(modernize-avoid-c-arrays)
};

class MetaStore {
 public:
  void begin_snapshot();
  void stage(const MetaRecord& rec);
  void unstage(std::string_view key);  // a streaming list's DELETED before its end bookmark
  void discard_snapshot();
  std::size_t commit_snapshot();  // marks the store synced
  void upsert(const MetaRecord& rec);
  void remove(std::string_view key);

  [[nodiscard]] bool synced() const { return synced_; }
  [[nodiscard]] std::size_t size() const { return objects_.size(); }
  // A copy: the store keeps records packed.
  [[nodiscard]] std::optional<MetaRecord> find(const std::string& ns, const std::string& name) const;
  // How many objects of namespace `ns` a controller with uid `owner_uid` owns (a Deployment's
  // ReplicaSets: more than one means there is an earlier revision to compare with).
  [[nodiscard]] std::size_t controlled_by(const std::string& ns, const std::string& owner_uid) const;

 private:
  // Ordered by key, as the std::map before it: one namespace is one key range (controlled_by).
  struct KeyLess {
    using is_transparent = void;
    static std::string_view key(std::string_view k) { return k; }
    static std::string_view key(const PackedMeta& p) { return p.key(); }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const noexcept {
      return key(a) < key(b);
    }
  };
  using Set = std::set<PackedMeta, KeyLess>;
  static void put(Set& set, const MetaRecord& rec);

  Set objects_;
  Set staging_;
  bool staging_open_ = false;
  bool synced_ = false;
};

// What the index answers for the workload a pod's controller belongs to: ReplicaSet -> its
// controlling Deployment, Job -> its CronJob (the controllers users know), anything else itself.
// `known == false`: the index cannot say (that kind is not watched or not synced yet, or the
// object has not arrived: a pod can be seen before its ReplicaSet). The caller asks the server.
struct TopLevelAnswer {
  bool known = false;
  WorkloadRef workload;
};
[[nodiscard]] TopLevelAnswer top_level_from(const MetaStore* intermediates, const WorkloadRef& direct,
                                            const std::string& ns);

// crashdiag.io/ignore on an object: nullopt when the index cannot say (not watched, not synced,
// not seen).
[[nodiscard]] std::optional<bool> ignored_in(const MetaStore* store, const std::string& ns, const std::string& name);

}  // namespace crashdiag::core
