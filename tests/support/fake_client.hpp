// The project's KubeClient pointed at a FakeApiServer: its CA trusted, its token presented.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>

#include "client.hpp"
#include "fake_apiserver.hpp"

namespace crashdiag::testing {

// `port` 0: the server's own; anything else points the client elsewhere (a closed port).
[[nodiscard]] std::unique_ptr<kube::KubeClient> client_for(boost::asio::io_context& ioc,
                                                           const fake::FakeApiServer& server,
                                                           kube::ClientOptions options = {}, std::uint16_t port = 0);

}  // namespace crashdiag::testing
