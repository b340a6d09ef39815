#pragma once
// Where one list+watch (Daemon::watch_loop) delivers: a relist is staged item by item and
// committed (or discarded) as a whole, as client-go's Reflector replaces its store; a watch line
// is parsed into a WatchEvent whose `object` is the sink's own decoding of it, and that object
// comes back to apply() in the ApplyEvent once the watch machine
// (crashdiag/core/watch_machine.hpp) accepts the event. A sink holds no "current event".

#include <any>
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
  // A list item in protobuf (a Pod message, crashdiag/core/protobuf.hpp). Only a sink whose
  // WatchSpec sets list_protobuf is asked for protobuf, and only it is handed such items.
  virtual void stage_protobuf(std::string_view /*item*/) {}
  virtual void discard() = 0;
  virtual std::size_t commit() = 0;
  // nullopt: the line does not parse (the sink logs why).
  virtual std::optional<core::WatchEvent> parse(std::string_view line, const std::string& resource) = 0;
  // `object` is the WatchEvent::object parse() returned.
  virtual void apply(std::any object) = 0;
  // A streaming list's initial event (WatchMachine's StageEvent): staged as a list item would be.
  virtual void stage_event(std::any object) = 0;
};

}  // namespace crashdiag::daemon
