// Issue 15, item 2, through the daemon on the fake: an app that cannot reach its Postgres names
// the Service; the Service's EndpointSlice leads to the StatefulSet behind it; the app's RCA gets
// status.causedBy = Postgres's RCA, its summary says so, and the gauge counts it as a consequence.
// Also: the link made later when the dependency's RCA appears after the app's, and the note when
// the dependency is healthy (then the client's address, credentials or network policy are wrong).
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>

#include "daemon_harness.hpp"
#include "metrics.hpp"

namespace crashdiag::daemon {
namespace {

using namespace harness;  // NOLINT(google-build-using-namespace)
using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kRcas = "crashdiag.io/v1alpha1/rootcauseanalyses";

std::optional<json> rca_of(Cluster& c, const std::string& workload) {
  for (const auto& r : c.server.list_objects(kRcas, "shop")) {
    if (r.contains("status") && r["status"].value("workload", "") == workload && r["status"].contains("category")) {
      return r;
    }
  }
  return std::nullopt;
}

TEST(Dependencies, AnAppPointedAtAFailingPostgresIsCausedByPostgressRca) {
  quiet_logs();
  metrics::Metrics m({"db_connection_refused", "oom_killed"}, "test");
  Cluster c;
  c.server.add_object(endpoint_slice(false));
  postgres_oom(c);
  add_app(c);
  Running r(c, publishing_options(&m));
  std::optional<json> app;
  std::optional<json> pg;
  ASSERT_TRUE(eventually([&] {
    app = rca_of(c, "Deployment/shop");
    pg = rca_of(c, "StatefulSet/postgres");
    return app && pg && app->at("status").contains("causedBy");
  })) << (app ? app->dump(2).substr(0, 3000) : "no app RCA");
  const json& st = app->at("status");
  if (std::getenv("CRASHDIAG_PRINT_EXAMPLES") != nullptr) std::cout << st.dump(2) << "\n";  // the README's example
  EXPECT_EQ(st["category"], "db_connection_refused");
  EXPECT_EQ(st["causedBy"]["name"], pg->at("metadata")["name"]);
  EXPECT_EQ(st["causedBy"]["workload"], "StatefulSet/postgres");
  EXPECT_EQ(st["causedBy"]["category"], "oom_killed");
  EXPECT_EQ(st["causedBy"]["via"], "Service shop/postgres (\"postgres:5432\" in logs[1])");
  EXPECT_EQ(
      st["summary"].get<std::string>().rfind(
          "StatefulSet/postgres is failing (RCA " + pg->at("metadata")["name"].get<std::string>() + ", oom_killed): ",
          0),
      0U)
      << st["summary"];
  // Postgres is the cause: nothing links it to anything.
  EXPECT_FALSE(pg->at("status").contains("causedBy"));
  // The gauge tells the consequence from the cause, so the shipped alerts page on the cause.
  ASSERT_TRUE(eventually([&] {
    const std::string text = m.serialize();
    return text.find(
               R"(crashdiag_active_rcas{category="db_connection_refused",consequence="true",namespace="shop"} 1)") !=
               std::string::npos &&
           text.find(R"(crashdiag_active_rcas{category="oom_killed",consequence="false",namespace="shop"} 1)") !=
               std::string::npos;
  })) << m.serialize();
  // One EndpointSlice list, by the Service's label.
  int lists = 0;
  for (const auto& req : c.server.requests()) {
    if (req.target.find("/endpointslices") == std::string::npos) continue;
    ++lists;
    EXPECT_NE(req.target.find("labelSelector=kubernetes.io%2Fservice-name%3Dpostgres"), std::string::npos)
        << req.target;
  }
  EXPECT_EQ(lists, 1);
}

TEST(Dependencies, TheLinkIsMadeWhenTheDependencysRcaAppearsLater) {
  quiet_logs();
  Cluster c;
  c.server.add_object(endpoint_slice(false));
  // Postgres starts (running, not ready yet); the app fails on it first.
  json starting = fake::make_pod("shop", "postgres-0", postgres_container(), controller("StatefulSet", "postgres"));
  c.server.apply_pod(starting);
  add_app(c);
  Running r(c, publishing_options(nullptr));
  std::optional<json> app;
  ASSERT_TRUE(eventually([&] { return (app = rca_of(c, "Deployment/shop")).has_value(); }));
  EXPECT_FALSE(app->at("status").contains("causedBy"));
  const std::string notes = app->at("status").value("evidenceNotes", json::array()).dump();
  EXPECT_NE(notes.find("0 of 1 endpoints ready (StatefulSet/postgres)"), std::string::npos) << notes;
  // Then Postgres itself fails: its new RCA takes the waiting dependent.
  postgres_oom(c);
  std::optional<json> pg;
  ASSERT_TRUE(eventually([&] {
    app = rca_of(c, "Deployment/shop");
    pg = rca_of(c, "StatefulSet/postgres");
    return app && pg && app->at("status").contains("causedBy");
  })) << (app ? app->dump(2).substr(0, 2000) : "");
  EXPECT_EQ(app->at("status")["causedBy"]["name"], pg->at("metadata")["name"]);
}

TEST(Dependencies, AHealthyDependencyIsSaidSoAndLinksNothing) {
  quiet_logs();
  Cluster c;
  c.server.add_object(endpoint_slice(true));
  json running = fake::make_pod("shop", "postgres-0", postgres_container(), controller("StatefulSet", "postgres"));
  c.server.apply_pod(running);
  add_app(c);
  Running r(c, publishing_options(nullptr));
  std::optional<json> app;
  ASSERT_TRUE(eventually([&] {
    app = rca_of(c, "Deployment/shop");
    return app && app->at("status").contains("evidenceNotes");
  }));
  const json& st = app->at("status");
  EXPECT_FALSE(st.contains("causedBy"));
  EXPECT_EQ(st["evidenceNotes"][0],
            "Service shop/postgres (\"postgres:5432\" in logs[1]) has 1 of 1 endpoints ready (StatefulSet/postgres): "
            "the dependency is up, so the client's address, credentials or a NetworkPolicy is the likelier cause");
}

TEST(Dependencies, AServiceWithNoEndpointsIsSaidSo) {
  quiet_logs();
  Cluster c;
  add_app(c);
  Running r(c, publishing_options(nullptr));
  std::optional<json> app;
  ASSERT_TRUE(eventually([&] {
    app = rca_of(c, "Deployment/shop");
    return app && app->at("status").contains("evidenceNotes");
  }));
  EXPECT_EQ(app->at("status")["evidenceNotes"][0],
            "Service shop/postgres (\"postgres:5432\" in logs[1]) has no endpoints: no such Service in shop, or no "
            "pod matches its selector");
}

TEST(Dependencies, OffMeansNoEndpointSliceIsListedAndNothingIsLinked) {
  quiet_logs();
  Cluster c;
  c.server.add_object(endpoint_slice(false));
  postgres_oom(c);
  add_app(c);
  DaemonOptions o = publishing_options(nullptr);
  o.link_dependencies = false;
  Running r(c, o);
  std::optional<json> app;
  ASSERT_TRUE(eventually(
      [&] { return (app = rca_of(c, "Deployment/shop")).has_value() && rca_of(c, "StatefulSet/postgres"); }));
  ASSERT_TRUE(r.settle());  // a link would have been written by now
  app = rca_of(c, "Deployment/shop");
  EXPECT_FALSE(app->at("status").contains("causedBy"));
  for (const auto& req : c.server.requests()) EXPECT_EQ(req.target.find("/endpointslices"), std::string::npos);
}

}  // namespace
}  // namespace crashdiag::daemon
