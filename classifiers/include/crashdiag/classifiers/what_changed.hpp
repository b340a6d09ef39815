// What changed in the pod template before the failure, as evidence (issue 15, item 1): the
// difference with the previous revision, and the ranking it lends to the hypothesis whose cause
// lives in what changed (an added `command` for entrypoint_override, a lowered memory limit for
// oom_killed). No change at all is said too: the cause is then outside the spec.
#pragma once

#include <functional>
#include <string>

#include "crashdiag/model/evidence.hpp"
#include "crashdiag/model/hypothesis.hpp"

namespace crashdiag {

// The template aspects a category's cause lives in (command/args for entrypoint_override, ...).
[[nodiscard]] bool category_blames(std::string_view category, ChangeAspect aspect);

// Fills d.what_changed from ev.previous (nothing when there is no previous template), adds each
// change of the diagnosed container (or of the pod) that touches what a hypothesis blames to that
// hypothesis's evidence, raises its confidence by `kChangeBoost` (at most 0.99) and re-ranks.
// `redact` is applied to every change text (a command line may carry a password).
void apply_what_changed(const Evidence& ev, ContainerDiagnosis& d,
                        const std::function<std::string(const std::string&)>& redact);

inline constexpr double kChangeBoost = 0.05;

}  // namespace crashdiag
