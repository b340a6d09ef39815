#include "crashdiag/classifiers/categories.hpp"

#include <array>

namespace crashdiag {
namespace {

constexpr std::array kCategories = {
    CategoryInfo{"entrypoint_override",
                 "command: replaced the image ENTRYPOINT, so an argument is executed as a program"},
    CategoryInfo{"missing_executable_or_file", "the program or script the container runs does not exist in the image"},
    CategoryInfo{"exec_format_error", "the binary is for another CPU architecture, or a script lacks its #! line"},
    CategoryInfo{"permission_denied_exec", "the entrypoint exists but is not executable (mode or noexec mount)"},
    CategoryInfo{"volume_permission", "the process user cannot write to a mounted volume"},
    CategoryInfo{"read_only_filesystem", "a write hit readOnlyRootFilesystem or a read-only mount"},
    CategoryInfo{"disk_full", "a volume or the node's ephemeral storage is full"},
    CategoryInfo{"pg_data_dir_not_empty", "initdb refuses a non-empty PGDATA (lost+found at a volume root)"},
    CategoryInfo{"pg_volume_mount_path",
                 "the PostgreSQL volume is not mounted where PGDATA is: data masked or not persisted"},
    CategoryInfo{"data_reinitialized",
                 "a database restarted and initialised itself empty: its data directory is not on its claim"},
    CategoryInfo{"pg_role_missing", "a client (often a probe) connects as a PostgreSQL role that does not exist"},
    CategoryInfo{"db_auth_failed", "the database rejected the application's credentials"},
    CategoryInfo{"db_connection_refused", "a dependency refused or timed out at start"},
    CategoryInfo{"dns_resolution_failure", "a host name the application needs does not resolve"},
    CategoryInfo{"tls_certificate_error", "a TLS certificate was not trusted, expired or for another name"},
    CategoryInfo{"oom_killed", "the container exceeded its memory limit and the kernel killed it"},
    CategoryInfo{"missing_config_or_secret", "a referenced ConfigMap, Secret, key or config file does not exist"},
    CategoryInfo{"missing_env_var", "a required environment variable is not set"},
    CategoryInfo{"invalid_env_value", "an environment variable has a value the application rejects"},
    CategoryInfo{"config_parse_error", "a configuration file does not parse"},
    CategoryInfo{"service_env_collision", "a variable Kubernetes injects for a Service clobbers the application's own"},
    CategoryInfo{"mysql_data_dir_not_empty", "mysqld --initialize refuses a non-empty data directory"},
    CategoryInfo{"port_in_use", "the port the application binds is already taken in the pod's network namespace"},
    CategoryInfo{"liveness_probe_failure", "the kubelet killed the container after failed liveness or startup probes"},
    CategoryInfo{"image_pull", "the image cannot be pulled: wrong name or tag, no credentials, wrong platform"},
    CategoryInfo{"missing_module_or_dependency", "a library, module or class the program needs is not in the image"},
    CategoryInfo{"app_panic_or_exception",
                 "the application crashed on its own error: panic, unhandled exception, segfault"},
    CategoryInfo{"db_migration_failure", "a database schema migration failed at start"},
    CategoryInfo{"completed_exit_0", "the main process exits successfully, but the pod's restartPolicy restarts it"},
    CategoryInfo{"init_container_failure", "an init container fails for a reason none of the other categories covers"},
    CategoryInfo{"unknown", "nothing fits well enough: the most telling evidence is shown instead of a guess"},
};

}  // namespace

std::span<const CategoryInfo> categories() {
  return kCategories;
}

bool is_known_category(std::string_view id) {
  for (const CategoryInfo& c : kCategories) {
    if (c.id == id) return true;
  }
  return false;
}

}  // namespace crashdiag
