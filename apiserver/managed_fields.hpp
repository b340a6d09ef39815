// Field ownership for the fake: metadata.managedFields and server-side apply, simplified but
// with the semantics clients can observe.
//
// A manager is identified as in the apiserver by (manager, operation, subresource). Each owns
// a set of leaf paths: scalars, empty maps, and whole lists - every list is treated as atomic
// (replaced as a whole and owned as one field), including the CRD's `x-kubernetes-list-type:
// map` conditions, where the real structured-merge-diff would own each item by its key. Only
// labels, annotations, ownerReferences and finalizers are tracked under metadata, as in the real
// managedFields. Paths print as structured-merge-diff prints them: ".spec.target.name".
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace crashdiag::fake {

using FieldPath = std::vector<std::string>;
using FieldSet = std::set<FieldPath>;

struct ManagerEntry {
  std::string manager;
  std::string operation;    // Apply or Update
  std::string subresource;  // "" or "status"
  std::string api_version;
  std::string time;
  FieldSet fields;
  [[nodiscard]] bool same_identity(const ManagerEntry& o) const {
    return manager == o.manager && operation == o.operation && subresource == o.subresource;
  }
};

// Which part of the object a write may touch: the main resource of a type with a status
// subresource leaves status alone; the status subresource touches only status.
enum class FieldScope { kAll, kAllButStatus, kStatusOnly };

std::vector<ManagerEntry> decode_managed_fields(const nlohmann::json& managed_fields);
nlohmann::json encode_managed_fields(const std::vector<ManagerEntry>& entries);
FieldSet leaf_paths(const nlohmann::json& object, FieldScope scope);
std::string path_string(const FieldPath& p);  // ".spec.size"
const nlohmann::json* value_at(const nlohmann::json& object, const FieldPath& p);

// The manager as the conflict message names it (fieldmanager printManager):
// "crashdiag", "kubectl-edit" using v1 at 2026-11-22T03:00:00Z, ... with subresource "status".
std::string print_manager(const ManagerEntry& e);

struct Conflict {
  std::string manager;  // printed
  FieldPath path;
};

struct ApplyOutcome {
  nlohmann::json object;  // the merged object (managedFields not yet set)
  std::vector<ManagerEntry> managers;
  std::vector<Conflict> conflicts;  // non-empty: 409 unless forced (then already resolved)
};

// Server-side apply of `config` (already restricted to `scope` by the caller's strategy) by
// `who` onto `live` (an empty object when creating): fields another manager owns with a different
// value conflict unless `force`; fields `who` applied before and omits now are removed unless
// someone else owns them; everything in `config` is set.
ApplyOutcome apply_config(const nlohmann::json& live, const nlohmann::json& config, FieldScope scope,
                          std::vector<ManagerEntry> managers, const ManagerEntry& who, bool force);

// An Update (create, PUT, merge/JSON/strategic patch): `who` takes every field whose value
// changed from `before` to `after` (all of them on create) from whoever owned it; fields that
// disappeared are dropped from every manager; managers left with nothing are removed.
std::vector<ManagerEntry> update_managers(const nlohmann::json& before, const nlohmann::json& after, FieldScope scope,
                                          std::vector<ManagerEntry> managers, const ManagerEntry& who);

// The apiserver's "409 Conflict" for an apply with conflicts (05-ssa-field-manager-conflict-409).
nlohmann::json apply_conflict_status(const std::vector<Conflict>& conflicts);

}  // namespace crashdiag::fake
