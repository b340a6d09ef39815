// Live reload of --rules-dir: custom rules come from a ConfigMap mounted as a directory, and the
// kubelet updates such a volume in place by writing a new timestamped directory and atomically
// re-pointing the `..data` symlink (pkg/volume/util/atomic_writer.go). So the reloader re-reads the
// files' *contents* on every poll rather than relying on mtimes or inotify on the key symlinks,
// which stay put. A poll that sees new content compiles the whole set (built-in packs plus the
// directories); if that fails, the error names the file and line and the last good classifier
// stays in effect.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "classifier_holder.hpp"
#include "crashdiag/classifiers/rule_pack.hpp"

namespace crashdiag {

struct ReloadResult {
  enum class Kind { kUnchanged, kReloaded, kFailed };
  Kind kind = Kind::kUnchanged;
  std::string error;      // kFailed: what to fix, with the file and line
  std::size_t rules = 0;  // rules in effect after this poll
  bool changed = false;   // the files differ from the previous poll (kFailed reports each change once)
};

class RuleReloader {
 public:
  // `loaded_rules`: the size of the rule set `holder` starts with; `loaded_from`: the directories'
  // files it was compiled from (read_rule_dirs), so an edit made meanwhile is not missed.
  RuleReloader(std::vector<std::string> dirs, bool include_builtin, daemon::ClassifierHolder& holder,
               std::size_t loaded_rules, const std::vector<RuleSource>& loaded_from);

  // Reads the directories; when their content differs from the last poll, compiles and swaps.
  // Never throws.
  ReloadResult poll() noexcept;

  [[nodiscard]] std::size_t rules() const { return rules_; }

 private:
  std::vector<std::string> dirs_;
  bool include_builtin_;
  daemon::ClassifierHolder& holder_;
  std::string last_seen_;  // the directories' file names and contents at the last poll
  std::size_t rules_;
};

// Polls every `interval` on `timer` until the timer is cancelled (shutdown must not wait for the
// next poll), handing each kReloaded result, and each failure once per change of the files, to
// `report`.
boost::asio::awaitable<void> reload_rules_every(RuleReloader& reloader, boost::asio::steady_timer& timer,
                                                std::chrono::milliseconds interval,
                                                std::function<void(const ReloadResult&)> report);

}  // namespace crashdiag
