// The evidence stage (issue 13 item 1) as a type of its own: for one failure, what the classifiers
// read. The pod comes from the watch event that revealed the failure (no GET), the failed
// instance's log is one request, the Events come from the events store, and the previous
// revision's pod template is one list, only for a new RCA. It knows the daemon only through the
// three questions it is constructed with, so a test drives it against the fake API server alone
// (tests/daemon/evidence_test.cpp).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "client.hpp"
#include "crashdiag/core/crash_detector.hpp"
#include "crashdiag/model/evidence.hpp"
#include "crashdiag/model/template_diff.hpp"

namespace crashdiag::daemon {

struct EvidenceOptions {
  int log_tail_lines = 500;
  int log_limit_bytes = 256 * 1024;
  // A log GET that meets the kubelet's transient "unable to retrieve container logs" is tried
  // once more after this.
  std::chrono::milliseconds log_retry_delay{1000};
  // Compare with the workload's previous revision (--what-changed): one list per new RCA.
  bool what_changed = true;
};

class EvidenceGatherer {
 public:
  // The pod's Events as the events store holds them, by the pod's uid.
  using EventsOf = std::function<std::vector<Event>(const std::string& uid)>;
  // Whether the RCA of this name exists already (then nothing changed to compare with).
  using RcaExists = std::function<bool(const std::string& rca)>;
  // Whether the owner index shows the pod's workload with no earlier revision (the list can be
  // skipped); false when it cannot say.
  using NoEarlierRevision = std::function<bool(const nlohmann::json& pod, const std::string& ns)>;

  EvidenceGatherer(boost::asio::io_context& ioc, kube::KubeClient& client, EvidenceOptions options, EventsOf events,
                   RcaExists rca_exists, NoEarlierRevision no_earlier_revision);

  // The evidence for failure `s`. `pod_json`: the watch event that revealed it (empty: one GET).
  // `rca`: the RCA it belongs to, looked up after the log requests (another worker may record
  // it meanwhile). nullopt: the pod could not be read (logged).
  boost::asio::awaitable<std::optional<Evidence>> gather(core::CrashSignal s, std::string pod_json, std::string rca);

 private:
  boost::asio::awaitable<std::optional<PreviousTemplate>> previous_template(std::string pod_text, std::string ns);

  boost::asio::io_context& ioc_;
  kube::KubeClient& client_;
  EvidenceOptions options_;
  EventsOf events_;
  RcaExists rca_exists_;
  NoEarlierRevision no_earlier_revision_;
};

}  // namespace crashdiag::daemon
