// PatternIndex must give exactly what trying every pattern on every line gives: the literal
// prefilter only decides which patterns are worth trying.
#include "pattern_index.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "diagnose/rule_loader.hpp"
#include "test_support.hpp"

namespace crashdiag {
namespace {

RE2::Options options() {
  RE2::Options o;
  o.set_log_errors(false);
  return o;
}

std::vector<int> brute_force(const std::vector<std::string>& patterns, const std::string& line) {
  std::vector<int> out;
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    if (RE2::PartialMatch(line, RE2(patterns[i], options()))) out.push_back(static_cast<int>(i));
  }
  return out;
}

const std::vector<std::string> kPatterns = {
    "permission denied",                                              // 0: a literal
    "(?i)no such file or directory",                                  // 1: case-insensitive
    R"(open (?P<path>/\S+): read-only file system)",                  // 2: literal around a capture
    R"(^\S+$)",                                                       // 3: no literal: tried on every line
    "(?:ENOTFOUND|EAI_AGAIN) (?P<host>[\\w.-]+)",                     // 4: alternation of literals
    "Отказано в доступе",                                             // 5: non-ASCII literal, uppercase first letter
    "(?i)kelvin",                                                     // 6: (?i)k also matches U+212A KELVIN SIGN
    "(?i)long s",                                                     // 7: (?i)s also matches U+017F LONG S
    "x509: certificate (?:signed by unknown authority|has expired)",  // 8
    "a{2}b",                                                          // 9: literal "aab" from a repeat
    "(?i)ÅNGSTRÖM",                                                   // 10: (?i) non-ASCII
    // 11: an OR of ANDs whose literals are shared by many branches. RE2's PrefilterTree prunes a
    // node with more than eight AND parents, and an AND whose children are all pruned never
    // fires: AllPotentials then rejects "xxx zzz", which the pattern matches. Filtering on every
    // literal of the pattern stays right.
    "(?:a11a.*xxx|b22b.*xxx|c33c.*xxx|d44d.*xxx|e55e.*xxx|f66f.*xxx|g77g.*xxx|h88h.*xxx|i99i.*xxx|"
    "j11j.*zzz|k22k.*zzz|l33l.*zzz|m44m.*zzz|n55n.*zzz|o66o.*zzz|p77p.*zzz|q88q.*zzz|r99r.*zzz|xxx.*zzz)",
    "error: .* failed to migrate",  // 12: an AND of two literals
};

struct Case {
  std::string name;
  std::string line;
};

class PatternIndexTest : public ::testing::TestWithParam<Case> {};

TEST_P(PatternIndexTest, MatchesWhatEveryPatternTriedAloneMatches) {
  PatternIndex index(options());
  for (const auto& p : kPatterns) {
    std::string error;
    ASSERT_GE(index.add(p, &error), 0) << p << ": " << error;
  }
  index.compile();
  std::vector<int> got;
  index.match(GetParam().line, got);
  EXPECT_EQ(got, brute_force(kPatterns, GetParam().line)) << GetParam().line;
}

INSTANTIATE_TEST_SUITE_P(
    Lines, PatternIndexTest,
    ::testing::Values(Case{"plain", "mkdir: cannot create directory '/data': Permission denied"},
                      Case{"lowercase", "open /x: permission denied"}, Case{"upper", "NO SUCH FILE OR DIRECTORY"},
                      Case{"capture", "error: open /etc/app.conf: read-only file system"}, Case{"one_word", "Killed"},
                      Case{"empty", ""}, Case{"alternation", "getaddrinfo EAI_AGAIN postgres"},
                      Case{"cyrillic", "mkdir: невозможно создать каталог «/data»: Отказано в доступе"},
                      Case{"cyrillic_lower", "отказано в доступе"},
                      Case{"kelvin_sign",
                           "\xE2\x84\xAA"
                           "elvin"},
                      Case{"long_s", "long \xC5\xBF"},
                      Case{"angstrom_sign",
                           "\xE2\x84\xAB"
                           "NGSTRÖM"},
                      Case{"angstrom", "ångström"},
                      Case{"x509", "Get \"https://r/v2/\": x509: certificate signed by unknown authority"},
                      Case{"repeat", "xaab"}, Case{"nothing", "INFO started in 2.3 s"},
                      Case{"invalid_utf8", std::string("permission \xFF\xFE denied \xC3")},
                      Case{"nul", std::string("permission denied\0after", 23)},
                      Case{"overlapping",
                           "no such file or directory: permission denied: x509: certificate has expired"},
                      Case{"pruned_and", "xxx zzz"}, Case{"and_both", "error: step 3 failed to migrate"},
                      Case{"and_one", "error: step 3 failed"},
                      Case{"long_repeated_literal", std::string(1U << 20U, 'x') + " permission denied"}),
    [](const ::testing::TestParamInfo<Case>& i) { return i.param.name; });

TEST(PatternIndex, IsBuiltOnce) {
  PatternIndex index(options());
  std::vector<int> got;
  ASSERT_EQ(index.add("permission denied", nullptr), 0);
  index.match("permission denied", got);
  EXPECT_TRUE(got.empty()) << "nothing matches before compile()";
  index.compile();
  index.compile();
  std::string error;
  EXPECT_EQ(index.add("later", &error), -1);
  EXPECT_FALSE(error.empty());
  index.match("permission denied", got);
  EXPECT_EQ(got, std::vector<int>{0});
}

TEST(PatternIndex, AMessageOfOneLiteralRepeatedListsItsPatternOnce) {
  PatternIndex index(options());
  ASSERT_EQ(index.add("permission denied$", nullptr), 0);
  ASSERT_EQ(index.add("(?i)denied", nullptr), 1);
  index.compile();
  std::string line;
  for (int i = 0; i < 100000; ++i) line += ": permission denied";
  std::vector<int> got;
  index.match(line, got);
  EXPECT_EQ(got, (std::vector<int>{0, 1}));
}

TEST(PatternIndex, ReportsABadPattern) {
  PatternIndex index(options());
  std::string error;
  EXPECT_EQ(index.add("(unclosed", &error), -1);
  EXPECT_NE(error.find("missing )"), std::string::npos) << error;
}

TEST(PatternIndex, ShippedPatternsAgreeWithBruteForceOnSampleLines) {
  // The rule packs' own patterns on lines that hit them and lines that do not.
  const std::vector<std::string> lines = {
      "mkdir: cannot create directory '/var/lib/postgresql/data/pgdata': Permission denied",
      "panic: runtime error: invalid memory address or nil pointer dereference",
      "Error: failed to create containerd task: exec: \"server\": executable file not found in $PATH",
      "FATAL:  role \"root\" does not exist",
      "java.lang.OutOfMemoryError: Java heap space",
      "dial tcp: lookup postgres on 10.96.0.10:53: no such host",
      "2024-01-01 INFO ready"};
  auto rules = load_rule_dirs({testing::source_path("classifiers/rules")});
  ASSERT_TRUE(rules) << rules.error().to_string();
  std::vector<std::string> patterns;
  for (const auto& rule : *rules) {
    for (const auto* list : {&rule.match.text_patterns, &rule.match.log_patterns, &rule.match.message_patterns,
                             &rule.match.unless_patterns}) {
      patterns.insert(patterns.end(), list->begin(), list->end());
    }
  }
  ASSERT_GT(patterns.size(), 500U);
  PatternIndex index(options());
  for (const auto& p : patterns) ASSERT_GE(index.add(p, nullptr), 0) << p;
  index.compile();
  std::size_t hits = 0;
  for (const auto& line : lines) {
    std::vector<int> got;
    index.match(line, got);
    EXPECT_EQ(got, brute_force(patterns, line)) << line;
    hits += got.size();
  }
  EXPECT_GT(hits, 5U);
}

TEST(PatternIndex, ConcurrentMatchesAgreeAndShareOneRegex) {
  PatternIndex index(options());
  for (const auto& p : kPatterns) ASSERT_GE(index.add(p, nullptr), 0);
  index.compile();
  std::vector<std::thread> threads;
  std::vector<std::vector<int>> results(8);
  for (std::size_t t = 0; t < results.size(); ++t) {
    threads.emplace_back([&, t] { index.match("open /x: read-only file system: permission denied", results[t]); });
  }
  for (auto& th : threads) th.join();
  for (const auto& r : results) EXPECT_EQ(r, (std::vector<int>{0, 2}));
  EXPECT_EQ(&index.regex(0), &index.regex(0));
}

}  // namespace
}  // namespace crashdiag
