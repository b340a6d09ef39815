#include <gtest/gtest.h>

#include <ostream>

#include "crashdiag/classifiers/analyzers.hpp"
#include "test_support.hpp"

namespace crashdiag {
namespace {

struct AnalyzerCase {
  const char* name;
  std::vector<Candidate> (*analyzer)(const Evidence&);
  const char* evidence_yaml;
  const char* expected_category;  // "" = no finding
  const char* summary_contains;
  const char* evidence_contains;  // some evidence excerpt must contain this
};

// gtest prints parameters in test names and failures; the name says which row.
void PrintTo(const AnalyzerCase& p, std::ostream* os) {
  *os << p.name;
}

class Analyzer : public ::testing::TestWithParam<AnalyzerCase> {};

TEST_P(Analyzer, FindsTheExpectedCause) {
  const AnalyzerCase& tc = GetParam();
  auto found = tc.analyzer(testing::evidence(tc.evidence_yaml));
  if (std::string(tc.expected_category).empty()) {
    EXPECT_TRUE(found.empty()) << found.front().hypothesis.category;
    return;
  }
  ASSERT_FALSE(found.empty());
  const Hypothesis& h = found.front().hypothesis;
  EXPECT_EQ(h.category, tc.expected_category);
  EXPECT_NE(h.summary.find(tc.summary_contains), std::string::npos) << h.summary;
  bool quoted = false;
  for (const auto& e : h.evidence) quoted = quoted || e.excerpt.find(tc.evidence_contains) != std::string::npos;
  EXPECT_TRUE(quoted) << "no evidence quotes '" << tc.evidence_contains << "'";
  EXPECT_FALSE(h.remediation.empty());
}

INSTANTIATE_TEST_SUITE_P(EnvValues, Analyzer,
                         ::testing::Values(AnalyzerCase{"helm_rendered_a_large_integer_as_a_float", &analyze_env_values,
                                                        R"yaml(
container: {env: {KAFKA_SOCKET_RECEIVE_BUFFER_BYTES: "1.048576e+06", KAFKA_BROKER_ID: "1"}}
status: {waiting_reason: CrashLoopBackOff}
)yaml",
                                                        "invalid_env_value",
                                                        "KAFKA_SOCKET_RECEIVE_BUFFER_BYTES=1.048576e+06",
                                                        "KAFKA_SOCKET_RECEIVE_BUFFER_BYTES: \"1.048576e+06\""},
                                           AnalyzerCase{"an_integer_is_no_finding", &analyze_env_values,
                                                        R"yaml(
container: {env: {MAX_SUBSCRIPTIONS: "5000000", RATIO: "1.5", HOST: "e+06.example.com"}}
status: {waiting_reason: CrashLoopBackOff}
)yaml",
                                                        "", "", ""}));

// Without a text that quotes the value the finding is about the spec: an observation, which the
// classifier ranks (below 0.7) only when nothing else explains the failure. Quoted, it is a cause.
TEST(EnvValues, AScientificValueIsACauseOnlyWhenATextQuotesIt) {
  struct Row {
    const char* yaml;
    bool observation;
  };
  for (const Row& row : {Row{R"yaml(
container: {env: {MAX_SUBSCRIPTIONS: "5e+06"}}
status: {waiting_reason: CrashLoopBackOff}
)yaml",
                             true},
                         Row{R"yaml(
container: {env: {MAX_SUBSCRIPTIONS: "5e+06"}}
logs: 'java.lang.NumberFormatException: For input string: "5e+06"'
)yaml",
                             false}}) {
    auto found = analyze_env_values(testing::evidence(row.yaml));
    ASSERT_EQ(found.size(), 1U) << row.yaml;
    EXPECT_EQ(found.front().observation, row.observation) << row.yaml;
    EXPECT_EQ(found.front().hypothesis.confidence >= 0.7, !row.observation) << row.yaml;
  }
}

// The runtime's "not found in $PATH" for a shell script's name fits three causes (missing, outside
// $PATH, not executable): below confident, and the text says all three, not one.
TEST(Entrypoint, AScriptNotFoundInPathStaysBelowConfidentAndNamesEachReading) {
  auto found = analyze_entrypoint(testing::evidence(R"yaml(
container: {image: 'freikin/dawarich:0.28.0', command: ['sidekiq-entrypoint.sh']}
status: {message: 'exec: "sidekiq-entrypoint.sh": executable file not found in $PATH: unknown'}
)yaml"));
  ASSERT_EQ(found.size(), 1U);
  const Hypothesis& h = found.front().hypothesis;
  EXPECT_EQ(h.category, "missing_executable_or_file");
  EXPECT_LT(h.confidence, 0.7);
  EXPECT_NE(h.explanation.find("missing from the image"), std::string::npos) << h.explanation;
  EXPECT_NE(h.explanation.find("outside $PATH"), std::string::npos) << h.explanation;
  EXPECT_NE(h.explanation.find("execute bit"), std::string::npos) << h.explanation;
  EXPECT_EQ(h.explanation.find("does not contain it"), std::string::npos) << h.explanation;
  EXPECT_NE(h.remediation.find("chmod +x"), std::string::npos) << h.remediation;
}

INSTANTIATE_TEST_SUITE_P(
    Entrypoint, Analyzer,
    ::testing::Values(
        AnalyzerCase{"command_is_subcommand", &analyze_entrypoint,
                     R"yaml(
container: {image: 'ghcr.io/goauthentik/server:2024.2.1', command: [server]}
status: {waiting_reason: CrashLoopBackOff, terminated_reason: StartError, exit_code: 128,
         message: "failed to create containerd task: exec: \"server\": executable file not found in $PATH: unknown"}
)yaml",
                     "entrypoint_override", "command: [\"server\"] replaced the image ENTRYPOINT",
                     "command: [\"server\"]"},
        AnalyzerCase{"the_nodes_containerd_shim_missing_is_not_the_command", &analyze_entrypoint,
                     R"yaml(
container: {image: 'nginx:1.25', command: [nginx]}
events: [{type: Warning, reason: Failed, message: 'Error: failed to create containerd task: failed to start shim: exec: "containerd-shim": executable file not found in $PATH: unknown'}]
)yaml",
                     "", "", ""},
        AnalyzerCase{"flag_in_args_without_entrypoint", &analyze_entrypoint,
                     R"yaml(
container: {image: 'quay.io/x/stack:dev', args: ['-c', '/cfg.yaml']}
status: {waiting_reason: RunContainerError, terminated_reason: StartError, exit_code: 128,
         message: 'exec: "-c": executable file not found in $PATH'}
)yaml",
                     "entrypoint_override", "args: [\"-c\", \"/cfg.yaml\"] replaced the image CMD", "args:"},
        AnalyzerCase{"no_command_binary_missing", &analyze_entrypoint,
                     R"yaml(
container: {image: 'yugabyte/operator:1'}
status: {message: 'starting container process caused "exec: \"yugabyte-operator\": executable file not found in $PATH"'}
)yaml",
                     "missing_executable_or_file", "\"yugabyte-operator\" does not exist", "command not set"},
        AnalyzerCase{"event_only_evidence", &analyze_entrypoint,
                     R"yaml(
container: {image: 'weaveworksdemos/catalogue', command: ['app', '-port=80']}
events: [{type: Warning, reason: Failed, message: 'Error: failed to start container "catalogue": exec: "app": executable file not found in $PATH'}]
)yaml",
                     "entrypoint_override", "replaced the image ENTRYPOINT", "Failed"},
        AnalyzerCase{"command_absolute_path_missing_from_image", &analyze_entrypoint,
                     R"yaml(
container: {image: 'victoriametrics/operator:config-reloader-v0.46.0', command: ['/usr/local/bin/config-reloader']}
status: {waiting_reason: RunContainerError,
         waiting_message: 'exec: "/usr/local/bin/config-reloader": stat /usr/local/bin/config-reloader: no such file or directory: unknown'}
)yaml",
                     "missing_executable_or_file", "\"/usr/local/bin/config-reloader\" does not exist",
                     "command: [\"/usr/local/bin/config-reloader\"]"},
        // A shell script's name is a program named on purpose, not an argument for a launcher:
        // the image lacks it, has it outside $PATH or without its execute bit, below confident.
        AnalyzerCase{"command_names_a_shell_script_the_image_lacks", &analyze_entrypoint,
                     R"yaml(
container: {image: 'freikin/dawarich:0.28.0', command: ['sidekiq-entrypoint.sh']}
status: {message: 'exec: "sidekiq-entrypoint.sh": executable file not found in $PATH: unknown'}
)yaml",
                     "missing_executable_or_file", "\"sidekiq-entrypoint.sh\" was not found in $PATH",
                     "command: [\"sidekiq-entrypoint.sh\"]"},
        AnalyzerCase{"command_names_an_entrypoint_without_extension", &analyze_entrypoint,
                     R"yaml(
container: {image: 'example/app:1', command: ['docker-entrypoint']}
status: {message: 'exec: "docker-entrypoint": executable file not found in $PATH: unknown'}
)yaml",
                     "missing_executable_or_file", "\"docker-entrypoint\" was not found in $PATH",
                     "command: [\"docker-entrypoint\"]"},
        // A relative path is named on purpose too: the file is not there, relative to workingDir.
        AnalyzerCase{"command_names_a_relative_path", &analyze_entrypoint,
                     R"yaml(
container: {image: 'freikin/dawarich:0.28.0', command: ['./sidekiq-entrypoint.sh']}
status: {message: 'exec: "./sidekiq-entrypoint.sh": stat ./sidekiq-entrypoint.sh: no such file or directory: unknown'}
)yaml",
                     "missing_executable_or_file", "\"./sidekiq-entrypoint.sh\" does not exist",
                     "command: [\"./sidekiq-entrypoint.sh\"]"},
        // An interpreter's script is what an image whose ENTRYPOINT is the interpreter (or
        // prepends it, as node's docker-entrypoint.sh does) takes as its argument.
        AnalyzerCase{"command_names_an_interpreter_script", &analyze_entrypoint,
                     R"yaml(
container: {image: 'node:20-alpine', command: ['server.js']}
status: {message: 'exec: "server.js": executable file not found in $PATH: unknown'}
)yaml",
                     "entrypoint_override", "command: [\"server.js\"] replaced the image ENTRYPOINT",
                     "command: [\"server.js\"]"},
        // A whole command line in one element, and a flag, stay overrides whatever words they hold.
        AnalyzerCase{"command_line_naming_a_script", &analyze_entrypoint,
                     R"yaml(
container: {image: 'example/app:1', command: ['sh entrypoint.sh']}
status: {message: 'exec: "sh entrypoint.sh": executable file not found in $PATH: unknown'}
)yaml",
                     "entrypoint_override", "replaced the image ENTRYPOINT", "command: [\"sh entrypoint.sh\"]"},
        AnalyzerCase{"command_is_a_flag_named_entrypoint", &analyze_entrypoint,
                     R"yaml(
container: {image: 'example/app:1', command: ['--entrypoint']}
status: {message: 'exec: "--entrypoint": executable file not found in $PATH: unknown'}
)yaml",
                     "entrypoint_override", "replaced the image ENTRYPOINT", "command: [\"--entrypoint\"]"},
        AnalyzerCase{"command_is_flags_without_the_runtime_words", &analyze_entrypoint,
                     R"yaml(
container: {image: larsks/stress, command: ['--cpu', '1']}
)yaml",
                     "entrypoint_override", "makes the flag \"--cpu\" the program", "command: [\"--cpu\", \"1\"]"},
        AnalyzerCase{"command_line_in_one_element", &analyze_entrypoint,
                     R"yaml(
container: {command: ['bundle exec unicorn -c config/unicorn.rb']}
events: [{message: 'API error (500): Container command not found or does not exist'}]
)yaml",
                     "entrypoint_override", "exec form does not split words",
                     "command: [\"bundle exec unicorn -c config/unicorn.rb\"]"},
        AnalyzerCase{"shell_with_a_command_string_is_fine", &analyze_entrypoint, R"yaml(
container: {command: [sh, -c, 'exec server --port 80']}
status: {waiting_reason: CrashLoopBackOff}
)yaml",
                     "", "", ""},
        AnalyzerCase{"no_exec_error", &analyze_entrypoint, R"yaml(
container: {command: [server]}
logs: 'server started'
)yaml",
                     "", "", ""},
        // The program's own output: it started, so this command: is not what ran (a Compose
        // command:, which replaces CMD, copied as the ENTRYPOINT).
        AnalyzerCase{"flag_command_with_the_programs_own_log", &analyze_entrypoint, R"yaml(
container: {command: ['--server', '/config/server.toml']}
logs: "thread 'main' panicked at 'OS can't spawn worker thread: Operation not permitted (os error 1)'"
)yaml",
                     "", "", ""},
        // kubectl's words about a log it could not show are not the program's output.
        AnalyzerCase{"flag_command_with_only_kubectls_words_as_log", &analyze_entrypoint, R"yaml(
container: {command: ['--server', '/config/server.toml']}
logs: 'Error from server (BadRequest): container "app" in pod "app-0" is waiting to start: ContainerCreating'
)yaml",
                     "entrypoint_override", "makes the flag \"--server\" the program", "command: [\"--server\""},
        // A name with a newline (a YAML | block) prints Go-quoted, "python app.py\n".
        AnalyzerCase{"command_line_with_a_newline_quoted_by_the_runtime", &analyze_entrypoint, R"yaml(
container: {command: ["python app.py\n"]}
logs: 'exec: "python app.py\\n": executable file not found in $PATH'
)yaml",
                     "entrypoint_override", "exec form does not split words", "command: "},
        AnalyzerCase{"flag_command_with_the_runtime_error_in_the_log", &analyze_entrypoint, R"yaml(
container: {command: ['--server', '/config/server.toml']}
logs: 'Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "--server": executable file not found in $PATH: unknown'
)yaml",
                     "entrypoint_override", "makes the flag \"--server\" the program",
                     "command: [\"--server\", \"/config/server.toml\"]"}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Postgres, Analyzer,
    ::testing::Values(AnalyzerCase{"mount_at_parent_of_pgdata", &analyze_postgres_data_dir,
                                   R"yaml(
container: {image: 'postgres:17', env: {PGDATA: /var/lib/postgresql/data},
            mounts: [{path: /var/lib/postgresql, volume: data, kind: pvc}]}
status: {waiting_reason: CrashLoopBackOff}
logs: 'PostgreSQL init process complete; ready for start up.'
)yaml",
                                   "pg_volume_mount_path", "the parent of PGDATA /var/lib/postgresql/data",
                                   "mountPath: /var/lib/postgresql"},
                      AnalyzerCase{"pgdata_outside_volumes", &analyze_postgres_data_dir,
                                   R"yaml(
container: {image: 'postgres:16', mounts: [{path: /var/data, kind: pvc}]}
status: {waiting_reason: CrashLoopBackOff}
)yaml",
                                   "pg_volume_mount_path", "is on no mounted volume",
                                   "PGDATA defaults to /var/lib/postgresql/data"},
                      AnalyzerCase{"initdb_lost_found_at_mount", &analyze_postgres_data_dir,
                                   R"yaml(
container: {image: 'postgres:16', mounts: [{path: /var/lib/postgresql/data, kind: pvc}]}
logs: |
  initdb: error: directory "/var/lib/postgresql/data" exists but is not empty
  initdb: detail: It contains a lost+found directory, perhaps due to it being a mount point.
)yaml",
                                   "pg_data_dir_not_empty", "because a volume is mounted exactly there", "lost+found"},
                      AnalyzerCase{"correct_mount_is_fine", &analyze_postgres_data_dir,
                                   R"yaml(
container: {image: 'postgres:16', mounts: [{path: /var/lib/postgresql/data, kind: pvc}]}
)yaml",
                                   "", "", ""},
                      AnalyzerCase{"pgdata_subdir_of_mount_is_fine", &analyze_postgres_data_dir,
                                   R"yaml(
container: {image: 'postgres:16', env: {PGDATA: /var/lib/postgresql/data/pgdata}, mounts: [{path: /var/lib/postgresql/data, kind: pvc}]}
)yaml",
                                   "", "", ""},
                      AnalyzerCase{"postgres18_parent_mount_is_right", &analyze_postgres_data_dir,
                                   R"yaml(
container: {image: 'postgres:18', mounts: [{path: /var/lib/postgresql, kind: pvc}]}
)yaml",
                                   "", "", ""},
                      AnalyzerCase{"not_postgres", &analyze_postgres_data_dir, R"yaml(
container: {image: 'redis:7', mounts: [{path: /data, kind: pvc}]}
)yaml",
                                   "", "", ""}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(ProbeMade, Analyzer,
                         ::testing::Values(AnalyzerCase{"pg_isready_without_user", &analyze_probe_made_errors,
                                                        R"yaml(
container: {image: 'postgres:17', probes: {liveness: {exec: [pg_isready], period: 10}}}
logs: |
  2025-09-27 18:50:12.345 UTC [61] FATAL:  role "root" does not exist
  2025-09-27 18:50:22.345 UTC [62] FATAL:  role "root" does not exist
)yaml",
                                                        "pg_role_missing", "livenessProbe runs pg_isready without -U",
                                                        "(2 such lines)"},
                                           AnalyzerCase{"probe_in_shell_without_user", &analyze_probe_made_errors,
                                                        R"yaml(
container: {probes: {readiness: {exec: [sh, -c, 'pg_isready -h 127.0.0.1']}}}
logs: 'FATAL:  role "root" does not exist'
)yaml",
                                                        "pg_role_missing", "readinessProbe", "pg_isready -h 127.0.0.1"},
                                           AnalyzerCase{"probe_with_user_is_not_blamed", &analyze_probe_made_errors,
                                                        R"yaml(
container: {probes: {liveness: {exec: [sh, -c, 'pg_isready -U "$POSTGRES_USER"']}}}
logs: 'FATAL:  role "root" does not exist'
)yaml",
                                                        "", "", ""},
                                           AnalyzerCase{"mysqladmin_without_user", &analyze_probe_made_errors,
                                                        R"yaml(
container: {probes: {liveness: {exec: [mysqladmin, ping]}}}
logs: "[Warning] Access denied for user 'root'@'localhost' (using password: NO)"
)yaml",
                                                        "db_auth_failed", "mysqladmin without -u/-p", "mysqladmin"}),
                         [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Exit137, Analyzer,
    ::testing::Values(AnalyzerCase{"oomkilled_quotes_limit", &analyze_exit_137,
                                   R"yaml(
container: {image: eclipse-temurin:21, memory_limit: 512Mi, env: {JAVA_OPTS: '-Xmx1g -XX:+UseG1GC'}}
status: {waiting_reason: CrashLoopBackOff, terminated_reason: OOMKilled, exit_code: 137}
)yaml",
                                   "oom_killed", "at the memory limit of 512Mi", "-Xmx1g"},
                      AnalyzerCase{"liveness_kill_is_not_oom", &analyze_exit_137,
                                   R"yaml(
container: {memory_limit: 512Mi, probes: {liveness: {http_path: /healthz, port: 8080, period: 10, failure_threshold: 3}}}
status: {waiting_reason: CrashLoopBackOff, terminated_reason: Error, exit_code: 137}
events:
  - {type: Warning, reason: Unhealthy, count: 9, message: 'Liveness probe failed: Get "http://10.244.1.7:8080/healthz": dial tcp 10.244.1.7:8080: connect: connection refused'}
  - {type: Normal, reason: Killing, count: 3, message: 'Container api failed liveness probe, will be restarted'}
)yaml",
                                   "liveness_probe_failure", "not OOMKilled", "failed liveness probe"},
                      AnalyzerCase{"plain_exit_1", &analyze_exit_137, R"yaml(
status: {terminated_reason: Error, exit_code: 1}
)yaml",
                                   "", "", ""},
                      // The Events expired (--event-ttl): the probe and a
                      // stop that is not OOMKilled are what is left.
                      AnalyzerCase{"killed_under_probe_without_events", &analyze_exit_137,
                                   R"yaml(
container: {probes: {liveness: {period: 3, failure_threshold: 10}}}
status: {waiting_reason: CrashLoopBackOff, terminated_reason: Error, exit_code: 137}
)yaml",
                                   "liveness_probe_failure", "(not OOMKilled) under a liveness probe",
                                   "failureThreshold: 10"},
                      AnalyzerCase{"sigterm_under_startup_probe", &analyze_exit_137,
                                   R"yaml(
container: {probes: {startup: {http_path: /started, period: 5, failure_threshold: 6}}}
status: {terminated_reason: Error, exit_code: 143}
)yaml",
                                   "liveness_probe_failure", "exit 143 (not OOMKilled) under a startup probe",
                                   "periodSeconds: 5"},
                      AnalyzerCase{"no_exit_under_probe", &analyze_exit_137,
                                   R"yaml(
container: {probes: {liveness: {port: 1157}}}
logs: 'Started Application in 12.3 seconds'
)yaml",
                                   "liveness_probe_failure", "the evidence shows no exit", "initialDelaySeconds"},
                      AnalyzerCase{"oomkilled_under_probe_stays_oom", &analyze_exit_137,
                                   R"yaml(
container: {memory_limit: 300Mi, probes: {liveness: {http_path: /health, period: 10, failure_threshold: 3}}}
status: {terminated_reason: OOMKilled, exit_code: 137}
)yaml",
                                   "oom_killed", "at the memory limit of 300Mi", "OOMKilled"},
                      AnalyzerCase{"exit_1_under_probe_is_the_app", &analyze_exit_137, R"yaml(
container: {probes: {liveness: {http_path: /health}}}
status: {terminated_reason: Error, exit_code: 1}
)yaml",
                                   "", "", ""},
                      // A running container with no previous instance (an unready pod) was never stopped.
                      AnalyzerCase{"running_under_probe_was_never_stopped", &analyze_exit_137, R"yaml(
container: {probes: {liveness: {http_path: /health}}}
status: {state: running}
logs: 'Started Application in 12.3 seconds'
)yaml",
                                   "", "", ""},
                      // Without Events nothing says which probe: both are named and quoted.
                      AnalyzerCase{"both_probes_named_and_quoted", &analyze_exit_137,
                                   R"yaml(
container: {probes: {startup: {http_path: /started, period: 5, failure_threshold: 6}, liveness: {http_path: /health, period: 20, failure_threshold: 3}}}
status: {terminated_reason: Error, exit_code: 143}
)yaml",
                                   "liveness_probe_failure", "under a startup or liveness probe", "periodSeconds: 20"},
                      // The kubelet lost the container (kubelet_pods.go sets exit 137): not a probe kill.
                      AnalyzerCase{"container_status_unknown_is_not_a_probe_kill", &analyze_exit_137, R"yaml(
container: {probes: {liveness: {http_path: /health}}}
status: {terminated_reason: ContainerStatusUnknown, exit_code: 137}
)yaml",
                                   "", "", ""},
                      // A deletion's or an eviction's kill, its Event still there: not the probe's.
                      AnalyzerCase{"a_kill_event_that_is_not_a_probe", &analyze_exit_137, R"yaml(
container: {name: api, probes: {liveness: {http_path: /health}}}
status: {terminated_reason: Error, exit_code: 143}
events: [{type: Normal, reason: Killing, message: 'Stopping container api'}]
)yaml",
                                   "", "", ""},
                      AnalyzerCase{"never_created_under_probe", &analyze_exit_137, R"yaml(
container: {probes: {liveness: {http_path: /health}}}
status: {waiting_reason: CreateContainerConfigError}
)yaml",
                                   "", "", ""}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace crashdiag
