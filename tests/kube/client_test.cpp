// The HTTPS client against the fake API server over real TLS on a loopback port.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "client.hpp"
#include "eventually.hpp"
#include "fake_apiserver.hpp"
#include "fake_client.hpp"
#include "tls.hpp"

namespace crashdiag::kube {
namespace {

namespace asio = boost::asio;
using nlohmann::json;

using testing::run;

struct Fixture {
  explicit Fixture(fake::FakeOptions options = {}, std::shared_ptr<TokenSource> tokens = nullptr,
                   ClientOptions client_options = {})
      : server(std::move(options)) {
    core::ClusterAccess access;
    access.ca_pem = server.ca_pem();
    auto tls = make_client_tls(access, "", "");
    EXPECT_TRUE(tls) << (tls ? "" : tls.error());
    client =
        std::make_unique<KubeClient>(ioc.get_executor(), Endpoint{"127.0.0.1", std::to_string(server.port()), ""}, *tls,
                                     tokens ? tokens : std::make_shared<StaticToken>("test-token"), client_options);
  }
  tl::expected<Response, TransportError> get(const std::string& target, const std::string& resource = "pods") {
    return run(ioc, client->request(Request{boost::beast::http::verb::get, target, resource, "", ""}));
  }
  asio::io_context ioc;
  fake::FakeApiServer server;
  std::unique_ptr<KubeClient> client;
};

json crashing_container() {
  return json{{"name", "app"}, {"image", "busybox:1.36"}, {"command", json::array({"server"})}};
}

// The request observer feeds metrics; if it throws, the request still completes and is counted.
TEST(KubeClient, AThrowingRequestObserverDoesNotFailTheRequest) {
  ClientOptions o;
  int calls = 0;
  o.on_request = [&](std::string_view, std::string_view, int, double) {
    ++calls;
    throw std::runtime_error("observer broke");
  };
  Fixture f({}, nullptr, o);
  auto res = f.get("/api/v1/pods?limit=1");
  ASSERT_TRUE(res) << res.error().what;
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(f.client->stats().total(), 1U);
}

TEST(KubeClient, AResourceVersion0ListIgnoresLimitAsTheWatchCacheDoes) {
  Fixture f;
  for (int i = 0; i < 5; ++i)
    f.server.apply_pod(fake::make_pod("shop", "web-" + std::to_string(i), crashing_container()));
  auto list = f.get("/api/v1/pods?limit=2&resourceVersion=0");
  ASSERT_TRUE(list) << list.error().what;
  ASSERT_EQ(list->status, 200) << list->body;
  json l = json::parse(list->body);
  EXPECT_EQ(l["items"].size(), 5U);
  EXPECT_FALSE(l["metadata"].contains("continue"));
  EXPECT_FALSE(l["metadata"].contains("remainingItemCount"));
}

// A long body is read a TLS record at a time (16 KiB), not in pieces the size of the response
// header: beast sizes each read by the connection buffer's free capacity, and an unreserved
// buffer read a real apiserver's 145 MB list 680 bytes at a time, each piece a trip through the
// scheduler (client.cpp, Connection).
TEST(KubeClient, AStreamedListArrivesInWholeTlsRecords) {
  Fixture f;
  for (int i = 0; i < 1000; ++i)
    f.server.apply_pod(fake::make_pod("shop", "web-" + std::to_string(i), crashing_container()));
  std::size_t chunks = 0;
  std::size_t bytes = 0;
  Request req{boost::beast::http::verb::get, "/api/v1/pods?limit=500&resourceVersion=0", "pods", "", ""};
  auto res = run(f.ioc, f.client->stream(
                            std::move(req),
                            [&](std::string_view chunk) {
                              ++chunks;
                              bytes += chunk.size();
                              return true;
                            },
                            std::chrono::seconds(10)));
  ASSERT_TRUE(res) << res.error().what;
  ASSERT_EQ(res->status, 200);
  ASSERT_GT(bytes, std::size_t{256} << 10) << "the list is long enough to need many records";
  EXPECT_GE(bytes / chunks, std::size_t{8} << 10) << chunks << " pieces for " << bytes << " bytes";
}

TEST(KubeClient, PaginatedListOverTlsWithOneConnection) {
  Fixture f;
  for (int i = 0; i < 5; ++i)
    f.server.apply_pod(fake::make_pod("shop", "web-" + std::to_string(i), crashing_container()));
  // No resourceVersion: the real server reads etcd and pages (resourceVersion=0 is served from
  // the watch cache, which ignores limit; the next test).
  auto page1 = f.get("/api/v1/pods?limit=2");
  ASSERT_TRUE(page1) << page1.error().what;
  ASSERT_EQ(page1->status, 200) << page1->body;
  json p1 = json::parse(page1->body);
  EXPECT_EQ(p1["items"].size(), 2U);
  EXPECT_EQ(p1["metadata"]["remainingItemCount"], 3);
  EXPECT_FALSE(p1["items"][0].contains("kind"));  // list items carry no kind, as the real server
  std::string cont = p1["metadata"]["continue"];
  auto page2 = f.get("/api/v1/pods?limit=2&continue=" + cont);
  ASSERT_TRUE(page2);
  json p2 = json::parse(page2->body);
  EXPECT_EQ(p2["metadata"]["resourceVersion"], p1["metadata"]["resourceVersion"]);  // one snapshot
  EXPECT_EQ(p2["items"][0]["metadata"]["name"], "web-2");
  EXPECT_EQ(f.server.connections(), 1U);  // keep-alive reuse
  EXPECT_EQ(f.client->stats().snapshot().at({"GET", "pods", 200}), 2U);
}

TEST(KubeClient, StrictServerRejectsWhatTheRealOneRejects) {
  Fixture f;
  EXPECT_EQ(f.get("/api/v1/pods?limit=2&continue=not-a-valid-token")->status, 400);
  EXPECT_EQ(f.get("/apis/fixtures.example.com/v1/widgets")->status, 404);
  EXPECT_EQ(f.get("/apis/fixtures.example.com/v1/widgets")->body, "404 page not found\n");
  auto missing = f.get("/api/v1/namespaces/shop/pods/nope");
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(json::parse(missing->body)["reason"], "NotFound");
}

TEST(KubeClient, WrongTokenIs401WithAStatusBody) {
  Fixture f({}, std::make_shared<StaticToken>("wrong"));
  auto r = f.get("/api/v1/pods");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(json::parse(r->body)["reason"], "Unauthorized");
}

TEST(KubeClient, RotatedTokenFileIsReadAgainAfterA401) {
  const std::string dir = std::filesystem::temp_directory_path() / ("crashdiag-token-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string server_file = dir + "/server-token";
  const std::string client_file = dir + "/token";
  std::ofstream(server_file) << "token-1";
  std::ofstream(client_file) << "token-1\n";
  fake::FakeOptions options;
  options.token_file = server_file;
  auto tokens = std::make_shared<TokenFile>(client_file, std::chrono::seconds(3600));
  Fixture f(options, tokens);
  EXPECT_EQ(f.get("/api/v1/pods")->status, 200);
  // The kubelet rotates the projected token; the server accepts only the new one.
  std::ofstream(server_file) << "token-2";
  std::ofstream(client_file) << "token-2\n";
  EXPECT_EQ(f.get("/api/v1/pods")->status, 200);  // 401, re-read, retried
  EXPECT_EQ(tokens->reads(), 2);
  // A failed read keeps the old token.
  std::filesystem::remove(client_file);
  tokens->invalidate();
  EXPECT_EQ(tokens->token(), "token-2");
  std::filesystem::remove_all(dir);
}

TEST(KubeClient, RejectsACertificateFromAnotherCa) {
  fake::FakeOptions options;
  options.serve_untrusted_certificate = true;
  Fixture f(options);
  auto r = f.get("/api/v1/pods");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what.find("TLS handshake"), std::string::npos) << r.error().what;
  EXPECT_EQ(r.error().kind, TransportFailure::kTlsHandshake);
}

TEST(KubeClient, RejectsACertificateForAnotherName) {
  fake::FakeOptions options;
  options.subject_alt_names = {"DNS:apiserver.example.com"};  // no IP SAN for 127.0.0.1
  Fixture f(options);
  auto r = f.get("/api/v1/pods");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what.find("TLS handshake"), std::string::npos) << r.error().what;
  EXPECT_EQ(r.error().kind, TransportFailure::kTlsHandshake);
}

// The token bucket reads the injected clock: with one request per 100 s, the second request
// waits until the clock says a token is back, and a test moves that clock instead of waiting.
TEST(KubeClient, TheRateLimiterReadsTheInjectedClock) {
  core::ManualClock clock;
  ClientOptions o;
  o.qps = 0.01;
  o.burst = 1;
  o.clock = clock.clock();
  Fixture f({}, nullptr, o);
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(f.get("/api/v1/pods?limit=1"));
  clock.advance(std::chrono::seconds(100));
  auto res = f.get("/api/v1/pods?limit=1");
  ASSERT_TRUE(res) << res.error().what;
  EXPECT_EQ(res->status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10))
      << "the second request waited on the process clock, not the injected one";
  EXPECT_EQ(f.client->stats().total(), 2U);
}

TEST(KubeClient, HonoursRetryAfterOn429) {
  Fixture f;
  f.server.inject(fake::Fault{fake::FaultKind::kTooManyRequests, "/api/v1/pods", false, false, 1, 1, 0});
  const auto start = std::chrono::steady_clock::now();
  auto r = f.get("/api/v1/pods");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));
  EXPECT_EQ(f.client->stats().snapshot().at({"GET", "pods", 429}), 1U);
}

TEST(KubeClient, LogsHonourPreviousTailLinesAndLimitBytes) {
  Fixture f;
  f.server.apply_pod(fake::make_pod("shop", "web-0", crashing_container()));
  EXPECT_EQ(f.get("/api/v1/namespaces/shop/pods/web-0/log?container=app&previous=true", "pods/log")->status, 400);
  f.server.set_logs("shop", "web-0", "app", true, "one\ntwo\nthree\nfour\n");
  EXPECT_EQ(f.get("/api/v1/namespaces/shop/pods/web-0/log?container=app&previous=true&tailLines=2", "pods/log")->body,
            "three\nfour\n");
  EXPECT_EQ(f.get("/api/v1/namespaces/shop/pods/web-0/log?container=app&previous=true&limitBytes=5", "pods/log")->body,
            "one\nt");
  EXPECT_EQ(f.get("/api/v1/namespaces/shop/pods/web-0/log?container=nope", "pods/log")->status, 400);
}

TEST(KubeClient, WatchStreamsEventsBookmarksAndEndsNormally) {
  Fixture f;
  f.server.apply_pod(fake::make_pod("shop", "web-0", crashing_container()));
  const std::string rv = std::to_string(f.server.resource_version());
  std::vector<std::string> types;
  std::atomic<int> received{0};
  // Each change once the client has the one before: a bookmark, an ADDED, a DELETED, in order.
  std::thread mutator([&] {
    if (!testing::eventually([&] { return f.server.open_watches() == 1; })) return;
    f.server.send_bookmarks();
    if (!testing::eventually([&] { return received >= 1; })) return;
    f.server.apply_pod(fake::make_pod("shop", "web-1", crashing_container()));
    if (!testing::eventually([&] { return received >= 2; })) return;
    f.server.delete_pod("shop", "web-0");
  });
  auto r =
      run(f.ioc, f.client->watch(
                     Request{boost::beast::http::verb::get,
                             "/api/v1/pods?watch=1&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion=" + rv,
                             "pods", "", ""},
                     [&](std::string_view line) {
                       types.push_back(json::parse(line)["type"]);
                       ++received;
                       return true;
                     },
                     core::Duration(5000)));
  mutator.join();
  ASSERT_TRUE(r) << r.error().what;
  EXPECT_EQ(r->status, 200);
  ASSERT_GE(types.size(), 3U);
  EXPECT_EQ(types[0], "BOOKMARK");
  EXPECT_NE(std::find(types.begin(), types.end(), "ADDED"), types.end());
  EXPECT_NE(std::find(types.begin(), types.end(), "DELETED"), types.end());
}

TEST(KubeClient, WatchDeliversEachEventWhileTheStreamStaysOpen) {
  // A quiet, long-lived watch must hand over every event as it arrives, not when 64 KiB have
  // accumulated or the stream ends.
  Fixture f;
  f.server.apply_pod(fake::make_pod("shop", "web-0", crashing_container()));
  const std::string rv = std::to_string(f.server.resource_version());
  std::chrono::steady_clock::time_point applied;
  std::chrono::steady_clock::time_point delivered;
  std::thread mutator([&] {
    if (!testing::eventually([&] { return f.server.open_watches() == 1; })) return;
    applied = std::chrono::steady_clock::now();
    f.server.apply_pod(fake::make_pod("shop", "web-1", crashing_container()));
  });
  auto r = run(f.ioc, f.client->watch(
                          Request{boost::beast::http::verb::get,
                                  "/api/v1/pods?watch=1&timeoutSeconds=30&resourceVersion=" + rv, "pods", "", ""},
                          [&](std::string_view) {
                            delivered = std::chrono::steady_clock::now();
                            return false;  // got it: abandon the stream
                          },
                          core::Duration(5000)));
  mutator.join();
  ASSERT_TRUE(r) << r.error().what;
  EXPECT_TRUE(r->abandoned);
  EXPECT_LT(delivered - applied, std::chrono::seconds(2));
}

TEST(KubeClient, WatchFromACompactedVersionGetsAnExpiredErrorEvent) {
  Fixture f;
  f.server.apply_pod(fake::make_pod("shop", "web-0", crashing_container()));
  f.server.apply_pod(fake::make_pod("shop", "web-1", crashing_container()));
  f.server.compact();
  std::vector<json> events;
  auto r =
      run(f.ioc, f.client->watch(
                     Request{boost::beast::http::verb::get, "/api/v1/pods?watch=1&resourceVersion=1", "pods", "", ""},
                     [&](std::string_view line) {
                       events.push_back(json::parse(line));
                       return true;
                     },
                     core::Duration(5000)));
  ASSERT_TRUE(r) << r.error().what;
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0]["type"], "ERROR");
  EXPECT_EQ(events[0]["object"]["code"], 410);
}

TEST(KubeClient, StalledWatchHitsTheIdleTimeoutAndDroppedOneIsAnError) {
  Fixture f;
  f.server.inject(fake::Fault{fake::FaultKind::kStall, "watch=1", true, false, 1, 0, 0});
  auto stalled =
      run(f.ioc, f.client->watch(
                     Request{boost::beast::http::verb::get, "/api/v1/pods?watch=1&resourceVersion=100", "pods", "", ""},
                     [](std::string_view) { return true; }, core::Duration(300)));
  ASSERT_FALSE(stalled);
  EXPECT_EQ(stalled.error().what, "idle");
  EXPECT_EQ(stalled.error().kind, TransportFailure::kIdle);  // what the daemon acts on
  f.server.inject(fake::Fault{fake::FaultKind::kDropMidStream, "watch=1", true, false, 1, 0, 0});
  auto dropped =
      run(f.ioc, f.client->watch(
                     Request{boost::beast::http::verb::get, "/api/v1/pods?watch=1&resourceVersion=100", "pods", "", ""},
                     [](std::string_view) { return true; }, core::Duration(3000)));
  ASSERT_FALSE(dropped);
  EXPECT_EQ(dropped.error().kind, TransportFailure::kRead);
}

// FaultKind::kDropMidStream with after_events: the stream delivers that many events and then
// breaks without its last chunk; the client has the events and an error, not a clean end.
TEST(KubeClient, WatchDroppedAfterSomeEventsDeliversThoseAndFails) {
  Fixture f;
  for (const char* name : {"a", "b", "c"}) f.server.apply_pod(fake::make_pod("shop", name, crashing_container()));
  f.server.inject(fake::Fault{fake::FaultKind::kDropMidStream, "watch=1", true, false, 1, 0, 2});
  std::vector<std::string> seen;
  auto dropped =
      run(f.ioc, f.client->watch(
                     Request{boost::beast::http::verb::get, "/api/v1/pods?watch=1&resourceVersion=0", "pods", "", ""},
                     [&](std::string_view line) {
                       seen.emplace_back(line);
                       return true;
                     },
                     core::Duration(3000)));
  ASSERT_FALSE(dropped);
  EXPECT_EQ(dropped.error().kind, TransportFailure::kRead);
  EXPECT_EQ(seen.size(), 2U);
  // The fault is spent: the next watch delivers all three and ends at its timeout.
  seen.clear();
  auto whole = run(f.ioc, f.client->watch(
                              Request{boost::beast::http::verb::get,
                                      "/api/v1/pods?watch=1&resourceVersion=0&timeoutSeconds=1", "pods", "", ""},
                              [&](std::string_view line) {
                                seen.emplace_back(line);
                                return true;
                              },
                              core::Duration(3000)));
  EXPECT_TRUE(whole) << whole.error().what;
  EXPECT_EQ(seen.size(), 3U);
}

TEST(ServerUrl, ParsesHostsPortsAndIpv6) {
  EXPECT_EQ(parse_server_url("https://10.0.0.1:6443")->port, "6443");
  EXPECT_EQ(parse_server_url("https://[fd00::1]:443")->host, "fd00::1");
  EXPECT_EQ(parse_server_url("https://api.example.com")->port, "443");
  EXPECT_FALSE(parse_server_url("http://insecure:8080"));
}

}  // namespace
}  // namespace crashdiag::kube

namespace crashdiag::kube {
namespace {

TEST(FakeWrites, CreateConflictPatchAndCustomResources) {
  Fixture f;
  auto send = [&](boost::beast::http::verb verb, const std::string& target, const std::string& resource, json body,
                  const std::string& type = "application/json") {
    Request req{verb, target, resource, body.dump(), type};
    return run(f.ioc, f.client->request(std::move(req)));
  };
  json pod = fake::make_pod("shop", "web-0", crashing_container());
  auto created = send(boost::beast::http::verb::post, "/api/v1/namespaces/shop/pods", "pods", pod);
  ASSERT_TRUE(created);
  EXPECT_EQ(created->status, 201);
  auto again = send(boost::beast::http::verb::post, "/api/v1/namespaces/shop/pods", "pods", pod);
  EXPECT_EQ(again->status, 409);
  EXPECT_EQ(json::parse(again->body)["reason"], "AlreadyExists");
  EXPECT_EQ(send(boost::beast::http::verb::post, "/api/v1/namespaces/other/pods", "pods", pod)->status,
            400);  // namespace mismatch
  auto patched = send(boost::beast::http::verb::patch, "/api/v1/namespaces/shop/pods/web-0", "pods",
                      json{{"metadata", {{"annotations", {{"crashdiag.io/root-cause", "entrypoint_override: ..."}}}}}},
                      "application/merge-patch+json");
  ASSERT_EQ(patched->status, 200);
  json p = json::parse(patched->body);
  EXPECT_EQ(p["metadata"]["annotations"]["crashdiag.io/root-cause"], "entrypoint_override: ...");
  EXPECT_EQ(p["spec"]["containers"][0]["name"], "app");  // merge patch keeps the rest
  EXPECT_GT(std::stoull(p["metadata"]["resourceVersion"].get<std::string>()),
            std::stoull(json::parse(created->body)["metadata"]["resourceVersion"].get<std::string>()));
  EXPECT_EQ(send(boost::beast::http::verb::patch, "/api/v1/namespaces/shop/pods/missing", "pods", json::object(),
                 "application/merge-patch+json")
                ->status,
            404);
  json rca = {
      {"apiVersion", "crashdiag.io/v1alpha1"},
      {"kind", "RootCauseAnalysis"},
      {"metadata", {{"name", "web-server-x"}, {"namespace", "shop"}}},
      {"spec",
       {{"signature", "StartError:128"},
        {"target", {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", "web"}, {"container", "server"}}}}}};
  EXPECT_EQ(send(boost::beast::http::verb::post, "/apis/crashdiag.io/v1alpha1/namespaces/shop/rootcauseanalyses",
                 "rootcauseanalyses", rca)
                ->status,
            201);
  EXPECT_EQ(send(boost::beast::http::verb::patch,
                 "/apis/crashdiag.io/v1alpha1/namespaces/shop/rootcauseanalyses/web-server-x", "rootcauseanalyses",
                 json::object(), "application/strategic-merge-patch+json")
                ->status,
            415);  // custom resources do not support strategic merge patch
  EXPECT_EQ(
      f.get("/apis/crashdiag.io/v1alpha1/namespaces/shop/rootcauseanalyses/web-server-x", "rootcauseanalyses")->status,
      200);
}

TEST(ExecPlugin, RunsThePluginCachesUntilExpiryAndReRunsAfterInvalidate) {
  const std::string dir = std::filesystem::temp_directory_path() / ("crashdiag-exec-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string script = dir + "/plugin.sh";
  {
    std::ofstream out(script);
    out << "#!/bin/sh\n"
        << "echo run >> \"$RUNS_FILE\"\n"
        << "case \"$KUBERNETES_EXEC_INFO\" in *'\"interactive\":false'*) ;; *) exit 3;; esac\n"
        << "echo '{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
        << "\"status\":{\"token\":\"exec-token-1\",\"expirationTimestamp\":\"2099-01-01T00:00:00Z\"}}'\n";
  }
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  core::ExecPlugin plugin;
  plugin.api_version = "client.authentication.k8s.io/v1";
  plugin.command = script;
  plugin.env = {{"RUNS_FILE", dir + "/runs"}};
  ExecTokenSource source(plugin);
  EXPECT_EQ(source.token(), "exec-token-1");
  EXPECT_EQ(source.token(), "exec-token-1");  // cached: not expired
  auto runs = [&] {
    std::ifstream in(dir + "/runs");
    int n = 0;
    for (std::string l; std::getline(in, l);) ++n;
    return n;
  };
  EXPECT_EQ(runs(), 1);
  source.invalidate();  // a 401
  EXPECT_EQ(source.token(), "exec-token-1");
  EXPECT_EQ(runs(), 2);
  core::ExecPlugin missing = plugin;
  missing.command = dir + "/does-not-exist";
  missing.install_hint = "install the aws CLI";
  auto failed = ExecTokenSource(missing).run();
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().find("install the aws CLI"), std::string::npos) << failed.error();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace crashdiag::kube
