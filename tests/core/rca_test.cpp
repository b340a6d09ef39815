#include "crashdiag/core/rca.hpp"
#include "crashdiag/core/rca_event.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <set>

namespace crashdiag::core {
namespace {

using namespace std::chrono_literals;

constexpr WallTime kT0{1'795'000'000'000};  // 2026-11-18T...Z

RcaTarget web(std::string signature = "Error:1") {
  return RcaTarget{"shop", WorkloadRef{"apps/v1", "Deployment", "web", "uid-web"}, "app", false, std::move(signature)};
}

ContainerDiagnosis diagnosis(const std::string& category, double confidence = 0.9) {
  ContainerDiagnosis d;
  d.name = "app";
  d.image = "ghcr.io/acme/web:1.2";
  Hypothesis h;
  h.category = category;
  h.confidence = confidence;
  h.rule_id = "rule." + category;
  h.title = "title";
  h.summary = "summary of " + category;
  h.explanation = "because";
  h.remediation = "fix it";
  h.evidence.push_back(EvidenceItem{EvidenceSource::kLogs, "logs[3]", "boom"});
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

// ---- names -------------------------------------------------------------------------------------

bool is_dns_label(const std::string& s) {
  auto ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (s.empty() || s.size() > 63 || !ok(s.front()) || !ok(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return ok(c) || c == '-'; });
}

struct NameCase {
  const char* label;
  RcaTarget target;
  const char* expected_prefix;
};

class RcaNameTest : public ::testing::TestWithParam<NameCase> {};

TEST_P(RcaNameTest, DeterministicDnsLabel) {
  const auto& c = GetParam();
  const std::string name = rca_name(c.target);
  EXPECT_EQ(name, rca_name(c.target)) << "not deterministic";
  EXPECT_LE(name.size(), 63U);
  EXPECT_TRUE(is_dns_label(name)) << name;
  EXPECT_EQ(name.rfind(c.expected_prefix, 0), 0U) << name;
  EXPECT_TRUE(name.size() <= 6 || name[name.size() - 6] == '-') << name << ": no 5-digit suffix";
}

INSTANTIATE_TEST_SUITE_P(
    Names, RcaNameTest,
    // The workload's name, a dash and five hex digits: what people type and tab-complete.
    ::testing::Values(NameCase{"deployment", web(), "web-"}, NameCase{"image_pull", web("ImagePull"), "web-"},
                      NameCase{"oom", web("OOMKilled:137"), "web-"},
                      NameCase{"long_name",
                               RcaTarget{"ns", WorkloadRef{"apps/v1", "StatefulSet", std::string(200, 'x') + ".y", ""},
                                         "c", false, "Error:1"},
                               "xxxx"},
                      NameCase{"odd_chars",
                               RcaTarget{"ns", WorkloadRef{"v1", "Pod", "My_Pod..1", ""}, "C", true, "StartError:128"},
                               "my-pod-1-"}),
    [](const auto& info) { return std::string(info.param.label); });

TEST(RcaName, DiffersByEveryPartOfTheIdentity) {
  RcaTarget base = web();
  std::set<std::string> names{rca_name(base)};
  RcaTarget t = base;
  t.namespace_ = "other";
  names.insert(rca_name(t));
  t = base;
  t.container = "sidecar";
  names.insert(rca_name(t));
  t = base;
  t.signature = "Error:2";
  names.insert(rca_name(t));
  t = base;
  t.init = true;
  names.insert(rca_name(t));
  t = base;
  t.workload.kind = "StatefulSet";
  names.insert(rca_name(t));
  EXPECT_EQ(names.size(), 6U);
}

TEST(RcaTime, FormatsAndParsesRfc3339) {
  EXPECT_EQ(format_time(WallTime{0}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_time(WallTime{1'795'317'895'999}), "2026-11-22T03:24:55Z");  // truncated, not rounded
  EXPECT_EQ(parse_time("2026-11-22T03:24:55Z"), WallTime{1'795'317'895'000});
  EXPECT_EQ(parse_time("2026-11-22T03:24:13.123456Z"), WallTime{1'795'317'853'123});  // MicroTime, to the ms
  EXPECT_EQ(parse_time("2026-11-22T04:24:55+01:00"), WallTime{1'795'317'895'000});
  EXPECT_EQ(parse_time("2026-13-22T03:24:55Z"), std::nullopt);
  EXPECT_EQ(parse_time("yesterday"), std::nullopt);
}

TEST(Duration, ParsesGoDurations) {
  struct Case {
    const char* text;
    std::optional<Duration> expected;
  };
  for (const auto& c : {Case{"10m", Duration{600'000}}, Case{"90s", Duration{90'000}},
                        Case{"1h30m", Duration{5'400'000}}, Case{"500ms", Duration{500}}, Case{"1.5s", Duration{1'500}},
                        Case{"0", Duration{0}}, Case{"", std::nullopt}, Case{"10", std::nullopt},
                        Case{"-5m", std::nullopt}, Case{"5 minutes", std::nullopt}, Case{"m", std::nullopt}}) {
    EXPECT_EQ(parse_duration(c.text), c.expected) << c.text;
  }
}

// ---- lifecycle ----------------------------------------------------------------------------------

TEST(RcaTracker, ReplicasRollUpIntoOneRca) {
  RcaTracker t;
  auto d = diagnosis("entrypoint_override");
  EXPECT_TRUE(t.needs_diagnosis(web(), kT0));
  auto u1 = t.record(occ("web-1", kT0), &d, "me");
  EXPECT_EQ(u1.change, RcaChange::kIdentified);
  EXPECT_FALSE(t.needs_diagnosis(web(), kT0 + 1s));
  auto u2 = t.record(occ("web-2", kT0 + 1s), nullptr, "me");
  auto u3 = t.record(occ("web-3", kT0 + 2s), nullptr, "me");
  EXPECT_EQ(u2.change, RcaChange::kRepeated);
  EXPECT_EQ(u1.name, u3.name);
  ASSERT_EQ(t.size(), 1U);
  const RcaState& s = *t.find(u1.name);
  EXPECT_EQ(s.occurrences, 3U);
  ASSERT_EQ(s.pods.size(), 3U);
  EXPECT_EQ(s.pods.front().name, "web-3");  // newest first
  // Each pod gets its own Event, created once.
  for (const auto* u : {&u1, &u2, &u3}) {
    ASSERT_TRUE(u->pod && u->pod->event);
    EXPECT_TRUE(u->pod->event->create());
    EXPECT_EQ(u->pod->event->reason, "RootCauseIdentified");
    EXPECT_EQ(u->pod->rca, u1.name);
    EXPECT_EQ(u->pod->root_cause, "entrypoint_override: summary of entrypoint_override");
  }
}

TEST(RcaTracker, RepeatsOnOnePodAggregateIntoOneEvent) {
  RcaTracker t;
  auto d = diagnosis("oom_killed");
  auto u1 = t.record(occ("web-1", kT0, 1), &d, "me");
  auto u2 = t.record(occ("web-1", kT0 + 30s, 2), nullptr, "me");
  auto u3 = t.record(occ("web-1", kT0 + 60s, 3), nullptr, "me");
  ASSERT_TRUE(u3.pod && u3.pod->event);
  EXPECT_EQ(u1.pod->event->name, u3.pod->event->name);
  EXPECT_FALSE(u3.pod->event->create());
  EXPECT_EQ(u3.pod->event->count, 3U);
  EXPECT_EQ(u3.pod->event->object["count"], 3);
  EXPECT_EQ(u3.pod->event->object["firstTimestamp"], format_time(kT0));
  EXPECT_EQ(u3.pod->event->object["lastTimestamp"], format_time(kT0 + 60s));
  EXPECT_EQ(t.find(u1.name)->restart_count, 3);
}

TEST(RcaTracker, ResolvesAfterQuietPeriodAndReopens) {
  RcaOptions o;
  o.resolve_after = 10min;
  RcaTracker t(o);
  auto d = diagnosis("oom_killed");
  const std::string name = t.record(occ("web-1", kT0), &d, "me").name;
  EXPECT_TRUE(t.resolve_idle(kT0 + 9min, nullptr).empty());
  EXPECT_TRUE(t.resolve_idle(kT0 + 11min, [](const RcaState&) { return true; }).empty()) << "pod still failing";
  auto resolved = t.resolve_idle(kT0 + 11min, [](const RcaState&) { return false; });
  ASSERT_EQ(resolved, std::vector<std::string>{name});
  EXPECT_FALSE(t.find(name)->active);
  EXPECT_EQ(t.status_object(*t.find(name))["status"]["phase"], "Resolved");
  EXPECT_EQ(t.status_object(*t.find(name))["status"]["conditions"][0]["status"], "True");
  EXPECT_TRUE(t.needs_diagnosis(web(), kT0 + 12min)) << "a returning failure is diagnosed again";
  auto u = t.record(occ("web-9", kT0 + 12min), &d, "me");
  EXPECT_EQ(u.change, RcaChange::kReopened);
  const RcaState& s = *t.find(name);
  EXPECT_TRUE(s.active);
  EXPECT_EQ(s.occurrences, 2U);
  ASSERT_EQ(s.history.size(), 3U);
  EXPECT_EQ(s.history[1].change, "Resolved");
  EXPECT_EQ(s.history[2].change, "Reopened");
  EXPECT_EQ(t.status_object(s)["status"]["conditions"][0]["lastTransitionTime"], format_time(kT0 + 12min));
}

TEST(RcaTracker, ADifferentCauseUpdatesTheRcaAndRecordsTheChange) {
  RcaOptions o;
  o.rediagnose_after = 5min;
  RcaTracker t(o);
  auto first = diagnosis("config_error");
  auto second = diagnosis("missing_secret");
  const std::string name = t.record(occ("web-1", kT0), &first, "me").name;
  EXPECT_FALSE(t.needs_diagnosis(web(), kT0 + 4min));
  EXPECT_TRUE(t.needs_diagnosis(web(), kT0 + 5min));
  auto u = t.record(occ("web-1", kT0 + 5min, 2), &second, "me");
  EXPECT_EQ(u.change, RcaChange::kChanged);
  ASSERT_TRUE(u.pod && u.pod->event);
  EXPECT_EQ(u.pod->event->reason, "RootCauseChanged");
  EXPECT_TRUE(u.pod->event->create());
  const RcaState& s = *t.find(name);
  EXPECT_EQ(s.top()->category, "missing_secret");
  EXPECT_EQ(s.history.back().change, "Changed");
  EXPECT_EQ(s.history.back().category, "missing_secret");
  // The same cause found again is not a change.
  EXPECT_EQ(t.record(occ("web-1", kT0 + 11min, 3), &second, "me").change, RcaChange::kRepeated);
}

// Issue 12: a later diagnosis never replaces a cause with `unknown` (the log rotated away or was
// unavailable, the Events expired, the pod runs again); it adds what it saw. Rows: what the RCA
// said, what the new look says, what the RCA must say after.
struct Relook {
  const char* name;
  const char* before;
  double before_confidence;
  const char* after;
  const char* kept;
  bool unknown_appended;
};

void PrintTo(const Relook& r, std::ostream* os) {
  *os << r.name;
}

class RcaRelook : public ::testing::TestWithParam<Relook> {};

TEST_P(RcaRelook, ACauseIsNeverReplacedByUnknown) {
  const Relook& row = GetParam();
  RcaOptions o;
  o.rediagnose_after = 5min;
  RcaTracker t(o);
  auto first = diagnosis(row.before, row.before_confidence);
  auto second = diagnosis(row.after, row.after == std::string("unknown") ? 0.0 : 0.9);
  second.evidence_notes = {"logs could not be fetched: HTTP 400: unable to retrieve container logs"};
  const std::string name = t.record(occ("web-1", kT0), &first, "me").name;
  t.record(occ("web-1", kT0 + 5min, 2), &second, "me");
  const RcaState& s = *t.find(name);
  EXPECT_EQ(s.top()->category, row.kept);
  EXPECT_EQ(s.history.back().category, row.kept);
  const bool appended = s.diagnosis.hypotheses.size() == 2 && s.diagnosis.hypotheses.back().category == "unknown";
  EXPECT_EQ(appended, row.unknown_appended);
  // What the new look could not read is said either way.
  ASSERT_FALSE(s.diagnosis.evidence_notes.empty());
  EXPECT_NE(s.diagnosis.evidence_notes.back().find("logs could not be fetched"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Table, RcaRelook,
    ::testing::Values(Relook{"confident_cause_then_unknown", "oom_killed", 0.97, "unknown", "oom_killed", true},
                      Relook{"weak_cause_then_unknown", "db_connection_refused", 0.45, "unknown",
                             "db_connection_refused", true},
                      Relook{"unknown_then_unknown", "unknown", 0.0, "unknown", "unknown", false},
                      Relook{"unknown_then_a_cause", "unknown", 0.0, "oom_killed", "oom_killed", false},
                      Relook{"a_cause_then_another", "config_parse_error", 0.9, "oom_killed", "oom_killed", false}),
    [](const ::testing::TestParamInfo<Relook>& info) { return std::string(info.param.name); });

TEST(RcaTracker, SeedContinuesCountsWithoutDoubleCounting) {
  RcaTracker writer;
  auto d = diagnosis("oom_killed");
  const std::string name = writer.record(occ("web-1", kT0, 4), &d, "a").name;
  writer.record(occ("web-2", kT0 + 10s, 2), nullptr, "a");
  nlohmann::json object = writer.apply_object(*writer.find(name));
  object["status"] = writer.status_object(*writer.find(name))["status"];

  RcaTracker next;
  next.seed(object);
  const RcaState* s = next.find(name);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->occurrences, 2U);
  EXPECT_EQ(s->first_seen, kT0);
  EXPECT_EQ(s->top()->category, "oom_killed");
  EXPECT_FALSE(next.needs_diagnosis(web(), kT0 + 20s));
  // The first list shows web-1 still failing at the same restart: already counted.
  Occurrence again = occ("web-1", kT0 + 20s, 4);
  again.first_sight = true;
  EXPECT_EQ(next.record(again, nullptr, "b").change, RcaChange::kUnchanged);
  EXPECT_EQ(next.find(name)->occurrences, 2U);
  // A new restart counts.
  EXPECT_EQ(next.record(occ("web-1", kT0 + 40s, 5), nullptr, "b").change, RcaChange::kRepeated);
  EXPECT_EQ(next.find(name)->occurrences, 3U);
}

TEST(RcaTracker, SeedIgnoresForeignOrMalformedObjects) {
  RcaTracker t;
  t.seed(nlohmann::json::parse(R"({"metadata":{"name":"x","namespace":"n"},"spec":{}})"));
  t.seed(nlohmann::json::parse(R"([1,2])"));
  t.seed(nlohmann::json::parse(
      R"({"metadata":{"name":"hand-made","namespace":"shop"},"spec":{"signature":"Error:1","target":{"apiVersion":"apps/v1","kind":"Deployment","name":"web","container":"app"}}})"));
  EXPECT_EQ(t.size(), 0U);
}

TEST(RcaTracker, ObjectsAreBoundedAndRedactedContentKept) {
  RcaTracker t;
  ContainerDiagnosis d = diagnosis("config_error");
  d.hypotheses.front().evidence.clear();
  for (int i = 0; i < 20; ++i) {
    d.hypotheses.front().evidence.push_back(
        EvidenceItem{EvidenceSource::kLogs, "logs[" + std::to_string(i) + "]", std::string(100'000, 'x') + "é"});
  }
  d.hypotheses.front().explanation = std::string(50'000, 'y');
  for (int i = 0; i < 9; ++i) d.hypotheses.push_back(diagnosis("unknown", 0.1).hypotheses.front());
  const std::string name = t.record(occ("web-1", kT0), &d, "me").name;
  for (int i = 0; i < 100; ++i) t.record(occ("web-" + std::to_string(i), kT0 + std::chrono::seconds(i)), nullptr, "me");
  const RcaState& s = *t.find(name);
  const nlohmann::json status = t.status_object(s)["status"];
  EXPECT_EQ(status["hypotheses"].size(), 5U);
  EXPECT_EQ(status["hypotheses"][0]["evidence"].size(), 8U);
  EXPECT_LE(status["hypotheses"][0]["evidence"][0]["excerpt"].get<std::string>().size(), 2048U);
  EXPECT_LE(status["hypotheses"][0]["explanation"].get<std::string>().size(), 4096U);
  EXPECT_EQ(status["pods"].size(), 5U);
  EXPECT_LE(s.marks.size(), 64U);
  EXPECT_LT(status.dump().size(), 128U * 1024U) << "far below the 1.5 MiB object limit";
}

TEST(RcaTracker, ApplyObjectOwnsTheRcaThroughTheWorkload) {
  RcaTracker t;
  auto d = diagnosis("oom_killed");
  const std::string name = t.record(occ("web-1", kT0), &d, "me").name;
  const nlohmann::json obj = t.apply_object(*t.find(name));
  EXPECT_EQ(obj["apiVersion"], "crashdiag.io/v1alpha1");
  EXPECT_EQ(obj["kind"], "RootCauseAnalysis");
  EXPECT_EQ(obj["metadata"]["ownerReferences"][0]["uid"], "uid-web");
  EXPECT_EQ(obj["metadata"]["ownerReferences"][0]["kind"], "Deployment");
  EXPECT_EQ(obj["spec"]["target"]["container"], "app");
  EXPECT_EQ(obj["spec"]["signature"], "Error:1");
  EXPECT_FALSE(obj.contains("status")) << "status goes through the status subresource";
  // No uid, no ownerReference (an owner reference without uid is invalid).
  RcaTarget bare = web();
  bare.workload.name = "unowned";
  bare.workload.uid.clear();
  const std::string n2 = t.record(occ("p", kT0, 1, bare), &d, "me").name;
  EXPECT_FALSE(t.apply_object(*t.find(n2))["metadata"].contains("ownerReferences"));
}

TEST(RcaTracker, EventNoteIsBoundedAndSaysHowToReadTheRca) {
  RcaTracker t;
  ContainerDiagnosis d = diagnosis("config_error");
  d.hypotheses.front().summary = std::string(5000, 's');
  const std::string name = t.record(occ("web-1", kT0), &d, "me").name;
  const std::string note = event_note(*t.find(name));
  EXPECT_LE(note.size(), kEventNoteLimit);
  EXPECT_NE(note.find("kubectl get rca -n shop " + name), std::string::npos) << note;
}

TEST(RcaTracker, ActiveCountsFollowPhase) {
  RcaOptions o;
  o.resolve_after = 1min;
  RcaTracker t(o);
  auto d = diagnosis("oom_killed");
  t.record(occ("a", kT0), &d, "me");
  t.record(occ("b", kT0, 1, web("Error:2")), &d, "me");
  EXPECT_EQ((t.active_counts()[{"shop", "oom_killed", false}]), 2);
  t.resolve_idle(kT0 + 2min, nullptr);
  EXPECT_TRUE(t.active_counts().empty());
}

// ---- issue 14 item 6: names at 253 characters, the size limit, a namespace going away --------

bool is_label_value(const std::string& v) {
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (v.empty() || v.size() > 63 || !alnum(v.front()) || !alnum(v.back())) return false;
  return std::all_of(v.begin(), v.end(), [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

bool is_dns_subdomain(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t start = 0;
  while (start <= s.size()) {
    const auto dot = std::min(s.find('.', start), s.size());
    const std::string label = s.substr(start, dot - start);
    auto ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (label.empty() || !ok(label.front()) || !ok(label.back())) return false;
    if (!std::all_of(label.begin(), label.end(), [&](char c) { return ok(c) || c == '-'; })) return false;
    start = dot + 1;
  }
  return true;
}

struct LongName {
  const char* label;
  std::string workload;
  std::string pod;
};

void PrintTo(const LongName& c, std::ostream* os) {
  *os << c.label;
}

class RcaLongNames : public ::testing::TestWithParam<LongName> {};

// Workload and pod names may be DNS subdomains of 253 characters; label values stop at 63 and
// Event names at 253 (tests/data/k8s-real/23-*-422 are the real server's refusals).
TEST_P(RcaLongNames, NameLabelsAndEventNameStayValid) {
  const LongName& c = GetParam();
  RcaTracker t;
  RcaTarget target = web();
  target.workload.name = c.workload;
  auto d = diagnosis("oom_killed");
  Occurrence o = occ(c.pod, kT0, 1, target);
  const RcaUpdate u = t.record(o, &d, "me");
  EXPECT_TRUE(is_dns_label(u.name)) << u.name;
  const nlohmann::json meta = t.apply_object(*t.find(u.name))["metadata"];
  for (const auto& [k, v] : meta["labels"].items()) EXPECT_TRUE(is_label_value(v)) << k << "=" << v;
  const std::string workload_label = meta["labels"]["crashdiag.io/workload"];
  if (c.workload.size() <= 63) {
    EXPECT_EQ(workload_label, c.workload);
  } else {
    EXPECT_GE(workload_label.size(), 62U);
    EXPECT_EQ(workload_label.substr(0, 40), c.workload.substr(0, 40));
    RcaTarget other = target;
    other.workload.name.back() = other.workload.name.back() == 'z' ? 'y' : 'z';
    const std::string other_name = t.record(occ("q", kT0, 1, other), &d, "me").name;
    EXPECT_NE(t.apply_object(*t.find(other_name))["metadata"]["labels"]["crashdiag.io/workload"], workload_label)
        << "names differing only at the end get different labels";
  }
  ASSERT_TRUE(u.pod && u.pod->event);
  EXPECT_TRUE(is_dns_subdomain(u.pod->event->name)) << u.pod->event->name;
}

std::string long_name(std::size_t n, char at_cut) {
  std::string s(n, 'a');
  s[235] = at_cut;  // the last character the Event name keeps of a 253-character pod name
  s[51] = at_cut;   // and the last one the workload label keeps
  return s;
}

INSTANTIATE_TEST_SUITE_P(Names, RcaLongNames,
                         ::testing::Values(LongName{"short", "web", "web-1"},
                                           LongName{"at_63", std::string(63, 'w'), std::string(63, 'p')},
                                           LongName{"at_253", std::string(253, 'w'), std::string(253, 'p')},
                                           LongName{"dash_at_the_cut", long_name(253, '-'), long_name(253, '-')},
                                           LongName{"dot_at_the_cut", long_name(253, '.'), long_name(253, '.')}),
                         [](const auto& info) { return std::string(info.param.label); });

// Every evidence slot full of control characters (6 bytes each in JSON): the status is cut to the
// budget and says what was cut.
TEST(RcaTracker, TheStatusIsCutToItsByteBudgetAndSaysSo) {
  for (const std::size_t budget : {std::size_t{512} * 1024, std::size_t{64} * 1024, std::size_t{16} * 1024}) {
    RcaOptions o;
    o.max_status_bytes = budget;
    RcaTracker t(o);
    ContainerDiagnosis d = diagnosis("config_error");
    d.hypotheses.clear();
    for (int h = 0; h < 5; ++h) {
      Hypothesis hyp = diagnosis("config_error").hypotheses.front();
      hyp.evidence.clear();
      hyp.explanation = std::string(4096, '\x01');
      hyp.remediation = std::string(4096, '\x02');
      for (int e = 0; e < 8; ++e) {
        hyp.evidence.push_back(EvidenceItem{EvidenceSource::kLogs, "logs[" + std::to_string(e) + "]",
                                            std::string(2048, static_cast<char>(3 + e))});
      }
      d.hypotheses.push_back(hyp);
    }
    const std::string name = t.record(occ("web-1", kT0), &d, "me").name;
    const nlohmann::json obj = t.status_object(*t.find(name));
    const std::string text = obj.dump();
    EXPECT_LE(text.size(), budget) << budget;
    const auto& notes = obj["status"]["evidenceNotes"];
    ASSERT_FALSE(notes.empty()) << budget;
    const std::string note = notes.back();
    EXPECT_EQ(note.rfind("evidence truncated to fit the RCA size limit (" + std::to_string(budget) + " bytes)", 0), 0U)
        << note;
    EXPECT_LE(note.size(), 512U);
    EXPECT_GE(obj["status"]["hypotheses"].size(), 1U) << "the top hypothesis always stays";
    EXPECT_GE(obj["status"]["hypotheses"][0]["evidence"].size(), 1U);
  }
}

TEST(RcaTracker, ASmallStatusIsNotTouched) {
  RcaTracker t;
  auto d = diagnosis("oom_killed");
  const std::string name = t.record(occ("web-1", kT0), &d, "me").name;
  EXPECT_FALSE(t.status_object(*t.find(name))["status"].contains("evidenceNotes"));
}

TEST(RcaTracker, ForgettingANamespaceForgetsOnlyItsRcas) {
  RcaTracker t;
  auto d = diagnosis("oom_killed");
  RcaTarget fx = web();
  fx.namespace_ = "fx";
  const std::string kept = t.record(occ("web-1", kT0), &d, "me").name;
  const std::string gone = t.record(occ("batch", kT0, 2, fx), &d, "me").name;
  EXPECT_TRUE(t.counted("uid-batch", 2));
  EXPECT_EQ(t.forget_namespace("fx"), std::vector<std::string>{gone});
  EXPECT_EQ(t.find(gone), nullptr);
  EXPECT_NE(t.find(kept), nullptr);
  EXPECT_FALSE(t.counted("uid-batch", 2)) << "its pods are forgotten too";
  EXPECT_TRUE(t.forget_namespace("fx").empty());
}

// A deleted workload's RCAs are deleted by the garbage collector; the tracker forgets them, and
// only them: another workload, another kind of the same name, or a new incarnation (another uid)
// keeps its RCA.
TEST(RcaTracker, ForgettingAWorkloadForgetsOnlyItsRcas) {
  struct Case {
    const char* label;
    const char* ns;
    const char* kind;
    const char* name;
    const char* uid;
    bool forgotten;
  };
  for (const auto& c : {Case{"same workload and uid", "shop", "Deployment", "web", "dep-web", true},
                        Case{"uid not known to the watch", "shop", "Deployment", "web", "", true},
                        Case{"a new Deployment under the same name", "shop", "Deployment", "web", "dep-web-2", false},
                        Case{"another kind, same name", "shop", "StatefulSet", "web", "dep-web", false},
                        Case{"another namespace", "fx", "Deployment", "web", "dep-web", false},
                        Case{"another workload", "shop", "Deployment", "api", "dep-api", false}}) {
    RcaTracker t;
    auto d = diagnosis("oom_killed");
    RcaTarget target = web();
    target.workload.uid = "dep-web";
    const std::string name = t.record(occ("web-1", kT0, 2, target), &d, "me").name;
    const auto gone = t.forget_workload(c.ns, c.kind, c.name, c.uid);
    EXPECT_EQ(gone.size(), c.forgotten ? 1U : 0U) << c.label;
    EXPECT_EQ(t.find(name) == nullptr, c.forgotten) << c.label;
    EXPECT_EQ(t.counted("uid-web-1", 2), !c.forgotten) << c.label << ": its pods go with it";
  }
}

}  // namespace
}  // namespace crashdiag::core
