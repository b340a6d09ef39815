// Issue 15, item 1, through the daemon on the fake: a Deployment edited from `args` to `command`
// fails and its RCA names the change; a StatefulSet whose memory limit was lowered is OOM-killed
// and its RCA names that; a Deployment whose template did not change says the cause is elsewhere.
#include <gtest/gtest.h>

#include "daemon_harness.hpp"

namespace crashdiag::daemon {
namespace {

using namespace harness;  // NOLINT(google-build-using-namespace)
using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kRcas = "crashdiag.io/v1alpha1/rootcauseanalyses";

json owner_ref(const std::string& kind, const std::string& name) {
  return json::array(
      {{{"apiVersion", "apps/v1"}, {"kind", kind}, {"name", name}, {"uid", "uid-" + name}, {"controller", true}}});
}

json pod_template(const json& container) {
  return {{"metadata", {{"labels", {{"app", "x"}}}}}, {"spec", {{"containers", json::array({container})}}}};
}

json replicaset(const std::string& name, int revision, const json& container, const std::string& created) {
  return {{"kind", "ReplicaSet"},
          {"apiVersion", "apps/v1"},
          {"metadata",
           {{"name", name},
            {"namespace", "auth"},
            {"uid", "uid-" + name},
            {"creationTimestamp", created},
            {"annotations", {{"deployment.kubernetes.io/revision", std::to_string(revision)}}},
            {"ownerReferences", owner_ref("Deployment", "authentik")}}},
          {"spec", {{"template", pod_template(container)}}}};
}

json server(bool as_command) {
  json c = {{"name", "server"}, {"image", "ghcr.io/goauthentik/server:2024.2.1"}};
  c[as_command ? "command" : "args"] = json::array({"server"});
  return c;
}

json rca_status(Cluster& c, const std::string& ns) {
  json st;
  eventually([&] {
    auto rcas = c.server.list_objects(kRcas, ns);
    if (rcas.empty() || !rcas[0].contains("status") || !rcas[0]["status"].contains("category")) return false;
    st = rcas[0]["status"];
    return true;
  });
  return st;
}

TEST(WhatChanged, ADeploymentEditedFromArgsToCommandNamesTheChange) {
  quiet_logs();
  Cluster c;
  c.server.add_object(replicaset("authentik-5c4b8d9f6", 1, server(false), "2026-12-03T09:00:00Z"));
  c.server.add_object(replicaset("authentik-7d9f6b8c4", 2, server(true), "2026-12-03T10:00:00Z"));
  json pod = failing_pod("auth", "authentik-7d9f6b8c4-x2k9p", server(true),
                         owner_ref("ReplicaSet", "authentik-7d9f6b8c4")[0], 3, 128, "StartError", kStartError);
  pod["metadata"]["creationTimestamp"] = "2026-12-03T10:02:00Z";
  c.server.apply_pod(pod);
  Running r(c, publishing_options(nullptr));
  const json st = rca_status(c, "auth");
  ASSERT_TRUE(st.contains("whatChanged")) << st.dump(2).substr(0, 2000);
  const json& w = st["whatChanged"];
  EXPECT_EQ(w["revision"], "2");
  EXPECT_EQ(w["previousRevision"], "1");
  EXPECT_EQ(w["summary"], R"(changed in revision 2 (2m before the first failure): containers[0].command added )"
                          R"(["server"]; containers[0].args removed (was ["server"]))");
  EXPECT_EQ(st["category"], "entrypoint_override");
  // The change is the blamed hypothesis's first evidence, and the Event says it too.
  EXPECT_EQ(st["hypotheses"][0]["evidence"][0]["field"], "changed in revision 2");
  EXPECT_EQ(st["hypotheses"][0]["evidence"][0]["excerpt"], R"(containers[0].command added ["server"])");
  ASSERT_TRUE(eventually([&] {
    for (const auto& e : c.server.list_objects("events", "auth")) {
      if (e.value("message", "").find("changed in revision 2") != std::string::npos) return true;
    }
    return false;
  }));
}

TEST(WhatChanged, AStatefulSetWithALoweredMemoryLimitNamesItFromItsControllerRevisions) {
  quiet_logs();
  Cluster c;
  auto revision = [&](const std::string& name, int rev, const std::string& memory) {
    json worker = {{"name", "api"}, {"image", "eclipse-temurin:21"}, {"resources", {{"limits", {{"memory", memory}}}}}};
    json tmpl = pod_template(worker);
    tmpl["$patch"] = "replace";  // how the StatefulSet controller stores it (pkg/controller/statefulset)
    c.server.add_object({{"kind", "ControllerRevision"},
                         {"apiVersion", "apps/v1"},
                         {"metadata",
                          {{"name", name},
                           {"namespace", "data"},
                           {"creationTimestamp", "2026-12-03T10:00:00Z"},
                           {"ownerReferences", owner_ref("StatefulSet", "db")}}},
                         {"revision", rev},
                         {"data", {{"spec", {{"template", tmpl}}}}}});
  };
  revision("db-5d4f7c9b8", 1, "512Mi");
  revision("db-6b8f9c7d5", 2, "64Mi");
  json api = {{"name", "api"}, {"image", "eclipse-temurin:21"}, {"resources", {{"limits", {{"memory", "64Mi"}}}}}};
  json pod = failing_pod("data", "db-0", api, owner_ref("StatefulSet", "db")[0], 2, 137, "OOMKilled");
  pod["metadata"]["labels"] = {{"controller-revision-hash", "db-6b8f9c7d5"}};
  c.server.apply_pod(pod);
  c.server.set_logs("data", "db-0", "api", true, "INFO loading cache\n");
  Running r(c, publishing_options(nullptr));
  const json st = rca_status(c, "data");
  ASSERT_TRUE(st.contains("whatChanged")) << st.dump(2).substr(0, 2000);
  EXPECT_EQ(st["category"], "oom_killed");
  EXPECT_EQ(st["whatChanged"]["changes"], json::array({"containers[0].resources.limits.memory 512Mi → 64Mi"}));
  EXPECT_EQ(st["hypotheses"][0]["evidence"][0]["excerpt"], "containers[0].resources.limits.memory 512Mi → 64Mi");
}

TEST(WhatChanged, AnUnchangedTemplateSaysTheCauseIsOutsideTheSpec) {
  quiet_logs();
  Cluster c;
  c.server.add_object(replicaset("authentik-5c4b8d9f6", 1, server(true), "2026-12-03T09:00:00Z"));
  c.server.add_object(replicaset("authentik-7d9f6b8c4", 2, server(true), "2026-12-03T10:00:00Z"));
  c.server.apply_pod(failing_pod("auth", "authentik-7d9f6b8c4-x2k9p", server(true),
                                 owner_ref("ReplicaSet", "authentik-7d9f6b8c4")[0], 3, 128, "StartError", kStartError));
  Running r(c, publishing_options(nullptr));
  const json st = rca_status(c, "auth");
  ASSERT_TRUE(st.contains("whatChanged")) << st.dump(2).substr(0, 2000);
  EXPECT_EQ(st["whatChanged"]["changes"], json::array());
  EXPECT_EQ(
      st["whatChanged"]["summary"].get<std::string>().rfind("nothing in the pod template changed since revision 1", 0),
      0U);
}

TEST(WhatChanged, OffMeansNoRevisionIsListed) {
  quiet_logs();
  Cluster c;
  c.server.add_object(replicaset("authentik-7d9f6b8c4", 2, server(true), "2026-12-03T10:00:00Z"));
  c.server.apply_pod(failing_pod("auth", "authentik-7d9f6b8c4-x2k9p", server(true),
                                 owner_ref("ReplicaSet", "authentik-7d9f6b8c4")[0], 3, 128, "StartError", kStartError));
  DaemonOptions o = publishing_options(nullptr);
  o.what_changed = false;
  Running r(c, o);
  const json st = rca_status(c, "auth");
  EXPECT_FALSE(st.contains("whatChanged"));
  for (const auto& req : c.server.requests()) {
    // The owner index's metadata watch lists all ReplicaSets cluster-wide; what-changed would
    // list the namespace's.
    EXPECT_EQ(req.target.find("/namespaces/auth/replicasets"), std::string::npos)
        << req.target << ": listed although --what-changed=false";
  }
}

}  // namespace
}  // namespace crashdiag::daemon
