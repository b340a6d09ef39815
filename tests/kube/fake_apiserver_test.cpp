// The fake kube-apiserver's write paths, discovery and Tables over real TLS, checked against
// the recorded responses of a real kube-apiserver (../shared/k8s-fixtures) where there is one.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "client.hpp"
#include "crashdiag/core/pod_record.hpp"
#include "crashdiag/core/protobuf.hpp"
#include "eventually.hpp"
#include "fake_apiserver.hpp"
#include "fake_client.hpp"
#include "pod_protobuf.hpp"
#include "test_support.hpp"
#include "tls.hpp"

namespace crashdiag::kube {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using http::verb;
using nlohmann::json;

constexpr const char* kApply = "application/apply-patch+yaml";
constexpr const char* kMerge = "application/merge-patch+json";
constexpr const char* kJson = "application/json";
constexpr const char* kKubectlTableAccept =
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
const std::string kRcas = "/apis/crashdiag.io/v1alpha1/namespaces/shop/rootcauseanalyses";
const std::string kLeases = "/apis/coordination.k8s.io/v1/namespaces/fx/leases";

using testing::run;

json fixture(const std::string& name) {
  std::ifstream in(std::string(CRASHDIAG_SOURCE_DIR) + "/tests/data/k8s/" + name);
  std::stringstream s;
  s << in.rdbuf();
  return json::parse(s.str());
}

struct Reply {
  int status = 0;
  json body;        // parsed when JSON, else null
  std::string raw;  // the body as sent
  std::vector<std::string> warnings;
  std::string content_type;
  std::string retry_after;
};

struct Fixture {
  explicit Fixture(fake::FakeOptions options = {}) : server(std::move(options)) {
    core::ClusterAccess access;
    access.ca_pem = server.ca_pem();
    auto made = make_client_tls(access, "", "");
    EXPECT_TRUE(made) << (made ? "" : made.error());
    tls = *made;
    client = std::make_unique<KubeClient>(ioc.get_executor(), Endpoint{"127.0.0.1", std::to_string(server.port()), ""},
                                          tls, std::make_shared<StaticToken>("test-token"));
  }

  // Through the project's client (Accept: application/json, User-Agent crashdiag/0.1).
  Reply send_text(verb v, const std::string& target, const std::string& body = "", const std::string& type = "") {
    auto r = run(ioc, client->request(kube::Request{v, target, "test", body, type}));
    Reply out;
    if (!r) {
      ADD_FAILURE() << target << ": " << r.error().what;
      return out;
    }
    out.status = r->status;
    out.raw = r->body;
    out.body = json::parse(r->body, nullptr, false);
    if (out.body.is_discarded()) out.body = nullptr;
    return out;
  }
  Reply send(verb v, const std::string& target, const json& body, const std::string& type) {
    return send_text(v, target, body.dump(), type);
  }
  Reply send(verb v, const std::string& target) { return send_text(v, target); }
  Reply get(const std::string& target) { return send_text(verb::get, target); }

  // A hand-made request, for headers the client does not set (Accept) and does not expose
  // (Warning, Content-Type).
  Reply raw(verb v, const std::string& target, const std::string& accept, const std::string& body = "",
            const std::string& type = "") {
    asio::io_context io;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.add_certificate_authority(asio::buffer(server.ca_pem()));
    ctx.set_verify_mode(asio::ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
    asio::ip::tcp::resolver resolver(io);
    beast::get_lowest_layer(stream).connect(resolver.resolve("127.0.0.1", std::to_string(server.port())));
    stream.handshake(asio::ssl::stream_base::client);
    http::request<http::string_body> req{v, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::authorization, "Bearer test-token");
    req.set(http::field::user_agent, "kubectl/v1.32.5 (linux/amd64) kubernetes/9894294");
    if (!accept.empty()) req.set(http::field::accept, accept);
    if (!type.empty()) req.set(http::field::content_type, type);
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64U << 20U);
    http::read(stream, buffer, parser);
    auto res = parser.release();
    Reply out;
    out.status = res.result_int();
    out.raw = res.body();
    out.body = json::parse(res.body(), nullptr, false);
    if (out.body.is_discarded()) out.body = nullptr;
    out.content_type = std::string(res[http::field::content_type]);
    out.retry_after = std::string(res[http::field::retry_after]);
    for (auto it = res.find(http::field::warning); it != res.end() && it->name() == http::field::warning; ++it) {
      out.warnings.emplace_back(it->value());
    }
    return out;
  }

  // The watch events of `target` from resourceVersion `rv` until its 1 s timeout.
  // `accept`: the Accept header, empty for the client's own (a metadata watch asks another).
  std::vector<json> watch(const std::string& target, const std::string& rv, const std::string& accept = "") {
    std::vector<json> events;
    auto r = run(ioc, client->watch(
                          kube::Request{verb::get, target + "?watch=1&timeoutSeconds=1&resourceVersion=" + rv, "test",
                                        "", "", accept},
                          [&](std::string_view line) {
                            events.push_back(json::parse(line));
                            watch_lines.emplace_back(line);
                            return true;
                          },
                          core::Duration(5000)));
    EXPECT_TRUE(r);
    return events;
  }

  std::vector<std::string> watch_lines;  // as they came, of every watch()
  asio::io_context ioc;
  fake::FakeApiServer server;
  std::shared_ptr<asio::ssl::context> tls;
  std::unique_ptr<KubeClient> client;
};

json valid_rca(const std::string& name = "web-app-error-1") {
  json rca = json::object();
  rca["apiVersion"] = "crashdiag.io/v1alpha1";
  rca["kind"] = "RootCauseAnalysis";
  rca["metadata"]["name"] = name;
  rca["metadata"]["namespace"] = "shop";
  rca["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "crashdiag";
  rca["spec"]["target"] = {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", "web"}, {"container", "app"}};
  rca["spec"]["signature"] = "Error:1";
  return rca;
}

json rca_status() {
  return {{"phase", "Active"},
          {"workload", "Deployment/web"},
          {"category", "entrypoint_override"},
          {"confidence", 0.85},
          {"summary", "the command 'server' is not in the image"},
          {"occurrences", 3},
          {"lastSeen", "2026-11-22T05:00:00Z"}};
}

json status_only(json status) {
  json s = valid_rca();
  s.erase("spec");
  s["metadata"].erase("labels");
  s["status"] = std::move(status);
  return s;
}

std::string rv_of(const json& obj) {
  return obj["metadata"]["resourceVersion"].get<std::string>();
}

// ---- 1. Leases -------------------------------------------------------------------------------

json lease(const std::string& holder, const std::string& renew) {
  return {{"apiVersion", "coordination.k8s.io/v1"},
          {"kind", "Lease"},
          {"metadata", {{"name", "crash-watcher-leader"}, {"namespace", "fx"}}},
          {"spec",
           {{"holderIdentity", holder},
            {"leaseDurationSeconds", 15},
            {"acquireTime", "2026-11-22T03:26:15.452139Z"},
            {"renewTime", renew},
            {"leaseTransitions", 0}}}};
}

TEST(FakeLeases, CreateRenewAndOptimisticConcurrencyAsTheRecordedApiserver) {
  Fixture f;
  auto created = f.send(verb::post, kLeases, lease("a", "2026-11-22T03:26:15.452139Z"), kJson);
  ASSERT_EQ(created.status, 201) << created.raw;
  EXPECT_EQ(created.body["spec"]["renewTime"], "2026-11-22T03:26:15.452139Z");      // MicroTime kept to the microsecond
  EXPECT_EQ(created.body["metadata"]["managedFields"][0]["manager"], "crashdiag");  // from the User-Agent
  EXPECT_EQ(created.body["metadata"]["managedFields"][0]["operation"], "Update");
  EXPECT_FALSE(created.body["metadata"].contains("generation"));
  EXPECT_EQ(f.send(verb::post, kLeases, lease("a", "2026-11-22T03:26:15.452139Z"), kJson).body["reason"],
            "AlreadyExists");

  json renew = created.body;
  renew["spec"]["renewTime"] = "2026-11-22T03:26:17.487408Z";
  auto renewed = f.send(verb::put, kLeases + "/crash-watcher-leader", renew, kJson);
  ASSERT_EQ(renewed.status, 200) << renewed.raw;
  EXPECT_GT(std::stoull(rv_of(renewed.body)), std::stoull(rv_of(created.body)));
  EXPECT_EQ(renewed.body["spec"]["renewTime"], "2026-11-22T03:26:17.487408Z");

  // A competing candidate's takeover with the stale resourceVersion: the fixture's body exactly.
  json takeover = created.body;
  takeover["spec"]["holderIdentity"] = "b";
  auto stale = f.send(verb::put, kLeases + "/crash-watcher-leader", takeover, kJson);
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(stale.body, fixture("09-update-lease-stale-rv-409.json"));

  takeover["metadata"].erase("resourceVersion");
  auto no_rv = f.send(verb::put, kLeases + "/crash-watcher-leader", takeover, kJson);
  EXPECT_EQ(no_rv.status, 422);
  EXPECT_EQ(no_rv.body, fixture("09-update-lease-without-rv-422.json"));
  EXPECT_EQ(f.get(kLeases + "/crash-watcher-leader").body["spec"]["holderIdentity"], "a");
}

struct LeaseCase {
  std::string name;
  std::function<void(json&)> mutate;
  std::string target;  // "" = the collection (POST), else PUT to this name
  int status;
  std::string message_part;
};

class FakeLeaseRejects : public ::testing::TestWithParam<LeaseCase> {};

TEST_P(FakeLeaseRejects, AsTheApiserverDoes) {
  Fixture f;
  json l = lease("a", "2026-11-22T03:26:15.452139Z");
  GetParam().mutate(l);
  auto r = GetParam().target.empty() ? f.send(verb::post, kLeases, l, kJson)
                                     : f.send(verb::put, kLeases + "/" + GetParam().target, l, kJson);
  EXPECT_EQ(r.status, GetParam().status) << r.raw;
  EXPECT_NE(r.body.value("message", "").find(GetParam().message_part), std::string::npos) << r.raw;
}

INSTANTIATE_TEST_SUITE_P(
    Leases, FakeLeaseRejects,
    ::testing::Values(
        LeaseCase{"RenewTimeWithoutMicroseconds", [](json& l) { l["spec"]["renewTime"] = "2026-11-22T03:26:15Z"; }, "",
                  400, "as \"2006-01-02T15:04:05.000000Z07:00\""},
        LeaseCase{"DurationNotANumber", [](json& l) { l["spec"]["leaseDurationSeconds"] = "15"; }, "", 400,
                  "cannot unmarshal string into Go struct field LeaseSpec.spec.leaseDurationSeconds of type int32"},
        LeaseCase{"ZeroDuration", [](json& l) { l["spec"]["leaseDurationSeconds"] = 0; }, "", 422,
                  "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"},
        LeaseCase{"NameMismatch", [](json&) {}, "other-name", 400,
                  "the name of the object (crash-watcher-leader) does not match the name on the URL (other-name)"},
        LeaseCase{"ResourceVersionOnCreate", [](json& l) { l["metadata"]["resourceVersion"] = "5"; }, "", 500,
                  "resourceVersion should not be set on objects to be created"},
        LeaseCase{"BadName", [](json& l) { l["metadata"]["name"] = "Leader_1"; }, "", 422,
                  "Lease.coordination.k8s.io \"Leader_1\" is invalid: metadata.name: Invalid value: \"Leader_1\": a "
                  "lowercase RFC 1123 subdomain"}),
    [](const ::testing::TestParamInfo<LeaseCase>& info) { return info.param.name; });

TEST(FakeLeases, PutCreatesAMissingLeaseButNotAMissingPod) {
  Fixture f;
  // leaseStrategy.AllowCreateOnUpdate() is true; pods, custom resources and workloads say false.
  auto put = f.send(verb::put, kLeases + "/crash-watcher-leader", lease("a", "2026-11-22T03:26:15.452139Z"), kJson);
  EXPECT_EQ(put.status, 201) << put.raw;
  auto pod = fake::make_pod("fx", "web-0", {{"name", "app"}, {"image", "busybox:1.36"}});
  auto missing = f.send(verb::put, "/api/v1/namespaces/fx/pods/web-0", pod, kJson);
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body["message"], "pods \"web-0\" not found");
}

// ---- 2. PUT and DELETE -----------------------------------------------------------------------

TEST(FakeWrites, PutFollowsEachTypesConcurrencyRulesAndNoOpsKeepTheResourceVersion) {
  Fixture f;
  auto pod = fake::make_pod("fx", "page-2", {{"name", "app"}, {"image", "busybox:1.36"}});
  auto created = f.send(verb::post, "/api/v1/namespaces/fx/pods", pod, kJson);
  ASSERT_EQ(created.status, 201) << created.raw;
  EXPECT_EQ(created.body["status"]["phase"], "Pending");  // PrepareForCreate resets the status
  // Pods allow an unconditional update; an unchanged one is a no-op (05-put-pod-without-rv-unconditional-noop-200).
  json same = created.body;
  same["metadata"].erase("resourceVersion");
  auto noop = f.send(verb::put, "/api/v1/namespaces/fx/pods/page-2", same, kJson);
  EXPECT_EQ(noop.status, 200);
  EXPECT_EQ(rv_of(noop.body), rv_of(created.body));
  json changed = created.body;
  changed["metadata"]["labels"]["updated"] = "yes";
  auto put = f.send(verb::put, "/api/v1/namespaces/fx/pods/page-2", changed, kJson);
  EXPECT_EQ(put.status, 200);
  EXPECT_NE(rv_of(put.body), rv_of(created.body));
  auto stale = f.send(verb::put, "/api/v1/namespaces/fx/pods/page-2", changed, kJson);
  EXPECT_EQ(stale.body, fixture("05-put-pod-stale-rv-409-conflict.json"));

  // Custom resources need a resourceVersion; the messages name the group.
  auto rca = f.send(verb::post, kRcas, valid_rca(), kJson);
  ASSERT_EQ(rca.status, 201) << rca.raw;
  json update = rca.body;
  update["metadata"].erase("resourceVersion");
  auto no_rv = f.send(verb::put, kRcas + "/web-app-error-1", update, kJson);
  EXPECT_EQ(no_rv.status, 422);
  EXPECT_EQ(no_rv.body["message"],
            "rootcauseanalyses.crashdiag.io \"web-app-error-1\" is invalid: metadata.resourceVersion: Invalid value: "
            "0x0: must be specified for an update");
  update["metadata"]["resourceVersion"] = "1";
  EXPECT_EQ(f.send(verb::put, kRcas + "/web-app-error-1", update, kJson).body["details"]["group"], "crashdiag.io");
}

TEST(FakeWrites, DeleteAnswersLikeEachRegistryAndEmitsWatchEvents) {
  Fixture f;
  auto rca = f.send(verb::post, kRcas, valid_rca(), kJson);
  ASSERT_EQ(rca.status, 201);
  auto pod = f.send(verb::post, "/api/v1/namespaces/shop/pods",
                    fake::make_pod("shop", "web-0", {{"name", "app"}, {"image", "busybox:1.36"}}), kJson);
  ASSERT_EQ(pod.status, 201);
  const std::string before = std::to_string(f.server.resource_version());

  // Custom resources answer a Status with the uid (06-delete-widget-w3); pods the object itself,
  // with deletionTimestamp (03-action4-delete-pod-grace0).
  auto deleted = f.send(verb::delete_, kRcas + "/web-app-error-1");
  EXPECT_EQ(deleted.status, 200);
  EXPECT_EQ(deleted.body["status"], "Success");
  EXPECT_EQ(deleted.body["details"], json({{"name", "web-app-error-1"},
                                           {"group", "crashdiag.io"},
                                           {"kind", "rootcauseanalyses"},
                                           {"uid", rca.body["metadata"]["uid"]}}));
  auto deleted_pod = f.send(verb::delete_, "/api/v1/namespaces/shop/pods/web-0");
  EXPECT_EQ(deleted_pod.body["kind"], "Pod");
  EXPECT_TRUE(deleted_pod.body["metadata"].contains("deletionTimestamp"));
  EXPECT_EQ(f.send(verb::delete_, kRcas + "/web-app-error-1").body, json::parse(R"({"kind":"Status","apiVersion":"v1",
      "metadata":{},"status":"Failure","message":"rootcauseanalyses.crashdiag.io \"web-app-error-1\" not found",
      "reason":"NotFound","details":{"name":"web-app-error-1","group":"crashdiag.io","kind":"rootcauseanalyses"},
      "code":404})"));

  auto rca_events = f.watch(kRcas, before);
  ASSERT_EQ(rca_events.size(), 1U);
  EXPECT_EQ(rca_events[0]["type"], "DELETED");
  std::vector<std::string> pod_types;
  for (const auto& ev : f.watch("/api/v1/namespaces/shop/pods", before)) pod_types.push_back(ev["type"]);
  EXPECT_EQ(pod_types, (std::vector<std::string>{"MODIFIED", "DELETED"}));
  // The apiserver writes "type" before "object" (03-watch-pods-all-namespaces-stream.events.jsonl).
  ASSERT_FALSE(f.watch_lines.empty());
  for (const std::string& line : f.watch_lines) EXPECT_EQ(line.rfind(R"({"type":")", 0), 0U) << line.substr(0, 80);
}

// labelSelector filters lists before paging and watches through the watch cache's eyes: an
// object that starts matching arrives as ADDED, one that stops matching as DELETED
// (k8s.io/apiserver/pkg/storage/cacher/cache_watcher.go). A selector that does not parse is a 400.
TEST(FakeReads, LabelSelectorsFilterListsAndWatches) {
  Fixture f;
  json web = valid_rca("web-1a2b3");
  web["metadata"]["labels"]["crashdiag.io/workload"] = "web";
  json api = valid_rca("api-4c5d6");
  api["metadata"]["labels"]["crashdiag.io/workload"] = "api";
  ASSERT_EQ(f.send(verb::post, kRcas, web, kJson).status, 201);
  ASSERT_EQ(f.send(verb::post, kRcas, api, kJson).status, 201);
  const std::string before = std::to_string(f.server.resource_version());

  auto names = [](const Reply& r) {
    std::vector<std::string> out;
    for (const auto& item : r.body["items"]) out.push_back(item["metadata"]["name"]);
    return out;
  };
  EXPECT_EQ(names(f.get(kRcas + "?labelSelector=crashdiag.io%2Fworkload%3Dweb")),
            (std::vector<std::string>{"web-1a2b3"}));
  EXPECT_EQ(names(f.get(kRcas + "?labelSelector=crashdiag.io%2Fworkload%20in%20(web,api)&limit=1")),
            (std::vector<std::string>{"api-4c5d6"}));
  EXPECT_EQ(names(f.get(kRcas + "?labelSelector=!crashdiag.io%2Fworkload")), (std::vector<std::string>{}));
  auto bad = f.get(kRcas + "?labelSelector=a%20b%3Dc");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["reason"], "BadRequest");
  // Field selectors: the fields each resource supports, else 400 (pods: spec.nodeName, ...).
  EXPECT_EQ(names(f.get(kRcas + "?fieldSelector=metadata.name%3Dapi-4c5d6")), (std::vector<std::string>{"api-4c5d6"}));
  auto unsupported = f.get(kRcas + "?fieldSelector=spec.signature%3DError:1");
  EXPECT_EQ(unsupported.status, 400);
  EXPECT_EQ(unsupported.body["message"], "field label not supported: spec.signature");

  // api stops matching workload=api by a relabel; web starts matching it.
  api["metadata"]["labels"]["crashdiag.io/workload"] = "api-v2";
  web["metadata"]["labels"]["crashdiag.io/workload"] = "api";
  for (json* o : {&api, &web}) {
    auto live = f.get(kRcas + "/" + (*o)["metadata"]["name"].get<std::string>());
    (*o)["metadata"]["resourceVersion"] = live.body["metadata"]["resourceVersion"];
    ASSERT_EQ(f.send(verb::put, kRcas + "/" + (*o)["metadata"]["name"].get<std::string>(), *o, kJson).status, 200);
  }
  std::vector<std::string> seen;
  for (const auto& ev : f.watch(kRcas, before + "&labelSelector=crashdiag.io%2Fworkload%3Dapi")) {
    seen.push_back(ev["type"].get<std::string>() + " " + ev["object"]["metadata"]["name"].get<std::string>());
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"DELETED api-4c5d6", "ADDED web-1a2b3"}));
}

TEST(FakeWrites, DeletePreconditionsAndFinalizers) {
  Fixture f;
  json rca = valid_rca();
  rca["metadata"]["finalizers"] = {"crashdiag.io/cleanup"};
  ASSERT_EQ(f.send(verb::post, kRcas, rca, kJson).status, 201);
  auto wrong_uid = f.send_text(verb::delete_, kRcas + "/web-app-error-1", R"({"preconditions":{"uid":"nope"}})", kJson);
  EXPECT_EQ(wrong_uid.status, 409);
  EXPECT_NE(wrong_uid.body["message"].get<std::string>().find("Precondition failed: UID in precondition: nope"),
            std::string::npos);
  // With a finalizer the object stays, marked for deletion, until the finalizer is removed.
  auto marked = f.send(verb::delete_, kRcas + "/web-app-error-1");
  EXPECT_EQ(marked.status, 200);
  EXPECT_TRUE(marked.body["metadata"].contains("deletionTimestamp"));
  EXPECT_EQ(f.get(kRcas + "/web-app-error-1").status, 200);
}

// ---- 3. Server-side apply -------------------------------------------------------------------

std::string apply_target(const std::string& name, const std::string& manager, bool force = false,
                         const std::string& sub = "") {
  return kRcas + "/" + name + sub + "?fieldManager=" + manager + (force ? "&force=true" : "");
}

TEST(FakeApply, CreatesChangesAndLeavesUnchangedObjectsAlone) {
  Fixture f;
  auto created = f.send(verb::patch, apply_target("web-app-error-1", "crashdiag"), valid_rca(), kApply);
  ASSERT_EQ(created.status, 201) << created.raw;
  EXPECT_EQ(created.body["metadata"]["generation"], 1);
  EXPECT_FALSE(created.body["metadata"]["uid"].get<std::string>().empty());
  EXPECT_FALSE(created.body["metadata"]["creationTimestamp"].get<std::string>().empty());
  const json& mf = created.body["metadata"]["managedFields"];
  ASSERT_EQ(mf.size(), 1U);
  EXPECT_EQ(mf[0]["manager"], "crashdiag");
  EXPECT_EQ(mf[0]["operation"], "Apply");
  EXPECT_EQ(mf[0]["fieldsType"], "FieldsV1");
  EXPECT_EQ(mf[0]["apiVersion"], "crashdiag.io/v1alpha1");
  EXPECT_EQ(mf[0]["fieldsV1"]["f:spec"]["f:target"]["f:container"], json::object());
  EXPECT_EQ(mf[0]["fieldsV1"]["f:metadata"]["f:labels"]["f:app.kubernetes.io/managed-by"], json::object());

  // The same configuration again: 200, nothing written - the resourceVersion stays and no watch
  // event is sent, which is how "no write when nothing changed" can be observed.
  const std::string rv = rv_of(created.body);
  auto again = f.send(verb::patch, apply_target("web-app-error-1", "crashdiag"), valid_rca(), kApply);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(rv_of(again.body), rv);
  EXPECT_TRUE(f.watch(kRcas, rv).empty());

  // A spec change bumps generation; a field the manager stops applying is removed.
  json changed = valid_rca();
  changed["spec"]["signature"] = "OOMKilled:137";
  changed["metadata"].erase("labels");
  auto updated = f.send(verb::patch, apply_target("web-app-error-1", "crashdiag"), changed, kApply);
  EXPECT_EQ(updated.status, 200);
  EXPECT_EQ(updated.body["metadata"]["generation"], 2);
  EXPECT_EQ(updated.body["spec"]["signature"], "OOMKilled:137");
  EXPECT_FALSE(updated.body["metadata"].contains("labels"));
  EXPECT_EQ(f.watch(kRcas, rv).size(), 1U);
}

TEST(FakeApply, YamlBodiesAndStatusInTheMainResourceIsIgnored) {
  Fixture f;
  const std::string yaml = R"(apiVersion: crashdiag.io/v1alpha1
kind: RootCauseAnalysis
metadata:
  name: web-app-error-1
  namespace: shop
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: web, container: app, initContainer: no}
  signature: "Error:1"
status:
  phase: Active
)";
  auto created = f.send_text(verb::patch, apply_target("web-app-error-1", "crashdiag"), yaml, kApply);
  ASSERT_EQ(created.status, 201) << created.raw;
  EXPECT_EQ(created.body["spec"]["target"]["initContainer"], false);  // YAML 1.1 "no", as sigs.k8s.io/yaml
  EXPECT_FALSE(created.body.contains("status"));                      // the status subresource owns it
}

TEST(FakeApply, ConflictsWithOtherManagersUnlessForced) {
  Fixture f;
  ASSERT_EQ(f.send(verb::patch, apply_target("web-app-error-1", "crashdiag"), valid_rca(), kApply).status, 201);
  json other = valid_rca();
  other["metadata"].erase("labels");
  other["spec"]["signature"] = "Error:2";
  auto conflict = f.send(verb::patch, apply_target("web-app-error-1", "other-manager"), other, kApply);
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(conflict.body, json::parse(R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
      "message":"Apply failed with 1 conflict: conflict with \"crashdiag\": .spec.signature","reason":"Conflict",
      "details":{"causes":[{"reason":"FieldManagerConflict","message":"conflict with \"crashdiag\"",
      "field":".spec.signature"}]},"code":409})"));
  // Same values are shared ownership, not a conflict.
  json shared = valid_rca();
  shared["metadata"].erase("labels");
  EXPECT_EQ(f.send(verb::patch, apply_target("web-app-error-1", "other-manager"), shared, kApply).status, 200);
  // force takes the field over.
  auto forced = f.send(verb::patch, apply_target("web-app-error-1", "other-manager", true), other, kApply);
  EXPECT_EQ(forced.status, 200);
  EXPECT_EQ(forced.body["spec"]["signature"], "Error:2");
  for (const auto& e : forced.body["metadata"]["managedFields"]) {
    if (e["manager"] == "crashdiag") {
      EXPECT_FALSE(e["fieldsV1"]["f:spec"].contains("f:signature"));
    }
  }
  // A kubectl edit (an Update) owns what it changed: the next apply without force conflicts with it.
  auto edited = f.send(verb::patch, kRcas + "/web-app-error-1?fieldManager=kubectl-edit",
                       json{{"spec", {{"target", {{"name", "web-v2"}}}}}}, kMerge);
  ASSERT_EQ(edited.status, 200);
  auto against_edit = f.send(verb::patch, apply_target("web-app-error-1", "crashdiag"), valid_rca(), kApply);
  EXPECT_EQ(against_edit.status, 409);
  // Two conflicts now (the signature other-manager forced, the name kubectl edited), grouped per
  // manager as getConflictMessage does; an Update manager is named with its API version and time.
  const std::string message = against_edit.body["message"];
  EXPECT_EQ(message.rfind(
                "Apply failed with 2 conflicts: conflicts with \"kubectl-edit\" using crashdiag.io/v1alpha1 at ", 0),
            0U)
      << message;
  EXPECT_NE(message.find(":\n- .spec.target.name\nconflicts with \"other-manager\":\n- .spec.signature"),
            std::string::npos)
      << message;
  ASSERT_EQ(against_edit.body["details"]["causes"].size(), 2U);
  EXPECT_EQ(against_edit.body["details"]["causes"][1]["field"], ".spec.target.name");
}

struct ApplyCase {
  std::string name;
  std::string target;
  std::string body;
  int status;
  std::string reason;
  std::string message;
};

class FakeApplyRejects : public ::testing::TestWithParam<ApplyCase> {};

TEST_P(FakeApplyRejects, WithTheApiserversStatus) {
  Fixture f;
  auto r = f.send_text(verb::patch, GetParam().target, GetParam().body, kApply);
  EXPECT_EQ(r.status, GetParam().status) << r.raw;
  EXPECT_EQ(r.body.value("reason", ""), GetParam().reason) << r.raw;
  EXPECT_EQ(r.body.value("message", "").substr(0, GetParam().message.size()), GetParam().message);
}

std::string rca_with(const std::function<void(json&)>& mutate) {
  json rca = valid_rca();
  mutate(rca);
  return rca.dump();
}

INSTANTIATE_TEST_SUITE_P(
    Apply, FakeApplyRejects,
    ::testing::Values(
        ApplyCase{"NoFieldManager", kRcas + "/web-app-error-1", rca_with([](json&) {}), 422, "Invalid",
                  "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply "
                  "patch"},
        ApplyCase{"WrongApiVersion", apply_target("web-app-error-1", "crashdiag"),
                  rca_with([](json& r) { r["apiVersion"] = "crashdiag.io/v1"; }), 400, "BadRequest",
                  "Incorrect version specified in apply patch. Specified patch version: crashdiag.io/v1, expected: "
                  "crashdiag.io/v1alpha1"},
        ApplyCase{"OtherName", apply_target("other", "crashdiag"), rca_with([](json&) {}), 400, "BadRequest",
                  "the name of the object (web-app-error-1) does not match the name on the URL (other)"},
        ApplyCase{"ManagedFieldsInTheBody", apply_target("web-app-error-1", "crashdiag"),
                  rca_with([](json& r) { r["metadata"]["managedFields"] = json::array(); }), 400, "BadRequest",
                  "metadata.managedFields must be nil"},
        ApplyCase{"MalformedYaml", apply_target("web-app-error-1", "crashdiag"), "a: [b\n", 400, "BadRequest",
                  "error decoding YAML: "},
        ApplyCase{"UnknownField", apply_target("web-app-error-1", "crashdiag") + "&fieldValidation=Strict",
                  rca_with([](json& r) { r["spec"]["foo"] = 1; }), 500, "",
                  "failed to create typed patch object (shop/web-app-error-1; crashdiag.io/v1alpha1, "
                  "Kind=RootCauseAnalysis): .spec.foo: field not declared in schema"},
        ApplyCase{"WrongTypeInStatus", apply_target("web-app-error-1", "crashdiag", true),
                  rca_with([](json& r) { r["spec"]["signature"] = 137; }), 500, "",
                  "failed to create typed patch object (shop/web-app-error-1; crashdiag.io/v1alpha1, "
                  "Kind=RootCauseAnalysis): .spec.signature: expected string, got "
                  "&value.valueUnstructured{Value:137}"},
        ApplyCase{"StatusOfAMissingObject", apply_target("web-app-error-1", "crashdiag", true, "/status"),
                  status_only(rca_status()).dump(), 404, "NotFound",
                  "rootcauseanalyses.crashdiag.io \"web-app-error-1\" not found"}),
    [](const ::testing::TestParamInfo<ApplyCase>& info) { return info.param.name; });

TEST(FakeApply, WorksForPodsAndEventsToo) {
  Fixture f;
  json pod = fake::make_pod("shop", "web-0", {{"name", "app"}, {"image", "busybox:1.36"}});
  pod["metadata"].erase("uid");
  pod["metadata"].erase("creationTimestamp");
  auto created = f.send(verb::patch, "/api/v1/namespaces/shop/pods/web-0?fieldManager=crashdiag", pod, kApply);
  EXPECT_EQ(created.status, 201) << created.raw;
  json ann = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "web-0"}, {"namespace", "shop"}, {"annotations", {{"crashdiag.io/rca", "x"}}}}}};
  auto annotated = f.send(verb::patch, "/api/v1/namespaces/shop/pods/web-0?fieldManager=annotator", ann, kApply);
  EXPECT_EQ(annotated.status, 200) << annotated.raw;
  EXPECT_EQ(annotated.body["metadata"]["annotations"]["crashdiag.io/rca"], "x");
  EXPECT_EQ(annotated.body["spec"]["containers"][0]["name"], "app");  // other managers' fields stay
}

// ---- 4. Status subresource ------------------------------------------------------------------

TEST(FakeStatus, TheMainResourceAndTheStatusSubresourceStayApart) {
  Fixture f;
  json with_status = valid_rca();
  with_status["status"] = rca_status();
  auto created = f.send(verb::post, kRcas, with_status, kJson);
  ASSERT_EQ(created.status, 201);
  EXPECT_FALSE(created.body.contains("status"));  // dropped on create

  auto status = f.send(verb::patch, apply_target("web-app-error-1", "crashdiag", true, "/status"),
                       status_only(rca_status()), kApply);
  ASSERT_EQ(status.status, 200) << status.raw;
  EXPECT_EQ(status.body["status"]["confidence"], 0.85);
  EXPECT_EQ(status.body["metadata"]["generation"], 1);  // status writes never bump generation
  const json& entries = status.body["metadata"]["managedFields"];
  ASSERT_EQ(entries.size(), 2U);
  EXPECT_EQ(entries[1]["subresource"], "status");
  EXPECT_TRUE(entries[1]["fieldsV1"].contains("f:status"));
  EXPECT_FALSE(entries[1]["fieldsV1"].contains("f:spec"));

  // The main resource ignores status...
  auto main_patch = f.send(verb::patch, kRcas + "/web-app-error-1", json{{"status", {{"phase", "Resolved"}}}}, kMerge);
  EXPECT_EQ(main_patch.status, 200);
  EXPECT_EQ(main_patch.body["status"]["phase"], "Active");
  EXPECT_EQ(rv_of(main_patch.body), rv_of(status.body));  // nothing changed: no write
  // ...and the status subresource ignores everything else, labels included.
  auto status_patch = f.send(verb::patch, kRcas + "/web-app-error-1/status",
                             json{{"spec", {{"signature", "X:1"}}},
                                  {"metadata", {{"labels", {{"sneaky", "yes"}}}}},
                                  {"status", {{"phase", "Resolved"}}}},
                             kMerge);
  EXPECT_EQ(status_patch.status, 200);
  EXPECT_EQ(status_patch.body["status"]["phase"], "Resolved");
  EXPECT_EQ(status_patch.body["spec"]["signature"], "Error:1");
  EXPECT_FALSE(status_patch.body["metadata"]["labels"].contains("sneaky"));
  EXPECT_EQ(status_patch.body["metadata"]["generation"], 1);
  auto got = f.get(kRcas + "/web-app-error-1/status");
  EXPECT_EQ(got.body["status"]["phase"], "Resolved");

  // PUT on /status needs the resourceVersion like any custom resource update.
  json put = got.body;
  put["status"]["occurrences"] = 4;
  auto put_status = f.send(verb::put, kRcas + "/web-app-error-1/status", put, kJson);
  EXPECT_EQ(put_status.status, 200) << put_status.raw;
  EXPECT_EQ(put_status.body["status"]["occurrences"], 4);
  EXPECT_EQ(f.send(verb::put, kRcas + "/web-app-error-1/status", put, kJson).status, 409);
}

// ---- 5. Schema validation -------------------------------------------------------------------

enum class Via { kCreate, kStatusApply, kStatusMergePatch };

struct SchemaCase {
  std::string name;
  std::function<void(json&)> mutate;
  Via via;
  std::string field;
  std::string reason;
  std::string message;  // the whole Status message
};

class FakeSchema : public ::testing::TestWithParam<SchemaCase> {};

TEST_P(FakeSchema, RejectsWhatTheCrdForbidsWith422) {
  Fixture f;
  const SchemaCase& c = GetParam();
  Reply r;
  if (c.via != Via::kCreate) {
    ASSERT_EQ(f.send(verb::post, kRcas, valid_rca(), kJson).status, 201);
    json s = status_only(rca_status());
    c.mutate(s);
    r = c.via == Via::kStatusApply
            ? f.send(verb::patch, apply_target("web-app-error-1", "crashdiag", true, "/status"), s, kApply)
            : f.send(verb::patch, kRcas + "/web-app-error-1/status", json{{"status", s["status"]}}, kMerge);
  } else {
    json rca = valid_rca();
    c.mutate(rca);
    r = f.send(verb::post, kRcas, rca, kJson);
  }
  ASSERT_EQ(r.status, 422) << r.raw;
  EXPECT_EQ(r.body["reason"], "Invalid");
  EXPECT_EQ(r.body["details"]["kind"], "RootCauseAnalysis");
  EXPECT_EQ(r.body["details"]["group"], "crashdiag.io");
  ASSERT_EQ(r.body["details"]["causes"].size(), 1U) << r.raw;
  EXPECT_EQ(r.body["details"]["causes"][0]["field"], c.field);
  EXPECT_EQ(r.body["details"]["causes"][0]["reason"], c.reason);
  EXPECT_EQ(r.body["message"], c.message);
}

INSTANTIATE_TEST_SUITE_P(
    Crd, FakeSchema,
    ::testing::Values(
        SchemaCase{"ConfidenceAboveOne", [](json& s) { s["status"]["confidence"] = 1.5; }, Via::kStatusApply,
                   "status.confidence", "FieldValueInvalid",
                   "RootCauseAnalysis.crashdiag.io \"web-app-error-1\" is invalid: status.confidence: Invalid value: "
                   "1.5: status.confidence in body should be less than or equal to 1"},
        SchemaCase{"NegativeOccurrences", [](json& s) { s["status"]["occurrences"] = -1; }, Via::kStatusApply,
                   "status.occurrences", "FieldValueInvalid",
                   "RootCauseAnalysis.crashdiag.io \"web-app-error-1\" is invalid: status.occurrences: Invalid "
                   "value: -1: status.occurrences in body should be greater than or equal to 0"},
        SchemaCase{"UnknownPhase", [](json& s) { s["status"]["phase"] = "Done"; }, Via::kStatusApply, "status.phase",
                   "FieldValueNotSupported",
                   "RootCauseAnalysis.crashdiag.io \"web-app-error-1\" is invalid: status.phase: Unsupported value: "
                   "\"Done\": supported values: \"\\\"Active\\\"\", \"\\\"Resolved\\\"\""},
        SchemaCase{"LastSeenNotATime", [](json& s) { s["status"]["lastSeen"] = "yesterday"; }, Via::kStatusApply,
                   "status.lastSeen", "FieldValueTypeInvalid",
                   "RootCauseAnalysis.crashdiag.io \"web-app-error-1\" is invalid: status.lastSeen: Invalid value: "
                   "\"yesterday\": status.lastSeen in body must be of type date-time: \"yesterday\""},
        SchemaCase{"TooManyPods",
                   [](json& s) {
                     for (int i = 0; i < 6; ++i) s["status"]["pods"].push_back({{"name", "p" + std::to_string(i)}});
                   },
                   Via::kStatusMergePatch, "status.pods", "FieldValueTooMany",
                   "RootCauseAnalysis.crashdiag.io \"web-app-error-1\" is invalid: status.pods: Too many: 6: must "
                   "have at most 5 items"},
        SchemaCase{"HypothesisWithoutSummary",
                   [](json& s) {
                     s["status"]["hypotheses"] = {{{"category", "oom"}, {"confidence", 0.5}}};
                   },
                   Via::kStatusMergePatch, "status.hypotheses[0].summary", "FieldValueRequired",
                   "RootCauseAnalysis.crashdiag.io \"web-app-error-1\" is invalid: status.hypotheses[0].summary: "
                   "Required value"},
        SchemaCase{"SignatureTooLong", [](json& r) { r["spec"]["signature"] = std::string(129, 'x'); }, Via::kCreate,
                   "spec.signature", "FieldValueTooLong",
                   "RootCauseAnalysis.crashdiag.io \"web-app-error-1\" is invalid: spec.signature: Too long: may not "
                   "be longer than 128"},
        SchemaCase{"OccurrencesAsString", [](json& s) { s["status"]["occurrences"] = "3"; }, Via::kStatusMergePatch,
                   "status.occurrences", "FieldValueTypeInvalid",
                   "RootCauseAnalysis.crashdiag.io \"web-app-error-1\" is invalid: status.occurrences: Invalid "
                   "value: \"string\": status.occurrences in body must be of type integer: \"string\""},
        SchemaCase{"NoTarget", [](json& r) { r["spec"].erase("target"); }, Via::kCreate, "spec.target",
                   "FieldValueRequired",
                   "RootCauseAnalysis.crashdiag.io \"web-app-error-1\" is invalid: spec.target: Required value"},
        SchemaCase{"NoSpec", [](json& r) { r.erase("spec"); }, Via::kCreate, "spec", "FieldValueRequired",
                   "RootCauseAnalysis.crashdiag.io \"web-app-error-1\" is invalid: spec: Required value"},
        SchemaCase{"NameNotADnsSubdomain", [](json& r) { r["metadata"]["name"] = "Web_App"; }, Via::kCreate,
                   "metadata.name", "FieldValueInvalid",
                   "RootCauseAnalysis.crashdiag.io \"Web_App\" is invalid: metadata.name: Invalid value: "
                   "\"Web_App\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                   "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
                   "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"},
        SchemaCase{"LabelValueTooLong", [](json& r) { r["metadata"]["labels"]["x"] = std::string(64, 'a'); },
                   Via::kCreate, "metadata.labels", "FieldValueInvalid",
                   "RootCauseAnalysis.crashdiag.io \"web-app-error-1\" is invalid: metadata.labels: Invalid value: "
                   "\"" +
                       std::string(64, 'a') + "\": must be no more than 63 characters"},
        SchemaCase{"AnnotationKeyWithSpace", [](json& r) { r["metadata"]["annotations"]["bad key"] = "v"; },
                   Via::kCreate, "metadata.annotations", "FieldValueInvalid",
                   "RootCauseAnalysis.crashdiag.io \"web-app-error-1\" is invalid: metadata.annotations: Invalid "
                   "value: \"bad key\": name part must consist of alphanumeric characters, '-', '_' or '.', and must "
                   "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
                   "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"}),
    [](const ::testing::TestParamInfo<SchemaCase>& info) { return info.param.name; });

TEST(FakeSchema, MergePatchesAreValidatedToo) {
  Fixture f;
  ASSERT_EQ(f.send(verb::post, kRcas, valid_rca(), kJson).status, 201);
  auto r = f.send(verb::patch, kRcas + "/web-app-error-1", json{{"spec", {{"target", {{"kind", nullptr}}}}}}, kMerge);
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.body["details"]["causes"][0]["field"], "spec.target.kind");
  // A resourceVersion in a merge patch is a precondition (05-merge-patch-widget-stale-rv-409-conflict).
  auto stale = f.send(verb::patch, kRcas + "/web-app-error-1", json{{"metadata", {{"resourceVersion", "1"}}}}, kMerge);
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(stale.body["reason"], "Conflict");
}

TEST(FakeSchema, UnknownFieldsArePrunedWithAWarningOrRejectedWhenStrict) {
  Fixture f;
  json rca = valid_rca();
  rca["spec"]["foo"] = "bar";
  rca["spec"]["target"]["replicas"] = 3;
  auto strict = f.send(verb::post, kRcas + "?fieldValidation=Strict", rca, kJson);
  EXPECT_EQ(strict.status, 400);
  EXPECT_EQ(strict.body["reason"], "BadRequest");
  EXPECT_EQ(strict.body["message"],
            "RootCauseAnalysis in version \"v1alpha1\" cannot be handled as a RootCauseAnalysis: strict decoding "
            "error: unknown field \"spec.foo\", unknown field \"spec.target.replicas\"");
  auto pruned = f.raw(verb::post, kRcas, "application/json", rca.dump(), kJson);
  EXPECT_EQ(pruned.status, 201);
  EXPECT_FALSE(pruned.body["spec"].contains("foo"));
  EXPECT_FALSE(pruned.body["spec"]["target"].contains("replicas"));
  EXPECT_EQ(pruned.warnings, (std::vector<std::string>{"299 - \"unknown field \\\"spec.foo\\\"\"",
                                                       "299 - \"unknown field \\\"spec.target.replicas\\\"\""}));
  auto patch_strict =
      f.send(verb::patch, kRcas + "/web-app-error-1?fieldValidation=Strict", json{{"status", {{"bogus", 1}}}}, kMerge);
  EXPECT_EQ(patch_strict.status, 400);
  EXPECT_EQ(patch_strict.body["message"], "strict decoding error: unknown field \"status.bogus\"");
}

TEST(FakeSchema, BadBodiesAreStatusesNeverCrashes) {
  Fixture f;
  auto truncated =
      f.send_text(verb::post, kRcas, std::string(R"({"apiVersion":"crashdiag.io/v1alpha1","kind":"Root)"), kJson);
  EXPECT_EQ(truncated.status, 400);
  EXPECT_EQ(truncated.body["message"],
            "the object provided is unrecognized (must be of type RootCauseAnalysis): couldn't get version/kind; json "
            "parse error: unexpected end of JSON input ({\"apiVersion\":\"crashdiag.io/v1 ...)");
  EXPECT_EQ(f.send_text(verb::post, kRcas, std::string("[1,2]"), kJson).status, 400);
  EXPECT_EQ(f.send_text(verb::post, kRcas, std::string("x"), "text/plain").status, 415);
  ASSERT_EQ(f.send(verb::post, kRcas, valid_rca(), kJson).status, 201);
  EXPECT_EQ(f.send_text(verb::patch, kRcas + "/web-app-error-1", std::string("{\"spec\":"), kMerge).body["message"],
            "error decoding patch: unexpected end of JSON input");
  EXPECT_EQ(
      f.send_text(verb::patch, kRcas + "/web-app-error-1", std::string("{}"), "application/strategic-merge-patch+json")
          .status,
      415);
  EXPECT_EQ(f.send_text(verb::patch, kRcas + "/web-app-error-1",
                        std::string(R"([{"op":"remove","path":"/spec/nope"}])"), "application/json-patch+json")
                .status,
            422);
  EXPECT_EQ(f.send_text(verb::patch, kRcas + "/web-app-error-1?force=true", std::string("{}"), kMerge).body["message"],
            "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch");
  // Over the apiserver's 3 MiB request limit.
  json big = valid_rca("big");
  big["metadata"]["annotations"]["x"] = std::string(std::size_t{3} * 1024 * 1024, 'a');
  auto too_large = f.send(verb::post, kRcas, big, kJson);
  EXPECT_EQ(too_large.status, 413);
  EXPECT_EQ(too_large.body["message"], "Request entity too large: limit is 3145728");
  EXPECT_EQ(f.get(kRcas + "/web-app-error-1").status, 200);  // and the server still answers
}

// ---- 6. Events -----------------------------------------------------------------------------

json core_event(const std::string& ns, const std::string& involved_ns) {
  return {{"apiVersion", "v1"},
          {"kind", "Event"},
          {"metadata", {{"name", "page-1.187a1b2c3d4e5f60"}, {"namespace", ns}}},
          {"involvedObject",
           {{"kind", "Pod"}, {"namespace", involved_ns}, {"name", "page-1"}, {"fieldPath", "spec.containers{app}"}}},
          {"reason", "BackOff"},
          {"message", "Back-off restarting failed container app"},
          {"source", {{"component", "kubelet"}, {"host", "node-1"}}},
          {"firstTimestamp", "2026-11-22T03:22:28Z"},
          {"lastTimestamp", "2026-11-22T03:25:28Z"},
          {"count", 5},
          {"type", "Warning"},
          {"eventTime", nullptr}};
}

TEST(FakeEvents, CreateNeedsTheInvolvedObjectInTheSameNamespaceAndCountsArePatched) {
  Fixture f;
  auto elsewhere = f.send(verb::post, "/api/v1/namespaces/fx/events", core_event("fx", "other"), kJson);
  EXPECT_EQ(elsewhere.status, 422);
  EXPECT_EQ(elsewhere.body["message"],
            "Event \"page-1.187a1b2c3d4e5f60\" is invalid: involvedObject.namespace: Invalid value: \"other\": does "
            "not match event.namespace");
  json no_object = core_event("fx", "fx");
  no_object.erase("involvedObject");
  EXPECT_EQ(f.send(verb::post, "/api/v1/namespaces/fx/events", no_object, kJson).status, 422);
  json new_style = core_event("fx", "fx");
  new_style["eventTime"] = "2026-11-22T03:25:28.000000Z";
  auto missing_reporter = f.send(verb::post, "/api/v1/namespaces/fx/events", new_style, kJson);
  EXPECT_EQ(missing_reporter.status, 422);
  EXPECT_NE(missing_reporter.raw.find("reportingComponent: Required value"), std::string::npos);

  auto created = f.send(verb::post, "/api/v1/namespaces/fx/events", core_event("fx", "fx"), kJson);
  ASSERT_EQ(created.status, 201) << created.raw;
  auto bumped = f.send(verb::patch, "/api/v1/namespaces/fx/events/page-1.187a1b2c3d4e5f60",
                       json{{"count", 6}, {"lastTimestamp", "2026-11-22T03:25:39.734Z"}}, kMerge);
  ASSERT_EQ(bumped.status, 200);
  EXPECT_EQ(bumped.body["count"], 6);
  EXPECT_EQ(bumped.body["lastTimestamp"], "2026-11-22T03:25:39Z");  // metav1.Time keeps seconds
  EXPECT_EQ(bumped.body["firstTimestamp"], "2026-11-22T03:22:28Z");
  // Strategic merge patch is fine on built-ins.
  EXPECT_EQ(f.send(verb::patch, "/api/v1/namespaces/fx/events/page-1.187a1b2c3d4e5f60", json{{"count", 7}},
                   "application/strategic-merge-patch+json")
                .body["count"],
            7);
}

// ---- 7. Discovery --------------------------------------------------------------------------

TEST(FakeDiscovery, AnswersLikeKubeApiserver126) {
  Fixture f;
  EXPECT_EQ(f.get("/version").body, fixture("01-version.json"));
  const char* aggregated =
      "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/"
      "json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
  auto api = f.raw(verb::get, "/api", aggregated);
  EXPECT_EQ(api.content_type, "application/json");
  EXPECT_EQ(api.body["kind"], "APIVersions");
  EXPECT_EQ(api.body["versions"], json::array({"v1"}));
  auto apis = f.raw(verb::get, "/apis", aggregated);
  std::vector<std::string> groups;
  for (const auto& g : apis.body["groups"]) groups.push_back(g["name"]);
  EXPECT_EQ(groups,
            (std::vector<std::string>{"apps", "batch", "coordination.k8s.io", "discovery.k8s.io", "crashdiag.io"}));
  auto only_aggregated =
      f.raw(verb::get, "/apis", "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList");
  EXPECT_EQ(only_aggregated.status, 406);
  EXPECT_EQ(only_aggregated.body, fixture("01-discovery-apis-aggregated-only-accept.json"));

  auto group = f.get("/apis/crashdiag.io");
  EXPECT_EQ(group.body["preferredVersion"], json({{"groupVersion", "crashdiag.io/v1alpha1"}, {"version", "v1alpha1"}}));
  auto crd = f.get("/apis/crashdiag.io/v1alpha1");
  ASSERT_EQ(crd.body["resources"].size(), 2U);
  EXPECT_EQ(crd.body["resources"][0]["name"], "rootcauseanalyses");
  EXPECT_EQ(crd.body["resources"][0]["singularName"], "rootcauseanalysis");
  EXPECT_EQ(crd.body["resources"][0]["shortNames"], json::array({"rca"}));  // from the shipped CRD
  EXPECT_EQ(crd.body["resources"][0]["categories"], json::array({"crashdiag"}));
  EXPECT_EQ(crd.body["resources"][1]["name"], "rootcauseanalyses/status");
  EXPECT_EQ(crd.body["resources"][1]["verbs"], json::array({"get", "patch", "update"}));

  // Built-in entries match the recorded ones, storageVersionHash included.
  auto core = f.get("/api/v1");
  EXPECT_FALSE(core.body.contains("apiVersion"));
  const json recorded = fixture("01-discovery-api-v1.json");
  json recorded_pods;
  for (const auto& r : recorded["resources"]) {
    if (r["name"] == "pods") recorded_pods = r;
  }
  json served_pods;
  for (const auto& r : core.body["resources"]) {
    if (r["name"] == "pods") served_pods = r;
  }
  EXPECT_EQ(served_pods, recorded_pods);
  EXPECT_EQ(f.get("/apis/coordination.k8s.io/v1").body["resources"][0]["name"], "leases");
  EXPECT_EQ(f.get("/apis/nope.example.com/v1").raw, "404 page not found\n");
  EXPECT_EQ(f.get("/openapi/v2").status, 404);
}

// ---- 8. Tables -----------------------------------------------------------------------------

TEST(FakeTables, RootCauseAnalysesPrintWithTheCrdsColumns) {
  fake::FakeOptions options;
  options.clock = [] { return std::string("2026-11-22T05:10:00Z"); };
  Fixture f(options);
  ASSERT_EQ(f.send(verb::post, kRcas, valid_rca(), kJson).status, 201);
  ASSERT_EQ(f.send(verb::patch, apply_target("web-app-error-1", "crashdiag", true, "/status"),
                   status_only(rca_status()), kApply)
                .status,
            200);
  auto table = f.raw(verb::get, "/apis/crashdiag.io/v1alpha1/rootcauseanalyses?limit=500", kKubectlTableAccept);
  ASSERT_EQ(table.status, 200) << table.raw;
  EXPECT_EQ(table.body["kind"], "Table");
  EXPECT_EQ(table.body["apiVersion"], "meta.k8s.io/v1");
  std::vector<std::string> names;
  for (const auto& c : table.body["columnDefinitions"]) names.push_back(c["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"Name", "Workload", "Container", "Category", "Confidence", "Count",
                                             "Last Seen", "Age", "Phase", "Caused By", "Signature", "Summary"}));
  const json& cols = table.body["columnDefinitions"];
  EXPECT_EQ(cols[0]["format"], "name");
  EXPECT_EQ(cols[4]["type"], "number");
  EXPECT_EQ(cols[5]["type"], "integer");
  EXPECT_EQ(cols[6]["type"], "date");
  EXPECT_EQ(cols[8]["priority"], 1);
  EXPECT_EQ(cols[1]["description"], "The top-level workload whose pods fail, as Kind/name.");
  EXPECT_EQ(cols[7]["description"],
            "Custom resource definition column (in JSONPath format): .metadata.creationTimestamp");
  ASSERT_EQ(table.body["rows"].size(), 1U);
  const json& row = table.body["rows"][0];
  EXPECT_EQ(row["cells"][0], "web-app-error-1");
  EXPECT_EQ(row["cells"][1], "Deployment/web");
  EXPECT_EQ(row["cells"][2], "app");
  EXPECT_EQ(row["cells"][4], 0.85);
  EXPECT_EQ(row["cells"][5], 3);
  // Date cells are ages computed by the server (cellForJSONValue); lastSeen is 05:00:00Z.
  EXPECT_EQ(row["cells"][6], "10m");
  EXPECT_EQ(row["cells"][7], "0s");
  EXPECT_EQ(row["cells"][8], "Active");
  EXPECT_EQ(row["object"]["kind"], "PartialObjectMetadata");
  EXPECT_EQ(row["object"]["metadata"]["name"], "web-app-error-1");
  EXPECT_FALSE(row["object"].contains("spec"));

  // A missing value is null; one object is a Table too; v1beta1 when asked for.
  ASSERT_EQ(f.send(verb::post, kRcas, valid_rca("fresh"), kJson).status, 201);
  auto one = f.raw(verb::get, kRcas + "/fresh", "application/json;as=Table;v=v1beta1;g=meta.k8s.io");
  EXPECT_EQ(one.body["apiVersion"], "meta.k8s.io/v1beta1");
  EXPECT_EQ(one.body["rows"][0]["cells"][1], nullptr);
  EXPECT_EQ(f.get(kRcas + "/fresh").body["kind"], "RootCauseAnalysis");  // plain JSON otherwise
}

TEST(FakeTables, PodsPrintLikeTheServerSidePrinter) {
  Fixture f;
  json pod = fake::make_pod("fx", "crash-1", {{"name", "app"}, {"image", "busybox:1.36"}});
  pod["status"]["containerStatuses"] = {
      {{"name", "app"},
       {"ready", false},
       {"restartCount", 3},
       {"state", {{"waiting", {{"reason", "CrashLoopBackOff"}}}}},
       {"lastState", {{"terminated", {{"exitCode", 128}, {"reason", "StartError"}}}}}}};
  f.server.apply_pod(pod);
  auto table = f.raw(verb::get, "/api/v1/pods?limit=500", kKubectlTableAccept);
  ASSERT_EQ(table.status, 200);
  EXPECT_EQ(table.body["columnDefinitions"].size(), 9U);
  EXPECT_EQ(table.body["rows"][0]["cells"][1], "0/1");
  EXPECT_EQ(table.body["rows"][0]["cells"][2], "CrashLoopBackOff");
  EXPECT_EQ(table.body["rows"][0]["cells"][3], "3");
}

// ---- 9. Objects loaded directly --------------------------------------------------------------

TEST(FakeObjects, AddObjectStoresByKindAndChecksCustomResources) {
  Fixture f;
  json rca = valid_rca();
  rca["status"] = rca_status();
  f.server.add_object(rca);
  auto stored = f.server.get_object("crashdiag.io/v1alpha1/rootcauseanalyses", "shop", "web-app-error-1");
  ASSERT_TRUE(stored);
  EXPECT_EQ((*stored)["metadata"]["generation"], 1);
  EXPECT_EQ(f.get(kRcas + "/web-app-error-1").body["status"]["phase"], "Active");
  json invalid = valid_rca("bad");
  invalid["spec"].erase("signature");
  EXPECT_THROW(f.server.add_object(invalid), std::invalid_argument);
  EXPECT_THROW(f.server.add_object(json{{"apiVersion", "v1"}, {"kind", "Secret"}}), std::invalid_argument);
}

// Metadata-only lists and watches, as client-go's metadata informers ask for them and as the real
// server answered (tests/data/k8s/12-*, kube-apiserver v1.26.1).
TEST(FakeReads, MetadataOnlyListsAndWatchesAsTheRecordedApiserver) {
  Fixture f;
  const std::string rs_path = "/apis/apps/v1/namespaces/shop/replicasets";
  json rs = {{"apiVersion", "apps/v1"},
             {"kind", "ReplicaSet"},
             {"metadata",
              {{"name", "web-5c2f1"},
               {"namespace", "shop"},
               {"annotations", {{"crashdiag.io/ignore", "true"}}},
               {"ownerReferences", json::array({{{"apiVersion", "apps/v1"},
                                                 {"kind", "Deployment"},
                                                 {"name", "web"},
                                                 {"uid", "d-1"},
                                                 {"controller", true}}})}}},
             {"spec",
              {{"selector", {{"matchLabels", {{"app", "web"}}}}},
               {"template",
                {{"metadata", {{"labels", {{"app", "web"}}}}},
                 {"spec", {{"containers", json::array({{{"name", "app"}, {"image", "web:1"}}})}}}}}}}};
  ASSERT_EQ(f.send(verb::post, rs_path, rs, kJson).status, 201);
  const std::string before = std::to_string(f.server.resource_version());

  const json recorded = fixture("12-list-replicasets-metadata-rv0.json");
  auto list = f.raw(verb::get, rs_path + "?limit=500&resourceVersion=0", kube::kMetadataListAccept);
  ASSERT_EQ(list.status, 200) << list.raw;
  EXPECT_EQ(list.body["kind"], recorded["kind"]);
  EXPECT_EQ(list.body["apiVersion"], recorded["apiVersion"]);
  ASSERT_EQ(list.body["items"].size(), 1U);
  const json& item = list.body["items"][0];
  EXPECT_EQ(item["kind"], recorded["items"][0]["kind"]);
  EXPECT_EQ(item["apiVersion"], recorded["items"][0]["apiVersion"]);
  EXPECT_FALSE(item.contains("spec"));
  EXPECT_EQ(item["metadata"]["ownerReferences"][0]["name"], "web");
  EXPECT_EQ(item["metadata"]["annotations"]["crashdiag.io/ignore"], "true");
  // Without the `as`, the plain list.
  EXPECT_EQ(f.get(rs_path).body["kind"], "ReplicaSetList");
  // A list asked only as an object: 406, the recorded Status.
  const json refused_recorded = fixture("12-list-replicasets-as-object-metadata-406.json");
  auto refused =
      f.raw(verb::get, rs_path + "?limit=500", "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1");
  EXPECT_EQ(refused.status, 406);
  EXPECT_EQ(refused.body, refused_recorded);

  // The watch: every object (the bookmark's too) as PartialObjectMetadata.
  json changed = f.get(rs_path + "/web-5c2f1").body;
  changed["metadata"]["labels"] = {{"tier", "front"}};
  ASSERT_EQ(f.send(verb::put, rs_path + "/web-5c2f1", changed, kJson).status, 200);
  const auto events = f.watch(rs_path, before + "&allowWatchBookmarks=true", kube::kMetadataWatchAccept);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0]["type"], "MODIFIED");
  for (const auto& ev : events) {
    EXPECT_EQ(ev["object"]["kind"], "PartialObjectMetadata") << ev.dump();
    EXPECT_EQ(ev["object"]["apiVersion"], "meta.k8s.io/v1");
    EXPECT_FALSE(ev["object"].contains("spec"));
  }
  EXPECT_EQ(events[0]["object"]["metadata"]["labels"]["tier"], "front");
}

}  // namespace
}  // namespace crashdiag::kube

namespace crashdiag::kube {
namespace {

// Protobuf where the real server answers it (tests/data/k8s/pb/): pod lists when the client puts
// it first in Accept; JSON when JSON comes first, and for custom resources, which have no protobuf
// form (the real server answers them in JSON whatever the Accept offered first).
TEST(FakeApiServer, AnswersPodListsInProtobufWhenAskedFirst) {
  Fixture f;
  f.server.apply_pod(fake::make_pod("shop", "api", {{"name", "api"}, {"image", "x:1"}}));
  const std::string pb_first = "application/vnd.kubernetes.protobuf,application/json";
  struct Row {
    std::string target;
    std::string accept;
    std::string content_type;
  };
  for (const Row& row : std::vector<Row>{
           {"/api/v1/pods?resourceVersion=0", pb_first, "application/vnd.kubernetes.protobuf"},
           {"/api/v1/namespaces/shop/pods?limit=1", pb_first, "application/vnd.kubernetes.protobuf"},
           {"/api/v1/pods", "application/json,application/vnd.kubernetes.protobuf", "application/json"},
           {"/api/v1/pods", "", "application/json"},
           {kRcas, pb_first, "application/json"},
       }) {
    SCOPED_TRACE(row.target + " " + row.accept);
    const Reply r = f.raw(verb::get, row.target, row.accept);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, row.content_type);
    if (row.content_type == "application/json") {
      EXPECT_TRUE(r.body.is_object());
    } else {
      EXPECT_EQ(r.raw.substr(0, 4), std::string("k8s\0", 4));
    }
  }
  // A refused pod list answers its Status in protobuf too (tests/data/k8s/pb/list-bad-continue.pb),
  // which the client's status_message reads.
  const Reply bad = f.raw(verb::get, "/api/v1/pods?limit=1&continue=garbage", pb_first);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.content_type, "application/vnd.kubernetes.protobuf");
  auto status = core::pb::parse_status(bad.raw);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 400);
  EXPECT_EQ(status->reason, "BadRequest");
  EXPECT_EQ(status_message(bad.raw), status->message);
  EXPECT_NE(status->message.find("invalid continue token"), std::string::npos);
  // A Status without a message still says what it is.
  EXPECT_EQ(status_message(fake::encode_status_protobuf(json{{"reason", "Expired"}, {"code", 410}})), "Expired (410)");
}

// Errors come in the encoding the client asked for, as the real server sends them. Handlers'
// errors (responsewriters.ErrorNegotiated) and the authentication filter's 401 are negotiated: a
// Status in protobuf to a protobuf-first client, for pods (which the fake serves in protobuf) and
// for the 401 on any path (authentication refuses before routing). The shutdown filter's 503 is
// JSON and the Priority-and-Fairness 429 is text/plain, whatever was asked (waitgroup.go,
// ../shared/k8s-fixtures/05-apf-reject-429; tests/data/k8s/pb/unauthorized.pb, list-expired.pb).
TEST(FakeApiServer, AnswersErrorsInTheEncodingTheRealServerUses) {
  const std::string pb_first = "application/vnd.kubernetes.protobuf,application/json";
  const std::string pb = "application/vnd.kubernetes.protobuf";
  const std::string js = "application/json";
  const std::string text = "text/plain; charset=utf-8";
  const std::string too_many = "Too many requests, please try again later.";
  struct Row {
    std::string name;
    std::optional<fake::FaultKind> fault;  // none: the fake's own answer (a wrong token where status is 401)
    std::string target;
    std::string accept;
    int status;
    std::string content_type;
    std::string reason;   // of the Status; for text, the body
    std::string message;  // what status_message, and so the daemon's log, makes of it
  };
  for (const Row& row : std::vector<Row>{
           {"401, protobuf first", std::nullopt, "/api/v1/pods?limit=500&resourceVersion=0", pb_first, 401, pb,
            "Unauthorized", "Unauthorized"},
           {"401 on a custom resource, protobuf first", std::nullopt, kRcas, pb_first, 401, pb, "Unauthorized",
            "Unauthorized"},
           {"401, JSON", std::nullopt, "/api/v1/pods", js, 401, js, "Unauthorized", "Unauthorized"},
           {"404 of a pod, protobuf first", std::nullopt, "/api/v1/namespaces/shop/pods/nope", pb_first, 404, pb,
            "NotFound", "pods \"nope\" not found"},
           {"400 of a pod watch, protobuf first", std::nullopt, "/api/v1/pods?watch=1&resourceVersion=abc", pb_first,
            400, pb, "BadRequest", "invalid resource version \"abc\""},
           {"404 of an RCA, protobuf first", std::nullopt, kRcas + "/nope", pb_first, 404, js, "NotFound",
            "rootcauseanalyses.crashdiag.io \"nope\" not found"},
           {"410 pod list, protobuf first", fake::FaultKind::kGone, "/api/v1/pods?limit=500", pb_first, 410, pb,
            "Expired", "scripted fault: Expired"},
           {"410 pod list, JSON", fake::FaultKind::kGone, "/api/v1/pods?limit=500", js, 410, js, "Expired",
            "scripted fault: Expired"},
           {"500 pod list, protobuf first", fake::FaultKind::kInternalError, "/api/v1/pods", pb_first, 500, pb,
            "InternalError", "scripted fault: InternalError"},
           {"500 RCA list, protobuf first", fake::FaultKind::kInternalError, kRcas, pb_first, 500, js, "InternalError",
            "scripted fault: InternalError"},
           {"503 pod list, protobuf first", fake::FaultKind::kUnavailable, "/api/v1/pods", pb_first, 503, js,
            "ServiceUnavailable", "scripted fault: ServiceUnavailable"},
           {"429, protobuf first", fake::FaultKind::kTooManyRequests, "/api/v1/pods", pb_first, 429, text,
            too_many + "\n", too_many},
           {"429, JSON", fake::FaultKind::kTooManyRequests, "/api/v1/pods", js, 429, text, too_many + "\n", too_many},
       }) {
    SCOPED_TRACE(row.name);
    fake::FakeOptions options;
    if (!row.fault && row.status == 401) options.token = "another-token";
    Fixture f(options);
    if (row.fault) f.server.inject(fake::Fault{*row.fault, "", false, false, 1, 1, 0});
    const Reply r = f.raw(verb::get, row.target, row.accept);
    EXPECT_EQ(r.status, row.status);
    EXPECT_EQ(r.content_type, row.content_type);
    if (row.content_type == pb) {
      auto status = core::pb::parse_status(r.raw);
      ASSERT_TRUE(status);
      EXPECT_EQ(status->code, row.status);
      EXPECT_EQ(status->reason, row.reason);
    } else if (row.content_type == js) {
      EXPECT_EQ(r.body.value("kind", ""), "Status");
      EXPECT_EQ(r.body.value("reason", ""), row.reason);
    } else {
      EXPECT_EQ(r.raw, row.reason);
    }
    EXPECT_EQ(status_message(r.raw), row.message);
    // Retry-After comes with the 429 and the 503, never with the others.
    EXPECT_EQ(r.retry_after, row.status == 429 || row.status == 503 ? "1" : "");
    // The fake's 401 is the real server's, byte for byte.
    if (row.status == 401 && row.content_type == pb) {
      EXPECT_EQ(r.raw, testing::read_file(testing::source_path("tests/data/k8s/pb/unauthorized.pb")));
    }
  }
}

// A streaming list (KEP-3157), and what a server without it answers: the fake off answers the
// 422 kube-apiserver 1.26 gave (tests/data/k8s/watchlist/, both forms: with and without a
// resourceVersion); on, the current objects as ADDED, then the bookmark that ends them.
TEST(FakeApiServer, StreamingListsAsA126ServerRefusesThemAndAsA127ServerServesThem) {
  const std::string ask =
      "/api/v1/pods?watch=1&allowWatchBookmarks=true&timeoutSeconds=1"
      "&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=";
  for (const auto& [rv, file] : std::vector<std::pair<std::string, std::string>>{
           {"", "watchlist-refused-1.26.json"}, {"1", "watchlist-refused-rv-1.26.json"}}) {
    SCOPED_TRACE(file);
    Fixture f;
    const Reply r = f.raw(verb::get, ask + rv, "application/json");
    EXPECT_EQ(r.status, 422);
    const json recorded = json::parse(testing::read_file(testing::source_path("tests/data/k8s/watchlist/" + file)));
    EXPECT_EQ(r.body, recorded);
  }
  fake::FakeOptions options;
  options.watch_list = true;
  Fixture f(options);
  f.server.apply_pod(fake::make_pod("shop", "api", {{"name", "api"}, {"image", "x:1"}}));
  f.server.apply_pod(fake::make_pod("shop", "web", {{"name", "web"}, {"image", "x:1"}}));
  const auto events = f.watch("/api/v1/pods", std::string("&allowWatchBookmarks=true&sendInitialEvents=true"
                                                          "&resourceVersionMatch=NotOlderThan&resourceVersion="));
  ASSERT_GE(events.size(), 3U);
  EXPECT_EQ(events[0]["type"], "ADDED");
  EXPECT_EQ(events[1]["type"], "ADDED");
  EXPECT_EQ(events[2]["type"], "BOOKMARK");
  EXPECT_EQ(events[2]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
  EXPECT_TRUE(core::ends_initial_events(f.watch_lines.at(2)));
  EXPECT_FALSE(core::ends_initial_events(f.watch_lines.at(0)));
  // 1.27+ refuses the half-asked forms (validateWatchOptions).
  EXPECT_EQ(f.raw(verb::get, "/api/v1/pods?watch=1&resourceVersionMatch=NotOlderThan", "application/json").status, 422);
  EXPECT_EQ(f.raw(verb::get, "/api/v1/pods?watch=1&sendInitialEvents=true", "application/json").status, 422);
  // A 1.26 server ignores sendInitialEvents without resourceVersionMatch: a plain watch, no end
  // bookmark (a client that dropped the parameter would wait for one).
  Fixture old;
  old.server.apply_pod(fake::make_pod("shop", "api", {{"name", "api"}, {"image", "x:1"}}));
  const auto plain = old.watch("/api/v1/pods", std::string("&allowWatchBookmarks=true&sendInitialEvents=true"
                                                           "&resourceVersion="));
  ASSERT_FALSE(plain.empty());
  for (const auto& line : old.watch_lines) EXPECT_FALSE(core::ends_initial_events(line)) << line;
}

// A streaming list as kube-apiserver 1.32 answered it (tests/data/k8s/watchlist/, its README):
// the initial events, then an end bookmark that is an empty object of its kind with both
// annotations, the list blueprint among them, at a resourceVersion no older than the items'; a
// metadata watch's bookmark is PartialObjectMetadata with a PartialObjectMetadataList blueprint.
// Over an etcd without progress requests the same request gets one ERROR event and the end of the
// stream.
TEST(FakeApiServer, AStreamingListAsA132ServerAnswersIt) {
  const std::string ask =
      "&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=";
  auto recorded = [](const std::string& file) {
    std::vector<json> out;
    std::istringstream in(testing::read_file(testing::source_path("tests/data/k8s/watchlist/" + file)));
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) out.push_back(json::parse(line));
    }
    return out;
  };
  // Equal but for the resourceVersion, which no two servers share.
  auto without_rv = [](json ev) {
    ev["object"]["metadata"].erase("resourceVersion");
    return ev;
  };
  auto rv = [](const json& ev) { return std::stoull(ev["object"]["metadata"]["resourceVersion"].get<std::string>()); };
  fake::FakeOptions options;
  options.watch_list = true;
  {
    SCOPED_TRACE("pods");
    Fixture f(options);
    f.server.apply_pod(fake::make_pod("rec", "web-1", {{"name", "web-1"}, {"image", "registry.local/web:1.0"}}));
    f.server.apply_pod(fake::make_pod("rec", "web-2", {{"name", "web-2"}, {"image", "registry.local/web:1.0"}}));
    const auto real = recorded("watchlist-served-1.32.jsonl");
    ASSERT_EQ(real.size(), 3U);
    const auto events = f.watch("/api/v1/namespaces/rec/pods", ask);
    ASSERT_GE(events.size(), 3U);
    for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(events[i]["type"], real[i]["type"]) << i;
    EXPECT_EQ(without_rv(events[2]), without_rv(real[2]));
    EXPECT_GE(rv(events[2]), rv(events[1]));
  }
  {
    SCOPED_TRACE("replicasets as metadata");
    Fixture f(options);
    const std::string rs_path = "/apis/apps/v1/namespaces/rec/replicasets";
    const json rs = {{"apiVersion", "apps/v1"},
                     {"kind", "ReplicaSet"},
                     {"metadata", {{"name", "web-7d9f8b6c5"}, {"namespace", "rec"}}},
                     {"spec", {{"replicas", 0}, {"selector", {{"matchLabels", {{"app", "web"}}}}}}}};
    ASSERT_EQ(f.send(verb::post, rs_path, rs, kJson).status, 201);
    const auto real = recorded("watchlist-served-replicasets-metadata-1.32.jsonl");
    ASSERT_EQ(real.size(), 2U);
    const auto events = f.watch(rs_path, ask, kube::kMetadataWatchAccept);
    ASSERT_GE(events.size(), 2U);
    EXPECT_EQ(events[0]["type"], "ADDED");
    EXPECT_EQ(events[0]["object"]["kind"], real[0]["object"]["kind"]);
    EXPECT_EQ(without_rv(events[1]), without_rv(real[1]));
  }
  {
    SCOPED_TRACE("an etcd without progress requests");
    options.watch_list_progress_requests = false;
    Fixture f(options);
    f.server.apply_pod(fake::make_pod("rec", "web-1", {{"name", "web-1"}, {"image", "registry.local/web:1.0"}}));
    EXPECT_EQ(f.watch("/api/v1/namespaces/rec/pods", ask), recorded("watchlist-no-progress-1.32.jsonl"));
  }
  // The end bookmark of every kind the daemon watches, recorded with a selector that matches
  // nothing, so that the bookmark is the only event: an empty object of its kind.
  options.watch_list_progress_requests = true;
  const std::map<std::string, std::string> paths = {{"Namespace", "/api/v1/namespaces"},
                                                    {"Pod", "/api/v1/pods"},
                                                    {"Job", "/apis/batch/v1/jobs"},
                                                    {"CronJob", "/apis/batch/v1/cronjobs"},
                                                    {"Deployment", "/apis/apps/v1/deployments"},
                                                    {"ReplicaSet", "/apis/apps/v1/replicasets"},
                                                    {"StatefulSet", "/apis/apps/v1/statefulsets"},
                                                    {"DaemonSet", "/apis/apps/v1/daemonsets"}};
  const auto bookmarks = recorded("watchlist-end-bookmarks-1.32.jsonl");
  ASSERT_EQ(bookmarks.size(), paths.size());
  for (const json& real : bookmarks) {
    const std::string kind = real["object"]["kind"];
    SCOPED_TRACE(kind);
    Fixture f(options);
    f.server.apply_pod(fake::make_pod("rec", "web-1", {{"name", "web-1"}, {"image", "registry.local/web:1.0"}}));
    const auto events = f.watch(paths.at(kind), "&labelSelector=recording%3Dnone" + ask);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(without_rv(events[0]), without_rv(real));
  }
}

// When a streaming list's end bookmark comes, per server version (FakeOptions::InitialEventsEnd):
// a pod deleted after the initial events is sent after the bookmark by 1.32+, whose bookmark
// carries the list's resourceVersion, and before it by 1.27-1.31, whose bookmark comes on the
// cacher's timer and carries the deletion's. Without allowWatchBookmarks there is no bookmark.
TEST(FakeApiServer, AStreamingListsEndBookmarkComesWhereTheServersVersionSendsIt) {
  using End = fake::FakeOptions::InitialEventsEnd;
  const std::string ask =
      "/api/v1/pods?watch=1&timeoutSeconds=5&allowWatchBookmarks=true&sendInitialEvents=true"
      "&resourceVersionMatch=NotOlderThan&resourceVersion=";
  for (const auto& [end, expected] : std::vector<std::pair<End, std::vector<std::string>>>{
           {End::kAfterInitialEvents, {"ADDED", "ADDED", "END", "DELETED"}},
           {End::kOnBookmarkTimer, {"ADDED", "ADDED", "DELETED", "END"}}}) {
    SCOPED_TRACE(end == End::kAfterInitialEvents ? "1.32+" : "1.27-1.31");
    fake::FakeOptions options;
    options.watch_list = true;
    options.initial_events_end = end;
    options.initial_events_end_after = std::chrono::hours(1);  // only send_bookmarks() ends it
    Fixture f(options);
    f.server.apply_pod(fake::make_pod("shop", "api", {{"name", "api"}, {"image", "x:1"}}));
    f.server.apply_pod(fake::make_pod("shop", "web", {{"name", "web"}, {"image", "x:1"}}));
    std::vector<std::string> seen;
    std::uint64_t end_rv = 0;
    std::uint64_t deleted_rv = 0;
    auto r = run(f.ioc, f.client->watch(
                            kube::Request{verb::get, ask, "test", "", ""},
                            [&](std::string_view line) {
                              const json ev = json::parse(line);
                              const std::uint64_t rv = std::stoull(rv_of(ev["object"]));
                              if (core::ends_initial_events(line)) {
                                seen.emplace_back("END");
                                end_rv = rv;
                              } else {
                                seen.push_back(ev["type"].get<std::string>());
                              }
                              if (seen.back() == "DELETED") deleted_rv = rv;
                              if (seen.size() == 2) {
                                // The initial events are in: delete inside the window, then end it.
                                if (end == End::kOnBookmarkTimer) {
                                  EXPECT_TRUE(testing::eventually(
                                      [&] { return f.server.awaiting_initial_events_end().size() == 1U; }));
                                }
                                f.server.delete_pod("shop", "api");
                                f.server.send_bookmarks();
                              }
                              return end_rv == 0 || deleted_rv == 0;
                            },
                            core::Duration(5000)));
    ASSERT_TRUE(r);
    EXPECT_EQ(seen, expected);
    if (end == End::kAfterInitialEvents) {
      EXPECT_LT(end_rv, deleted_rv);
    } else {
      EXPECT_EQ(end_rv, deleted_rv);
    }
    // Out of the window once the bookmark is written (the client may read it first).
    EXPECT_TRUE(testing::eventually([&] { return f.server.awaiting_initial_events_end().empty(); }));
    // No bookmarks asked: the initial events and nothing else.
    const auto unmarked = f.watch("/api/v1/pods", "&sendInitialEvents=true&resourceVersionMatch=NotOlderThan");
    ASSERT_EQ(unmarked.size(), 1U);
    EXPECT_EQ(unmarked[0]["type"], "ADDED");
  }
}

// The server can be destroyed while a streaming list waits for its end bookmark (a test that
// fails inside the window does that): the watch's clean-up runs as the io_context goes and must
// find what it unregisters from still alive.
TEST(FakeApiServer, IsDestroyedCleanlyWhileAStreamingListWaitsForItsEnd) {
  fake::FakeOptions options;
  options.watch_list = true;
  options.initial_events_end = fake::FakeOptions::InitialEventsEnd::kOnBookmarkTimer;
  options.initial_events_end_after = std::chrono::hours(1);
  auto f = std::make_unique<Fixture>(options);
  f->server.apply_pod(fake::make_pod("shop", "api", {{"name", "api"}, {"image", "x:1"}}));
  int events = 0;
  auto r = run(f->ioc, f->client->watch(
                           kube::Request{verb::get,
                                         "/api/v1/pods?watch=1&timeoutSeconds=60&allowWatchBookmarks=true"
                                         "&sendInitialEvents=true&resourceVersionMatch=NotOlderThan",
                                         "test", "", ""},
                           [&](std::string_view) { return ++events < 1; }, core::Duration(5000)));
  ASSERT_TRUE(r);
  EXPECT_EQ(events, 1);
  ASSERT_TRUE(testing::eventually([&] { return f->server.awaiting_initial_events_end().size() == 1U; }));
  f.reset();  // crashed here when the window's registry was declared after the io_context
}

// A real cluster's namespaces are objects: their list and a watch's initial events (a plain
// watch from resourceVersion 0, a streaming list) name the same ones. The fake's namespaces are
// implicit; its watch once left them out, so a daemon syncing by a streaming list had no
// namespace "shop" and fetched it for each incident.
TEST(FakeApiServer, ANamespaceWatchStartsWithTheNamespacesTheListHas) {
  fake::FakeOptions options;
  options.watch_list = true;
  Fixture f(options);
  f.server.apply_pod(fake::make_pod("shop", "api", {{"name", "api"}, {"image", "x:1"}}));
  std::set<std::string> listed;
  const Reply list = f.get("/api/v1/namespaces");
  for (const auto& ns : list.body["items"]) listed.insert(ns["metadata"]["name"]);
  EXPECT_TRUE(listed.count("shop") == 1 && listed.count("default") == 1) << list.raw;
  // watch() appends its argument to "resourceVersion=": a version, or none and the streaming
  // list's parameters.
  for (const std::string from : {"0", "&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"}) {
    SCOPED_TRACE(from);
    std::set<std::string> watched;
    for (const auto& ev : f.watch("/api/v1/namespaces", from)) {
      if (ev["type"] == "ADDED") watched.insert(ev["object"]["metadata"]["name"]);
    }
    EXPECT_EQ(watched, listed);
  }
}

}  // namespace
}  // namespace crashdiag::kube
