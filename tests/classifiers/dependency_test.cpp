#include "crashdiag/classifiers/dependency.hpp"

#include <gtest/gtest.h>

#include <ostream>

#include "test_support.hpp"

namespace crashdiag {
namespace {

// service_of_host: the names a pod's resolv.conf turns into a Service (search <ns>.svc.<domain>,
// svc.<domain>, <domain>), and everything else refused.
struct HostCase {
  const char* host;
  const char* service;  // "" = not a Service
  const char* ns;
  bool explicit_ns;
};

void PrintTo(const HostCase& c, std::ostream* os) {
  *os << c.host;
}

class ServiceOfHost : public ::testing::TestWithParam<HostCase> {};

TEST_P(ServiceOfHost, Resolves) {
  const HostCase& c = GetParam();
  auto ref = service_of_host(c.host, "shop");
  if (std::string(c.service).empty()) {
    EXPECT_FALSE(ref.has_value()) << ref->service;
    return;
  }
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->service, c.service);
  EXPECT_EQ(ref->namespace_, c.ns);
  EXPECT_EQ(ref->namespace_explicit, c.explicit_ns);
}

INSTANTIATE_TEST_SUITE_P(Table, ServiceOfHost,
                         ::testing::Values(HostCase{"postgres", "postgres", "shop", false},
                                           HostCase{"Postgres", "postgres", "shop", false},
                                           HostCase{"postgres.data", "postgres", "data", true},
                                           HostCase{"postgres.data.svc", "postgres", "data", true},
                                           HostCase{"postgres.data.svc.cluster.local", "postgres", "data", true},
                                           HostCase{"postgres.data.svc.cluster.local.", "postgres", "data", true},
                                           HostCase{"db.example.com", "", "", false},
                                           HostCase{"localhost", "", "", false}, HostCase{"10.96.0.12", "", "", false},
                                           HostCase{"1db", "", "", false}, HostCase{"db_host", "", "", false}));

// dependencies_of: the Service a dependency failure names, from the quoted evidence in each
// runtime's words, else from exactly one address variable.
struct DepCase {
  const char* name;
  const char* category;
  const char* excerpt;  // the top hypothesis's quoted log line
  const char* env_yaml;
  const char* service;  // "" = none
  const char* ns;
  int port;  // 0 = unknown
};

void PrintTo(const DepCase& c, std::ostream* os) {
  *os << c.name;
}

class DependenciesOf : public ::testing::TestWithParam<DepCase> {};

TEST_P(DependenciesOf, NamesTheService) {
  const DepCase& c = GetParam();
  Evidence ev = testing::evidence(std::string("pod: {namespace: shop}\ncontainer: {env: ") + c.env_yaml + "}\n");
  Hypothesis top;
  top.category = c.category;
  top.evidence.push_back({EvidenceSource::kLogs, "logs[2]", c.excerpt});
  const auto deps = dependencies_of(ev, top);
  if (std::string(c.service).empty()) {
    EXPECT_TRUE(deps.empty()) << deps.front().service << " from " << deps.front().where;
    return;
  }
  ASSERT_FALSE(deps.empty());
  EXPECT_EQ(deps.front().service, c.service);
  EXPECT_EQ(deps.front().namespace_, c.ns);
  EXPECT_EQ(deps.front().port.value_or(0), c.port);
  EXPECT_FALSE(deps.front().where.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Table, DependenciesOf,
    ::testing::Values(
        DepCase{"go_lookup", "dns_resolution_failure", "dial tcp: lookup postgres on 10.96.0.10:53: no such host", "{}",
                "postgres", "shop", 0},
        DepCase{"go_refused_ip_env", "db_connection_refused", "dial tcp 10.96.4.2:5432: connect: connection refused",
                "{DATABASE_URL: 'postgres://app:***@postgres.data:5432/app'}", "postgres", "data", 5432},
        DepCase{"libpq_at", "db_connection_refused",
                "connection to server at \"db\" (10.96.4.2), port 5432 failed: Connection refused", "{}", "db", "shop",
                5432},
        DepCase{"libpq_on_host", "db_connection_refused",
                "could not connect to server: Connection refused. Is the server running on host \"pg.shop.svc\" "
                "(10.1.2.3) and accepting TCP/IP connections on port 5432?",
                "{}", "pg", "shop", 5432},
        DepCase{"node_enotfound", "dns_resolution_failure", "Error: getaddrinfo ENOTFOUND redis-master", "{}",
                "redis-master", "shop", 0},
        DepCase{"node_econnrefused_hostport", "db_connection_refused", "Error: connect ECONNREFUSED mongo:27017", "{}",
                "mongo", "shop", 27017},
        DepCase{"mysql_quoted", "db_connection_refused", "Can't connect to MySQL server on 'mysql' (111)", "{}",
                "mysql", "shop", 0},
        DepCase{"java_unknown_host", "dns_resolution_failure",
                "Caused by: java.net.UnknownHostException: kafka.events.svc.cluster.local", "{}", "kafka", "events", 0},
        DepCase{"url_in_line", "db_auth_failed",
                "sqlalchemy.exc.OperationalError: could not connect to postgresql://app@db:5432/app: password "
                "authentication failed",
                "{}", "db", "shop", 5432},
        DepCase{"external_host_is_not_a_service", "dns_resolution_failure",
                "dial tcp: lookup api.stripe.com on 10.96.0.10:53: no such host", "{}", "", "", 0},
        DepCase{"stack_position_is_not_a_host", "db_connection_refused", "main.go:45: connect: connection refused",
                "{}", "", "", 0},
        DepCase{"not_a_dependency_category", "missing_env_var", "dial tcp: lookup postgres: no such host", "{}", "", "",
                0},
        DepCase{"env_ambiguous", "db_connection_refused", "connect: connection refused",
                "{DB_HOST: postgres, REDIS_HOST: redis}", "", "", 0},
        DepCase{"env_port_chooses", "db_connection_refused", "dial tcp 10.0.0.9:6379: connect: connection refused",
                "{DB_URL: 'postgres://db:5432/x', REDIS_ADDR: 'cache:6379'}", "cache", "shop", 6379},
        DepCase{"env_single", "db_connection_refused", "ECONNREFUSED 10.0.0.9:5432", "{DATABASE_HOST: postgres}",
                "postgres", "shop", 0}));

}  // namespace
}  // namespace crashdiag
