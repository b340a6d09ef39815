// Issue 15, item 3, before any restart: a datastore whose data directory is not on the claim the
// pod mounts runs fine until its container is replaced, then initialises an empty database
// (classifiers/src/data_reinit.cpp diagnoses that afterwards). The spec shows it in advance.
//
// Why a claim at the *parent* of an image VOLUME does not hold the data: containerd's CRI plugin
// mounts a fresh per-container directory at every VOLUME the image declares
// (pkg/cri/.../container_create_linux.go `volumeMounts`; `ignore_image_defined_volumes` is false
// by default) and skips only VOLUMEs that already have a mount at exactly the same path. Mounts are
// applied parents first, so the anonymous volume at /var/lib/postgresql/data sits on top of a
// claim at /var/lib/postgresql and receives every write. CRI-O's default (`image_volumes =
// "mkdir"`) creates a plain directory instead, which the claim would cover: the masking finding is
// about containerd, the default runtime of most distributions and managed clusters; the
// data-directory-outside-every-mount finding loses data on any runtime.
#include "crashdiag/classifiers/spec_findings.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <string_view>

#include "crashdiag/classifiers/analyzers.hpp"
#include "crashdiag/classifiers/evidence_view.hpp"
#include "crashdiag/model/datastore.hpp"
#include "crashdiag/model/utf8.hpp"

namespace crashdiag {
namespace {

// The events.k8s.io/v1 Event note limit (core/v1 messages are cut there by the apiserver too).
constexpr std::size_t kMaxMessage = 1024;

// Images whose data directory and VOLUME are known: the Docker official images
// (docker-library/{postgres,mysql,mongo,redis}, MariaDB/mariadb-docker, elastic's image) and
// images built FROM the official postgres one. Anything else named after a datastore (Crunchy,
// Zalando Spilo, CloudNativePG, Percona, vendor builds) keeps its data elsewhere; guessing there
// would warn about correctly persisted databases.
struct KnownImage {
  std::string_view repository;  // image_repository(): no registry, tag or "library/"
  Datastore store;
};
constexpr std::array kKnownImages = {
    KnownImage{"postgres", Datastore::kPostgres},
    KnownImage{"postgis/postgis", Datastore::kPostgres},
    KnownImage{"timescale/timescaledb", Datastore::kPostgres},
    KnownImage{"bitnami/postgresql", Datastore::kPostgres},
    KnownImage{"mysql", Datastore::kMysql},
    KnownImage{"mariadb", Datastore::kMysql},
    KnownImage{"mongo", Datastore::kMongo},
    KnownImage{"redis", Datastore::kRedis},
    KnownImage{"elasticsearch", Datastore::kElasticsearch},
    KnownImage{"elasticsearch/elasticsearch", Datastore::kElasticsearch},
};

// A command line that moves the data directory or reads a config file that may: postgres -D /
// -c data_directory=, mysqld --datadir, mongod --dbpath / -f, redis-server <file.conf> / --dir,
// elasticsearch -Epath.data. The data directory is then not the image default.
constexpr std::array<std::string_view, 9> kOverrides = {"datadir", "dbpath", "--dir", "path.data", "data_directory",
                                                        "config",  ".conf",  ".cnf",  "--pgdata"};
constexpr std::array<std::string_view, 2> kOverrideFlags = {"-D", "-f"};

bool overrides_data_dir(const Container& c) {
  auto moves = [](const std::string& arg) {
    return std::any_of(kOverrides.begin(), kOverrides.end(),
                       [&](std::string_view o) { return arg.find(o) != std::string::npos; }) ||
           std::find(kOverrideFlags.begin(), kOverrideFlags.end(), arg) != kOverrideFlags.end();
  };
  // Elasticsearch's image turns env names with dots into settings (path.data).
  const bool env = std::any_of(c.env.begin(), c.env.end(),
                               [](const EnvVar& e) { return e.name == "path.data" || e.name == "PATH_DATA"; });
  return env || std::any_of(c.command.begin(), c.command.end(), moves) ||
         std::any_of(c.args.begin(), c.args.end(), moves);
}

struct Layout {
  Datastore store = Datastore::kNone;
  std::string data_dir;      // normalised
  std::string image_volume;  // normalised; empty: the image declares none there
  bool pgdata_env = false;
};

std::optional<Layout> layout_of(const Container& c) {
  const std::string repo = image_repository(c.image);
  const auto known =
      std::find_if(kKnownImages.begin(), kKnownImages.end(), [&](const KnownImage& k) { return k.repository == repo; });
  if (known == kKnownImages.end() || overrides_data_dir(c)) return std::nullopt;
  Layout l;
  l.store = known->store;
  if (l.store == Datastore::kPostgres) {
    // PGDATA and VOLUME by tag (18 moved both): the same layout the crash analyzers use.
    const auto pg = postgres_layout(c);
    if (!pg) return std::nullopt;  // PGDATA from a Secret or ConfigMap: unknown here
    l.data_dir = normalize_path(pg->pgdata);
    l.image_volume = pg->image_volume.empty() ? "" : normalize_path(pg->image_volume);
    l.pgdata_env = pg->pgdata_origin == "env PGDATA";
    return l;
  }
  const DataLayout d = default_layout(l.store);
  l.data_dir = std::string(d.data_dir);
  l.image_volume = std::string(d.image_volume);
  return l;
}

bool is_claim(const VolumeMount& m) {
  return m.volume && m.volume->kind == VolumeKind::kPvc;
}

std::string mount_excerpt(const VolumeMount& m) {
  const std::string what = is_claim(m) ? "PVC " + m.volume->source : "volume " + m.name;
  return "mountPath: " + m.mount_path + (m.sub_path.empty() ? "" : ", subPath: " + m.sub_path) + " (" + what + ")";
}

}  // namespace

std::string SpecFinding::message() const {
  // The mount and the fix are what the reader acts on: the summary gives way first.
  const std::string tail = " " + mount_field + ": " + mount + ". Fix: " + fix;
  constexpr std::string_view kMarker = " [...]";
  if (summary.size() + tail.size() <= kMaxMessage) return summary + tail;
  if (tail.size() + kMarker.size() < kMaxMessage) {
    return utf8_clip(summary, kMaxMessage - tail.size() - kMarker.size(), kMarker) + tail;
  }
  return utf8_clip(summary + tail, kMaxMessage - kMarker.size(), kMarker);
}

std::vector<SpecFinding> find_unpersisted_data(const Pod& pod) {
  std::vector<SpecFinding> out;
  for (const Container& c : pod.containers) {
    if (c.init) continue;  // init containers and sidecars keep no datastore
    // Without a claim nothing was meant to persist (a cache, a test database).
    const auto first_claim = std::find_if(c.mounts.begin(), c.mounts.end(), is_claim);
    if (first_claim == c.mounts.end()) continue;
    const auto layout = layout_of(c);
    if (!layout) continue;

    // The deepest mount at or above the data directory: what the data directory really is on
    // (the runtime mounts parents before children: containerd sorts mounts by depth, so the deepest one
    // wins).
    std::optional<std::size_t> covering;
    for (std::size_t i = 0; i < c.mounts.size(); ++i) {
      if (!path_is_within(layout->data_dir, c.mounts[i].mount_path)) continue;
      if (!covering ||
          normalize_path(c.mounts[i].mount_path).size() > normalize_path(c.mounts[*covering].mount_path).size()) {
        covering = i;
      }
    }
    const bool in_volume = !layout->image_volume.empty() && path_is_within(layout->data_dir, layout->image_volume);
    std::size_t quoted = 0;
    bool masked = false;
    if (covering) {
      const VolumeMount& m = c.mounts[*covering];
      // On an emptyDir or a hostPath the spec chose: not ours to judge. On a claim at or below the
      // VOLUME (or with no VOLUME above the data): persisted.
      if (!is_claim(m) || !in_volume) continue;
      const std::string mount_path = normalize_path(m.mount_path);
      if (mount_path == layout->image_volume || !path_is_within(layout->image_volume, mount_path)) continue;
      // The claim is a strict parent of the VOLUME, and no mount sits exactly at the VOLUME
      // (that one would be deeper and covering): the anonymous volume masks the claim.
      masked = true;
      quoted = *covering;
    } else {
      quoted = static_cast<std::size_t>(first_claim - c.mounts.begin());
    }

    const VolumeMount& mount = c.mounts[quoted];
    const std::string claim = mount.volume->source;
    const std::string name(to_string(layout->store));
    const std::string anon = "the image's VOLUME " + layout->image_volume +
                             " (an anonymous volume the runtime creates for every new container)";
    SpecFinding f;
    f.container = c.name;
    f.mount_field = container_path(pod, c) + ".volumeMounts[" + std::to_string(quoted) + "]";
    f.mount = mount_excerpt(mount);
    f.data_dir = layout->data_dir;
    f.goes_to = in_volume ? anon : "the container's writable layer";
    if (masked) {
      f.summary = name + " in container " + c.name + " writes " + layout->data_dir + " to " + anon + ", not to PVC " +
                  claim + " mounted at its parent " + normalize_path(mount.mount_path) +
                  ": the data is lost at the next restart.";
      f.fix = "mount the claim at " + layout->image_volume + " (the VOLUME itself)" +
              (layout->store == Datastore::kPostgres
                   ? ", with PGDATA=" + layout->image_volume + "/pgdata if the volume's root holds lost+found"
                   : "") +
              ".";
    } else {
      f.summary = name + " in container " + c.name + " keeps its data in " + layout->data_dir +
                  (layout->pgdata_env ? " (PGDATA)" : " (the image default)") +
                  ", outside every mounted volume: " + "it goes to " + f.goes_to + ", not to PVC " + claim +
                  ", and is lost at the next restart.";
      const std::string target = in_volume ? layout->image_volume : layout->data_dir;
      f.fix = layout->store == Datastore::kPostgres
                  ? "set PGDATA under the mount (PGDATA=" + normalize_path(mount.mount_path) +
                        "/pgdata), or mount the claim at " + target + "."
                  : "mount the claim at " + target + ".";
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace crashdiag
