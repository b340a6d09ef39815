// What changed between two pod templates (issue 15, item 1): one row per kind of edit people make,
// the text on-call reads, and what must never show (env values, the token volume every pod gets).
#include "crashdiag/model/template_diff.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <ostream>

namespace crashdiag {
namespace {

using nlohmann::json;

json container() {
  return {{"name", "server"},
          {"image", "ghcr.io/goauthentik/server:2024.2.1"},
          {"args", json::array({"server"})},
          {"env", json::array({{{"name", "DB_HOST"}, {"value", "db"}},
                               {{"name", "DB_PASSWORD"}, {"value", "hunter2-secret"}}})},
          {"volumeMounts", json::array({{{"name", "data"}, {"mountPath", "/data"}}})},
          {"resources", {{"limits", {{"memory", "512Mi"}}}}},
          {"livenessProbe", {{"httpGet", {{"path", "/healthz"}, {"port", 9000}}}, {"periodSeconds", 10}}}};
}

json templ(const json& c, const json& volumes = json::array({{{"name", "data"}, {"emptyDir", json::object()}}})) {
  return {{"metadata", {{"labels", {{"app", "web"}}}}},
          {"spec",
           {{
                "containers",
                json::array({c}),
            },
            {"volumes", volumes}}}};
}

Pod pod_of(const json& t) {
  auto s = template_from_object(t);
  EXPECT_TRUE(s) << (s ? "" : s.error().what);
  return s ? s->pod : Pod{};
}

struct DiffCase {
  const char* name;
  json (*edit)(json c);
  std::vector<std::string> expected;
};

void PrintTo(const DiffCase& c, std::ostream* os) {
  *os << c.name;
}

class TemplateDiff : public ::testing::TestWithParam<DiffCase> {};

TEST_P(TemplateDiff, SaysWhatChangedInWordsAndNothingElse) {
  const json before = container();
  const json after = GetParam().edit(container());
  std::vector<std::string> texts;
  for (const auto& c : diff_templates(pod_of(templ(before)), pod_of(templ(after)))) texts.push_back(c.text);
  EXPECT_EQ(texts, GetParam().expected);
  for (const auto& t : texts) EXPECT_EQ(t.find("hunter2"), std::string::npos) << "an env value was printed: " << t;
}

INSTANTIATE_TEST_SUITE_P(
    Table, TemplateDiff,
    ::testing::Values(
        DiffCase{"nothing", [](json c) { return c; }, {}},
        DiffCase{"args_to_command",
                 [](json c) {
                   c.erase("args");
                   c["command"] = json::array({"server"});
                   return c;
                 },
                 {R"(containers[0].command added ["server"])", R"(containers[0].args removed (was ["server"]))"}},
        DiffCase{"image",
                 [](json c) {
                   c["image"] = "ghcr.io/goauthentik/server:2024.4.0";
                   return c;
                 },
                 {"containers[0].image ghcr.io/goauthentik/server:2024.2.1 → ghcr.io/goauthentik/server:2024.4.0"}},
        DiffCase{"env_value_changed_but_not_printed",
                 [](json c) {
                   c["env"][1]["value"] = "another-secret";
                   return c;
                 },
                 {"containers[0].env DB_PASSWORD changed (value)"}},
        DiffCase{"env_from_a_secret_added",
                 [](json c) {
                   c["env"].push_back(
                       {{"name", "API_KEY"}, {"valueFrom", {{"secretKeyRef", {{"name", "api"}, {"key", "key"}}}}}});
                   return c;
                 },
                 {"containers[0].env API_KEY added (from secretKeyRef:api/key)"}},
        DiffCase{"env_removed",
                 [](json c) {
                   c["env"].erase(0);
                   return c;
                 },
                 {"containers[0].env DB_HOST removed"}},
        DiffCase{"mount_moved",
                 [](json c) {
                   c["volumeMounts"][0]["mountPath"] = "/var/lib/postgresql";
                   return c;
                 },
                 {"containers[0].volumeMounts /var/lib/postgresql added (volume data)",
                  "containers[0].volumeMounts /data removed (volume data)"}},
        DiffCase{"memory_limit_lowered",
                 [](json c) {
                   c["resources"]["limits"]["memory"] = "128Mi";
                   return c;
                 },
                 {"containers[0].resources.limits.memory 512Mi → 128Mi"}},
        DiffCase{"probe_tightened",
                 [](json c) {
                   c["livenessProbe"]["timeoutSeconds"] = 5;
                   c["livenessProbe"]["initialDelaySeconds"] = 0;
                   c["livenessProbe"]["failureThreshold"] = 1;
                   return c;
                 },
                 {"containers[0].livenessProbe httpGet /healthz port 9000 (initialDelay 0s, period 10s, timeout 1s, "
                  "failures 3) → httpGet /healthz port 9000 (initialDelay 0s, period 10s, timeout 5s, failures 1)"}},
        DiffCase{"run_as_user",
                 [](json c) {
                   c["securityContext"] = {{"runAsUser", 1001}};
                   return c;
                 },
                 {"containers[0].securityContext.runAsUser unset → 1001"}}),
    [](const ::testing::TestParamInfo<DiffCase>& info) { return std::string(info.param.name); });

TEST(TemplateDiff, PodLevelVolumesAndServiceLinksAndTheInjectedTokenVolume) {
  json before = templ(container());
  json after = templ(container(), json::array({{{"name", "data"}, {"persistentVolumeClaim", {{"claimName", "pg"}}}}}));
  after["spec"]["enableServiceLinks"] = false;
  // What the ServiceAccount admission plugin adds to a pod, never to its template.
  after["spec"]["volumes"].push_back({{"name", "kube-api-access-x7k2p"}, {"projected", {{"sources", json::array()}}}});
  after["spec"]["containers"][0]["volumeMounts"].push_back(
      {{"name", "kube-api-access-x7k2p"},
       {"mountPath", "/var/run/secrets/kubernetes.io/serviceaccount"},
       {"readOnly", true}});
  std::vector<std::string> texts;
  for (const auto& c : diff_templates(pod_of(before), pod_of(after))) texts.push_back(c.text);
  EXPECT_EQ(texts, (std::vector<std::string>{"volumes.data emptyDir → persistentVolumeClaim pg",
                                             "enableServiceLinks true → false"}));
}

TEST(TemplateDiff, ReadsTheTemplateOutOfEveryObjectThatHoldsOne) {
  const json t = templ(container());
  json rs = {{"apiVersion", "apps/v1"},
             {"kind", "ReplicaSet"},
             {"metadata",
              {{"name", "web-7d9f"},
               {"creationTimestamp", "2026-12-03T10:00:00Z"},
               {"annotations", {{"deployment.kubernetes.io/revision", "7"}}}}},
             {"spec", {{"template", t}}}};
  auto from_rs = template_from_object(rs);
  ASSERT_TRUE(from_rs);
  EXPECT_EQ(from_rs->revision, "7");
  EXPECT_EQ(from_rs->created, "2026-12-03T10:00:00Z");
  ASSERT_EQ(from_rs->pod.containers.size(), 1U);
  json cr = {{"apiVersion", "apps/v1"},
             {"kind", "ControllerRevision"},
             {"metadata", {{"name", "db-6b8f9c7d5"}}},
             {"revision", 3},
             {"data", {{"spec", {{"template", t}}}}}};
  auto from_cr = template_from_object(cr);
  ASSERT_TRUE(from_cr);
  EXPECT_EQ(from_cr->revision, "3");
  // Items of a List carry no kind or apiVersion: read by shape.
  cr.erase("kind");
  cr.erase("apiVersion");
  ASSERT_TRUE(template_from_object(cr));
  EXPECT_EQ(template_from_object(cr)->revision, "3");
  EXPECT_TRUE(template_from_object(t));  // a bare template
  EXPECT_TRUE(template_from_object({{"kind", "Deployment"}, {"spec", {{"template", t}}}}));
  EXPECT_FALSE(template_from_object({{"kind", "ConfigMap"}, {"data", {{"a", "b"}}}}));
  EXPECT_FALSE(template_from_object(json::array()));
}

TEST(TemplateDiff, TheSummarySaysWhenAndHowMuchOrThatNothingChanged) {
  WhatChanged w;
  w.revision = "7";
  w.previous_revision = "6";
  w.changed_at = "2026-12-03T10:00:00Z";
  w.changes = {{"server", ChangeAspect::kCommand, R"(containers[0].command added ["server"])"}};
  EXPECT_EQ(describe_changes(w, "2026-12-03T10:02:00Z"),
            R"(changed in revision 7 (2m before the first failure): containers[0].command added ["server"])");
  for (int i = 0; i < 8; ++i) w.changes.push_back({"server", ChangeAspect::kEnv, "e" + std::to_string(i)});
  EXPECT_NE(describe_changes(w, "").find("; and 3 more"), std::string::npos);
  w.changes.clear();
  EXPECT_EQ(describe_changes(w, "").rfind("nothing in the pod template changed since revision 6: the cause is "
                                          "outside the spec",
                                          0),
            0U);
}

// Which revision a failing pod's template is compared with: the one before its own among those
// its workload owns, for a Deployment's ReplicaSets and a StatefulSet's or DaemonSet's
// ControllerRevisions (run and explain pod both use this).
json ref(const std::string& kind, const std::string& name) {
  return json::array(
      {{{"apiVersion", "apps/v1"}, {"kind", kind}, {"name", name}, {"uid", "uid-" + name}, {"controller", true}}});
}

json container_with(const std::string& image) {
  return {{"name", "app"}, {"image", image}};
}

json revision_object(const std::string& kind, const std::string& name, int revision, const std::string& owner_kind,
                     const std::string& owner, const std::string& image) {
  json meta = {{"name", name}, {"namespace", "shop"}, {"ownerReferences", ref(owner_kind, owner)}};
  const json tmpl = {{"metadata", {{"labels", {{"app", "x"}}}}},
                     {"spec", {{"containers", json::array({container_with(image)})}}}};
  if (kind == "ReplicaSet") {
    meta["annotations"] = {{"deployment.kubernetes.io/revision", std::to_string(revision)}};
    return {{"metadata", meta}, {"spec", {{"template", tmpl}}}};
  }
  return {{"metadata", meta}, {"revision", revision}, {"data", {{"spec", {{"template", tmpl}}}}}};
}

json pod_of(const std::string& owner_kind, const std::string& owner, const std::string& hash = "") {
  json meta = {{"name", "p"}, {"namespace", "shop"}, {"ownerReferences", ref(owner_kind, owner)}};
  if (!hash.empty()) meta["labels"] = {{"controller-revision-hash", hash}};
  return {{"metadata", meta}, {"spec", {{"containers", json::array({container_with("x:3")})}}}};
}

struct RevisionCase {
  const char* name;
  json pod;
  json items;
  const char* path;      // "" = no revisions to read
  const char* previous;  // expected previous revision, "" = none
};

void PrintTo(const RevisionCase& c, std::ostream* os) {
  *os << c.name;
}

class PreviousRevision : public ::testing::TestWithParam<RevisionCase> {};

TEST_P(PreviousRevision, IsTheOneBeforeThePodsOwn) {
  const RevisionCase& c = GetParam();
  const auto list = revision_list_of(c.pod);
  EXPECT_EQ(list ? list->path : std::string(), c.path);
  const auto previous = previous_template_of(c.pod, json{{"items", c.items}});
  EXPECT_EQ(previous ? previous->revision : std::string(), c.previous);
  if (previous) {
    EXPECT_FALSE(previous->current_revision.empty());
    ASSERT_FALSE(previous->pod.containers.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, PreviousRevision,
    ::testing::Values(
        RevisionCase{"deployment", pod_of("ReplicaSet", "web-3"),
                     json::array({revision_object("ReplicaSet", "web-1", 1, "Deployment", "web", "x:1"),
                                  revision_object("ReplicaSet", "web-2", 2, "Deployment", "web", "x:2"),
                                  revision_object("ReplicaSet", "web-3", 3, "Deployment", "web", "x:3"),
                                  revision_object("ReplicaSet", "other-9", 2, "Deployment", "other", "y:1")}),
                     "/apis/apps/v1/namespaces/shop/replicasets", "2"},
        RevisionCase{"deployment_first_revision", pod_of("ReplicaSet", "web-1"),
                     json::array({revision_object("ReplicaSet", "web-1", 1, "Deployment", "web", "x:1")}),
                     "/apis/apps/v1/namespaces/shop/replicasets", ""},
        RevisionCase{"another_deployments_older_revision_is_not_ours", pod_of("ReplicaSet", "web-2"),
                     json::array({revision_object("ReplicaSet", "web-2", 2, "Deployment", "web", "x:2"),
                                  revision_object("ReplicaSet", "api-1", 1, "Deployment", "api", "y:1")}),
                     "/apis/apps/v1/namespaces/shop/replicasets", ""},
        RevisionCase{"statefulset", pod_of("StatefulSet", "db", "db-7c9d"),
                     json::array({revision_object("ControllerRevision", "db-5b8f", 4, "StatefulSet", "db", "x:1"),
                                  revision_object("ControllerRevision", "db-7c9d", 5, "StatefulSet", "db", "x:2")}),
                     "/apis/apps/v1/namespaces/shop/controllerrevisions", "4"},
        RevisionCase{"daemonset_hash_alone", pod_of("DaemonSet", "agent", "6f7d"),
                     json::array({revision_object("ControllerRevision", "agent-5c4b", 1, "DaemonSet", "agent", "x:1"),
                                  revision_object("ControllerRevision", "agent-6f7d", 2, "DaemonSet", "agent", "x:2")}),
                     "/apis/apps/v1/namespaces/shop/controllerrevisions", "1"},
        RevisionCase{"statefulset_without_hash_label", pod_of("StatefulSet", "db"), json::array(), "", ""},
        RevisionCase{"job_has_no_revisions", pod_of("Job", "nightly-1"), json::array(), "", ""},
        RevisionCase{"bare_pod", json{{"metadata", {{"name", "p"}, {"namespace", "shop"}}}}, json::array(), "", ""}));

}  // namespace
}  // namespace crashdiag
