// The RCA codec on its own (rca_codec.hpp): what crashdiag applies is what a replica that
// starts or takes over reads back, and what is not one of crashdiag's objects is not read.
#include "crashdiag/core/rca_codec.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace crashdiag::core {
namespace {

constexpr WallTime kT0{1'795'000'000'000};

RcaState state(const std::string& kind, const std::string& workload, bool init, bool active, bool caused) {
  RcaState s;
  s.target = RcaTarget{"shop", WorkloadRef{"apps/v1", kind, workload, "uid-" + workload}, "app", init, "Error:1"};
  s.name = rca_name(s.target);
  s.active = active;
  s.reason = "CrashLoopBackOff";
  s.exit_code = 1;
  s.occurrences = 7;
  s.restart_count = 6;
  s.first_seen = kT0;
  s.last_seen = kT0 + Duration{60'000};
  s.diagnosis.name = "app";
  s.diagnosis.init = init;
  s.diagnosis.image = "ghcr.io/acme/web:1.2";
  Hypothesis h;
  h.category = "config_parse_error";
  h.confidence = 0.84;
  h.rule_id = "config.config-parse-error";
  h.title = "title";
  h.summary = "config.yaml does not parse";
  h.evidence.push_back(EvidenceItem{EvidenceSource::kLogs, "logs[3]", "yaml: line 3: mapping values"});
  s.diagnosis.hypotheses.push_back(h);
  s.diagnosis.evidence_notes.emplace_back("logs of the previous container");
  s.pods.push_back(PodSeen{workload + "-1", "uid-pod-1", 6, s.last_seen});
  s.history.push_back(HistoryEntry{kT0, "Identified", "config_parse_error", h.summary});
  if (caused) {
    s.caused_by = "postgres-1a2b3";
    s.cause = CauseLink{"db", "StatefulSet/postgres", "volume_permission", "Service postgres"};
  }
  return s;
}

nlohmann::json object_of(const RcaState& s) {
  nlohmann::json o = encode_rca_apply(s);
  o["status"] = encode_rca_status(s, std::size_t{512} * 1024)["status"];
  return o;
}

struct RoundTrip {
  const char* label;
  RcaState state;
};

std::ostream& operator<<(std::ostream& os, const RoundTrip& c) {
  return os << c.label;
}

class RcaCodecRoundTrip : public ::testing::TestWithParam<RoundTrip> {};

TEST_P(RcaCodecRoundTrip, WhatIsAppliedIsReadBack) {
  const RcaState& in = GetParam().state;
  const std::optional<RcaState> out = decode_rca(object_of(in));
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->name, in.name);
  EXPECT_TRUE(out->seeded);
  EXPECT_EQ(out->target.workload, in.target.workload);
  EXPECT_EQ(out->target.container, in.target.container);
  EXPECT_EQ(out->target.init, in.target.init);
  EXPECT_EQ(out->target.signature, in.target.signature);
  EXPECT_EQ(out->active, in.active);
  EXPECT_EQ(out->reason, in.reason);
  EXPECT_EQ(out->exit_code, in.exit_code);
  EXPECT_EQ(out->occurrences, in.occurrences);
  EXPECT_EQ(out->restart_count, in.restart_count);
  EXPECT_EQ(out->first_seen, in.first_seen);
  EXPECT_EQ(out->last_seen, in.last_seen);
  ASSERT_EQ(out->diagnosis.hypotheses.size(), 1U);
  EXPECT_EQ(out->diagnosis.hypotheses[0].category, "config_parse_error");
  EXPECT_DOUBLE_EQ(out->diagnosis.hypotheses[0].confidence, 0.84);
  ASSERT_EQ(out->diagnosis.hypotheses[0].evidence.size(), 1U);
  EXPECT_EQ(out->diagnosis.hypotheses[0].evidence[0].excerpt, "yaml: line 3: mapping values");
  EXPECT_EQ(out->diagnosis.evidence_notes, in.diagnosis.evidence_notes);
  ASSERT_EQ(out->pods.size(), 1U);
  EXPECT_EQ(out->pods[0].uid, "uid-pod-1");
  EXPECT_EQ(out->pods[0].restart_count, 6);
  EXPECT_EQ(out->history.size(), 1U);
  EXPECT_EQ(out->caused_by, in.caused_by);
  EXPECT_EQ(out->cause.workload, in.cause.workload);
  // And encoding what was read gives the same objects again.
  EXPECT_EQ(object_of(*out), object_of(in));
}

INSTANTIATE_TEST_SUITE_P(
    States, RcaCodecRoundTrip,
    ::testing::Values(RoundTrip{"active", state("Deployment", "web", false, true, false)},
                      RoundTrip{"resolved", state("Deployment", "web", false, false, false)},
                      RoundTrip{"init_container", state("StatefulSet", "db", true, true, false)},
                      RoundTrip{"caused_by_another", state("Deployment", "api", false, true, true)},
                      RoundTrip{"long_name", state("Deployment", std::string(200, 'w'), false, true, false)}));

struct Refused {
  const char* label;
  const char* object;
};

std::ostream& operator<<(std::ostream& os, const Refused& c) {
  return os << c.label;
}

class RcaCodecRefuses : public ::testing::TestWithParam<Refused> {};

TEST_P(RcaCodecRefuses, NotOneOfOurs) {
  EXPECT_FALSE(decode_rca(nlohmann::json::parse(GetParam().object)).has_value());
}

INSTANTIATE_TEST_SUITE_P(
    Objects, RcaCodecRefuses,
    ::testing::Values(
        Refused{"not_an_object", R"([1,2])"}, Refused{"no_spec", R"({"metadata":{"name":"x","namespace":"n"}})"},
        Refused{"no_metadata", R"({"spec":{}})"},
        Refused{"no_target", R"({"metadata":{"name":"x","namespace":"n"},"spec":{"signature":"Error:1"}})"},
        Refused{
            "no_container",
            R"({"metadata":{"name":"web-1d2e3","namespace":"shop"},"spec":{"target":{"kind":"Deployment","name":"web"}}})"},
        // A hand-made RCA, or another naming scheme: the name is not the one the target gets.
        Refused{
            "foreign_name",
            R"({"metadata":{"name":"hand-made","namespace":"shop"},"spec":{"signature":"Error:1","target":{"apiVersion":"apps/v1","kind":"Deployment","name":"web","container":"app"}}})"},
        Refused{
            "wrong_types",
            R"({"metadata":{"name":7,"namespace":["shop"]},"spec":{"target":{"kind":1,"name":null,"container":{}}}})"}));

}  // namespace
}  // namespace crashdiag::core
