// The install's RBAC against what the code does (issue 5): the daemon, its publisher and its
// leader elector run against the fake API server through every path that talks to the API
// (followers taking over, an Event and an RCA that conflict, a Job's owner chain, a repeat, a
// lease renewal and release), every request is turned into the (verb, apiGroup, resource) the
// apiserver authorizes (k8s.io/apiserver pkg/endpoints/request RequestInfoFactory), and the
// ClusterRole and Role shipped in manifests/ must grant each of them and nothing else.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <set>
#include <tuple>

#include "daemon_harness.hpp"

namespace crashdiag::daemon {
namespace {

using namespace harness;  // NOLINT(google-build-using-namespace)
using nlohmann::json;
using namespace std::chrono_literals;

struct Grant {
  std::string verb;
  std::string group;
  std::string resource;  // "pods", "pods/log", "rootcauseanalyses/status"
  auto operator<=>(const Grant&) const = default;
};

std::string describe(const Grant& g) {
  return g.verb + " " + (g.group.empty() ? "\"\"" : g.group) + " " + g.resource;
}

struct Call {
  std::set<Grant> needs;  // what the apiserver authorizes for this request
  std::string ns;         // "" cluster-wide
  std::string target;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// RequestInfoFactory.NewRequestInfo, for resource requests.
std::optional<Call> to_call(const fake::RecordedRequest& r) {
  const auto q = r.target.find('?');
  const std::string path = r.target.substr(0, q);
  const std::string query = q == std::string::npos ? "" : r.target.substr(q + 1);
  const auto parts = split(path, '/');
  std::size_t i = 0;
  Grant g;
  if (parts.size() >= 2 && parts[0] == "api") {
    i = 2;
  } else if (parts.size() >= 3 && parts[0] == "apis") {
    g.group = parts[1];
    i = 3;
  } else {
    return std::nullopt;  // a non-resource URL
  }
  Call call;
  call.target = r.target;
  if (i + 2 < parts.size() && parts[i] == "namespaces") {
    call.ns = parts[i + 1];
    i += 2;
  }
  if (i >= parts.size()) return std::nullopt;
  g.resource = parts[i];
  const bool named = i + 1 < parts.size();
  if (i + 2 < parts.size()) g.resource += "/" + parts[i + 2];
  const bool watch = query.find("watch=1") != std::string::npos || query.find("watch=true") != std::string::npos;
  if (r.method == "GET") {
    g.verb = named ? "get" : watch ? "watch" : "list";
  } else if (r.method == "POST") {
    g.verb = "create";
  } else if (r.method == "PUT") {
    g.verb = "update";
  } else if (r.method == "PATCH") {
    g.verb = "patch";
  } else if (r.method == "DELETE") {
    g.verb = named ? "delete" : "deletecollection";
  } else {
    g.verb = r.method;
  }
  call.needs.insert(g);
  // An apply that creates the object is authorized for create as well
  // (k8s.io/apiserver pkg/endpoints/handlers/patch.go: createAuthorizerAttributes).
  if (r.method == "PATCH" && r.status == 201) call.needs.insert({"create", g.group, g.resource});
  return call;
}

struct Rbac {
  std::set<Grant> cluster;                    // ClusterRole crashdiag
  std::map<std::string, std::set<Grant>> ns;  // Roles, by namespace
  std::vector<std::string> problems;          // wildcards, resourceNames, secrets
};

void add_rules(const YAML::Node& rules, std::set<Grant>& into, std::vector<std::string>& problems,
               const std::string& where) {
  for (const auto& rule : rules) {
    if (rule["nonResourceURLs"]) problems.push_back(where + " grants nonResourceURLs");
    if (rule["resourceNames"]) problems.push_back(where + " uses resourceNames (the test cannot check them)");
    for (const auto& group : rule["apiGroups"]) {
      for (const auto& resource : rule["resources"]) {
        for (const auto& verb : rule["verbs"]) {
          const Grant g{verb.as<std::string>(), group.as<std::string>(), resource.as<std::string>()};
          if (g.verb == "*" || g.group == "*" || g.resource == "*" || g.resource.find("/*") != std::string::npos) {
            problems.push_back(where + " has a wildcard: " + describe(g));
          }
          if (g.resource == "secrets") problems.push_back(where + " grants secrets: " + describe(g));
          into.insert(g);
        }
      }
    }
  }
}

// The Roles and the ClusterRole the kustomization installs (manifests/kustomization.yaml's
// resources that are files; the namespace transformer's namespace for Roles without one).
Rbac load_rbac() {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(CRASHDIAG_SOURCE_DIR) / "manifests";
  const YAML::Node kustomization = YAML::LoadFile((dir / "kustomization.yaml").string());
  const std::string default_ns = kustomization["namespace"] ? kustomization["namespace"].as<std::string>() : "";
  Rbac rbac;
  for (const auto& res : kustomization["resources"]) {
    const fs::path file = dir / res.as<std::string>();
    if (!fs::is_regular_file(file)) continue;  // another kustomization (the CRD)
    for (const auto& doc : YAML::LoadAllFromFile(file.string())) {
      if (!doc["kind"]) continue;
      const std::string kind = doc["kind"].as<std::string>();
      const std::string name = doc["metadata"]["name"].as<std::string>();
      if (kind == "ClusterRole") {
        add_rules(doc["rules"], rbac.cluster, rbac.problems, "ClusterRole " + name);
      } else if (kind == "Role") {
        const std::string ns =
            doc["metadata"]["namespace"] ? doc["metadata"]["namespace"].as<std::string>() : default_ns;
        add_rules(doc["rules"], rbac.ns[ns], rbac.problems, "Role " + ns + "/" + name);
      }
    }
  }
  return rbac;
}

TEST(Rbac, TheShippedRolesGrantEveryCallTheDaemonMakesAndNothingMore) {
  quiet_logs();
  const Rbac rbac = load_rbac();
  for (const auto& p : rbac.problems) ADD_FAILURE() << p;
  ASSERT_FALSE(rbac.cluster.empty()) << "no ClusterRole in manifests/kustomization.yaml's resources";

  Cluster c;
  // Failing before any replica leads: the leader's takeover walks the store and GETs each pod.
  c.web_replicas(3);
  // A CronJob's Job's pod: the owner chain goes through the Job (batch/v1 jobs get), and the
  // CronJob is read for its crashdiag.io/ignore (batch/v1 cronjobs get).
  c.server.put_object("/apis/batch/v1", "jobs",
                      json{{"kind", "Job"},
                           {"apiVersion", "batch/v1"},
                           {"metadata",
                            {{"name", "nightly-29001"},
                             {"namespace", "shop"},
                             {"uid", "uid-nightly-29001"},
                             {"ownerReferences", json::array({{{"apiVersion", "batch/v1"},
                                                               {"kind", "CronJob"},
                                                               {"name", "nightly"},
                                                               {"uid", "uid-nightly"},
                                                               {"controller", true}}})}}}});
  // A StatefulSet's and a DaemonSet's pods: the workload is read for its crashdiag.io/ignore.
  for (const auto& [kind, pod] :
       {std::pair<std::string, std::string>{"StatefulSet", "db-0"}, {"DaemonSet", "agent-x2"}}) {
    const json own = {{"apiVersion", "apps/v1"},
                      {"kind", kind},
                      {"name", pod.substr(0, pod.find('-'))},
                      {"uid", "uid-" + pod},
                      {"controller", true}};
    json failing = failing_pod("shop", pod, c.api_container(), own, 2, 1, "Error");
    // Their revisions are ControllerRevisions, listed to say what changed (apps/v1 list).
    failing["metadata"]["labels"] = {{"controller-revision-hash", pod.substr(0, pod.find('-')) + "-6b8f9c7d5"}};
    c.server.apply_pod(failing);
    // The DaemonSet's agent fails on a dependency: the Service it names is resolved through
    // its EndpointSlices (discovery.k8s.io list).
    c.server.set_logs("shop", pod, "api", true,
                      kind == "DaemonSet" ? "Error: dial tcp: lookup collector on 10.96.0.10:53: no such host\n"
                                          : "panic: nil map\n");
  }
  c.server.apply_pod(
      failing_pod("shop", "nightly-29001-x2k9", c.api_container(), owner("Job", "nightly-29001"), 1, 1, "Error"));
  c.server.set_logs("shop", "nightly-29001-x2k9", "api", true, "panic: nil map\n");
  // The first Event creates and the first RCA apply conflict: the publisher re-reads and retries.
  // Several, because which pod's Event is written first depends on timing, and only a counted
  // one re-reads (GET) after a conflict.
  c.server.inject({fake::FaultKind::kConflict, "/api/v1/namespaces/shop/events", false, false, 4});
  c.server.inject(
      {fake::FaultKind::kConflict, "/apis/crashdiag.io/v1alpha1/namespaces/shop/rootcauseanalyses/", false, false, 1});
  {
    Replica leader(c, "replica-a");
    ASSERT_TRUE(eventually([&] { return leader.leading(); }));
    ASSERT_TRUE(eventually(
        [&] { return c.server.list_objects("crashdiag.io/v1alpha1/rootcauseanalyses", "shop").size() == 4; }));
    // Pods the owner index has not seen the owners of: a ReplicaSet and a Job it never listed, in
    // a namespace that appeared after the namespace list (a pod can arrive before its owner's
    // watch event). Each is read with a GET: apps replicasets, batch jobs, "" namespaces get.
    c.server.apply_pod(failing_pod("late", "web-7c9d8f6b5-abcde", c.api_container(),
                                   owner("ReplicaSet", "web-7c9d8f6b5"), 1, 1, "Error"));
    c.server.apply_pod(failing_pod("late", "batch-1-x2k9", c.api_container(), owner("Job", "batch-1"), 1, 1, "Error"));
    for (const char* pod : {"web-7c9d8f6b5-abcde", "batch-1-x2k9"}) {
      c.server.set_logs("late", pod, "api", true, "panic: nil map\n");
    }
    ASSERT_TRUE(eventually(
        [&] { return c.server.list_objects("crashdiag.io/v1alpha1/rootcauseanalyses", "late").size() == 2; }));
    // A repeat: the RCA is applied again and each Event's count bumped.
    c.web_replicas(4);
    c.api_oom(1);
    ASSERT_TRUE(eventually([&] {
      for (const auto& e : c.server.list_objects("events", "shop")) {
        if (e.value("count", 1) > 1) return true;
      }
      return false;
    }));
    // At least one lease renewal (retry period 0.5 s): its renewTime moves.
    auto renewed_at = [&] {
      auto lease = c.server.get_object("coordination.k8s.io/v1/leases", "crashdiag-system", "crashdiag-leader");
      return lease ? (*lease)["spec"].value("renewTime", "") : std::string();
    };
    const std::string first_renewal = renewed_at();
    ASSERT_TRUE(eventually([&] { return renewed_at() != first_renewal; })) << "the lease was never renewed";
    leader.terminate();  // releases the lease
  }

  std::set<Grant> used;
  for (const auto& r : c.server.requests()) {
    auto call = to_call(r);
    if (!call) {
      ADD_FAILURE() << "a non-resource request " << r.method << " " << r.target
                    << ": grant it with nonResourceURLs or drop it";
      continue;
    }
    for (const Grant& g : call->needs) {
      used.insert(g);
      const bool by_cluster = rbac.cluster.count(g) > 0;
      const bool by_role = !call->ns.empty() && rbac.ns.count(call->ns) > 0 && rbac.ns.at(call->ns).count(g) > 0;
      EXPECT_TRUE(by_cluster || by_role) << r.method << " " << r.target << " needs " << describe(g)
                                         << (call->ns.empty() ? " cluster-wide" : " in namespace " + call->ns)
                                         << ", which manifests/ does not grant";
    }
  }
  for (const Grant& g : rbac.cluster) {
    EXPECT_TRUE(used.count(g) > 0) << "the ClusterRole grants " << describe(g) << ", which nothing uses";
  }
  for (const auto& [ns, grants] : rbac.ns) {
    for (const Grant& g : grants) {
      EXPECT_TRUE(used.count(g) > 0) << "the Role in " << ns << " grants " << describe(g) << ", which nothing uses";
    }
  }
  // Leases are only ever needed in the election namespace: never cluster-wide.
  for (const Grant& g : rbac.cluster) EXPECT_NE(g.resource, "leases") << "Leases belong in the namespaced Role";
  // The paths above really ran (else "nothing more" would be vacuous).
  for (const Grant& g : std::vector<Grant>{{"get", "", "pods"},
                                           {"get", "", "pods/log"},
                                           {"get", "", "events"},
                                           {"patch", "", "events"},
                                           {"get", "batch", "jobs"},
                                           {"get", "apps", "replicasets"},
                                           {"list", "apps", "replicasets"},
                                           {"list", "apps", "controllerrevisions"},
                                           {"watch", "apps", "replicasets"},
                                           {"watch", "batch", "jobs"},
                                           {"watch", "", "namespaces"},
                                           {"list", "discovery.k8s.io", "endpointslices"},
                                           {"get", "apps", "deployments"},
                                           {"get", "apps", "statefulsets"},
                                           {"get", "apps", "daemonsets"},
                                           {"get", "batch", "cronjobs"},
                                           {"get", "", "namespaces"},
                                           {"get", "crashdiag.io", "rootcauseanalyses"},
                                           {"create", "crashdiag.io", "rootcauseanalyses"},
                                           {"update", "coordination.k8s.io", "leases"}}) {
    EXPECT_TRUE(used.count(g) > 0) << "the scenario never made " << describe(g);
  }
}

// With --namespace the daemon must work under RoleBindings in those namespaces only: not one
// request may be cluster-wide, or a namespace-scoped install gets 403 (a takeover that cannot
// list the RCAs would restart every count at zero).
TEST(Rbac, ANamespacedDaemonMakesNoClusterWideRequest) {
  quiet_logs();
  Cluster c;
  c.web_replicas(3);
  {
    Replica leader(c, "replica-a", [](DaemonOptions& o) { o.namespaces = {"shop"}; });
    ASSERT_TRUE(eventually(
        [&] { return c.server.list_objects("crashdiag.io/v1alpha1/rootcauseanalyses", "shop").size() == 1; }));
    leader.terminate();
  }
  bool listed_rcas = false;
  for (const auto& r : c.server.requests()) {
    auto call = to_call(r);
    ASSERT_TRUE(call.has_value()) << r.target;
    EXPECT_FALSE(call->ns.empty()) << r.method << " " << r.target << " is cluster-wide";
    listed_rcas |= r.method == "GET" && r.target.find("/namespaces/shop/rootcauseanalyses?") != std::string::npos;
  }
  EXPECT_TRUE(listed_rcas) << "the takeover lists the RCAs of the watched namespace";
}

}  // namespace
}  // namespace crashdiag::daemon
