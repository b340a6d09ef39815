// Files compiled into the binary by cmake/Embed.cmake: the shipped rule packs and the CRD.
#pragma once

#include <span>
#include <string_view>

namespace crashdiag::embedded {

struct EmbeddedFile {
  std::string_view path;  // relative to the source tree, e.g. "classifiers/rules/runtime.yaml"
  std::string_view text;
};

// classifiers/rules/*.yaml, in name order.
std::span<const EmbeddedFile> rule_packs();
// crd/rootcauseanalyses.crashdiag.io.yaml (one entry).
std::span<const EmbeddedFile> crd();
// examples/<incident>/{pod.json,events.json,previous.log}: the incidents `crashdiag demo` replays.
std::span<const EmbeddedFile> examples();

}  // namespace crashdiag::embedded
