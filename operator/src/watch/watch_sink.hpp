#pragma once
// Where one list+watch (Daemon::watch_loop) delivers: a relist is staged item by item and
// committed (or discarded) as a whole, as client-go's Reflector replaces its store; a watch line
// is parsed, then applied once the watch machine (crashdiag/core/watch_machine.hpp) accepts it.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "daemon.hpp"

namespace crashdiag::daemon {

class Daemon::WatchSink {
 public:
  virtual ~WatchSink() = default;
  virtual void begin() = 0;
  virtual void stage(std::string_view item) = 0;
  virtual void discard() = 0;
  virtual std::size_t commit() = 0;
  virtual std::optional<core::WatchEvent> parse(std::string_view line, const std::string& resource) = 0;
  virtual void apply() = 0;
};

}  // namespace crashdiag::daemon
