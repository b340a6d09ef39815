#include "rule_loader.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "crashdiag/embedded.hpp"

namespace crashdiag {

namespace fs = std::filesystem;

std::vector<RuleSource> builtin_rule_sources() {
  std::vector<RuleSource> sources;
  for (const auto& f : embedded::rule_packs()) {
    sources.push_back(RuleSource{"builtin:" + std::string(f.path), std::string(f.text)});
  }
  return sources;
}

tl::expected<std::vector<RuleSource>, RuleLoadError> read_rule_dirs(const std::vector<std::string>& dirs) {
  std::vector<RuleSource> sources;
  for (const std::string& dir : dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      return tl::unexpected(RuleLoadError{dir, 0, "", "is not a readable directory (check --rules-dir)"});
    }
    std::vector<fs::path> files;
    fs::directory_iterator it(dir, ec);
    for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
      const fs::path& path = it->path();
      // ConfigMap volumes hold ..data/ symlinks and dot-files; only regular *.yaml count. An
      // entry that cannot be stat'ed (a symlink left dangling while the kubelet swaps ..data)
      // is skipped with its own error code, so it never reads as a failed listing.
      if (path.filename().string().rfind('.', 0) == 0) continue;
      std::error_code entry_ec;
      const bool regular = it->is_regular_file(entry_ec);
      if (!entry_ec && regular && (path.extension() == ".yaml" || path.extension() == ".yml")) files.push_back(path);
    }
    if (ec) return tl::unexpected(RuleLoadError{dir, 0, "", "cannot list directory: " + ec.message()});
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      // A pack is a few KiB; refusing a huge file keeps a mistaken mount from costing memory.
      constexpr std::uintmax_t kMaxPackBytes = std::uintmax_t{1024} * 1024;
      if (fs::file_size(f, ec) > kMaxPackBytes && !ec) {
        return tl::unexpected(RuleLoadError{f.string(), 0, "", "is larger than 1 MiB; split it or check the mount"});
      }
      std::ifstream in(f, std::ios::binary);
      if (!in) return tl::unexpected(RuleLoadError{f.string(), 0, "", "cannot read file"});
      std::ostringstream text;
      text << in.rdbuf();
      sources.push_back(RuleSource{f.string(), text.str()});
    }
  }
  return sources;
}

tl::expected<std::vector<Rule>, RuleLoadError> load_rule_dirs(const std::vector<std::string>& dirs) {
  auto sources = read_rule_dirs(dirs);
  if (!sources) return tl::unexpected(sources.error());
  return parse_rule_packs(*sources);
}

std::vector<RuleSource> with_builtin(std::vector<RuleSource> from_dirs, bool include_builtin) {
  if (!include_builtin) return from_dirs;
  std::vector<RuleSource> sources = builtin_rule_sources();
  sources.insert(sources.end(), std::make_move_iterator(from_dirs.begin()), std::make_move_iterator(from_dirs.end()));
  return sources;
}

tl::expected<std::vector<RuleSource>, RuleLoadError> rule_sources(const std::vector<std::string>& dirs,
                                                                  bool include_builtin) {
  auto from_dirs = read_rule_dirs(dirs);
  if (!from_dirs) return tl::unexpected(from_dirs.error());
  return with_builtin(std::move(*from_dirs), include_builtin);
}

tl::expected<Classifier, std::string> compile_classifier(const std::vector<RuleSource>& sources) {
  auto rules = parse_rule_packs(sources);
  if (!rules) return tl::unexpected("cannot load rules: " + rules.error().to_string());
  auto engine = RuleEngine::compile(std::move(*rules));
  if (!engine) return tl::unexpected("cannot compile rules: " + engine.error().to_string());
  return Classifier(std::move(*engine));
}

tl::expected<Classifier, std::string> make_classifier(const std::vector<std::string>& extra_dirs,
                                                      bool include_default) {
  auto sources = rule_sources(extra_dirs, include_default);
  if (!sources) return tl::unexpected("cannot load rules: " + sources.error().to_string());
  return compile_classifier(*sources);
}

}  // namespace crashdiag
