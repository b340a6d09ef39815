// The pure Alertmanager side: the alert built from an RCA (labels, annotations, startsAt/endsAt,
// bounds), the severity table against the PrometheusRule's, and the planner's decisions over time
// (new, changed, resolved, re-sent before endsAt, retried with back-off, leadership lost).
#include "crashdiag/core/alerts.hpp"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <fstream>
#include <set>
#include <sstream>

namespace crashdiag::core {
namespace {

using namespace std::chrono_literals;

constexpr WallTime kT0{1'795'000'000'000};  // 2026-11-18T...Z

// The planner takes two readings of each instant: monotonic for its schedule, wall for what
// Alertmanager is told. Here both advance together (the monotonic reading is the wall's
// milliseconds) unless a test steps one of them.
constexpr TimePoint mono(WallTime t) {
  return TimePoint{t.count()};
}

RcaTarget web(std::string signature = "Error:1") {
  return RcaTarget{"shop", WorkloadRef{"apps/v1", "Deployment", "web", "uid-web"}, "app", false, std::move(signature)};
}

ContainerDiagnosis diagnosis(const std::string& category, std::string summary = "", std::string fix = "fix it") {
  ContainerDiagnosis d;
  d.name = "app";
  d.state = "CrashLoopBackOff, last exit 1 (Error)";
  Hypothesis h;
  h.category = category;
  h.confidence = 0.9;
  h.rule_id = "rule." + category;
  h.summary = summary.empty() ? "summary of " + category : std::move(summary);
  h.remediation = std::move(fix);
  d.hypotheses.push_back(h);
  return d;
}

Occurrence occ(const std::string& pod, WallTime now, int restarts = 1, const RcaTarget& t = web()) {
  Occurrence o;
  o.target = t;
  o.pod = pod;
  o.pod_uid = "uid-" + pod;
  o.restart_count = restarts;
  o.reason = "CrashLoopBackOff";
  o.exit_code = 1;
  o.now = now;
  return o;
}

RcaState state(const std::string& name, const std::string& category, bool active = true) {
  RcaState s;
  s.target = web();
  s.name = name;
  s.active = active;
  s.diagnosis = diagnosis(category);
  s.first_seen = kT0;
  s.phase_since = kT0;
  s.history.push_back(HistoryEntry{kT0, "Identified", category, ""});
  return s;
}

bool valid_utf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : (c >> 5U) == 0x6 ? 2 : (c >> 4U) == 0xE ? 3 : (c >> 3U) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0U) != 0x80U) return false;
    }
    i += n;
  }
  return true;
}

// ---- the alert built from an RCA ---------------------------------------------------------------

struct BuildCase {
  const char* label;
  std::string category;   // "" : no hypothesis at all
  std::string caused_by;  // the RCA's cause link (status.causedBy)
  const char* severity;
  const char* incident;  // expected crashdiag_incident
};

class BuildAlertTest : public ::testing::TestWithParam<BuildCase> {};

TEST_P(BuildAlertTest, LabelsAndAnnotations) {
  const BuildCase& c = GetParam();
  RcaState s = state("web-a6056", c.category);
  if (c.category.empty()) s.diagnosis.hypotheses.clear();
  s.caused_by = c.caused_by;
  const Alert a =
      build_alert(s, alert_incident(s, [](const std::string&) { return nullptr; }), AlertOptions{}, kT0 + 10s);
  const std::string category = c.category.empty() ? "unknown" : c.category;
  std::map<std::string, std::string> expected{{"alertname", "CrashdiagRootCause"},
                                              {"namespace", "shop"},
                                              {"workload", "Deployment/web"},
                                              {"container", "app"},
                                              {"category", category},
                                              {"severity", c.severity},
                                              {"crashdiag_rca", "web-a6056"},
                                              {"crashdiag_incident", c.incident}};
  if (!c.caused_by.empty()) expected["caused_by"] = c.caused_by;
  EXPECT_EQ(a.labels, expected);
  EXPECT_EQ(a.annotations.at("rca"), "web-a6056");
  EXPECT_EQ(a.annotations.at("describe"), "kubectl describe rca -n shop web-a6056");
  if (c.category.empty()) {
    EXPECT_EQ(a.annotations.at("summary"), "unknown: CrashLoopBackOff, last exit 1 (Error)");
    EXPECT_FALSE(a.annotations.contains("fix"));
  } else {
    EXPECT_EQ(a.annotations.at("summary"), category + ": summary of " + category);
    EXPECT_EQ(a.annotations.at("fix"), "fix it");
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BuildAlertTest,
    ::testing::Values(BuildCase{"paging_category", "oom_killed", "", "critical", "web-a6056"},
                      BuildCase{"ticket_category", "entrypoint_override", "", "warning", "web-a6056"},
                      BuildCase{"no_hypothesis", "", "", "warning", "web-a6056"},
                      BuildCase{"unknown", "unknown", "", "warning", "web-a6056"},
                      // A dependent: its cause names the incident, so an inhibit rule can match both.
                      BuildCase{"caused_by_another", "db_connection_refused", "db-11111", "critical", "db-11111"}),
    [](const auto& info) { return std::string(info.param.label); });

struct TimingCase {
  const char* label;
  bool active;
  WallTime phase_since;
  std::vector<HistoryEntry> history;
  WallTime now;
  WallTime starts_at;
  WallTime ends_at;
};

class AlertTimingTest : public ::testing::TestWithParam<TimingCase> {};

TEST_P(AlertTimingTest, StartsAtAndEndsAt) {
  const TimingCase& c = GetParam();
  RcaState s = state("web-a6056", "oom_killed", c.active);
  s.phase_since = c.phase_since;
  s.history.assign(c.history.begin(), c.history.end());
  AlertOptions o;
  o.resend_interval = 60s;
  const Alert a = build_alert(s, "", o, c.now);
  EXPECT_EQ(a.starts_at, c.starts_at);
  EXPECT_EQ(a.ends_at, c.ends_at);
  EXPECT_EQ(a.resolved(c.now), !c.active);
  EXPECT_LE(a.starts_at, a.ends_at) << "Alertmanager rejects endsAt before startsAt";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, AlertTimingTest,
    ::testing::Values(
        // Firing: since the Active phase began, valid for 3 re-send intervals.
        TimingCase{"active", true, kT0, {{kT0, "Identified", "", ""}}, kT0 + 5s, kT0, kT0 + 5s + 180s},
        TimingCase{"reopened",
                   true,
                   kT0 + 600s,
                   {{kT0, "Identified", "", ""}, {kT0 + 300s, "Resolved", "", ""}, {kT0 + 600s, "Reopened", "", ""}},
                   kT0 + 601s,
                   kT0 + 600s,
                   kT0 + 601s + 180s},
        // Resolved: ends now; started when the Active phase it ended began.
        TimingCase{"resolved",
                   false,
                   kT0 + 900s,
                   {{kT0, "Identified", "", ""}, {kT0 + 600s, "Reopened", "", ""}, {kT0 + 900s, "Resolved", "", ""}},
                   kT0 + 901s,
                   kT0 + 600s,
                   kT0 + 901s},
        TimingCase{"resolved_history_pruned",
                   false,
                   kT0 + 900s,
                   {{kT0 + 900s, "Resolved", "", ""}},
                   kT0 + 901s,
                   kT0,
                   kT0 + 901s},
        // A clock that went backwards never makes startsAt later than endsAt.
        TimingCase{"clock_behind", true, kT0 + 10s, {{kT0 + 10s, "Identified", "", ""}}, kT0, kT0, kT0 + 180s}),
    [](const auto& info) { return std::string(info.param.label); });

TEST(BuildAlert, BoundsEveryTextAtCharacterBoundaries) {
  RcaState s = state("web-a6056", "oom_killed");
  // "é" is two bytes: a cut at an odd byte count must not split one.
  std::string long_text;
  for (int i = 0; i < 5000; ++i) long_text += "é";
  s.diagnosis.hypotheses[0].summary = long_text;
  s.diagnosis.hypotheses[0].remediation = long_text;
  s.target.workload.name = long_text;
  s.target.container = long_text;
  AlertOptions o;
  o.max_label_bytes = 101;
  o.max_summary_bytes = 333;
  o.max_fix_bytes = 777;
  const Alert a = build_alert(s, "", o, kT0);
  for (const auto& [k, v] : a.labels) {
    EXPECT_LE(v.size(), 101U) << k;
    EXPECT_TRUE(valid_utf8(v)) << k;
  }
  EXPECT_LE(a.annotations.at("summary").size(), 333U);
  EXPECT_GE(a.annotations.at("summary").size(), 331U);
  EXPECT_LE(a.annotations.at("fix").size(), 777U);
  EXPECT_GE(a.annotations.at("fix").size(), 775U);
  for (const auto& [k, v] : a.annotations) EXPECT_TRUE(valid_utf8(v)) << k;
  // The JSON the sink posts serialises without complaint.
  EXPECT_NO_THROW((void)to_json(a).dump());
}

TEST(BuildAlert, JsonIsAPostableAlert) {
  const RcaState s = state("web-a6056", "oom_killed");
  AlertOptions o;
  o.resend_interval = 60s;
  const nlohmann::json j = to_json(build_alert(s, "", o, kT0 + 1'500ms));
  std::set<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"labels", "annotations", "startsAt", "endsAt"}));
  EXPECT_EQ(j["startsAt"], format_micro_time(kT0));
  EXPECT_EQ(j["endsAt"], format_micro_time(kT0 + 181'500ms));
  EXPECT_EQ(j["endsAt"].get<std::string>().substr(19), ".500000Z") << "millisecond precision";
  EXPECT_EQ(j["labels"]["crashdiag_rca"], "web-a6056");
  EXPECT_TRUE(j["annotations"]["summary"].is_string());
}

TEST(AlertIncident, FollowsCauseLinksToTheRoot) {
  std::map<std::string, RcaState> rcas;
  auto add = [&](const std::string& name, const std::string& cause) {
    RcaState s = state(name, "db_connection_refused");
    s.caused_by = cause;
    rcas[name] = s;
  };
  add("db", "");
  add("api", "db");
  add("web", "api");
  add("loop-a", "loop-b");
  add("loop-b", "loop-a");
  add("orphan", "gone");
  const auto lookup = [&](const std::string& n) -> const RcaState* {
    auto it = rcas.find(n);
    return it == rcas.end() ? nullptr : &it->second;
  };
  struct Case {
    const char* rca;
    const char* incident;
  };
  for (const Case& c : {Case{"db", "db"}, Case{"api", "db"}, Case{"web", "db"}, Case{"loop-a", "loop-b"},
                        Case{"loop-b", "loop-a"}, Case{"orphan", "gone"}}) {
    EXPECT_EQ(alert_incident(rcas.at(c.rca), lookup), c.incident) << c.rca;
  }
}

// The severity label splits categories exactly as the PrometheusRule's page and ticket alerts do,
// so one Alertmanager route serves both.
TEST(AlertSeverity, MatchesThePrometheusRulePageList) {
  std::ifstream in(std::string(CRASHDIAG_SOURCE_DIR) + "/manifests/prometheus/prometheusrule.yaml");
  ASSERT_TRUE(in);
  std::stringstream text;
  text << in.rdbuf();
  const std::string yaml = text.str();
  std::string categories;  // RE2, as everywhere in crashdiag: linear-time matching
  ASSERT_TRUE(RE2::PartialMatch(yaml, R"re(category=~"([a-z_|]+)")re", &categories));
  std::set<std::string> paging;
  std::stringstream list(categories);
  for (std::string c; std::getline(list, c, '|');) paging.insert(c);
  std::set<std::string> ours;
  for (std::string_view c : paging_categories()) ours.insert(std::string(c));
  EXPECT_EQ(ours, paging);
  for (const std::string& c : paging) EXPECT_EQ(alert_severity(c), "critical") << c;
  for (const char* c : {"entrypoint_override", "missing_config_or_secret", "unknown", "not_a_category"}) {
    EXPECT_EQ(alert_severity(c), "warning") << c;
  }
}

// ---- the planner over time ---------------------------------------------------------------------

struct Fixture {
  RcaTracker tracker;
  AlertPlanner planner;
  std::string name;
  Fixture() : planner(options()) {}
  static AlertOptions options() {
    AlertOptions o;
    o.resend_interval = 60s;
    o.retry_base = 1s;
    o.retry_cap = 8s;
    return o;
  }
  std::string identify(const std::string& category, WallTime now, const RcaTarget& t = web()) {
    const ContainerDiagnosis d = diagnosis(category);
    const RcaUpdate u = tracker.record(occ("web-1", now, 1, t), &d, "me");
    planner.touch(u.name);
    name = u.name;
    return u.name;
  }
  void resolve(WallTime now) {
    for (const auto& n : tracker.resolve_idle(now, {})) planner.touch(n);
  }
};

TEST(AlertPlanner, ANewRcaIsPostedAtOnceAndReSentBeforeItsEndsAt) {
  Fixture f;
  f.identify("oom_killed", kT0);
  AlertBatch b = f.planner.next(f.tracker, mono(kT0), kT0);
  ASSERT_EQ(b.alerts.size(), 1U);
  EXPECT_TRUE(b.alerts[0].firing);
  EXPECT_EQ(b.alerts[0].alert.labels.at("category"), "oom_killed");
  EXPECT_TRUE(f.planner.next(f.tracker, mono(kT0), kT0).empty()) << "in flight: not planned twice";
  f.planner.delivered(b, mono(kT0 + 100ms));
  ASSERT_NE(f.planner.posted(f.name), nullptr);

  // Every re-send goes out one interval after the last, well before the endsAt Alertmanager
  // holds (3 intervals), and moves endsAt forward.
  WallTime ends = b.alerts[0].alert.ends_at;
  WallTime last = kT0 + 100ms;
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(f.planner.next_due(), mono(last + 60s));
    EXPECT_TRUE(f.planner.next(f.tracker, mono(last + 59s), last + 59s).empty());
    const WallTime at = last + 60s;
    b = f.planner.next(f.tracker, mono(at), at);
    ASSERT_EQ(b.alerts.size(), 1U);
    EXPECT_LT(at, ends) << "re-sent before the endsAt Alertmanager holds";
    EXPECT_EQ(b.alerts[0].alert.ends_at, at + 180s);
    EXPECT_EQ(b.alerts[0].alert.starts_at, kT0) << "same alert, same start";
    ends = b.alerts[0].alert.ends_at;
    f.planner.delivered(b, mono(at));
    last = at;
  }
}

TEST(AlertPlanner, AChangedCauseEndsTheOldLabelSetAndPostsTheNew) {
  Fixture f;
  f.identify("missing_config_or_secret", kT0);
  AlertBatch b = f.planner.next(f.tracker, mono(kT0), kT0);
  f.planner.delivered(b, mono(kT0));
  const Alert old = *f.planner.posted(f.name);

  const ContainerDiagnosis d = diagnosis("db_connection_refused");
  const RcaUpdate u = f.tracker.record(occ("web-1", kT0 + 10s, 2), &d, "me");
  ASSERT_EQ(u.change, RcaChange::kChanged);
  f.planner.touch(u.name);
  b = f.planner.next(f.tracker, mono(kT0 + 10s), kT0 + 10s);
  ASSERT_EQ(b.alerts.size(), 2U);
  EXPECT_FALSE(b.alerts[0].current);
  EXPECT_EQ(b.alerts[0].alert.labels, old.labels);
  EXPECT_EQ(b.alerts[0].alert.ends_at, kT0 + 10s) << "the old label set resolved now";
  EXPECT_TRUE(b.alerts[1].current);
  EXPECT_TRUE(b.alerts[1].firing);
  EXPECT_EQ(b.alerts[1].alert.labels.at("category"), "db_connection_refused");
  EXPECT_EQ(b.alerts[1].alert.labels.at("severity"), "critical");
  f.planner.delivered(b, mono(kT0 + 10s));
  EXPECT_EQ(f.planner.posted(f.name)->labels.at("category"), "db_connection_refused");
}

TEST(AlertPlanner, AResolvedRcaResolvesTheAlertAlertmanagerHasThenNothingMore) {
  Fixture f;
  f.identify("oom_killed", kT0);
  AlertBatch b = f.planner.next(f.tracker, mono(kT0), kT0);
  f.planner.delivered(b, mono(kT0));
  const Alert posted = *f.planner.posted(f.name);

  f.resolve(kT0 + 11min);
  b = f.planner.next(f.tracker, mono(kT0 + 11min), kT0 + 11min);
  ASSERT_EQ(b.alerts.size(), 1U);
  EXPECT_FALSE(b.alerts[0].firing);
  EXPECT_EQ(b.alerts[0].alert.labels, posted.labels);
  EXPECT_EQ(b.alerts[0].alert.starts_at, posted.starts_at);
  EXPECT_EQ(b.alerts[0].alert.ends_at, kT0 + 11min);
  EXPECT_TRUE(b.alerts[0].alert.resolved(kT0 + 11min));
  f.planner.delivered(b, mono(kT0 + 11min));
  EXPECT_EQ(f.planner.size(), 0U);
  EXPECT_EQ(f.planner.next_due(), std::nullopt) << "no re-sends of a resolved alert";

  // The failure returns: a new firing alert, started at the reopening.
  const ContainerDiagnosis d = diagnosis("oom_killed");
  const RcaUpdate u = f.tracker.record(occ("web-1", kT0 + 20min, 5), &d, "me");
  ASSERT_EQ(u.change, RcaChange::kReopened);
  f.planner.touch(u.name);
  b = f.planner.next(f.tracker, mono(kT0 + 20min), kT0 + 20min);
  ASSERT_EQ(b.alerts.size(), 1U);
  EXPECT_TRUE(b.alerts[0].firing);
  EXPECT_EQ(b.alerts[0].alert.starts_at, kT0 + 20min);
}

TEST(AlertPlanner, AnRcaForgottenWithItsDeletedWorkloadResolvesItsAlert) {
  Fixture f;
  f.identify("oom_killed", kT0);
  AlertBatch b = f.planner.next(f.tracker, mono(kT0), kT0);
  f.planner.delivered(b, mono(kT0));
  const Alert posted = *f.planner.posted(f.name);

  ASSERT_EQ(f.tracker.forget_workload("shop", "Deployment", "web", "").size(), 1U);
  f.planner.touch(f.name);
  b = f.planner.next(f.tracker, mono(kT0 + 1min), kT0 + 1min);
  ASSERT_EQ(b.alerts.size(), 1U);
  EXPECT_FALSE(b.alerts[0].firing);
  EXPECT_EQ(b.alerts[0].alert.labels, posted.labels);
  EXPECT_EQ(b.alerts[0].alert.ends_at, kT0 + 1min);
  f.planner.delivered(b, mono(kT0 + 1min));
  EXPECT_EQ(f.planner.size(), 0U);
}

TEST(AlertPlanner, ResolvedBeforeEverPostedSendsNothing) {
  Fixture f;
  f.identify("oom_killed", kT0);
  f.resolve(kT0 + 11min);
  EXPECT_TRUE(f.planner.next(f.tracker, mono(kT0 + 11min), kT0 + 11min).empty());
  EXPECT_EQ(f.planner.size(), 0U);
}

TEST(AlertPlanner, AWallClockStepNeitherHoldsBackNorFiresTheReSends) {
  Fixture f;
  f.identify("oom_killed", kT0);
  AlertBatch b = f.planner.next(f.tracker, mono(kT0), kT0);
  f.planner.delivered(b, mono(kT0));
  // The wall clock steps an hour back (NTP, a VM resumed): the re-send is still due one interval
  // after the last by the monotonic clock, and its endsAt is three intervals after the wall
  // reading Alertmanager shares, not three intervals after a time it has not reached.
  const WallTime stepped_back = kT0 + 60s - 1h;
  b = f.planner.next(f.tracker, mono(kT0 + 60s), stepped_back);
  ASSERT_EQ(b.alerts.size(), 1U) << "a step back must not hold the re-send for an hour";
  EXPECT_EQ(b.alerts[0].alert.ends_at, stepped_back + 180s);
  f.planner.delivered(b, mono(kT0 + 60s));
  // Stepped an hour forward: nothing is due before its interval has passed.
  EXPECT_TRUE(f.planner.next(f.tracker, mono(kT0 + 61s), kT0 + 61s + 1h).empty())
      << "a step forward must not fire every re-send at once";
  EXPECT_EQ(f.planner.next_due(), mono(kT0 + 120s));
}

TEST(AlertPlanner, FailuresAreRetriedWithDoublingBackoffAndTheLatestState) {
  struct Step {
    WallTime fail_at;
    WallTime expected_due;
  };
  Fixture f;
  f.identify("oom_killed", kT0);
  // retry_base 1 s doubling, capped at 8 s.
  const Step steps[] = {
      {kT0, kT0 + 1s}, {kT0 + 1s, kT0 + 3s}, {kT0 + 3s, kT0 + 7s}, {kT0 + 7s, kT0 + 15s}, {kT0 + 15s, kT0 + 23s}};
  for (const Step& s : steps) {
    AlertBatch b = f.planner.next(f.tracker, mono(s.fail_at), s.fail_at);
    ASSERT_EQ(b.alerts.size(), 1U) << s.fail_at.count();
    f.planner.failed(b, mono(s.fail_at));
    EXPECT_EQ(f.planner.next_due(), mono(s.expected_due));
    f.planner.touch(f.name);  // news during back-off does not cut it short
    EXPECT_EQ(f.planner.next_due(), mono(s.expected_due));
  }
  EXPECT_EQ(f.planner.posted(f.name), nullptr);
  // It resolves while Alertmanager is unreachable: nothing was ever accepted, nothing to resolve.
  f.resolve(kT0 + 11min);
  EXPECT_TRUE(f.planner.next(f.tracker, mono(kT0 + 11min), kT0 + 11min).empty());
}

TEST(AlertPlanner, SuccessAfterFailuresResetsTheBackoff) {
  Fixture f;
  f.identify("oom_killed", kT0);
  for (int i = 0; i < 3; ++i)
    f.planner.failed(f.planner.next(f.tracker, mono(kT0 + 30s * i), kT0 + 30s * i), mono(kT0 + 30s * i));
  AlertBatch b = f.planner.next(f.tracker, mono(kT0 + 2min), kT0 + 2min);
  f.planner.delivered(b, mono(kT0 + 2min));
  EXPECT_EQ(f.planner.next_due(), mono(kT0 + 3min));
  b = f.planner.next(f.tracker, mono(kT0 + 3min), kT0 + 3min);
  f.planner.failed(b, mono(kT0 + 3min));
  EXPECT_EQ(f.planner.next_due(), mono(kT0 + 3min + 1s)) << "the first failure after a success waits retry_base";
}

TEST(AlertPlanner, NewsWhileInFlightIsLookedAtRightAfter) {
  Fixture f;
  f.identify("oom_killed", kT0);
  AlertBatch b = f.planner.next(f.tracker, mono(kT0), kT0);
  f.planner.touch(f.name);
  EXPECT_TRUE(f.planner.next(f.tracker, mono(kT0), kT0).empty());
  f.planner.delivered(b, mono(kT0 + 1s));
  EXPECT_EQ(f.planner.next_due(), TimePoint{0});
}

TEST(AlertPlanner, LeadershipLostForgetsEverythingAndLateAnswersDoNotCount) {
  Fixture f;
  f.identify("oom_killed", kT0);
  AlertBatch b = f.planner.next(f.tracker, mono(kT0), kT0);
  f.planner.reset();
  f.planner.delivered(b, mono(kT0));
  f.planner.failed(b, mono(kT0));
  EXPECT_EQ(f.planner.size(), 0U);
  EXPECT_EQ(f.planner.next_due(), std::nullopt);
}

TEST(AlertPlanner, TakingOverSendsEveryActiveRcaAndNoResolvedOne) {
  Fixture f;
  f.identify("oom_killed", kT0, web("OOMKilled:137"));
  f.resolve(kT0 + 11min);
  f.identify("image_pull", kT0 + 12min, web("ImagePull"));
  AlertPlanner fresh(Fixture::options());
  fresh.touch_active(f.tracker);
  const AlertBatch b = fresh.next(f.tracker, mono(kT0 + 13min), kT0 + 13min);
  ASSERT_EQ(b.alerts.size(), 1U);
  EXPECT_EQ(b.alerts[0].alert.labels.at("category"), "image_pull");
}

TEST(AlertPlanner, BatchesAreBounded) {
  Fixture f;
  for (int i = 0; i < 100; ++i) f.identify("oom_killed", kT0, web("Error:" + std::to_string(i)));
  std::size_t total = 0;
  std::vector<std::size_t> sizes;
  for (AlertBatch b = f.planner.next(f.tracker, mono(kT0), kT0); !b.empty();
       b = f.planner.next(f.tracker, mono(kT0), kT0)) {
    sizes.push_back(b.alerts.size());
    total += b.alerts.size();
    f.planner.delivered(b, mono(kT0));
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{64, 36}));
  EXPECT_EQ(total, 100U);

  // A changed cause needs two alerts (the old label set resolved, the new one): never split
  // across batches, never past the bound.
  AlertOptions small = Fixture::options();
  small.max_batch = 3;
  Fixture g;
  g.planner = AlertPlanner(small);
  for (int i = 0; i < 3; ++i) g.identify("missing_config_or_secret", kT0, web("Error:" + std::to_string(i)));
  for (AlertBatch b = g.planner.next(g.tracker, mono(kT0), kT0); !b.empty();
       b = g.planner.next(g.tracker, mono(kT0), kT0)) {
    g.planner.delivered(b, mono(kT0));
  }
  for (int i = 0; i < 3; ++i) {
    const ContainerDiagnosis d = diagnosis("db_connection_refused");
    g.planner.touch(g.tracker.record(occ("web-1", kT0 + 1s, 2 + i, web("Error:" + std::to_string(i))), &d, "me").name);
  }
  sizes.clear();
  for (AlertBatch b = g.planner.next(g.tracker, mono(kT0 + 1s), kT0 + 1s); !b.empty();
       b = g.planner.next(g.tracker, mono(kT0 + 1s), kT0 + 1s)) {
    sizes.push_back(b.alerts.size());
    g.planner.delivered(b, mono(kT0 + 1s));
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{2, 2, 2}));
}

// ---- --alertmanager-url ------------------------------------------------------------------------

TEST(AlertmanagerUrl, Parses) {
  struct Case {
    const char* url;
    bool tls;
    const char* host;
    const char* port;
    const char* alerts_path;
  };
  const Case cases[] = {
      {"http://alertmanager.monitoring:9093", false, "alertmanager.monitoring", "9093", "/api/v2/alerts"},
      {"http://alertmanager.monitoring:9093/", false, "alertmanager.monitoring", "9093", "/api/v2/alerts"},
      {"https://am.example.com", true, "am.example.com", "443", "/api/v2/alerts"},
      {"http://am", false, "am", "80", "/api/v2/alerts"},
      {"http://127.0.0.1:9093/alertmanager/", false, "127.0.0.1", "9093", "/alertmanager/api/v2/alerts"},
      {"https://[::1]:9443", true, "::1", "9443", "/api/v2/alerts"},
  };
  for (const Case& c : cases) {
    const auto u = parse_alertmanager_url(c.url);
    ASSERT_TRUE(u) << c.url;
    EXPECT_EQ(u->tls, c.tls) << c.url;
    EXPECT_EQ(u->host, c.host) << c.url;
    EXPECT_EQ(u->port, c.port) << c.url;
    EXPECT_EQ(u->alerts_path(), c.alerts_path) << c.url;
  }
  EXPECT_EQ(parse_alertmanager_url("https://[::1]:9443")->display(), "https://[::1]:9443");
}

TEST(AlertmanagerUrl, RejectsWithAReason) {
  struct Case {
    const char* url;
    AlertmanagerUrlError error;
  };
  const Case cases[] = {
      {"alertmanager:9093", AlertmanagerUrlError::kScheme},
      {"ftp://am:21", AlertmanagerUrlError::kScheme},
      {"http://:9093", AlertmanagerUrlError::kNoHost},
      {"http://am:port", AlertmanagerUrlError::kBadPort},
      {"http://am:0", AlertmanagerUrlError::kBadPort},
      {"http://am:70000", AlertmanagerUrlError::kBadPort},
      {"http://am:", AlertmanagerUrlError::kBadPort},
      {"http://[::1:9093", AlertmanagerUrlError::kBadIpv6},
      {"http://am:9093/api/v2/alerts?x=1", AlertmanagerUrlError::kQueryOrFragment},
  };
  for (const Case& c : cases) {
    const auto u = parse_alertmanager_url(c.url);
    ASSERT_FALSE(u) << c.url;
    EXPECT_EQ(u.error(), c.error) << c.url;
    EXPECT_FALSE(describe(u.error()).empty());
  }
}

}  // namespace
}  // namespace crashdiag::core
