// Golden files for `crashdiag explain` over every bundled example incident. Regenerate with
// CRASHDIAG_UPDATE_GOLDEN=1 after an intended change, and review the diff.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "explain_command.hpp"
#include "test_support.hpp"

namespace crashdiag {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> example_names() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(testing::source_path("examples"))) {
    if (e.is_directory() && fs::exists(e.path() / "pod.json")) names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string explain(const std::string& name, OutputFormat format) {
  const fs::path dir = testing::source_path("examples/" + name);
  ExplainOptions o;
  o.pod_file = (dir / "pod.json").string();
  if (fs::exists(dir / "previous.log")) o.logs_file = (dir / "previous.log").string();
  if (fs::exists(dir / "events.json")) o.events_file = (dir / "events.json").string();
  o.format = format;
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(run_explain(o, testing::shipped_classifier(), in, out, err), 0) << err.str();
  return out.str();
}

void check_golden(const std::string& actual, const std::string& golden_name) {
  const std::string path = testing::source_path("tests/golden/" + golden_name);
  if (const char* update = std::getenv("CRASHDIAG_UPDATE_GOLDEN"); update != nullptr && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  ASSERT_TRUE(fs::exists(path)) << path << " missing; run the tests with CRASHDIAG_UPDATE_GOLDEN=1";
  EXPECT_EQ(actual, testing::read_file(path)) << "golden file " << path << " differs";
}

class ExampleGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ExampleGolden, JsonMatchesGolden) {
  check_golden(explain(GetParam(), OutputFormat::kJson), GetParam() + ".json");
}
TEST_P(ExampleGolden, TextMatchesGolden) {
  check_golden(explain(GetParam(), OutputFormat::kText), GetParam() + ".txt");
}

INSTANTIATE_TEST_SUITE_P(Examples, ExampleGolden, ::testing::ValuesIn(example_names()), [](const auto& info) {
  std::string n = info.param;
  for (char& c : n) {
    if (c == '-') c = '_';
  }
  return n;
});

TEST(ExampleExpectations, EachExampleReadmeNamesTheTopCategory) {
  // examples/<name>/README.md says "Expected root-cause category: **X**"; the diagnosis must agree.
  for (const std::string& name : example_names()) {
    std::string readme = testing::read_file(testing::source_path("examples/" + name + "/README.md"));
    std::replace(readme.begin(), readme.end(), '\n', ' ');
    const std::string marker = "Expected root-cause category: **";
    auto pos = readme.find(marker);
    ASSERT_NE(pos, std::string::npos) << name;
    pos += marker.size();
    const std::string expected = readme.substr(pos, readme.find('*', pos) - pos);
    const std::string json = explain(name, OutputFormat::kJson);
    EXPECT_NE(json.find("\"category\": \"" + expected + "\""), std::string::npos) << name;
    // Top hypothesis of the first container.
    auto first = json.find("\"category\": \"");
    ASSERT_NE(first, std::string::npos);
    first += std::string("\"category\": \"").size();
    EXPECT_EQ(json.substr(first, json.find('"', first) - first), expected) << name;
  }
}

TEST(Incidents, CommandVsArgsQuotesTheCommandLineAndTheFix) {
  const std::string text = explain("authentik-command-vs-args", OutputFormat::kText);
  EXPECT_NE(text.find("entrypoint_override"), std::string::npos);
  EXPECT_NE(text.find("command: [\"server\"]"), std::string::npos);
  EXPECT_NE(text.find("args: [\"server\"]"), std::string::npos);  // the "after" YAML
  EXPECT_NE(text.find("executable file not found in $PATH"), std::string::npos);
}

TEST(Incidents, PostgresVolumeQuotesMountVersusPgdataAndTheProbe) {
  const std::string text = explain("authentik-postgres-volume-mount", OutputFormat::kText);
  EXPECT_NE(text.find("pg_volume_mount_path"), std::string::npos);
  EXPECT_NE(text.find("mountPath: /var/lib/postgresql "), std::string::npos);
  EXPECT_NE(text.find("PGDATA=/var/lib/postgresql/data"), std::string::npos);
  EXPECT_NE(text.find("pg_role_missing"), std::string::npos);
  EXPECT_NE(text.find("without -U"), std::string::npos);
  EXPECT_LT(text.find("pg_volume_mount_path"), text.find("pg_role_missing"));  // the cause ranks above the noise
}

}  // namespace
}  // namespace crashdiag
