// The compact evidence format shared by rule examples and the incident corpus
// (tests/corpus/README.md): what a report shows about one failing container, without the
// bulk of a full Pod object.
#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "crashdiag/model/evidence.hpp"

namespace crashdiag {

struct EvidenceYamlError {
  std::string what;
};

[[nodiscard]] tl::expected<Evidence, EvidenceYamlError> evidence_from_yaml(std::string_view text);

}  // namespace crashdiag
