// The text crashdiag shows outside the RCA object: the Kubernetes Event for a pod (core/v1,
// aggregated per pod and cause as client-go's EventCorrelator does) and the pod's
// crashdiag.io/root-cause annotation. Pure: the daemon's publisher writes them.
#pragma once

#include <string>

#include "crashdiag/core/rca.hpp"

namespace crashdiag::core {

// The dependent's summary while its cause is linked: "StatefulSet/postgres is failing (RCA
// postgres-1a2b3): <its own summary>" (the namespace is added when it is another one).
[[nodiscard]] std::string caused_summary(const std::string& own_namespace, const std::string& cause_name,
                                         const CauseLink& cause, const std::string& summary);

// The summary shown for an RCA: its top hypothesis's, led by its cause while one is linked.
[[nodiscard]] std::string shown_summary(const RcaState& state);

// The Event note: the summary and how to read the analysis, at most kEventNoteLimit bytes.
[[nodiscard]] std::string event_note(const RcaState& state);
// The crashdiag.io/root-cause annotation value: "<category>: <summary>".
[[nodiscard]] std::string root_cause_value(const RcaState& state);

// The whole Event for this occurrence on this pod (its name, reason and count from `mark`): the
// same object every time, so a bump whose Event has expired is created again from it.
[[nodiscard]] EventWrite event_write(const RcaState& state, const PodMark& mark, const Occurrence& occurrence,
                                     const std::string& instance);

}  // namespace crashdiag::core
