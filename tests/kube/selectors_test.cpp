// The fake apiserver's label and field selectors, row by row against apimachinery's labels.Parse and
// Requirement.Matches (k8s.io/apimachinery/pkg/labels/selector.go).
#include "field_selector.hpp"
#include "label_selector.hpp"

#include <gtest/gtest.h>

#include <map>
#include <ostream>
#include <string>

namespace crashdiag::fake {
namespace {

struct SelectorCase {
  const char* name;
  const char* selector;
  bool parses;
  bool matches;  // against {app: web, tier: front, crashdiag.io/signature: starterror-128}
};

void PrintTo(const SelectorCase& c, std::ostream* os) {
  *os << c.name;
}

class LabelSelectorTable : public ::testing::TestWithParam<SelectorCase> {};

TEST_P(LabelSelectorTable, ParsesAndMatchesLikeApimachinery) {
  const std::map<std::string, std::string> labels{
      {"app", "web"}, {"tier", "front"}, {"crashdiag.io/signature", "starterror-128"}};
  auto s = parse_label_selector(GetParam().selector);
  ASSERT_EQ(s.has_value(), GetParam().parses) << (s ? "" : s.error().message);
  if (!s) {
    EXPECT_EQ(s.error().message.rfind("unable to parse requirement: ", 0), 0U) << s.error().message;
    return;
  }
  EXPECT_EQ(s->matches(labels), GetParam().matches);
}

INSTANTIATE_TEST_SUITE_P(
    Rows, LabelSelectorTable,
    ::testing::Values(
        SelectorCase{"empty_matches_all", "", true, true}, SelectorCase{"equals", "app=web", true, true},
        SelectorCase{"double_equals", "app==web", true, true}, SelectorCase{"equals_other", "app=api", true, false},
        SelectorCase{"not_equals", "app!=api", true, true},
        SelectorCase{"not_equals_missing_key", "zone!=a", true, true}, SelectorCase{"exists", "tier", true, true},
        SelectorCase{"does_not_exist", "!tier", true, false}, SelectorCase{"in", "tier in (front, back)", true, true},
        SelectorCase{"notin", "tier notin (front)", true, false},
        SelectorCase{"notin_missing_key", "zone notin (a)", true, true},
        SelectorCase{"prefixed_key_and_and", "crashdiag.io/signature=starterror-128,app=web", true, true},
        SelectorCase{"and_fails_on_one", "app=web,tier=back", true, false},
        SelectorCase{"bad_key", "a b=c", false, false}, SelectorCase{"bad_value", "app=we b", false, false},
        SelectorCase{"unclosed_set", "tier in (front", false, false},
        SelectorCase{"bad_set_operator", "tier within (front)", false, false},
        SelectorCase{"empty_requirement", "app=web,", false, false}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace crashdiag::fake

namespace crashdiag::fake {
namespace {

struct FieldCase {
  const char* name;
  const char* resource;
  const char* selector;
  bool parses;
  bool matches;  // against an Event about pod web-0, reason BackOff
};

void PrintTo(const FieldCase& c, std::ostream* os) {
  *os << c.name;
}

class FieldSelectorTable : public ::testing::TestWithParam<FieldCase> {};

TEST_P(FieldSelectorTable, ParsesAndMatchesLikeTheApiserver) {
  const nlohmann::json event = {{"metadata", {{"name", "web-0.17a"}, {"namespace", "shop"}}},
                                {"involvedObject", {{"kind", "Pod"}, {"name", "web-0"}, {"namespace", "shop"}}},
                                {"reason", "BackOff"},
                                {"type", "Warning"},
                                {"source", {{"component", "kubelet"}}}};
  auto s = parse_field_selector(GetParam().selector, GetParam().resource);
  ASSERT_EQ(s.has_value(), GetParam().parses) << (s ? "" : s.error().message);
  if (s) {
    EXPECT_EQ(s->matches(event), GetParam().matches);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rows, FieldSelectorTable,
    ::testing::Values(FieldCase{"involved_object", "events", "involvedObject.name=web-0", true, true},
                      FieldCase{"two_fields", "events", "involvedObject.kind=Pod,reason==BackOff", true, true},
                      FieldCase{"not_equals", "events", "type!=Warning", true, false},
                      FieldCase{"source_is_the_component", "events", "source=kubelet", true, true},
                      FieldCase{"other_pod", "events", "involvedObject.name=web-1", true, false},
                      FieldCase{"unsupported_on_events", "events", "spec.nodeName=n1", false, false},
                      FieldCase{"supported_on_pods", "pods", "spec.nodeName=n1", true, false},
                      FieldCase{"only_name_elsewhere", "replicasets", "metadata.name=web-0.17a", true, true},
                      FieldCase{"no_operator", "events", "reason", false, false}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace crashdiag::fake
