#include "rule_loader.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace crashdiag {

namespace fs = std::filesystem;

std::string default_rules_dir() {
  // Installed images put the packs next to the binary's share dir; a build tree uses the
  // source dir baked in at configure time. CRASHDIAG_RULES_DIR overrides both.
  if (const char* env = std::getenv("CRASHDIAG_RULES_DIR"); env != nullptr && *env != '\0') return env;
  if (fs::is_directory("/usr/local/share/crashdiag/rules")) return "/usr/local/share/crashdiag/rules";
  return CRASHDIAG_DEFAULT_RULES_DIR;
}

tl::expected<std::vector<Rule>, RuleLoadError> load_rule_dirs(const std::vector<std::string>& dirs) {
  std::vector<RuleSource> sources;
  for (const std::string& dir : dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      return tl::unexpected(RuleLoadError{dir, 0, "", "is not a readable directory (check --rules-dir)"});
    }
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const auto ext = entry.path().extension();
      // ConfigMap volumes hold ..data/ symlinks and dot-files; only regular *.yaml count.
      if (entry.path().filename().string().rfind('.', 0) == 0) continue;
      if (entry.is_regular_file(ec) && (ext == ".yaml" || ext == ".yml")) files.push_back(entry.path());
    }
    if (ec) return tl::unexpected(RuleLoadError{dir, 0, "", "cannot list directory: " + ec.message()});
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      if (!in) return tl::unexpected(RuleLoadError{f.string(), 0, "", "cannot read file"});
      std::ostringstream text;
      text << in.rdbuf();
      sources.push_back(RuleSource{f.string(), text.str()});
    }
  }
  return parse_rule_packs(sources);
}

tl::expected<Classifier, std::string> make_classifier(const std::vector<std::string>& extra_dirs,
                                                      bool include_default) {
  std::vector<std::string> dirs;
  if (include_default) dirs.push_back(default_rules_dir());
  dirs.insert(dirs.end(), extra_dirs.begin(), extra_dirs.end());
  auto rules = load_rule_dirs(dirs);
  if (!rules) return tl::unexpected("cannot load rules: " + rules.error().to_string());
  auto engine = RuleEngine::compile(std::move(*rules));
  if (!engine) return tl::unexpected("cannot compile rules: " + engine.error().to_string());
  return Classifier(std::move(*engine));
}

}  // namespace crashdiag
