#include "fake_client.hpp"

#include <gtest/gtest.h>

#include "tls.hpp"

namespace crashdiag::testing {

std::unique_ptr<kube::KubeClient> client_for(boost::asio::io_context& ioc, const fake::FakeApiServer& server,
                                             kube::ClientOptions options, std::uint16_t port) {
  core::ClusterAccess access;
  access.ca_pem = server.ca_pem();
  auto tls = kube::make_client_tls(access, "", "");
  EXPECT_TRUE(tls) << (tls ? "" : tls.error());
  const std::string target_port = std::to_string(port != 0 ? port : server.port());
  return std::make_unique<kube::KubeClient>(ioc.get_executor(), kube::Endpoint{"127.0.0.1", target_port, ""}, *tls,
                                            std::make_shared<kube::StaticToken>("test-token"),  // FakeOptions::token
                                            std::move(options));
}

}  // namespace crashdiag::testing
