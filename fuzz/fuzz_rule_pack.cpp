// A rule pack (a ConfigMap someone edits): loading must name what is wrong, never crash, and a
// pack that loads must compile and run its templates.
#include <cstddef>
#include <cstdint>
#include <string>

#include "crashdiag/classifiers/rule_engine.hpp"
#include "crashdiag/classifiers/rule_pack.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  crashdiag::RuleSource source{"fuzz.yaml", std::string(reinterpret_cast<const char*>(data), size)};
  auto rules = crashdiag::parse_rule_pack(source);
  if (!rules) return 0;
  (void)crashdiag::RuleEngine::compile(std::move(*rules));
  return 0;
}
