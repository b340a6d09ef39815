#include "crashdiag/model/datastore.hpp"

#include <array>
#include <utility>

namespace crashdiag {
namespace {

// The last path component of the repository: no registry, no tag, no digest.
std::string_view image_base(std::string_view image) {
  if (auto at = image.find('@'); at != std::string_view::npos) image = image.substr(0, at);
  const auto slash = image.rfind('/');
  if (const auto colon = image.rfind(':');
      colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    image = image.substr(0, colon);
  }
  if (const auto last = image.rfind('/'); last != std::string_view::npos) image = image.substr(last + 1);
  return image;
}

bool contains(std::string_view s, std::string_view needle) {
  return s.find(needle) != std::string_view::npos;
}

// A path equal to `parent` or below it.
bool within(std::string_view path, std::string_view parent) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (path.substr(0, parent.size()) != parent) return false;
  return path.size() == parent.size() || path[parent.size()] == '/';
}

constexpr std::array<std::pair<std::string_view, Datastore>, 11> kImageNames = {{
    {"postgres", Datastore::kPostgres},
    {"postgis", Datastore::kPostgres},
    {"timescaledb", Datastore::kPostgres},
    {"mysql", Datastore::kMysql},
    {"mariadb", Datastore::kMysql},
    {"percona", Datastore::kMysql},
    {"mongo", Datastore::kMongo},
    {"redis", Datastore::kRedis},
    {"valkey", Datastore::kRedis},
    {"elasticsearch", Datastore::kElasticsearch},
    {"opensearch", Datastore::kElasticsearch},
}};

// Images named after a datastore that are not one: they keep no data of the datastore's own.
constexpr std::array<std::string_view, 10> kNotTheDatastore = {
    "exporter", "express", "commander", "admin", "operator", "proxy", "bouncer", "dashboards", "insight", "backup"};

constexpr std::array<std::pair<std::string_view, Datastore>, 11> kDataPaths = {{
    {"/var/lib/postgresql", Datastore::kPostgres},
    {"/bitnami/postgresql", Datastore::kPostgres},
    {"/var/lib/mysql", Datastore::kMysql},
    {"/bitnami/mysql", Datastore::kMysql},
    {"/bitnami/mariadb", Datastore::kMysql},
    {"/data/db", Datastore::kMongo},
    {"/bitnami/mongodb", Datastore::kMongo},
    {"/bitnami/redis", Datastore::kRedis},
    {"/usr/share/elasticsearch/data", Datastore::kElasticsearch},
    {"/usr/share/opensearch/data", Datastore::kElasticsearch},
    {"/bitnami/elasticsearch", Datastore::kElasticsearch},
}};

}  // namespace

std::string_view to_string(Datastore d) {
  switch (d) {
    case Datastore::kPostgres:
      return "PostgreSQL";
    case Datastore::kMysql:
      return "MySQL/MariaDB";
    case Datastore::kMongo:
      return "MongoDB";
    case Datastore::kRedis:
      return "Redis";
    case Datastore::kElasticsearch:
      return "Elasticsearch";
    case Datastore::kNone:
      break;
  }
  return "none";
}

Datastore datastore_of_image(std::string_view image) {
  const std::string_view base = image_base(image);
  for (std::string_view tool : kNotTheDatastore) {
    if (contains(base, tool)) return Datastore::kNone;
  }
  for (const auto& [name, store] : kImageNames) {
    if (contains(base, name)) return store;
  }
  return Datastore::kNone;
}

Datastore datastore_of_mount(std::string_view mount_path) {
  for (const auto& [path, store] : kDataPaths) {
    if (within(mount_path, path)) return store;
  }
  return Datastore::kNone;
}

// The official images' Dockerfiles: docker-library/mysql and mariadb `VOLUME /var/lib/mysql`,
// docker-library/mongo `VOLUME /data/db /data/configdb`, docker-library/redis `VOLUME /data`
// (and `WORKDIR /data`, where redis-server writes dump.rdb and appendonlydir), and
// elastic/elasticsearch's image keeps data in /usr/share/elasticsearch/data without a VOLUME.
DataLayout default_layout(Datastore d) {
  switch (d) {
    case Datastore::kPostgres:
      return {"/var/lib/postgresql/data", "/var/lib/postgresql/data"};
    case Datastore::kMysql:
      return {"/var/lib/mysql", "/var/lib/mysql"};
    case Datastore::kMongo:
      return {"/data/db", "/data/db"};
    case Datastore::kRedis:
      return {"/data", "/data"};
    case Datastore::kElasticsearch:
      return {"/usr/share/elasticsearch/data", ""};
    case Datastore::kNone:
      break;
  }
  return {};
}

}  // namespace crashdiag
