// Every shipped rule file loads, and every rule's examples behave as the rule claims.
#include <gtest/gtest.h>

#include <filesystem>

#include "crashdiag/classifiers/categories.hpp"
#include "crashdiag/classifiers/rule_test.hpp"
#include "rule_loader.hpp"
#include "test_support.hpp"

namespace crashdiag {
namespace {

std::vector<std::string> shipped_rule_files() {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(testing::source_path("classifiers/rules"))) {
    if (e.path().extension() == ".yaml") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

class ShippedRuleFile : public ::testing::TestWithParam<std::string> {};

TEST_P(ShippedRuleFile, LoadsAndEveryExamplePasses) {
  auto rules = parse_rule_pack({GetParam(), testing::read_file(GetParam())});
  ASSERT_TRUE(rules) << rules.error().to_string();
  ASSERT_FALSE(rules->empty());
  RuleTestReport report = test_rule_examples(*rules);
  EXPECT_GE(report.examples, rules->size());
  for (const auto& f : report.failures) {
    ADD_FAILURE() << f.file << ":" << f.line << ": rule '" << f.rule_id << "' example '" << f.example
                  << "': " << f.message;
  }
}

INSTANTIATE_TEST_SUITE_P(Shipped, ShippedRuleFile, ::testing::ValuesIn(shipped_rule_files()), [](const auto& info) {
  std::string name = std::filesystem::path(info.param).stem().string();
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name;
});

TEST(ShippedRules, EveryCategoryHasARuleOrAnAnalyzer) {
  auto rules = load_rule_dirs({testing::source_path("classifiers/rules")});
  ASSERT_TRUE(rules) << rules.error().to_string();
  std::set<std::string> covered = {"entrypoint_override", "pg_volume_mount_path", "data_reinitialized",
                                   "unknown"};  // analyzers
  for (const Rule& r : *rules) covered.insert(r.category);
  for (const CategoryInfo& c : categories()) EXPECT_TRUE(covered.count(std::string(c.id))) << c.id;
}

TEST(ShippedRules, CategoriesDocumentNamesEveryCategory) {
  const std::string doc = testing::read_file(testing::source_path("docs/categories.md"));
  for (const CategoryInfo& c : categories()) {
    EXPECT_NE(doc.find("## `" + std::string(c.id) + "`"), std::string::npos)
        << c.id << " (run scripts/gen-categories-doc.py)";
  }
}

TEST(ShippedRules, EveryRuleHasANegativeExample) {
  auto rules = load_rule_dirs({testing::source_path("classifiers/rules")});
  ASSERT_TRUE(rules);
  for (const Rule& r : *rules) {
    bool negative =
        std::any_of(r.examples.begin(), r.examples.end(), [](const RuleExample& e) { return !e.expect_match; });
    EXPECT_TRUE(negative) << r.id << " has no no_match example";
  }
}

}  // namespace
}  // namespace crashdiag
