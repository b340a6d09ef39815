#include "test_support.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
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

namespace {
Classifier load_shipped(bool with_first_contact) {
  // CRASHDIAG_RULES_DIR measures another revision's rules with this engine: how a batch of
  // incidents fared with the rules of the day it was collected (tests/corpus/tools/first-contact.py).
  const char* dir = std::getenv("CRASHDIAG_RULES_DIR");
  auto rules = load_rule_dirs({dir != nullptr ? std::string(dir) : source_path("classifiers/rules")});
  if (!rules) throw std::runtime_error(rules.error().to_string());
  if (!with_first_contact) {
    for (Rule& r : *rules) r.first_contact.reset();
  }
  auto engine = RuleEngine::compile(std::move(*rules));
  if (!engine) throw std::runtime_error(engine.error().to_string());
  return Classifier(std::move(*engine));
}
}  // namespace

const Classifier& shipped_classifier() {
  static const Classifier classifier = load_shipped(true);
  return classifier;
}

const Classifier& shipped_classifier_as_written() {
  static const Classifier classifier = load_shipped(false);
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
