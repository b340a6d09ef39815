#include <gtest/gtest.h>

#include <re2/re2.h>
#include <memory>
#include <ostream>

#include "crashdiag/classifiers/spec_predicates.hpp"
#include "test_support.hpp"

namespace crashdiag {
namespace {

struct PredicateCase {
  const char* name;
  SpecPredicate predicate;
  const char* evidence_yaml;
  bool holds;
};

// gtest prints parameters in test names and failures; the name says which row.
void PrintTo(const PredicateCase& p, std::ostream* os) {
  *os << p.name;
}

class SpecPredicateTable : public ::testing::TestWithParam<PredicateCase> {};

TEST_P(SpecPredicateTable, Evaluates) {
  Evidence ev = testing::evidence(GetParam().evidence_yaml);
  PredicateResult r = evaluate(GetParam().predicate, ev.pod, ev.target());
  EXPECT_EQ(r.holds, GetParam().holds);
  if (r.holds && r.evidence) {
    EXPECT_FALSE(r.evidence->field.empty());
  }
}

SpecPredicate pred(SpecPredicateKind kind, bool flag = true, std::vector<std::string> values = {},
                   std::vector<std::string> flags = {}) {
  SpecPredicate p;
  p.kind = kind;
  p.flag = flag;
  p.values = std::move(values);
  p.flags = std::move(flags);
  if (kind == SpecPredicateKind::kCommandLine) {
    for (const auto& v : p.values) p.patterns.push_back(std::make_shared<const re2::RE2>(v));
  }
  return p;
}

INSTANTIATE_TEST_SUITE_P(
    Table, SpecPredicateTable,
    ::testing::Values(
        PredicateCase{"command_set", pred(SpecPredicateKind::kCommandSet), "container: {command: [server]}", true},
        PredicateCase{"command_unset", pred(SpecPredicateKind::kCommandSet, false), "container: {args: [server]}",
                      true},
        PredicateCase{"args_set", pred(SpecPredicateKind::kArgsSet), "container: {command: [server]}", false},
        PredicateCase{"image_family_postgres", pred(SpecPredicateKind::kImageFamily, true, {"postgres"}),
                      "container: {image: 'docker.io/bitnami/postgresql:16.2.0'}", true},
        PredicateCase{"image_family_postgis", pred(SpecPredicateKind::kImageFamily, true, {"postgres"}),
                      "container: {image: 'postgis/postgis:16-3.4'}", true},
        PredicateCase{"image_family_other", pred(SpecPredicateKind::kImageFamily, true, {"postgres"}),
                      "container: {image: 'redis:7'}", false},
        PredicateCase{"mount_at_normalised", pred(SpecPredicateKind::kMountAt, true, {"/var/lib/postgresql"}),
                      "container: {mounts: [{path: /var/lib/postgresql/}]}", true},
        PredicateCase{"mount_kind", pred(SpecPredicateKind::kMountKind, true, {"configMap"}),
                      "container: {mounts: [{path: /etc/x, kind: configMap}]}", true},
        PredicateCase{"mount_kind_other_undescribed", pred(SpecPredicateKind::kMountKind, true, {"hostPath", "other"}),
                      "container: {mounts: [{path: /data}]}", true},
        PredicateCase{"mount_kind_other_is_not_emptydir", pred(SpecPredicateKind::kMountKind, true, {"other"}),
                      "container: {mounts: [{path: /tmp, kind: emptyDir}]}", false},
        PredicateCase{"env_set", pred(SpecPredicateKind::kEnvSet, true, {"PGDATA"}), "container: {env: {PGDATA: /d}}",
                      true},
        PredicateCase{"env_unset", pred(SpecPredicateKind::kEnvUnset, true, {"PGDATA"}),
                      "container: {env: {PGDATA: /d}}", false},
        PredicateCase{"probe_lacks_flag", pred(SpecPredicateKind::kExecProbeLacksFlag, true, {"pg_isready"}, {"-U"}),
                      "container: {probes: {liveness: {exec: [pg_isready, -h, localhost]}}}", true},
        PredicateCase{"probe_has_flag_joined",
                      pred(SpecPredicateKind::kExecProbeLacksFlag, true, {"pg_isready"}, {"-U"}),
                      "container: {probes: {liveness: {exec: [pg_isready, -Upostgres]}}}", false},
        PredicateCase{"probe_has_long_flag",
                      pred(SpecPredicateKind::kExecProbeLacksFlag, true, {"pg_isready"}, {"-U", "--username"}),
                      "container: {probes: {readiness: {exec: [sh, -c, 'pg_isready --username=app']}}}", false},
        PredicateCase{"memory_limit", pred(SpecPredicateKind::kMemoryLimitSet), "container: {memory_limit: 1Gi}", true},
        PredicateCase{"liveness_probe", pred(SpecPredicateKind::kLivenessProbeSet),
                      "container: {probes: {liveness: {http_path: /healthz}}}", true},
        PredicateCase{"startup_probe_counts", pred(SpecPredicateKind::kLivenessProbeSet),
                      "container: {probes: {startup: {http_path: /healthz}}}", true},
        PredicateCase{"readiness_only_does_not", pred(SpecPredicateKind::kLivenessProbeSet),
                      "container: {probes: {readiness: {http_path: /healthz}}}", false},
        PredicateCase{"no_probe_unset", pred(SpecPredicateKind::kLivenessProbeSet, false), "container: {}", true},
        PredicateCase{"read_only_root", pred(SpecPredicateKind::kReadOnlyRootFilesystem),
                      "container: {read_only_root_filesystem: true}", true},
        PredicateCase{"non_root", pred(SpecPredicateKind::kNonRoot), "container: {run_as_user: 1001}", true},
        PredicateCase{"root", pred(SpecPredicateKind::kNonRoot), "container: {run_as_user: 0}", false},
        PredicateCase{"fs_group", pred(SpecPredicateKind::kFsGroupSet), "pod: {fs_group: 1001}\ncontainer: {}", true},
        PredicateCase{"service_links_default", pred(SpecPredicateKind::kServiceLinksEnabled), "container: {}", true},
        PredicateCase{"service_links_off", pred(SpecPredicateKind::kServiceLinksEnabled),
                      "pod: {enable_service_links: false}", false},
        PredicateCase{"restart_policy", pred(SpecPredicateKind::kRestartPolicy, true, {"Never", "OnFailure"}),
                      "pod: {restart_policy: OnFailure}", true},
        PredicateCase{"init_container", pred(SpecPredicateKind::kInitContainer), "container: {init: true}", true},
        PredicateCase{"command_line_command_and_args",
                      pred(SpecPredicateKind::kCommandLine, true, {"^(?:/bin/)?sleep \\d+s?$"}),
                      "container: {command: [/bin/sleep], args: ['30s']}", true},
        PredicateCase{"command_line_other", pred(SpecPredicateKind::kCommandLine, true, {"^(?:/bin/)?sleep \\d+s?$"}),
                      "container: {command: [sleep, infinity]}", false},
        PredicateCase{"command_line_needs_command",
                      pred(SpecPredicateKind::kCommandLine, true, {"^(?:/bin/)?sleep \\d+s?$"}),
                      "container: {args: [sleep, '30']}", false}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace crashdiag
