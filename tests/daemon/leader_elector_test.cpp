// Leader election between replicas, each with its own io_context, thread and client, against
// the fake API server's Lease (GET / POST / PUT with resourceVersion conflicts). Short durations
// keep the tests quick; conditions are polled with generous limits for loaded CI machines.
#include "leader_elector.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "eventually.hpp"
#include "fake_apiserver.hpp"
#include "fake_client.hpp"
#include "log.hpp"
#include "tls.hpp"

namespace crashdiag::daemon {
namespace {

namespace asio = boost::asio;
using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kNamespace = "crashdiag";
constexpr const char* kLeaseName = "crashdiag-leader";

struct Durations {
  core::Duration lease{1500};
  core::Duration renew{1000};
  core::Duration retry{200};
};

void quiet_logs() {
  static bool done = [] {
    configure_logging(LogFormat::kText, LogLevel::kError);
    return true;
  }();
  (void)done;
}

template <typename Pred>
bool poll(Pred pred, std::chrono::milliseconds timeout = 15'000ms) {
  return testing::eventually(pred, timeout);
}

std::unique_ptr<kube::KubeClient> make_client(asio::io_context& ioc, const fake::FakeApiServer& server) {
  kube::ClientOptions options;
  options.request_timeout = core::Duration(10'000);
  return testing::client_for(ioc, server, options);
}

// One replica of the operator: its own event loop, client and elector.
struct Replica {
  Replica(const fake::FakeApiServer& server, std::string id, Durations d, unsigned seed) : identity(std::move(id)) {
    client = make_client(ioc, server);
    LeaderElectorOptions options;
    options.election.namespace_ = kNamespace;
    options.election.name = kLeaseName;
    options.election.identity = identity;
    options.election.lease_duration = d.lease;
    options.election.renew_deadline = d.renew;
    options.election.retry_period = d.retry;
    auto rng = std::make_shared<std::mt19937>(seed);
    options.random = [rng] { return std::uniform_real_distribution<double>(0.0, 1.0)(*rng); };
    options.on_started_leading = [this] { ++started; };
    options.on_stopped_leading = [this] { ++stopped; };
    elector = std::make_unique<LeaderElector>(ioc, *client, options);
  }
  ~Replica() { kill(); }
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  void start() {
    asio::co_spawn(ioc, elector->run(), [this](const std::exception_ptr&) { finished = true; });
    thread = std::thread([this] { ioc.run(); });
  }
  // A clean shutdown: stop(), which releases the lease, and wait for run() to return.
  bool stop() {
    asio::post(ioc, [this] { elector->stop(); });
    const bool ok = poll([this] { return finished.load(); });
    kill();
    return ok;
  }
  // The process dies: the event loop stops where it is, nothing is released.
  void kill() {
    ioc.stop();
    if (thread.joinable()) thread.join();
  }
  bool leading() const { return elector->is_leader(); }
  // The holder this replica last observed, read on its own thread.
  std::string observed_leader() {
    std::promise<std::string> p;
    auto f = p.get_future();
    asio::post(ioc, [&] { p.set_value(elector->leader()); });
    if (f.wait_for(5s) != std::future_status::ready) return "<no answer>";
    return f.get();
  }

  std::string identity;
  asio::io_context ioc{1};
  std::unique_ptr<kube::KubeClient> client;
  std::unique_ptr<LeaderElector> elector;
  std::thread thread;
  std::atomic<int> started{0};
  std::atomic<int> stopped{0};
  std::atomic<bool> finished{false};
};

// The Lease as stored, through a client of its own.
json read_lease(const fake::FakeApiServer& server) {
  asio::io_context ioc;
  auto client = make_client(ioc, server);
  kube::Request req{boost::beast::http::verb::get,
                    std::string("/apis/coordination.k8s.io/v1/namespaces/") + kNamespace + "/leases/" + kLeaseName,
                    "leases", "", ""};
  auto fut = asio::co_spawn(ioc, client->request(std::move(req)), asio::use_future);
  ioc.run();
  auto res = fut.get();
  if (!res || res->status != 200) return json();
  return json::parse(res->body, nullptr, false);
}

TEST(LeaderElector, TwoElectorsOnOneLeaseExactlyOneLeads) {
  quiet_logs();
  fake::FakeApiServer server;
  const Durations d{3000ms, 2000ms, 300ms};  // roomier than the rest: leadership must not flap
  Replica a(server, "replica-a_1", d, 1);
  Replica b(server, "replica-b_2", d, 2);
  a.start();
  b.start();
  ASSERT_TRUE(poll([&] { return a.started + b.started >= 1; }));
  Replica& leader = a.started > 0 ? a : b;
  Replica& follower = a.started > 0 ? b : a;
  // Over more than a lease duration the leader keeps renewing and the other never takes over:
  // 12 renewals a retry period (300 ms) apart span more than the 3 s lease.
  std::set<std::string> renewals;
  bool both = false;
  EXPECT_TRUE(poll([&] {
    both = both || (a.leading() && b.leading());
    const json lease = read_lease(server);
    if (lease.is_object()) renewals.insert(lease["spec"].value("renewTime", ""));
    return renewals.size() >= 12;
  })) << "the leader renewed "
      << renewals.size() << " times";
  EXPECT_FALSE(both) << "two leaders at once";
  EXPECT_TRUE(leader.leading());
  EXPECT_FALSE(follower.leading());
  EXPECT_EQ(leader.started, 1);
  EXPECT_EQ(follower.started, 0);
  EXPECT_EQ(leader.stopped, 0);
  EXPECT_EQ(follower.observed_leader(), leader.identity);
  json lease = read_lease(server);
  ASSERT_TRUE(lease.is_object());
  EXPECT_EQ(lease["spec"]["holderIdentity"], leader.identity);
  EXPECT_EQ(lease["spec"]["leaseDurationSeconds"], 3);
  EXPECT_EQ(lease["spec"]["leaseTransitions"], 0);
}

TEST(LeaderElector, StoppedLeaderReleasesAndTheOtherLeadsWithinARetryPeriod) {
  quiet_logs();
  fake::FakeApiServer server;
  // A long lease: without the release the other replica would wait at least 6 s.
  const Durations d{6000ms, 4000ms, 200ms};
  Replica a(server, "replica-a_1", d, 1);
  Replica b(server, "replica-b_2", d, 2);
  a.start();
  ASSERT_TRUE(poll([&] { return a.leading(); }));
  b.start();
  ASSERT_TRUE(poll([&] { return b.observed_leader() == a.identity; }));
  EXPECT_FALSE(b.leading());

  ASSERT_TRUE(a.stop());
  const auto released_at = Clock::now();
  EXPECT_EQ(a.stopped, 1);
  EXPECT_FALSE(a.leading());
  ASSERT_TRUE(poll([&] { return b.leading(); }));
  // One jittered retry period (at most 2.2 * 200 ms) plus requests; far below the 6 s lease.
  EXPECT_LT(Clock::now() - released_at, 3s);
  json lease = read_lease(server);
  EXPECT_EQ(lease["spec"]["holderIdentity"], b.identity);
  EXPECT_EQ(lease["spec"]["leaseTransitions"], 1);
  EXPECT_EQ(lease["spec"]["leaseDurationSeconds"], 6);
}

TEST(LeaderElector, KilledLeaderIsReplacedOnlyAfterTheLeaseExpires) {
  quiet_logs();
  fake::FakeApiServer server;
  const Durations d;  // 1.5 s lease (written as 2 s), 1 s renew deadline, 200 ms retry
  Replica a(server, "replica-a_1", d, 1);
  Replica b(server, "replica-b_2", d, 2);
  a.start();
  ASSERT_TRUE(poll([&] { return a.leading(); }));
  b.start();
  ASSERT_TRUE(poll([&] { return b.observed_leader() == a.identity; }));

  a.kill();  // no release
  const auto killed_at = Clock::now();
  ASSERT_TRUE(poll([&] { return b.leading(); }));
  // b saw a's last renewal at most one jittered retry (440 ms) before the kill, so it waits
  // about leaseDurationSeconds (2 s) minus that; comfortably more than one second.
  EXPECT_GE(Clock::now() - killed_at, 1000ms);
  EXPECT_EQ(a.stopped, 0);  // a never learnt it lost: it was dead
  json lease = read_lease(server);
  EXPECT_EQ(lease["spec"]["holderIdentity"], b.identity);
  EXPECT_EQ(lease["spec"]["leaseTransitions"], 1);
}

class RenewFaults : public ::testing::TestWithParam<fake::FaultKind> {};

TEST_P(RenewFaults, RenewFailuresBeyondTheRenewDeadlineStopLeading) {
  quiet_logs();
  fake::FakeApiServer server;
  Replica a(server, "replica-a_1", Durations{}, 1);
  a.start();
  ASSERT_TRUE(poll([&] { return a.leading(); }));
  // Every lease request from now on fails. A 429 also carries a long Retry-After that the client
  // would honour for many seconds: the elector stops waiting at its renew deadline instead.
  fake::Fault fault;
  fault.kind = GetParam();
  fault.path_contains = "leases";
  fault.times = 1'000'000;
  fault.retry_after_seconds = 5;
  server.inject(fault);
  const auto injected_at = Clock::now();
  ASSERT_TRUE(poll([&] { return a.stopped.load() == 1; }));
  // The last renewal was at most one retry period ago and the round's deadline is 1 s.
  EXPECT_LT(Clock::now() - injected_at, 8s);
  EXPECT_FALSE(a.leading());
  EXPECT_EQ(a.started, 1);
  a.kill();
}

INSTANTIATE_TEST_SUITE_P(LeaderElector, RenewFaults,
                         ::testing::Values(fake::FaultKind::kInternalError, fake::FaultKind::kTooManyRequests));

TEST(LeaderElector, IdentityIsHostnameAndAUuid) {
  const std::string id = make_leader_identity([] { return 0.5; });
  const auto sep = id.rfind('_');
  ASSERT_NE(sep, std::string::npos);
  EXPECT_GT(sep, 0U);
  const std::string uuid = id.substr(sep + 1);
  EXPECT_EQ(uuid.size(), 36U);
  EXPECT_EQ(uuid[14], '4');  // version 4
  EXPECT_NE(make_leader_identity([] { return 0.25; }), id);
}

}  // namespace
}  // namespace crashdiag::daemon
