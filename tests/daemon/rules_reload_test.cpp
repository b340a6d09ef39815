// Live reload of --rules-dir (issue 5): the reloader table over what a ConfigMap volume does to a
// directory, and the daemon picking up a rule while it runs, keeping the last good set when a
// file breaks.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "daemon_harness.hpp"
#include "rule_loader.hpp"
#include "rule_reloader.hpp"

namespace crashdiag {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Kind = ReloadResult::Kind;

// A rule for a failure the shipped packs know nothing about.
constexpr const char* kLicenseRule = R"(rules:
  - id: acme-license-expired
    category: missing_config_or_secret
    title: The ACME licence key has expired
    confidence: 0.97
    match:
      log:
        - 'ACME-LICENSE-EXPIRED'
    summary: 'the ACME licence key expired'
    explanation: |
      The vendor library refuses to start without a valid licence.
    remediation: |
      Renew the licence and update the acme-license Secret.
    examples:
      - name: the library's message
        expect: match
        evidence:
          logs: 'FATAL ACME-LICENSE-EXPIRED since 2026-11-01'
)";

// An unknown category: the error names the file and the rule's line (2).
constexpr const char* kBrokenRule = R"(rules:
  - id: broken
    title: broken
    category: no_such_category
    confidence: 0.5
    match:
      log: ['x']
)";

struct TempDir {
  TempDir()
      : path(fs::temp_directory_path() /
             ("crashdiag-rules-" + std::to_string(::getpid()) + "-" + std::to_string(counter++))) {
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  void write(const std::string& name, const std::string& text) const {
    // Written beside, then renamed: readers never see half a file (as the kubelet's atomic writer).
    std::ofstream(path / (name + ".tmp")) << text;
    fs::rename(path / (name + ".tmp"), path / name);
  }
  static inline int counter = 0;
  fs::path path;
};

std::size_t builtin_rules() {
  auto c = make_classifier({});
  EXPECT_TRUE(c.has_value());
  return c ? c->engine().rules().size() : 0;
}

TEST(RuleReloader, TracksTheDirectoryAndKeepsTheLastGoodSet) {
  TempDir dir;
  const std::size_t base = builtin_rules();
  auto initial = make_classifier({dir.path.string()});
  ASSERT_TRUE(initial.has_value());
  daemon::ClassifierHolder holder(std::make_shared<const Classifier>(std::move(*initial)));
  RuleReloader reloader({dir.path.string()}, true, holder, base, {});

  struct Row {
    std::string what;
    std::function<void()> change;
    Kind kind;
    bool changed;
    std::size_t rules;
    std::string error;  // a substring of the error
    std::uint64_t generation;
  };
  const std::string file = (dir.path / "acme.yaml").string();
  const std::vector<Row> rows = {
      {"nothing changed", [] {}, Kind::kUnchanged, false, base, "", 0},
      {"a rule pack appears", [&] { dir.write("acme.yaml", kLicenseRule); }, Kind::kReloaded, true, base + 1, "", 1},
      {"polled again, same files", [] {}, Kind::kUnchanged, false, base + 1, "", 1},
      {"non-YAML and dot-files are ignored",
       [&] {
         dir.write("README.md", "not rules");
         dir.write(".hidden.yaml", "not: [valid");
       },
       Kind::kUnchanged, false, base + 1, "", 1},
      {"the pack breaks", [&] { dir.write("acme.yaml", kBrokenRule); }, Kind::kFailed, true, base + 1,
       file + ":2: rule 'broken'", 1},
      {"still broken: reported once", [] {}, Kind::kUnchanged, false, base + 1, "", 1},
      {"fixed again", [&] { dir.write("acme.yaml", kLicenseRule); }, Kind::kReloaded, true, base + 1, "", 2},
      {"a duplicate id across files", [&] { dir.write("copy.yaml", kLicenseRule); }, Kind::kFailed, true, base + 1,
       "acme-license-expired", 2},
      {"the copy removed", [&] { fs::remove(dir.path / "copy.yaml"); }, Kind::kReloaded, true, base + 1, "", 3},
      {"a file larger than 1 MiB", [&] { dir.write("huge.yaml", std::string(1024 * 1024 + 1, '#')); }, Kind::kFailed,
       true, base + 1, "larger than 1 MiB", 3},
      {"the pack removed",
       [&] {
         fs::remove(dir.path / "huge.yaml");
         fs::remove(dir.path / "acme.yaml");
       },
       Kind::kReloaded, true, base, "", 4},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.what);
    row.change();
    const ReloadResult r = reloader.poll();
    EXPECT_EQ(r.kind, row.kind);
    EXPECT_EQ(r.changed, row.changed);
    EXPECT_EQ(r.rules, row.rules);
    EXPECT_EQ(holder.get()->engine().rules().size(), row.rules) << "the holder serves the last good set";
    EXPECT_EQ(holder.generation(), row.generation);
    if (row.error.empty()) {
      EXPECT_EQ(r.error, "");
    } else {
      EXPECT_NE(r.error.find(row.error), std::string::npos) << r.error;
    }
  }
}

TEST(RuleReloader, ADirectoryThatVanishesKeepsTheRules) {
  auto dir = std::make_unique<TempDir>();
  dir->write("acme.yaml", kLicenseRule);
  auto initial = make_classifier({dir->path.string()});
  ASSERT_TRUE(initial.has_value());
  const std::size_t n = initial->engine().rules().size();
  daemon::ClassifierHolder holder(std::make_shared<const Classifier>(std::move(*initial)));
  RuleReloader reloader({dir->path.string()}, true, holder, n, *read_rule_dirs({dir->path.string()}));
  const std::string path = dir->path.string();
  dir.reset();
  const ReloadResult r = reloader.poll();
  EXPECT_EQ(r.kind, Kind::kFailed);
  EXPECT_NE(r.error.find(path + ": is not a readable directory"), std::string::npos) << r.error;
  EXPECT_EQ(holder.get()->engine().rules().size(), n);
  EXPECT_FALSE(reloader.poll().changed) << "the same error is reported once";
}

// Shutdown must not wait for the next poll: with a 10 s interval, a SIGTERM that waited would eat
// most of the pod's grace period before the lease is released.
TEST(RuleReloader, ThePollLoopEndsAsSoonAsItsTimerIsCancelled) {
  TempDir dir;
  daemon::ClassifierHolder holder(std::make_shared<const Classifier>(std::move(*make_classifier({}))));
  RuleReloader reloader({dir.path.string()}, true, holder, builtin_rules(), {});
  boost::asio::io_context ioc{1};
  boost::asio::steady_timer timer(ioc);
  std::atomic<bool> done{false};
  boost::asio::co_spawn(ioc, reload_rules_every(reloader, timer, std::chrono::hours(1), [](const ReloadResult&) {}),
                        [&](const std::exception_ptr&) { done = true; });
  std::thread loop([&] { ioc.run(); });
  // Cancelled once the loop waits on it (cancel() counts the waits it ended): a cancel before the
  // wait began would be lost, and the test would measure nothing.
  ASSERT_TRUE(daemon::harness::eventually(
      [&] { return daemon::harness::on_loop(ioc, [&] { return timer.cancel() > 0; }); }, 2'000ms));
  EXPECT_TRUE(daemon::harness::eventually([&] { return done.load(); }, 2'000ms));
  loop.join();  // returns: nothing else keeps the loop alive
}

// A ConfigMap key removed leaves a dangling symlink for a moment (the kubelet's atomic writer
// swaps ..data first): it is skipped, not an error that would fail a reload or the start.
TEST(RuleReloader, ADanglingSymlinkIsSkipped) {
  TempDir dir;
  dir.write("acme.yaml", kLicenseRule);
  fs::create_symlink(dir.path / "..data" / "gone.yaml", dir.path / "gone.yaml");
  auto sources = read_rule_dirs({dir.path.string()});
  ASSERT_TRUE(sources.has_value()) << sources.error().to_string();
  ASSERT_EQ(sources->size(), 1U);
  EXPECT_EQ(fs::path(sources->front().name).filename(), "acme.yaml");
}

// The issue's "done when": the daemon, running, diagnoses with a rule that was added to its
// directory after it started, and keeps it when the file is then broken.
TEST(RulesReloadLive, TheRunningDaemonUsesANewRuleAndSurvivesABrokenFile) {
  daemon::harness::quiet_logs();
  TempDir dir;
  auto initial = make_classifier({dir.path.string()});
  ASSERT_TRUE(initial.has_value());
  const std::size_t base = initial->engine().rules().size();
  daemon::ClassifierHolder holder(std::make_shared<const Classifier>(std::move(*initial)));
  RuleReloader reloader({dir.path.string()}, true, holder, base, {});

  daemon::harness::Cluster cluster;
  daemon::DaemonOptions options;
  options.evidence_delay = 50ms;
  std::mutex mu;
  std::vector<std::string> top;  // "pod: rule title" of each diagnosis
  std::vector<ReloadResult> reports;
  options.on_diagnosis = [&](const daemon::DiagnosisRecord& r) {
    std::lock_guard lock(mu);
    top.push_back(r.signal.pod + ": " + r.diagnosis.hypotheses.front().title);
  };
  options.random = [] { return 0.0; };
  options.idle_timeout = 1500ms;
  options.watch.min_watch_timeout_seconds = 1;
  boost::asio::io_context ioc{1};
  auto client = testing::client_for(ioc, cluster.server);
  daemon::Daemon d(ioc, *client, holder, options);
  boost::asio::steady_timer timer(ioc);
  std::atomic<bool> finished{false};
  boost::asio::co_spawn(ioc, d.run(), [&](const std::exception_ptr&) { finished = true; });
  boost::asio::co_spawn(ioc,
                        reload_rules_every(reloader, timer, 50ms,
                                           [&](const ReloadResult& r) {
                                             std::lock_guard lock(mu);
                                             reports.push_back(r);
                                           }),
                        boost::asio::detached);
  std::thread loop([&] { ioc.run(); });

  auto fail = [&](const std::string& name) {
    nlohmann::json c = {{"name", "app"}, {"image", "acme/app:1.0"}};
    // The logs first: the daemon may fetch them as soon as the pod's failure is watched.
    cluster.server.set_logs("shop", name, "app", true, "INFO booting\nFATAL ACME-LICENSE-EXPIRED since 2026-11-01\n");
    cluster.server.apply_pod(daemon::harness::failing_pod("shop", name, c, nullptr, 3, 1, "Error"));
  };
  auto diagnosis_of = [&](const std::string& pod) -> std::string {
    std::lock_guard lock(mu);
    for (const auto& t : top) {
      if (t.rfind(pod + ": ", 0) == 0) return t.substr(pod.size() + 2);
    }
    return "";
  };
  auto reported = [&](Kind kind) {
    std::lock_guard lock(mu);
    return std::any_of(reports.begin(), reports.end(), [&](const ReloadResult& r) { return r.kind == kind; });
  };

  fail("before");
  ASSERT_TRUE(daemon::harness::eventually([&] { return !diagnosis_of("before").empty(); }));
  EXPECT_NE(diagnosis_of("before"), "The ACME licence key has expired") << "no such rule yet";

  dir.write("acme.yaml", kLicenseRule);
  ASSERT_TRUE(daemon::harness::eventually([&] { return reported(Kind::kReloaded); }));
  fail("after");
  ASSERT_TRUE(daemon::harness::eventually([&] { return !diagnosis_of("after").empty(); }));
  EXPECT_EQ(diagnosis_of("after"), "The ACME licence key has expired");

  dir.write("acme.yaml", kBrokenRule);
  ASSERT_TRUE(daemon::harness::eventually([&] { return reported(Kind::kFailed); }));
  fail("broken");
  ASSERT_TRUE(daemon::harness::eventually([&] { return !diagnosis_of("broken").empty(); }));
  EXPECT_EQ(diagnosis_of("broken"), "The ACME licence key has expired") << "the last good rule set stays";

  boost::asio::post(ioc, [&] {
    timer.cancel();  // as run_daemon does on SIGTERM: the reloader ends at once
    d.stop();
  });
  EXPECT_TRUE(daemon::harness::eventually([&] { return finished.load(); }, 5'000ms)) << "run() never returned";
  ioc.stop();
  loop.join();
}

}  // namespace
}  // namespace crashdiag
