// The resource types the fake serves and what the apiserver says about them: discovery
// documents (/api, /apis, APIResourceLists, as kube-apiserver 1.26 answers them in
// 01-discovery-*), per-type REST strategy flags, and server-side Table printing
// (meta.k8s.io/v1 Table, 01-table-*).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "crd_schema.hpp"

namespace crashdiag::fake {

struct ResourceType {
  std::string group;  // "" for the core group
  std::string version;
  std::string plural;
  std::string singular;  // "" for built-ins: 1.26 discovery leaves it empty for them
  std::string kind;
  std::string list_kind;
  bool namespaced = true;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  bool status_subresource = false;
  bool log_subresource = false;
  bool deletecollection = true;  // a discovery verb (namespaces have none)
  bool custom = false;           // served from a CRD: no strategic merge patch, "continue":"" in lists
  bool has_generation = false;   // metadata.generation, bumped on spec changes
  // The registry strategy's answers (k8s.io/apiserver registry/rest): PUT of a missing object
  // creates it; PUT without metadata.resourceVersion is allowed; DELETE returns the object.
  bool allow_create_on_update = false;
  bool allow_unconditional_update = true;
  bool return_deleted_object = false;
  std::shared_ptr<const Crd> crd;  // custom resources only
  // A bookmark's fields beyond kind, apiVersion, resourceVersion and creationTimestamp: the rest
  // of an empty object of the kind as the server serializes it (the cacher's bookmark is a new
  // object, c.newFunc() in k8s.io/apiserver/pkg/storage/cacher/cacher.go, with only its
  // resourceVersion set, so zero-valued fields without omitempty are written). Recorded from 1.32
  // in tests/data/k8s/watchlist/watchlist-end-bookmarks-1.32.jsonl; the Pod, Deployment and
  // ReplicaSet ones are 1.26's too (tests/data/k8s/03-watch-pods-*, ../shared/k8s-fixtures/10-*).
  // An object; empty where not recorded.
  nlohmann::json empty_object = nlohmann::json::object();

  [[nodiscard]] std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  // The key of Impl::objects: "pods", "apps/v1/replicasets", "coordination.k8s.io/v1/leases".
  [[nodiscard]] std::string store_key() const { return group.empty() ? plural : api_version() + "/" + plural; }
};

class ResourceRegistry {
 public:
  explicit ResourceRegistry(Crd crd);

  [[nodiscard]] const ResourceType* find(const std::string& api_version, const std::string& plural) const;
  [[nodiscard]] const ResourceType* find_kind(const std::string& api_version, const std::string& kind) const;
  [[nodiscard]] const std::vector<ResourceType>& all() const { return types_; }
  [[nodiscard]] bool serves_group_version(const std::string& group_version) const;

  // Discovery documents. nullopt: the path does not exist (the caller answers 404).
  [[nodiscard]] nlohmann::json api_versions(const std::string& server_address) const;  // GET /api
  [[nodiscard]] nlohmann::json group_list() const;                                     // GET /apis
  [[nodiscard]] std::optional<nlohmann::json> group(const std::string& name) const;    // GET /apis/<g>
  [[nodiscard]] std::optional<nlohmann::json> resource_list(const std::string& group_version) const;

 private:
  std::vector<ResourceType> types_;
  std::vector<std::string> groups_;  // in discovery order
};

// A minimal OpenAPI v3: GET /openapi/v3 (the index of group-versions) and one document per
// group-version with the resources' paths, the PATCH operations' query parameters and the
// schemas (the CRD's own openAPIV3Schema for custom resources, "object" for built-ins). Enough
// for kubectl 1.32's field-validation check, which otherwise refuses `kubectl apply`.
[[nodiscard]] nlohmann::json openapi_v3_index(const ResourceRegistry& registry);
[[nodiscard]] std::optional<nlohmann::json> openapi_v3_document(const ResourceRegistry& registry,
                                                                const std::string& group_version_path);

// GET /version (01-version).
nlohmann::json version_info();

// A Table of `objects` (meta.k8s.io/<table_version>), columns as the apiserver prints this
// type: the CRD's additionalPrinterColumns, the pod and event printers, Name/Holder/Age for
// leases, and the default Name/Created At otherwise. include_object: None, Metadata (the
// default: PartialObjectMetadata) or Object. now_seconds: for the Age cells built-ins compute.
nlohmann::json make_table(const ResourceType& type, const std::vector<nlohmann::json>& objects,
                          const std::string& table_version, const std::string& include_object,
                          std::int64_t now_seconds);

}  // namespace crashdiag::fake
