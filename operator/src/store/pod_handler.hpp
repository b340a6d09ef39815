// The pods watch's sink: every list item and watch event of a pod goes into the PodStore (a
// compact record per pod, crashdiag/core/pod_store.hpp), and each change of a record is handed to
// detection (detect/detect.cpp) with the old and the new record.
#pragma once

#include <any>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "crashdiag/core/pod_record.hpp"
#include "daemon.hpp"
#include "watch_sink.hpp"

namespace crashdiag::daemon {

class Daemon::PodHandler final : public Daemon::WatchSink {
 public:
  explicit PodHandler(Daemon& d) : d_(d) {}
  void begin() override;
  void stage(std::string_view item) override;
  void stage_protobuf(std::string_view item) override;
  void discard() override;
  std::size_t commit() override;
  std::optional<core::WatchEvent> parse(std::string_view line, const std::string& resource) override;
  void apply(std::any object) override;
  void stage_event(std::any object) override;

 private:
  // What parse() hands the watch machine for apply(): the decoded record and the line itself
  // (the pod JSON a diagnosis reads instead of a GET).
  struct Decoded {
    core::WatchLine parsed;
    std::string line;
  };
  // A pod is gone (deleted, or missing from a relist): what was kept for it goes too.
  void forget(const core::PodRecord& gone);
  void set_gauge();
  Daemon& d_;
};

}  // namespace crashdiag::daemon
