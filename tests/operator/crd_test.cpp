// The shipped CRD is what `kubectl explain rca...` shows users: every field must say what it is,
// and the printer columns must be the ones the docs and the issue promise.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "test_support.hpp"

namespace crashdiag {
namespace {

YAML::Node version() {
  const YAML::Node crd = YAML::LoadFile(testing::source_path("crd/rootcauseanalyses.crashdiag.io.yaml"));
  return crd["spec"]["versions"][0];
}

void undocumented(const YAML::Node& node, const std::string& path, std::vector<std::string>& out) {
  // The root's metadata is the one exception: the apiserver refuses a CRD that says anything
  // about it but `type: object` (tests/kube/crd_structure_test.cpp).
  if (path == ".metadata") {
    EXPECT_FALSE(node["description"]) << "the apiserver refuses a description on the root's metadata";
    return;
  }
  if (!node["description"]) out.push_back(path.empty() ? "<root>" : path);
  if (const YAML::Node props = node["properties"]) {
    for (const auto& p : props) undocumented(p.second, path + "." + p.first.as<std::string>(), out);
  }
  if (const YAML::Node items = node["items"]) undocumented(items, path + "[]", out);
}

TEST(Crd, EveryFieldHasADescription) {
  std::vector<std::string> missing;
  undocumented(version()["schema"]["openAPIV3Schema"], "", missing);
  EXPECT_TRUE(missing.empty()) << "fields without a description: " << ::testing::PrintToString(missing);
}

TEST(Crd, NamesStatusSubresourceAndPrinterColumns) {
  const YAML::Node crd = YAML::LoadFile(testing::source_path("crd/rootcauseanalyses.crashdiag.io.yaml"));
  EXPECT_EQ(crd["metadata"]["name"].as<std::string>(), "rootcauseanalyses.crashdiag.io");
  EXPECT_EQ(crd["spec"]["names"]["kind"].as<std::string>(), "RootCauseAnalysis");
  EXPECT_EQ(crd["spec"]["names"]["shortNames"][0].as<std::string>(), "rca");
  EXPECT_EQ(crd["spec"]["scope"].as<std::string>(), "Namespaced");
  const YAML::Node v = version();
  EXPECT_EQ(v["name"].as<std::string>(), "v1alpha1");
  EXPECT_TRUE(v["subresources"]["status"].IsMap());
  std::vector<std::string> columns;
  std::vector<std::string> wide;
  for (const auto& c : v["additionalPrinterColumns"]) {
    (c["priority"] && c["priority"].as<int>() > 0 ? wide : columns).push_back(c["name"].as<std::string>());
  }
  EXPECT_EQ(columns,
            (std::vector<std::string>{"Workload", "Container", "Category", "Confidence", "Count", "Last Seen", "Age"}));
  EXPECT_EQ(wide, (std::vector<std::string>{"Phase", "Caused By", "Signature", "Summary"}));
}

}  // namespace
}  // namespace crashdiag
