// The labeled corpus of real public incidents (tests/corpus/README.md): top-1 and top-3
// accuracy of the shipped classifier, printed, and a floor the suite enforces.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>

#include "crashdiag/classifiers/categories.hpp"
#include "crashdiag/classifiers/evidence_yaml.hpp"
#include "test_support.hpp"

namespace crashdiag {
namespace {

constexpr double kMinTop1 = 0.85;
constexpr std::size_t kMinIncidents = 80;

TEST(Corpus, Top1AccuracyOnRealIncidentsIsAtLeast85Percent) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(testing::source_path("tests/corpus"))) {
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), kMinIncidents);

  std::size_t top1 = 0;
  std::size_t top3 = 0;
  std::map<std::string, std::pair<int, int>> per_category;  // hits, total
  std::set<std::string> ids;
  for (const auto& f : files) {
    const std::string text = testing::read_file(f.string());
    YAML::Node meta = YAML::Load(text);
    const auto expected = meta["category"].as<std::string>();
    const auto id = meta["id"].as<std::string>();
    EXPECT_TRUE(ids.insert(id).second) << "duplicate corpus id " << id;
    EXPECT_TRUE(is_known_category(expected)) << f;
    EXPECT_EQ(f.parent_path().filename().string(), expected) << f << ": directory and category disagree";
    ASSERT_TRUE(meta["source"] && meta["source"].as<std::string>().rfind("http", 0) == 0)
        << f << ": every incident cites its source";
    auto ev = evidence_from_yaml(text);
    ASSERT_TRUE(ev) << f << ": " << ev.error().what;
    auto hs = testing::shipped_classifier().classify(*ev);
    ASSERT_FALSE(hs.empty());
    bool hit1 = hs[0].category == expected;
    bool hit3 = false;
    for (std::size_t i = 0; i < hs.size() && i < 3; ++i) hit3 = hit3 || hs[i].category == expected;
    top1 += hit1 ? 1 : 0;
    top3 += hit3 ? 1 : 0;
    per_category[expected].first += hit1 ? 1 : 0;
    per_category[expected].second += 1;
    if (!hit1) {
      std::cout << "  miss: " << f.filename().string() << " expected " << expected << ", got " << hs[0].category << " ("
                << hs[0].confidence << ")" << (hit3 ? " [in top 3]" : "") << "\n";
    }
  }
  const double n = static_cast<double>(files.size());
  std::cout << std::fixed << std::setprecision(1) << "corpus: " << files.size() << " incidents, top-1 "
            << 100.0 * top1 / n << "%, top-3 " << 100.0 * top3 / n << "%\n";
  for (const auto& [category, counts] : per_category) {
    std::cout << "  " << std::left << std::setw(30) << category << counts.first << "/" << counts.second << "\n";
  }
  EXPECT_GE(static_cast<double>(top1) / n, kMinTop1);
}

}  // namespace
}  // namespace crashdiag
