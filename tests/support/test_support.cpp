#include "test_support.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "crashdiag/classifiers/evidence_yaml.hpp"
#include "rule_loader.hpp"

namespace crashdiag::testing {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string source_path(const std::string& relative) {
  return std::string(CRASHDIAG_SOURCE_DIR) + "/" + relative;
}

const Classifier& shipped_classifier() {
  static const Classifier classifier = [] {
    auto rules = load_rule_dirs({source_path("classifiers/rules")});
    if (!rules) throw std::runtime_error(rules.error().to_string());
    auto engine = RuleEngine::compile(std::move(*rules));
    if (!engine) throw std::runtime_error(engine.error().to_string());
    return Classifier(std::move(*engine));
  }();
  return classifier;
}

Evidence evidence(const std::string& yaml) {
  auto ev = evidence_from_yaml(yaml);
  EXPECT_TRUE(ev.has_value()) << (ev ? "" : ev.error().what);
  return ev ? *ev : Evidence{};
}

std::string top_category(const Evidence& ev) {
  auto hs = shipped_classifier().classify(ev);
  return hs.empty() ? "" : hs.front().category;
}

}  // namespace crashdiag::testing
