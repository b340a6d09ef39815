// docs/architecture.md must draw the code as it is (issue 13): every source, header, script or
// document it names exists. Names are resolved as the doc writes them: from the repository root,
// or relative to the folders a layer's files live in (`store/owner_watch.cpp` is
// operator/src/store/owner_watch.cpp, `core/owner_index.hpp` is the core layer's header).
#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace crashdiag {
namespace {

namespace fs = std::filesystem;

bool file_like(const std::string& token) {
  for (const char* ext : {".cpp", ".hpp", ".md", ".yaml", ".sh", ".py", ".cmake", ".json"}) {
    const std::string e(ext);
    if (token.size() > e.size() && token.compare(token.size() - e.size(), e.size(), e) == 0) return true;
  }
  return false;
}

std::vector<std::string> named_files(const std::string& text) {
  std::vector<std::string> out;
  std::string token;
  auto flush = [&] {
    while (!token.empty() && (token.back() == '.' || token.back() == '/')) token.pop_back();
    if (file_like(token)) out.push_back(token);
    token.clear();
  };
  for (const char c : text) {
    const bool part = std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '/' || c == '-';
    if (part) {
      token += c;
    } else {
      flush();
    }
  }
  flush();
  return out;
}

bool exists_somewhere(const std::string& name) {
  const fs::path root(testing::source_path(""));
  const std::array<std::string, 9> bases = {"",
                                            "tests/",
                                            "operator/",
                                            "operator/src/",
                                            "operator/core/src/",
                                            "operator/core/include/crashdiag/",
                                            "classifiers/src/",
                                            "classifiers/include/crashdiag/",
                                            "model/include/crashdiag/"};
  for (const auto& base : bases) {
    if (fs::exists(root / (base + name))) return true;
  }
  // `core/x.cpp` for a core source file.
  if (name.rfind("core/", 0) == 0 && fs::exists(root / ("operator/core/src/" + name.substr(5)))) return true;
  return false;
}

TEST(ArchitectureDoc, EveryFileItNamesExists) {
  const std::string doc = testing::read_file(testing::source_path("docs/architecture.md"));
  // Inputs named by their role, not files of this repository: what `explain -f` and the demo read.
  const std::set<std::string> roles = {"pod.json", "events.json"};
  std::size_t checked = 0;
  for (const auto& name : named_files(doc)) {
    if (roles.count(name) != 0) continue;
    ++checked;
    EXPECT_TRUE(exists_somewhere(name)) << "docs/architecture.md names " << name << ", which does not exist";
  }
  EXPECT_GE(checked, 10U) << "the doc names the files of each stage";
}

TEST(ArchitectureDoc, TheTokenizerFindsPathsInProseAndCode) {
  EXPECT_EQ(named_files("(`store/owner_watch.cpp`, core/owner_index.hpp) and failing.cpp."),
            (std::vector<std::string>{"store/owner_watch.cpp", "core/owner_index.hpp", "failing.cpp"}));
  EXPECT_TRUE(named_files("no file here: foo.bar, a/b").empty());
}

}  // namespace
}  // namespace crashdiag
