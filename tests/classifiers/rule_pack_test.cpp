#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "crashdiag/classifiers/rule_engine.hpp"
#include "crashdiag/classifiers/rule_pack.hpp"

namespace crashdiag {
namespace {

constexpr const char* kGoodRule = R"(rules:
  - id: demo
    category: port_in_use
    title: Demo
    confidence: 0.5
    match:
      log: ['listen (?P<addr>\S+): bind: address already in use']
    summary: 'port {addr} taken in {container}'
    remediation: fix it
    examples:
      - name: hit
        expect: match
        evidence:
          logs: 'listen :80: bind: address already in use'
)";

TEST(RulePack, LoadsAValidRule) {
  auto rules = parse_rule_pack({"demo.yaml", kGoodRule});
  ASSERT_TRUE(rules) << rules.error().to_string();
  ASSERT_EQ(rules->size(), 1U);
  EXPECT_EQ((*rules)[0].id, "demo");
  EXPECT_EQ((*rules)[0].line, 2);
  EXPECT_EQ((*rules)[0].examples.size(), 1U);
}

struct BrokenCase {
  const char* name;
  std::string from;  // text in kGoodRule to replace
  std::string to;
  int line;
  const char* message_contains;
};

// gtest prints parameters in test names and failures; the name says which row.
void PrintTo(const BrokenCase& p, std::ostream* os) {
  *os << p.name;
}

class BrokenRulePack : public ::testing::TestWithParam<BrokenCase> {};

TEST_P(BrokenRulePack, FailsWithFileLineRuleIdAndWhatToChange) {
  std::string text = kGoodRule;
  auto pos = text.find(GetParam().from);
  ASSERT_NE(pos, std::string::npos);
  text.replace(pos, GetParam().from.size(), GetParam().to);
  auto rules = parse_rule_pack({"classifiers/rules/demo.yaml", text});
  ASSERT_FALSE(rules);
  const RuleLoadError& e = rules.error();
  EXPECT_EQ(e.file, "classifiers/rules/demo.yaml");
  EXPECT_EQ(e.line, GetParam().line) << e.to_string();
  EXPECT_NE(e.message.find(GetParam().message_contains), std::string::npos) << e.to_string();
  if (GetParam().line > 2 && std::string(GetParam().name) != "invalid_yaml") {  // a syntax error precedes any rule
    EXPECT_EQ(e.rule_id, "demo") << e.to_string();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, BrokenRulePack,
    ::testing::Values(
        // The pattern is quoted so the author sees which one broke.
        BrokenCase{"bad_pattern", R"('listen (?P<addr>\S+): bind)", R"('listen (?P<addr>\S+: bind)", 7,
                   "pattern 'listen (?P<addr>\\S+: bind: address already in use' does not compile"},
        BrokenCase{"lookaround", R"('listen (?P<addr>\S+): bind)", R"('(?<=listen) (?P<addr>\S+): bind)", 7,
                   "does not compile"},
        BrokenCase{"unknown_category", "category: port_in_use", "category: port_problems", 3,
                   "unknown category 'port_problems'"},
        BrokenCase{"confidence_range", "confidence: 0.5", "confidence: 1.5", 5,
                   "confidence must be a number in (0, 1]"},
        BrokenCase{"unknown_condition", "      log:", "      logs:", 7, "unknown condition 'logs'"},
        BrokenCase{"unknown_placeholder", "{container}", "{containr}", 2, "placeholder '{containr}'"},
        BrokenCase{"unknown_spec_predicate", "      log:", "      spec: [{mounted_at: /x}]\n      log:", 7,
                   "unknown predicate 'mounted_at'"},
        BrokenCase{"spec_only", "      log: ['listen (?P<addr>\\S+): bind: address already in use']",
                   "      spec: [{command_set: true}]", 7, "needs at least one status, log or event condition"},
        BrokenCase{"no_positive_example", "expect: match", "expect: no_match", 2, "at least one example"},
        BrokenCase{"bad_exit_code", "      log:", "      exit_code: ['12x-4']\n      log:", 7, "exit_code"},
        BrokenCase{"missing_summary", "    summary: 'port {addr} taken in {container}'\n", "", 2,
                   "missing required field 'summary'"},
        BrokenCase{"unknown_field", "    title: Demo", "    title: Demo\n    severity: high", 5,
                   "unknown field 'severity'"},
        BrokenCase{"bad_id", "id: demo", "id: Demo_Rule", 2, "kebab-case"},
        BrokenCase{"invalid_yaml", "    title: Demo", "    title: [Demo", 5, "invalid YAML"},
        BrokenCase{"unknown_source", "      log:", "      sources: [stdout]\n      log:", 7, "unknown source 'stdout'"},
        BrokenCase{"sources_without_text", "      log:", "      sources: [logs]\n      log:", 7,
                   "restricts `text` patterns"},
        BrokenCase{"bad_unless_pattern", "      log:", "      unless: ['(unclosed']\n      log:", 7,
                   "unless: pattern '(unclosed'"},
        // A first-contact record is counted, never hand-written: more right than confident is a typo.
        BrokenCase{"first_contact_more_right_than_confident", "    confidence: 0.5",
                   "    confidence: 0.5\n    first_contact: {confident: 3, right: 4}", 6, "0 <= K <= N"},
        BrokenCase{"first_contact_not_a_map", "    confidence: 0.5", "    confidence: 0.5\n    first_contact: 12", 6,
                   "first_contact: expected {confident: N, right: K}"},
        BrokenCase{"first_contact_unknown_key", "    confidence: 0.5",
                   "    confidence: 0.5\n    first_contact: {confident: 3, correct: 2}", 6, "first_contact"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(RulePack, FirstContactRecordDecidesWhetherTheRuleMaySpeakConfidently) {
  struct Row {
    int confident, right;
    bool confident_allowed;
  };
  for (const Row& r : {Row{0, 0, true}, Row{1, 0, true},  // one error is as often a label
                       Row{94, 82, false}, Row{58, 54, false}, Row{40, 38, true}, Row{41, 39, true}, Row{39, 37, false},
                       Row{2, 0, false}, Row{140, 139, true}}) {
    EXPECT_EQ(confident_at_first_contact(FirstContact{r.confident, r.right}), r.confident_allowed)
        << r.right << " of " << r.confident;
  }
}

TEST(RulePack, DuplicateIdsAcrossPacksAreRejected) {
  auto rules = parse_rule_packs({{"a.yaml", kGoodRule}, {"b.yaml", kGoodRule}});
  ASSERT_FALSE(rules);
  EXPECT_EQ(rules.error().file, "b.yaml");
  EXPECT_NE(rules.error().message.find("duplicate rule id"), std::string::npos);
}

TEST(RulePack, MissingRulesListIsAnError) {
  auto rules = parse_rule_pack({"x.yaml", "foo: bar\n"});
  ASSERT_FALSE(rules);
  EXPECT_NE(rules.error().message.find("rules:"), std::string::npos);
}

TEST(RuleEngine, NamedCapturesFillTemplatesAndEvidenceQuotesTheLine) {
  auto rules = parse_rule_pack({"demo.yaml", kGoodRule});
  ASSERT_TRUE(rules);
  auto engine = RuleEngine::compile(std::move(*rules));
  ASSERT_TRUE(engine);
  Evidence ev;
  ev.container = "app";
  Container c;
  c.name = "app";
  ev.pod.containers.push_back(c);
  ev.logs.lines = {"starting", "listen 0.0.0.0:8080: bind: address already in use", "exiting"};
  auto hits = engine->match(ev);
  ASSERT_EQ(hits.size(), 1U);
  EXPECT_EQ(hits[0].captures.at("addr"), "0.0.0.0:8080");
  ASSERT_EQ(hits[0].evidence.size(), 1U);
  EXPECT_EQ(hits[0].evidence[0].field, "logs[1]");
  EXPECT_EQ(hits[0].evidence[0].source, EvidenceSource::kLogs);
  ev.logs.lines = {"nothing to see"};
  EXPECT_TRUE(engine->match(ev).empty());
}

// The capturing regex is compiled on the first hit and shared by every later match, which may
// run on several threads at once (the daemon's diagnosis workers): each must still get its own
// line's captures. ThreadSanitizer or ASan would flag a race on the shared table.
TEST(RuleEngine, CapturesAreRightFromSeveralThreadsSharingTheCompiledRegex) {
  auto rules = parse_rule_pack({"demo.yaml", kGoodRule});
  ASSERT_TRUE(rules);
  auto engine = RuleEngine::compile(std::move(*rules));
  ASSERT_TRUE(engine);
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        Evidence ev;
        ev.container = "app";
        Container c;
        c.name = "app";
        ev.pod.containers.push_back(c);
        const std::string addr = "10.0." + std::to_string(t) + "." + std::to_string(i) + ":80";
        ev.logs.lines = {"listen " + addr + ": bind: address already in use"};
        auto hits = engine->match(ev);
        if (hits.size() != 1 || hits[0].captures["addr"] != addr) ++wrong[static_cast<std::size_t>(t)];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace crashdiag

namespace crashdiag {
namespace {

Evidence with_texts(std::string message, std::string event, std::string log) {
  Evidence ev;
  Container c;
  c.name = "app";
  ContainerStatus st;
  Terminated t;
  t.exit_code = 1;
  t.reason = "Error";
  t.message = std::move(message);
  st.last_terminated = t;
  st.restart_count = 1;
  c.status = st;
  ev.pod.containers.push_back(c);
  ev.container = "app";
  if (!event.empty()) {
    Event e;
    e.type = "Warning";
    e.reason = event.rfind("Liveness", 0) == 0 ? "Unhealthy" : "Failed";
    e.message = std::move(event);
    ev.events.push_back(e);
  }
  if (!log.empty()) ev.logs.lines = {std::move(log)};
  return ev;
}

const char* kSourcesRule = R"(rules:
  - id: frob
    category: app_panic_or_exception
    title: Frob
    confidence: 0.6
    match:
      text: ['frobnicator broke']
      sources: [logs, status]
      unless: ['frobnicator broke on purpose']
    summary: 'frob'
    remediation: 'fix'
    examples:
      - {name: a, expect: match, evidence: {logs: 'frobnicator broke'}}
)";

// Every text source reaches a `text` pattern, unless the rule names its sources; `unless` vetoes.
TEST(RuleEngine, TextPatternsSeeTheSourcesTheRuleNamesAndUnlessVetoes) {
  auto rules = parse_rule_pack({"s.yaml", kSourcesRule});
  ASSERT_TRUE(rules) << rules.error().to_string();
  auto engine = RuleEngine::compile(std::move(*rules));
  ASSERT_TRUE(engine);
  EXPECT_EQ(engine->match(with_texts("frobnicator broke", "", "")).size(), 1U) << "status message";
  EXPECT_EQ(engine->match(with_texts("", "", "x\nfrobnicator broke")).size(), 1U) << "a log line";
  EXPECT_EQ(engine->match(with_texts("", "Error: frobnicator broke", "")).size(), 0U) << "events not named";
  EXPECT_EQ(engine->match(with_texts("", "Liveness probe failed: frobnicator broke", "")).size(), 0U)
      << "probe output not named";
  EXPECT_EQ(engine->match(with_texts("frobnicator broke", "", "frobnicator broke on purpose")).size(), 0U) << "unless";
}

}  // namespace
}  // namespace crashdiag
