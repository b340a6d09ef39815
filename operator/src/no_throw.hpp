// The completion token of every coroutine in the I/O layer: errors come back as values (an
// error_code first in a tuple) instead of exceptions, so nothing throws across coroutines.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace crashdiag {

inline constexpr auto kNoThrow = boost::asio::as_tuple(boost::asio::use_awaitable);

}  // namespace crashdiag
