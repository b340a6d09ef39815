// The RootCauseAnalysis object as JSON (crashdiag.io/v1alpha1, crd/rootcauseanalyses.crashdiag.io.yaml):
// what crashdiag applies (metadata and spec; the status subresource) and what it reads back
// when a replica starts or takes over (seeding). Pure: no I/O, no clock.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>

#include "crashdiag/core/rca.hpp"

namespace crashdiag::core {

// An RCA read back from the cluster, as far as it can be trusted: nullopt for an object that is
// not one of crashdiag's (its name is not the one its target would get) or lacks its target. The
// diagnosis is not yet bounded by RcaOptions (RcaTracker::seed does that).
[[nodiscard]] std::optional<RcaState> decode_rca(const nlohmann::json& object);

// Metadata (labels, ownerReference to the workload) and spec, for server-side apply.
[[nodiscard]] nlohmann::json encode_rca_apply(const RcaState& state);

// The status subresource's object, cut to at most max_status_bytes of JSON; what was cut is said
// in status.evidenceNotes.
[[nodiscard]] nlohmann::json encode_rca_status(const RcaState& state, std::size_t max_status_bytes);

}  // namespace crashdiag::core
