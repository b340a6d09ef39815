#pragma once

#include <optional>

#include "crashdiag/classifiers/rule_pack.hpp"
#include "crashdiag/model/evidence.hpp"
#include "crashdiag/model/hypothesis.hpp"

namespace crashdiag {

struct PredicateResult {
  bool holds = false;
  std::optional<EvidenceItem> evidence;  // the spec field that made it hold, quoted
};

[[nodiscard]] PredicateResult evaluate(const SpecPredicate& predicate, const Pod& pod, const Container& container);

}  // namespace crashdiag
