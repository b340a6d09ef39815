// Which datastore a container runs, judged from its image name or from where it mounts its data.
// One definition for the daemon's slim pod records (is this container worth looking at when it
// restarts, in case the restart re-initialised its data?) and for the analyzers (which first-start
// messages to look for, and where the image keeps its data). Pure.
#pragma once

#include <string_view>

namespace crashdiag {

enum class Datastore { kNone, kPostgres, kMysql, kMongo, kRedis, kElasticsearch };

[[nodiscard]] std::string_view to_string(Datastore d);

// From the image's repository name ("postgres:16", "bitnami/mariadb:11", "mongo@sha256:..."). Tools
// named after a datastore (exporters, admin UIs, operators, proxies) are not the datastore.
[[nodiscard]] Datastore datastore_of_image(std::string_view image);

// From a mount path the official and Bitnami images keep their data under (/var/lib/postgresql,
// /var/lib/mysql, /data/db, /usr/share/elasticsearch/data, /bitnami/<name>). Redis's /data is
// too common a path to say anything on its own.
[[nodiscard]] Datastore datastore_of_mount(std::string_view mount_path);

// Where the official image keeps its data by default and the VOLUME it declares for it (empty
// when it declares none), for the datastores whose layout does not depend on the tag; PostgreSQL's
// does (18 moved it), so the PostgreSQL analyzer works it out itself.
struct DataLayout {
  std::string_view data_dir;
  std::string_view image_volume;
};
[[nodiscard]] DataLayout default_layout(Datastore d);

}  // namespace crashdiag
