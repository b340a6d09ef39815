// `crashdiag explain pod NAME` takes kubectl's ways of naming what to read.
#include <gtest/gtest.h>

#include <ostream>

#include "explain_live.hpp"

namespace crashdiag {
namespace {

struct TargetCase {
  const char* name;
  std::vector<std::string> words;
  const char* kind;  // nullptr: refused
  const char* object;
};

void PrintTo(const TargetCase& c, std::ostream* os) {
  *os << c.name;
}

class ExplainTarget : public ::testing::TestWithParam<TargetCase> {};

TEST_P(ExplainTarget, ReadsKubectlsForms) {
  auto t = parse_explain_target(GetParam().words);
  if (GetParam().kind == nullptr) {
    EXPECT_FALSE(t.has_value());
    return;
  }
  ASSERT_TRUE(t.has_value()) << t.error();
  EXPECT_EQ(t->kind, GetParam().kind);
  EXPECT_EQ(t->name, GetParam().object);
}

INSTANTIATE_TEST_SUITE_P(Rows, ExplainTarget,
                         ::testing::Values(TargetCase{"type_and_name", {"pod", "web-0"}, "Pod", "web-0"},
                                           TargetCase{"slash_form", {"pod/web-0"}, "Pod", "web-0"},
                                           TargetCase{"bare_name_is_a_pod", {"web-0"}, "Pod", "web-0"},
                                           TargetCase{"short_name", {"deploy/web"}, "Deployment", "web"},
                                           TargetCase{"plural_and_case", {"StatefulSets", "db"}, "StatefulSet", "db"},
                                           TargetCase{"group_suffix", {"deployments.apps/web"}, "Deployment", "web"},
                                           TargetCase{"daemonset", {"ds", "agent"}, "DaemonSet", "agent"},
                                           TargetCase{"job", {"job/nightly-1"}, "Job", "nightly-1"},
                                           TargetCase{"unsupported_type", {"service/web"}, nullptr, nullptr},
                                           TargetCase{"empty_name", {"pod/"}, nullptr, nullptr},
                                           TargetCase{"too_many_words", {"pod", "a", "b"}, nullptr, nullptr}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace crashdiag
