#include "rule_reloader.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>

#include "no_throw.hpp"
#include "rule_loader.hpp"

namespace crashdiag {

namespace {

std::string fingerprint(const std::vector<RuleSource>& sources) {
  std::string out;
  for (const auto& s : sources) {
    // Length-prefixed, so that moving text between files is a change too.
    out += s.name;
    out += '\0';
    out += std::to_string(s.text.size());
    out += '\0';
    out += s.text;
  }
  return out;
}

}  // namespace

RuleReloader::RuleReloader(std::vector<std::string> dirs, bool include_builtin, daemon::ClassifierHolder& holder,
                           std::size_t loaded_rules, const std::vector<RuleSource>& loaded_from)
    : dirs_(std::move(dirs)),
      include_builtin_(include_builtin),
      holder_(holder),
      last_seen_(fingerprint(loaded_from)),
      rules_(loaded_rules) {}

ReloadResult RuleReloader::poll() noexcept {
  ReloadResult result;
  result.rules = rules_;
  try {
    auto from_dirs = read_rule_dirs(dirs_);
    if (!from_dirs) {
      // A directory that vanished or cannot be listed: report each distinct error once.
      const std::string seen = "error:" + from_dirs.error().to_string();
      result.changed = seen != last_seen_;
      last_seen_ = seen;
      result.kind = ReloadResult::Kind::kFailed;
      result.error = from_dirs.error().to_string();
      return result;
    }
    std::string seen = fingerprint(*from_dirs);
    if (seen == last_seen_) return result;
    last_seen_ = std::move(seen);
    result.changed = true;
    auto classifier = compile_classifier(with_builtin(std::move(*from_dirs), include_builtin_));
    if (!classifier) {
      result.kind = ReloadResult::Kind::kFailed;
      result.error = classifier.error();
      return result;
    }
    rules_ = classifier->engine().rules().size();
    holder_.set(std::make_shared<const Classifier>(std::move(*classifier)));
    result.kind = ReloadResult::Kind::kReloaded;
    result.rules = rules_;
  } catch (const std::exception& e) {  // bad_alloc on an absurd file: keep the last good rules
    result.kind = ReloadResult::Kind::kFailed;
    result.error = e.what();
  }
  return result;
}

boost::asio::awaitable<void> reload_rules_every(RuleReloader& reloader, boost::asio::steady_timer& timer,
                                                std::chrono::milliseconds interval,
                                                std::function<void(const ReloadResult&)> report) {
  for (;;) {
    timer.expires_after(interval);
    auto [ec] = co_await timer.async_wait(kNoThrow);
    if (ec) break;  // cancelled: shutting down
    const ReloadResult r = reloader.poll();
    if (r.kind == ReloadResult::Kind::kReloaded || (r.kind == ReloadResult::Kind::kFailed && r.changed)) report(r);
  }
}

}  // namespace crashdiag
