#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include <ostream>

#include "crashdiag/classifiers/categories.hpp"
#include "crashdiag/classifiers/failing.hpp"
#include "crashdiag/classifiers/rule_pack.hpp"
#include "test_support.hpp"

namespace crashdiag {
namespace {

using testing::evidence;
using testing::shipped_classifier;

TEST(Classifier, NothingFitsGivesUnknownWithTheTellingEvidenceNotAGuess) {
  auto hs = shipped_classifier().classify(evidence(R"yaml(
status: {waiting_reason: CrashLoopBackOff, terminated_reason: Error, exit_code: 3}
logs: |
  starting worker
  loaded 12 plugins
  giving up: the frobnicator is misaligned
  bye
)yaml"));
  ASSERT_FALSE(hs.empty());
  EXPECT_EQ(hs[0].category, "unknown");
  EXPECT_EQ(hs[0].confidence, 0.0);
  bool quoted = false;
  for (const auto& e : hs[0].evidence) quoted = quoted || e.excerpt.find("giving up") != std::string::npos;
  EXPECT_TRUE(quoted);
}

// `unknown` quotes the three most error-like lines of every text (not the last three of the
// log), and says what evidence is missing and why.
TEST(Classifier, UnknownQuotesTheThreeMostErrorLikeLinesAndWhatIsMissing) {
  const Evidence ev = evidence(R"yaml(
status: {waiting_reason: CrashLoopBackOff, terminated_reason: Error, exit_code: 3,
         message: 'fatal: the frobnicator is misaligned'}
logs: |
  starting worker
  ERROR: calibration drift exceeds tolerance
  loaded 12 plugins
  cannot continue without calibration
  shutting down cleanly
  bye
)yaml");
  const Classification c = shipped_classifier().classify_all(ev);
  ASSERT_EQ(c.hypotheses.at(0).category, "unknown");
  std::vector<std::string> quoted;
  for (const auto& e : c.hypotheses[0].evidence) quoted.push_back(e.excerpt);
  EXPECT_EQ(quoted, (std::vector<std::string>{"fatal: the frobnicator is misaligned",
                                              "ERROR: calibration drift exceeds tolerance",
                                              "cannot continue without calibration"}));
  ASSERT_FALSE(c.notes.empty());
  EXPECT_NE(c.notes.back().find("no Events"), std::string::npos) << c.notes.back();
}

// Rules anchored at the start of a line see it as the container wrote it, whatever a log tool
// put before it: Compose's service, a timestamp, `kubectl logs --prefix`'s pod and container, kail's,
// a container manager's local time and stream, Docker Desktop's local time.
TEST(Classifier, LinePrefixesOfLogToolsAreNotPartOfTheLine) {
  struct Case {
    const char* tool;
    const char* line;
  };
  const Case cases[] = {
      {"as written", "/bin/sh: 0: cannot open ./start-server.sh: No such file"},
      {"docker compose", "server-1  | /bin/sh: 0: cannot open ./start-server.sh: No such file"},
      {"kubectl --timestamps",
       "2024-06-01T10:00:00.123456789Z /bin/sh: 0: cannot open ./start-server.sh: No such file"},
      {"kubectl --prefix",
       "[pod/immich-server-67648469d9-9d6z6/immich-server] /bin/sh: 0: cannot open ./start-server.sh: No such file"},
      {"kail",
       "immich/immich-server-67648469d9-9d6z6[immich-server]: /bin/sh: 0: cannot open ./start-server.sh: No such file"},
      {"a container manager's time and stream",
       "2025/01/31 10:59:18 | stderr | /bin/sh: 0: cannot open ./start-server.sh: No such file"},
      {"Docker Desktop's local time", "2025-03-06 16:07:36 /bin/sh: 0: cannot open ./start-server.sh: No such file"},
  };
  for (const Case& c : cases) {
    const auto hs = shipped_classifier().classify(
        evidence(std::string("status: {waiting_reason: CrashLoopBackOff, exit_code: 2}\nlogs: |\n  ") + c.line + "\n"));
    ASSERT_FALSE(hs.empty()) << c.tool;
    EXPECT_EQ(hs[0].category, "missing_executable_or_file") << c.tool;
  }
}

// A refused write in a directory the image keeps for itself (/etc, /tmp, /root, /var/cache,
// /var/run, /run, a file at the root) with no volume shown there says as much about a process
// running as a user the image was not built for as about a volume's owner: the finding stays the
// answer, below 0.7. On a mount, or in a data directory, it keeps its confidence.
TEST(Classifier, AWriteRefusedInTheImagesOwnDirectoryIsNotConfidentlyAVolume) {
  struct Case {
    const char* name;
    const char* mounts;
    const char* path;
    bool confident;
  };
  const Case cases[] = {
      {"image cache directory", "", "/var/cache/nginx/proxy_temp", false},
      {"temporary file", "", "/tmp/app.out", false},
      {"configuration directory", "", "/etc/app/config", false},
      {"a file at the root", "", "/homeserver.log", false},
      {"a data directory at the root", "", "/data/db", true},
      {"under /var/lib", "", "/var/lib/app", true},
      {"the cache directory is a mounted volume",
       "container:\n  mounts:\n    - {path: /var/cache/nginx, volume: cache, kind: pvc}\n",
       "/var/cache/nginx/proxy_temp", true},
  };
  for (const Case& c : cases) {
    // The rule as written: its first-contact record would put every case below 0.7.
    const auto hs = testing::shipped_classifier_as_written().classify(
        evidence(std::string(c.mounts) +
                 "status: {waiting_reason: CrashLoopBackOff, exit_code: 1}\n"
                 "logs: |\n  mkdir: cannot create directory '" +
                 c.path + "': Permission denied\n"));
    ASSERT_FALSE(hs.empty()) << c.name;
    EXPECT_EQ(hs[0].category, "volume_permission") << c.name;
    EXPECT_EQ(hs[0].confidence >= 0.7, c.confident) << c.name << " " << hs[0].confidence;
  }
}

// A volume's permission finding names a path; the spec's mounts say whether a volume's owner can
// be the cause at all. On a read-only mount (readOnly, or a configMap/secret the kubelet always
// mounts read-only) it cannot: the mount is. Elsewhere the finding stands.
TEST(Classifier, APermissionFindingOnAReadOnlyMountIsTheMountsNotTheOwners) {
  struct Case {
    const char* name;
    const char* mount;
    const char* expected;
  };
  const Case cases[] = {
      {"read-only bind mount", "{path: /config/custom-cont-init.d, read_only: true}", "read_only_filesystem"},
      {"under a read-only mount", "{path: /config, read_only: true}", "read_only_filesystem"},
      {"configMap volume", "{path: /config/custom-cont-init.d, volume: scripts, kind: configMap}",
       "read_only_filesystem"},
      {"writable claim", "{path: /config, volume: data, kind: pvc}", "volume_permission"},
      {"a sibling path is not under the mount", "{path: /config/custom, read_only: true}", "volume_permission"},
      {"no mount holds the path", "{path: /data, read_only: true}", "volume_permission"},
  };
  for (const Case& c : cases) {
    const auto hs =
        shipped_classifier().classify(evidence(std::string("container:\n  mounts:\n    - ") + c.mount + R"yaml(
status: {waiting_reason: CrashLoopBackOff, exit_code: 1}
logs: |
  chown: changing ownership of '/config/custom-cont-init.d': Operation not permitted
)yaml"));
    ASSERT_FALSE(hs.empty()) << c.name;
    EXPECT_EQ(hs[0].category, c.expected) << c.name;
    if (std::string(c.expected) == "read_only_filesystem") {
      const bool quoted = std::any_of(hs[0].evidence.begin(), hs[0].evidence.end(), [](const EvidenceItem& e) {
        return e.source == EvidenceSource::kSpec && e.field.find("volumeMounts[0]") != std::string::npos;
      });
      EXPECT_TRUE(quoted) << c.name << ": the mount is quoted as evidence";
    }
  }
}

TEST(Classifier, AStartErrorSaysItHasNoLogBecauseTheProcessNeverStarted) {
  const Classification c = shipped_classifier().classify_all(evidence(R"yaml(
status: {waiting_reason: RunContainerError, terminated_reason: StartError, exit_code: 128,
         message: 'failed to create containerd task: something the rules do not know: unknown'}
)yaml"));
  ASSERT_FALSE(c.notes.empty());
  EXPECT_NE(c.notes.front().find("the process never started (StartError)"), std::string::npos) << c.notes.front();
}

// A spec finding that does not explain this failure is an observation, never ranked above a
// matched error: PGDATA on no volume while the log shows a wrong password.
TEST(Classifier, ASpecFindingThatDoesNotExplainTheFailureIsAnObservation) {
  const Classification c = shipped_classifier().classify_all(evidence(R"yaml(
container: {image: 'postgres:16', mounts: [{path: /srv/other, kind: pvc}]}
status: {waiting_reason: CrashLoopBackOff, terminated_reason: Error, exit_code: 1}
logs: 'FATAL:  password authentication failed for user "app"'
)yaml"));
  EXPECT_EQ(c.hypotheses.at(0).category, "db_auth_failed");
  for (const auto& h : c.hypotheses) EXPECT_NE(h.category, "pg_volume_mount_path");
  ASSERT_EQ(c.observations.size(), 1U);
  EXPECT_EQ(c.observations[0].category, "pg_volume_mount_path");
  EXPECT_LT(c.observations[0].confidence, 0.5);
}

// readOnlyRootFilesystem is an observation: it leads (below 0.7) when the evidence shows nothing
// else, yields to a matched cause, and becomes that cause when a text reports EROFS.
TEST(Classifier, AReadOnlyRootLeadsOnlyWhenNothingElseExplainsTheFailure) {
  const Classification alone = shipped_classifier().classify_all(evidence(R"yaml(
container: {read_only_root_filesystem: true}
status: {waiting_reason: CrashLoopBackOff}
)yaml"));
  ASSERT_EQ(alone.hypotheses.at(0).category, "read_only_filesystem");
  EXPECT_EQ(alone.hypotheses[0].rule_id, "analyzer.read-only-root");
  EXPECT_LT(alone.hypotheses[0].confidence, 0.7);

  const Classification other = shipped_classifier().classify_all(evidence(R"yaml(
container: {read_only_root_filesystem: true}
logs: 'FATAL:  password authentication failed for user "app"'
)yaml"));
  EXPECT_EQ(other.hypotheses.at(0).category, "db_auth_failed");
  ASSERT_EQ(other.observations.size(), 1U);
  EXPECT_EQ(other.observations[0].category, "read_only_filesystem");

  const Classification erofs = shipped_classifier().classify_all(evidence(R"yaml(
container: {read_only_root_filesystem: true}
logs: "mkdir /tmp/serving-cert: read-only file system"
)yaml"));
  ASSERT_EQ(erofs.hypotheses.at(0).category, "read_only_filesystem");
  EXPECT_GE(erofs.hypotheses[0].confidence, 0.7);
  EXPECT_TRUE(erofs.observations.empty());
}

// A probe with no exit and no Events is an observation: it leads only when no text reads as an
// error, and then below 0.5; an error line in the log keeps the answer on that line.
TEST(Classifier, AProbeWithoutEventsLeadsOnlyWhenNothingReadsAsAnError) {
  const Classification quiet = shipped_classifier().classify_all(evidence(R"yaml(
container: {probes: {liveness: {http_path: /health, period: 10, failure_threshold: 3}}}
logs: |
  Initializing Spring embedded WebApplicationContext
  Started Application in 12.3 seconds
)yaml"));
  ASSERT_EQ(quiet.hypotheses.at(0).category, "liveness_probe_failure");
  EXPECT_LT(quiet.hypotheses[0].confidence, 0.5);

  const Classification failing = shipped_classifier().classify_all(evidence(R"yaml(
container: {probes: {liveness: {http_path: /health, period: 10, failure_threshold: 3}}}
logs: |
  Initializing Spring embedded WebApplicationContext
  FATAL: the frobnicator is misaligned, cannot continue
)yaml"));
  EXPECT_EQ(failing.hypotheses.at(0).category, "unknown");
  ASSERT_EQ(failing.observations.size(), 1U);
  EXPECT_EQ(failing.observations[0].category, "liveness_probe_failure");
}

// A stop the runtime did not call OOMKilled, under a probe, ranks above the bare exit-137 guess.
TEST(Classifier, AKilledExitUnderAProbeRanksTheProbeAboveTheOomGuess) {
  const auto hs = shipped_classifier().classify(evidence(R"yaml(
container: {probes: {liveness: {period: 3, failure_threshold: 10}}}
status: {waiting_reason: CrashLoopBackOff, terminated_reason: Error, exit_code: 137}
)yaml"));
  ASSERT_GE(hs.size(), 2U);
  EXPECT_EQ(hs[0].category, "liveness_probe_failure");
  EXPECT_LT(hs[0].confidence, 0.7) << "without the Events it is a likely cause, not a confident one";
  EXPECT_EQ(hs[1].category, "oom_killed");
}

// The kubelet writes Unhealthy only for probes: one a report trimmed of its "Liveness probe
// failed:" prefix still quotes the probe, so the runtime's exec error in it is the probe's command,
// not the container's entrypoint.
TEST(Classifier, AnUnhealthyEventWithoutItsPrefixIsStillTheProbes) {
  const auto hs = shipped_classifier().classify(evidence(R"yaml(
container: {image: example/game:1, probes: {liveness: {exec: ["/bin/ps aux | grep game"]}}}
events:
  - {type: Warning, reason: Unhealthy, message: 'unable to start container process: exec: "/bin/ps aux | grep game": stat /bin/ps aux | grep game: no such file or directory: unknown'}
)yaml"));
  ASSERT_FALSE(hs.empty());
  EXPECT_EQ(hs[0].category, "liveness_probe_failure") << hs[0].rule_id;
  for (const auto& h : hs) EXPECT_NE(h.rule_id, "analyzer.entrypoint") << "the probe's command is not the entrypoint";
}

// A report that quotes only the event's message still shows the prober's prefix: it is the probe's
// output, here the kubelet failing to resolve a named port (pkg/probe/util.go).
TEST(Classifier, AProbeMessageQuotedWithoutItsReasonIsStillTheProbes) {
  const auto hs = shipped_classifier().classify(evidence(R"yaml(
events:
  - {message: 'Readiness probe errored: strconv.Atoi: parsing "http-metrics": invalid syntax'}
)yaml"));
  ASSERT_FALSE(hs.empty());
  EXPECT_EQ(hs[0].rule_id, "probe-port-name-unknown");
  EXPECT_EQ(hs[0].category, "liveness_probe_failure");
}

// A parser's complaint names a variable only when the line or the spec says which: then the
// variable is quoted; a bare "invalid syntax" could be any text the program parsed.
TEST(Classifier, AnUnnamedParseErrorIsAVariableOnlyWhenTheSpecHoldsItsValue) {
  const auto bare = shipped_classifier().classify(evidence(R"yaml(
logs: 'panic: strconv.Atoi: parsing "penpot": invalid syntax'
)yaml"));
  ASSERT_FALSE(bare.empty());
  EXPECT_EQ(bare[0].category, "invalid_env_value");
  EXPECT_LT(bare[0].confidence, 0.7) << "no variable named, none holds the value";
  const auto held = shipped_classifier().classify(evidence(R"yaml(
container: {env: {WORKERS: four}}
logs: "ValueError: invalid literal for int() with base 10: 'four'"
)yaml"));
  ASSERT_FALSE(held.empty());
  EXPECT_EQ(held[0].category, "invalid_env_value");
  EXPECT_GE(held[0].confidence, 0.7);
  bool quoted = false;
  for (const auto& e : held[0].evidence) quoted = quoted || e.excerpt == "WORKERS: four";
  EXPECT_TRUE(quoted) << "the variable that holds the value is quoted";
}

TEST(Classifier, AnInitContainerNoRuleKnowsIsAnInitContainerFailureWithItsLines) {
  const auto hs = shipped_classifier().classify(evidence(R"yaml(
container: {name: wait-for-db, init: true}
status: {waiting_reason: CrashLoopBackOff, terminated_reason: Error, exit_code: 1}
logs: |
  waiting for the frobnicator
  giving up after 30 attempts
)yaml"));
  ASSERT_EQ(hs.at(0).category, "init_container_failure");
  EXPECT_LT(hs[0].confidence, 0.7) << "a fallback is never confident";
  bool quoted = false;
  for (const auto& e : hs[0].evidence) quoted = quoted || e.excerpt.find("giving up") != std::string::npos;
  EXPECT_TRUE(quoted);
}

// Every text is evidence for every text rule: an x509 error in a termination message is seen.
TEST(Classifier, ATlsErrorInTheTerminationMessageIsSeen) {
  const auto hs = shipped_classifier().classify(evidence(R"yaml(
status: {terminated_reason: Error, exit_code: 1, message: 'Get "https://idp.example/keys": x509: certificate signed by unknown authority'}
)yaml"));
  EXPECT_EQ(hs.at(0).category, "tls_certificate_error");
}

TEST(Classifier, EntrypointOverrideSupersedesTheMissingExecutableSymptom) {
  auto hs = shipped_classifier().classify(evidence(R"yaml(
container: {image: 'ghcr.io/goauthentik/server:2024.2.1', command: [server]}
status: {waiting_reason: CrashLoopBackOff, terminated_reason: StartError, exit_code: 128,
         message: 'exec: "server": executable file not found in $PATH: unknown'}
)yaml"));
  ASSERT_FALSE(hs.empty());
  EXPECT_EQ(hs[0].category, "entrypoint_override");
  for (const auto& h : hs) EXPECT_NE(h.category, "missing_executable_or_file");
}

TEST(Classifier, SummariesAreAtMost120CharactersAndRedacted) {
  auto hs = shipped_classifier().classify(evidence(R"yaml(
logs: 'FATAL:  password authentication failed for user "app" using postgres://app:hunter2hunter2@db-with-a-very-long-host-name-to-make-this-overflow.example.internal:5432/app'
)yaml"));
  ASSERT_FALSE(hs.empty());
  for (const auto& h : hs) {
    EXPECT_LE(h.summary.size(), kMaxSummaryChars) << h.summary;
    for (const auto& e : h.evidence) EXPECT_EQ(e.excerpt.find("hunter2hunter2"), std::string::npos) << e.excerpt;
  }
}

// The remediation quotes the spec back (before/after YAML), so a secret passed on the command line
// would reach the RCA's status through it unless it is redacted like the evidence.
TEST(Classifier, RemediationsAreRedactedToo) {
  auto hs = shipped_classifier().classify(evidence(R"yaml(
container: {image: 'ghcr.io/goauthentik/server:2024.2.1', command: [server, '--password=hunter22hunter22']}
status: {waiting_reason: CrashLoopBackOff, terminated_reason: StartError, exit_code: 128,
         message: 'exec: "server": executable file not found in $PATH: unknown'}
)yaml"));
  ASSERT_FALSE(hs.empty());
  ASSERT_EQ(hs[0].category, "entrypoint_override");
  EXPECT_NE(hs[0].remediation.find("args:"), std::string::npos) << "the fix is still spelled out";
  for (const auto& h : hs) {
    EXPECT_EQ(h.remediation.find("hunter22hunter22"), std::string::npos) << h.remediation;
    EXPECT_EQ(h.summary.find("hunter22hunter22"), std::string::npos) << h.summary;
  }
}

TEST(Classifier, HypothesesAreRankedByConfidence) {
  auto hs = shipped_classifier().classify(evidence(R"yaml(
logs: |
  Traceback (most recent call last):
    File "/app/main.py", line 1, in <module>
      import psycopg2
  ModuleNotFoundError: No module named 'psycopg2'
)yaml"));
  ASSERT_GE(hs.size(), 2U);
  EXPECT_EQ(hs[0].category, "missing_module_or_dependency");
  for (std::size_t i = 1; i < hs.size(); ++i) EXPECT_GE(hs[i - 1].confidence, hs[i].confidence);
  for (const auto& h : hs) EXPECT_TRUE(is_known_category(h.category)) << h.category;
}

// A record that caps a rule: 3 wrong of 20 confident answers at first contact.
constexpr const char* kCappedRecord = "    first_contact: {confident: 20, right: 17}\n";

// Two rules that both read the same line: the surer one has a first-contact record that says so
// or not. The record changes what is reported, never the order.
Classifier two_rules(const std::string& first_contact_of_the_surer,
                     const std::string& less_sure_category = "read_only_filesystem") {
  const std::string pack = R"(rules:
  - id: surer
    category: volume_permission
    title: Surer
    confidence: 0.9
)" + first_contact_of_the_surer +
                           R"(    match:
      log: ['mkdir /data: permission denied']
    summary: s
    remediation: r
    examples: [{name: hit, expect: match, evidence: {logs: 'mkdir /data: permission denied'}}]
  - id: less-sure
    category: )" + less_sure_category +
                           R"(
    title: Less sure
    confidence: 0.8
    match:
      log: ['mkdir /data: permission denied']
    summary: s
    remediation: r
    examples: [{name: hit, expect: match, evidence: {logs: 'mkdir /data: permission denied'}}]
)";
  auto rules = parse_rule_pack({"two.yaml", pack});
  EXPECT_TRUE(rules) << rules.error().to_string();
  auto engine = RuleEngine::compile(std::move(*rules));
  EXPECT_TRUE(engine);
  return Classifier(std::move(*engine));
}

TEST(Classifier, ARuleWrongTooOftenAtFirstContactRanksTheSameButIsNotConfident) {
  const Evidence ev = evidence("logs: 'mkdir /data: permission denied'\n");
  struct Row {
    const char* record;
    double top, second;
  };
  // A one-line log puts the match at the end of the tail: +0.02 (classifier.cpp).
  for (const Row& r : {Row{"", 0.92, 0.82}, Row{"    first_contact: {confident: 40, right: 39}\n", 0.92, 0.82},
                       Row{kCappedRecord, 0.69, 0.69}}) {
    const auto hs = two_rules(r.record).classify(ev);
    ASSERT_GE(hs.size(), 2U) << r.record;
    EXPECT_EQ(hs[0].rule_id, "surer") << r.record;
    EXPECT_EQ(hs[1].rule_id, "less-sure") << r.record;
    // The runner-up is never reported surer than the answer above it.
    EXPECT_NEAR(hs[0].confidence, r.top, 1e-9) << r.record;
    EXPECT_NEAR(hs[1].confidence, r.second, 1e-9) << r.record;
  }
}

// Two producers of one category: the merged finding is reported as high as the one that may
// claim most on its own, whichever comes first in the packs.
TEST(Classifier, AMergedFindingIsReportedAsTheUncappedProducerWouldBe) {
  const Evidence ev = evidence("logs: 'mkdir /data: permission denied'\n");
  const auto hs = two_rules(kCappedRecord, "volume_permission").classify(ev);
  ASSERT_FALSE(hs.empty());
  EXPECT_EQ(hs[0].category, "volume_permission");
  // The uncapped rule alone: 0.8 + 0.02 (end of the tail); +0.01 for the agreement.
  EXPECT_NEAR(hs[0].confidence, 0.83, 1e-9);
}

// The two rules' line, with CONTAINER (evidence YAML) as it fails now and, as the template that
// ran before, the same container with `undo` applied to it.
Evidence changed_since(const std::string& container, const std::function<void(Container&)>& undo) {
  Evidence ev = evidence("container: " + container + "\nlogs: 'mkdir /data: permission denied'\n");
  PreviousTemplate previous;
  previous.pod = ev.pod;
  undo(previous.pod.containers[0]);
  ev.previous = previous;
  return ev;
}

// What changed re-ranks by the rules' own confidences; the record is applied after, so it never
// changes which answer leads.
TEST(Classifier, WhatChangedRanksBeforeTheRecordIsApplied) {
  const Evidence ev = changed_since("{name: app, env: {MODE: b}}", [](Container& c) { c.env.clear(); });
  // less-sure is a missing_env_var rule here: the env change is its evidence (+0.05).
  struct Row {
    const char* record;
    const char* lead;
    double lead_confidence, second_confidence;
  };
  for (const Row& r : {Row{"", "surer", 0.92, 0.87},  // 0.82 + 0.05 stays below 0.92
                       Row{kCappedRecord, "surer", 0.69, 0.69}}) {
    const ContainerDiagnosis d = two_rules(r.record, "missing_env_var").diagnose(ev);
    ASSERT_GE(d.hypotheses.size(), 2U) << r.record;
    EXPECT_EQ(d.hypotheses[0].rule_id, r.lead) << r.record;
    EXPECT_NEAR(d.hypotheses[0].confidence, r.lead_confidence, 1e-9) << r.record;
    EXPECT_NEAR(d.hypotheses[1].confidence, r.second_confidence, 1e-9) << r.record;
  }
}

// The same, with a change in the template that the category blames: the uncapped producer would
// have had the boost on its own, so the merged finding has it too.
TEST(Classifier, WhatChangedRaisesAMergedFindingAsItWouldTheUncappedProducer) {
  const Evidence ev =
      changed_since("{name: app, run_as_user: 1000}", [](Container& c) { c.security_context.run_as_user.reset(); });
  const ContainerDiagnosis alone = two_rules("", "volume_permission").diagnose(ev);
  const ContainerDiagnosis merged = two_rules(kCappedRecord, "volume_permission").diagnose(ev);
  ASSERT_FALSE(alone.hypotheses.empty());
  ASSERT_FALSE(merged.hypotheses.empty());
  // Uncapped both: 0.92 + 0.01 + 0.05. With surer capped: less-sure's 0.82 + 0.01 + 0.05.
  EXPECT_NEAR(alone.hypotheses[0].confidence, 0.98, 1e-9);
  EXPECT_NEAR(merged.hypotheses[0].confidence, 0.88, 1e-9);
}

// Under "nothing fits" (confidence 0), the guesses below the line keep their own confidences.
TEST(Classifier, GuessesListedUnderUnknownKeepTheirConfidences) {
  auto rules = parse_rule_pack({"low.yaml", R"(rules:
  - id: faint
    category: app_panic_or_exception
    title: Faint
    confidence: 0.25
    match:
      log: ['something odd']
    summary: s
    remediation: r
    examples: [{name: hit, expect: match, evidence: {logs: 'something odd'}}]
)"});
  ASSERT_TRUE(rules) << rules.error().to_string();
  auto engine = RuleEngine::compile(std::move(*rules));
  ASSERT_TRUE(engine);
  const auto hs = Classifier(std::move(*engine)).classify(evidence("logs: 'something odd'\n"));
  ASSERT_GE(hs.size(), 2U);
  EXPECT_EQ(hs[0].category, "unknown");
  EXPECT_EQ(hs[1].rule_id, "faint");
  EXPECT_NEAR(hs[1].confidence, 0.27, 1e-9);
}

struct FailingCase {
  const char* name;
  const char* yaml;
  bool failing;
};

// gtest prints parameters in test names and failures; the name says which row.
void PrintTo(const FailingCase& p, std::ostream* os) {
  *os << p.name;
}

class Failing : public ::testing::TestWithParam<FailingCase> {};

TEST_P(Failing, DetectsContainersWorthExplaining) {
  Evidence ev = evidence(GetParam().yaml);
  EXPECT_EQ(is_failing(ev.pod, ev.target()), GetParam().failing);
}

INSTANTIATE_TEST_SUITE_P(
    Table, Failing,
    ::testing::Values(
        FailingCase{"crashloop", "status: {waiting_reason: CrashLoopBackOff}", true},
        FailingCase{"config_error", "status: {waiting_reason: CreateContainerConfigError}", true},
        FailingCase{"image_pull", "status: {waiting_reason: ImagePullBackOff}", true},
        FailingCase{"creating", "status: {waiting_reason: ContainerCreating}", false},
        FailingCase{"oom_now", "status: {state: terminated, terminated_reason: OOMKilled, exit_code: 137}", true},
        FailingCase{
            "job_done",
            "pod: {restart_policy: Never}\nstatus: {state: terminated, terminated_reason: Completed, exit_code: 0}",
            false},
        FailingCase{"init_done",
                    "container: {init: true}\nstatus: {state: terminated, terminated_reason: Completed, exit_code: 0}",
                    false},
        FailingCase{"no_status", "container: {}", false}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace crashdiag
