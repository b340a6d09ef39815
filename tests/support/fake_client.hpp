// The project's KubeClient pointed at a FakeApiServer: its CA trusted, its token presented.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <cstdint>
#include <memory>
#include <utility>

#include "client.hpp"
#include "fake_apiserver.hpp"

namespace crashdiag::testing {

// `port` 0: the server's own; anything else points the client elsewhere (a closed port).
[[nodiscard]] std::unique_ptr<kube::KubeClient> client_for(boost::asio::io_context& ioc,
                                                           const fake::FakeApiServer& server,
                                                           kube::ClientOptions options = {}, std::uint16_t port = 0);

// Runs one coroutine on `ioc` to completion and returns its result (rethrows what it threw).
template <typename T>
T run(boost::asio::io_context& ioc, boost::asio::awaitable<T> aw) {
  auto fut = boost::asio::co_spawn(ioc, std::move(aw), boost::asio::use_future);
  ioc.restart();
  ioc.run();
  return fut.get();
}

}  // namespace crashdiag::testing
