// Issue 15, item 3: the failure that never crashes.
//
// A datastore whose data directory is not on its PersistentVolumeClaim runs fine: the data goes
// to the container's writable layer or to an anonymous volume the runtime creates for an image
// VOLUME (containerd's CRI plugin mounts a fresh per-container directory at every image-declared
// VOLUME unless ignore_image_defined_volumes is set, and it is not by default), both of which are
// new for every container. After any restart the entrypoint finds an empty directory and
// initialises a new, empty database; the claim stays empty and nothing crashes. The only trace is
// the new container's own log: a first-start message printed only on an empty data directory.
//
// The daemon reads that log for a `Restarted` signal (a datastore with a claim whose restartCount
// grew while it runs again) and marks it LogTail::current_instance; on any other evidence this
// analyzer says nothing, so crash diagnoses keep their causes.
#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <string_view>

#include "crashdiag/classifiers/analyzers.hpp"
#include "crashdiag/classifiers/evidence_view.hpp"
#include "crashdiag/model/datastore.hpp"
#include "crashdiag/model/utf8.hpp"

namespace crashdiag {
namespace {

// A message a datastore prints only when it starts on an empty data directory.
struct InitSignature {
  Datastore store;
  const char* pattern;  // RE2
  // Whether the message proves an empty data directory by itself, or only suggests it (Redis's
  // RDB mode says nothing when there was nothing to load).
  bool certain = true;
};

// Each line's source, so that a reviewer can check that the message is printed only on an empty
// data directory:
//  - docker-library/postgres docker-entrypoint.sh: `docker_setup_db` ... `echo 'PostgreSQL init
//    process complete; ready for start up.'`, inside `if [ -z "$DATABASE_ALREADY_EXISTS" ]`
//    (set when "$PGDATA/PG_VERSION" exists); initdb (src/bin/initdb/initdb.c) opens with "The
//    files belonging to this database system will be owned by user ..." (real line:
//    tests/data/node/postgres-volume-mount-probe/previous.log).
//  - docker-library/mysql and MariaDB/mariadb-docker docker-entrypoint.sh: `docker_init_database_dir`
//    prints `mysql_note "Initializing database files"` when "$DATADIR/mysql" does not exist, then
//    "MySQL init process done. Ready for start up." / "MariaDB init process done. Ready for start
//    up."; mysqld --initialize logs "[MY-013169] ... initializing of server in progress as process";
//    mariadb-install-db (mysql_install_db) prints "Installing MariaDB/MySQL system tables in '...'".
//  - docker-library/mongo docker-entrypoint.sh: "MongoDB init process complete; ready for start
//    up." only when none of $dbPath/WiredTiger, journal, local.0, storage.bson exists; mongod
//    itself (4.4+ structured log) sets the featureCompatibilityVersion in initandlisten only on a
//    clean start, and creates local.startup_log only when it is missing.
//  - redis src/aof.c (7.0+, appendonly yes): "Creating AOF base file %s on server start" when no
//    AOF manifest exists in `dir`; loading existing data logs "DB loaded from disk",
//    "DB loaded from append only file" or "Loading RDB produced by version" (src/server.c, rdb.c).
//  - elasticsearch server/.../coordination/CoordinationState.java: logger.info("cluster UUID set to
//    [{}]") when the node commits a cluster UUID it did not have: a new cluster, or a node whose
//    data path was empty (OpenSearch logs the same).
constexpr std::array kSignatures = {
    InitSignature{Datastore::kPostgres, R"re(PostgreSQL init process complete; ready for start up)re"},
    InitSignature{Datastore::kPostgres, R"re(The files belonging to this database system will be owned by user)re"},
    InitSignature{Datastore::kMysql, R"re(\[Entrypoint\]: Initializing database files)re"},
    InitSignature{Datastore::kMysql, R"re(initializing of server in progress as process)re"},
    InitSignature{Datastore::kMysql, R"re(Installing MariaDB/MySQL system tables in)re"},
    InitSignature{Datastore::kMysql, R"re((?:MySQL|MariaDB) init process done\. Ready for start up)re"},
    InitSignature{Datastore::kMongo, R"re(MongoDB init process complete; ready for start up)re"},
    InitSignature{Datastore::kMongo, R"re("ctx":"initandlisten","msg":"Setting featureCompatibilityVersion")re"},
    InitSignature{Datastore::kMongo, R"re("msg":"createCollection","attr":\{"namespace":"local\.startup_log")re"},
    InitSignature{Datastore::kRedis, R"re(Creating AOF base file \S+ on server start)re"},
    InitSignature{Datastore::kElasticsearch, R"re(cluster UUID set to \[)re"},
};

// Initialisation that failed is not data lost: the crash path diagnoses it (pg_data_dir_not_empty,
// mysql_data_dir_not_empty), and a first start that never finished had nothing to lose.
constexpr std::array kInitFailed = {
    R"re(initdb: (?:error|fatal):)re",
    R"re(exists but is not empty)re",
    R"re(--initialize specified but the data directory has files in it)re",
};

// Redis in RDB mode: ready without having loaded anything.
constexpr std::string_view kRedisReady = R"re(Ready to accept connections)re";
constexpr std::string_view kRedisLoaded =
    R"re(DB loaded from (?:disk|append only file)|Loading RDB produced by|Reading RDB base file|Done loading RDB)re";

std::string clip(std::string_view s) {
  return utf8_clip(s, 600);
}

struct Found {
  std::size_t line = 0;
  bool certain = true;
};

std::optional<Found> find_init(Datastore store, const std::vector<std::string>& lines) {
  // Compiled once; RE2 objects are thread-safe for matching.
  static const std::vector<std::pair<Datastore, std::unique_ptr<RE2>>> kCompiled = [] {
    std::vector<std::pair<Datastore, std::unique_ptr<RE2>>> v;
    v.reserve(kSignatures.size());
    for (const InitSignature& s : kSignatures) v.emplace_back(s.store, std::make_unique<RE2>(s.pattern));
    return v;
  }();
  static const std::vector<std::unique_ptr<RE2>> kFailed = [] {
    std::vector<std::unique_ptr<RE2>> v;
    v.reserve(kInitFailed.size());
    for (const char* p : kInitFailed) v.push_back(std::make_unique<RE2>(p));
    return v;
  }();
  std::optional<Found> found;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    for (const auto& re : kFailed) {
      if (RE2::PartialMatch(lines[i], *re)) return std::nullopt;
    }
    if (found) continue;
    for (const auto& [s, re] : kCompiled) {
      if (s == store && RE2::PartialMatch(lines[i], *re)) {
        found = Found{i, true};
        break;
      }
    }
  }
  if (found || store != Datastore::kRedis) return found;
  static const RE2 kReady{std::string(kRedisReady)};
  static const RE2 kLoaded{std::string(kRedisLoaded)};
  std::optional<std::size_t> ready;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (RE2::PartialMatch(lines[i], kLoaded)) return std::nullopt;
    if (!ready && RE2::PartialMatch(lines[i], kReady)) ready = i;
  }
  if (ready) return Found{*ready, false};
  return std::nullopt;
}

// Where the datastore keeps its data in this container, and the VOLUME its image declares there.
struct DataDir {
  std::string path;    // empty: unknown (PGDATA from a Secret)
  std::string origin;  // "PGDATA defaults to ... in postgres:16", "env PGDATA", "the image default"
  std::string field;   // where the evidence says so
  std::string image_volume;
};

DataDir data_dir_of(Datastore store, const Container& c, const std::string& base) {
  DataDir d;
  if (store == Datastore::kPostgres) {
    auto layout = postgres_layout(c);
    if (!layout) return d;
    d.path = normalize_path(layout->pgdata);
    d.image_volume = layout->image_volume.empty() ? "" : normalize_path(layout->image_volume);
    const bool env = layout->pgdata_origin == "env PGDATA";
    d.field = env ? base + ".env[PGDATA]" : base + ".image";
    d.origin = env ? "PGDATA=" + layout->pgdata : "PGDATA defaults to " + layout->pgdata + " in " + c.image;
    return d;
  }
  const DataLayout layout = default_layout(store);
  d.path = std::string(layout.data_dir);
  d.image_volume = std::string(layout.image_volume);
  d.field = base + ".image";
  d.origin = std::string(to_string(store)) + " keeps its data in " + d.path + " in " + c.image + " (the image default)";
  return d;
}

std::string mount_excerpt(const VolumeMount& m) {
  const std::string claim =
      m.volume && m.volume->kind == VolumeKind::kPvc ? "PVC " + m.volume->source : "volume " + m.name;
  return "mountPath: " + m.mount_path + (m.sub_path.empty() ? "" : ", subPath: " + m.sub_path) + " (" + claim + ")";
}

bool is_claim(const VolumeMount& m) {
  return m.volume && m.volume->kind == VolumeKind::kPvc;
}

}  // namespace

std::vector<Candidate> analyze_data_reinit(const Evidence& ev, const EvidenceTexts& /*texts*/) {
  const Container& c = ev.target();
  if (!ev.logs.current_instance || c.init || !c.status || c.status->restart_count == 0) return {};
  Datastore store = datastore_of_image(c.image);
  for (const VolumeMount& m : c.mounts) {
    if (store == Datastore::kNone) store = datastore_of_mount(m.mount_path);
  }
  if (store == Datastore::kNone) return {};
  // Without a claim nothing was meant to persist (a cache, a test database): not data lost.
  const bool has_claim = std::any_of(c.mounts.begin(), c.mounts.end(), is_claim);
  if (!has_claim) return {};
  const auto init = find_init(store, ev.logs.lines);
  if (!init) return {};

  const std::string base = container_path(ev.pod, c);
  const DataDir dir = data_dir_of(store, c, base);
  // The deepest claim mount at or above the data directory, and the deepest claim mount of all
  // (the one to quote when none covers it).
  std::optional<std::size_t> covering;
  std::optional<std::size_t> any_claim;
  for (std::size_t i = 0; i < c.mounts.size(); ++i) {
    if (!is_claim(c.mounts[i])) continue;
    if (!any_claim) any_claim = i;
    if (!dir.path.empty() && path_is_within(dir.path, c.mounts[i].mount_path) &&
        (!covering || normalize_path(c.mounts[i].mount_path).size() >
                          normalize_path(c.mounts[covering.value()].mount_path).size())) {
      covering = i;
    }
  }
  // Masked: the claim is mounted above the image's VOLUME, and the runtime's anonymous volume at
  // the VOLUME sits on top of it (the incident of ../shared/incidents: postgres with its claim at
  // /var/lib/postgresql, the image's VOLUME /var/lib/postgresql/data).
  const bool masked = covering && !dir.image_volume.empty() && path_is_within(dir.path, dir.image_volume) &&
                      path_is_within(dir.image_volume, c.mounts[*covering].mount_path) &&
                      normalize_path(c.mounts[*covering].mount_path) != dir.image_volume;
  const bool off_claim = !dir.path.empty() && !covering;
  const std::size_t quoted = covering ? *covering : any_claim.value();
  const VolumeMount& mount = c.mounts[quoted];
  const std::string claim = mount.volume->source;
  const std::string name(to_string(store));
  const int restarts = c.status->restart_count;

  // Where the data went: the anonymous volume of the image's VOLUME, else the container's
  // writable layer; both are discarded with the container.
  const bool to_volume =
      masked || (off_claim && !dir.image_volume.empty() && path_is_within(dir.path, dir.image_volume));
  const std::string went_to =
      to_volume   ? "the image's VOLUME " + dir.image_volume + " (a new anonymous volume for every container)"
      : off_claim ? "the container's writable layer, deleted with the container"
                  : "";

  Hypothesis h;
  h.rule_id = "analyzer.data-reinit";
  h.category = "data_reinitialized";
  h.title = "The database initialised itself again after a restart: its data did not persist";
  h.confidence = (masked || off_claim) ? 0.97 : 0.9;
  if (!init->certain) h.confidence -= 0.15;
  // Short: the RCA table's SUMMARY column cuts at 120 characters.
  h.summary = name + " restarted empty: " +
              (to_volume   ? "data went to VOLUME " + dir.image_volume + ", not PVC " + claim
               : off_claim ? "data went to the container layer, not PVC " + claim
                           : "PVC " + claim + " was empty at start");
  h.evidence.push_back({EvidenceSource::kLogs, "logs[" + std::to_string(init->line) + "]",
                        clip(ev.logs.lines[init->line]) + "  (the running container's log)"});
  h.evidence.push_back(
      {EvidenceSource::kSpec, base + ".volumeMounts[" + std::to_string(quoted) + "]", mount_excerpt(mount)});
  if (!dir.path.empty()) {
    h.evidence.push_back(
        {EvidenceSource::kSpec, dir.field, dir.origin + (went_to.empty() ? "" : ": written to " + went_to)});
  }
  h.evidence.push_back({EvidenceSource::kStatus, status_field(c) + ".restartCount",
                        "restartCount: " + std::to_string(restarts) + ", running again"});

  const std::string opening = "The container restarted (" + std::to_string(restarts) +
                              (restarts == 1 ? " restart" : " restarts") + ") and runs again, but its new log shows " +
                              name + " " +
                              (init->certain ? "initialising a new, empty database: it found no data at start."
                                             : "starting without loading any saved data (no RDB or AOF was read).");
  std::string cause;
  if (masked) {
    cause = " The claim " + claim + " is mounted at " + mount.mount_path + ", the parent of the data directory " +
            dir.path + ". The image " + c.image + " declares VOLUME " + dir.image_volume +
            ", and the container runtime (containerd, by default) mounts a new anonymous volume there on top of the "
            "claim for every new container. So the database has been writing into that throwaway volume: each "
            "restart starts empty, and the claim never held the data.";
  } else if (off_claim) {
    cause = " Its data directory " + dir.path + " is not under the claim " + claim + " (mounted at " +
            mount.mount_path + "), so the data went to " + went_to + " and was lost with the old container.";
  } else if (dir.path.empty()) {
    cause =
        " Where the data directory is could not be read from the spec (PGDATA comes from a Secret or "
        "ConfigMap); it is evidently not on the claim " +
        claim + ", or the claim was empty.";
  } else {
    cause = " Its data directory " + dir.path + " is on the claim " + claim + " (mounted at " + mount.mount_path +
            "), yet it was empty at start: the volume behind the claim was replaced or wiped (a re-created claim "
            "with reclaimPolicy Delete, a node-local volume on another node, or something clearing it at start), "
            "or the server was pointed at another directory.";
  }
  h.explanation = opening + cause +
                  " Nothing crashed, so no crash alert fired: clients now see an empty database, and whatever was "
                  "written before the restart is gone unless it exists elsewhere (a backup, a replica).";

  std::string fix;
  if (masked) {
    fix =
        "Mount the claim at the data directory itself, so that the image's VOLUME is the claim:\n\n"
        "  # before\n  volumeMounts:\n  - name: " +
        mount.name + "\n    mountPath: " + mount.mount_path +
        "\n\n  # after\n  volumeMounts:\n  - name: " + mount.name + "\n    mountPath: " + dir.image_volume + "\n\n";
  } else if (off_claim) {
    fix = "Put the data directory on the claim: mount " + claim + " at " + dir.path +
          (store == Datastore::kPostgres ? ", or set PGDATA to a subdirectory of " + mount.mount_path + " (e.g. " +
                                               normalize_path(mount.mount_path) + "/pgdata)"
                                         : "") +
          ".\n\n";
  } else {
    fix = "Check the claim and its volume: `kubectl get pvc " + claim + " -n " + ev.pod.namespace_ +
          "` (bound to the same PersistentVolume as before?), the PersistentVolume's reclaimPolicy and node "
          "affinity, and any init container or command that clears the data directory.\n\n";
  }
  h.remediation = fix +
                  "Then restore the data from a backup; with the fix in place the next restart keeps it. Until then "
                  "every restart (a node drain, an eviction, a rollout) empties the database again.";
  Candidate candidate{std::move(h), {"unknown", "completed_exit_0"}};
  // The mount layout is this finding's cause and is quoted in it: on the running container's log
  // the re-initialisation is the news, so pg_volume_mount_path does not stand beside it.
  candidate.supersedes.emplace_back("pg_volume_mount_path");
  return {std::move(candidate)};
}

}  // namespace crashdiag
