#include "crashdiag/core/spec_findings.hpp"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace crashdiag::core {
namespace {

using nlohmann::json;

std::string hex16(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

EventWrite finding_event(const WorkloadFinding& f, const std::string& instance, WallTime now) {
  const std::string hash = hex16(
      stable_hash(f.namespace_ + "/" + f.workload.kind + "/" + f.workload.name + "/" + f.reason + "/" + f.identity));
  // Event names are DNS subdomains (at most 253 characters); workload names already are.
  EventWrite ev;
  ev.name = f.workload.name.substr(0, 253 - hash.size() - 1) + "." + hash;
  ev.reason = f.reason;
  ev.count = 1;
  ev.counts = false;  // a 409 means this finding was told already: nothing to add
  json involved = {{"apiVersion", f.workload.api_version},
                   {"kind", f.workload.kind},
                   {"name", f.workload.name},
                   {"namespace", f.namespace_}};
  if (!f.workload.uid.empty()) involved["uid"] = f.workload.uid;
  const std::string at = format_time(now);
  ev.object = json{{"apiVersion", "v1"},
                   {"kind", "Event"},
                   {"metadata", {{"name", ev.name}, {"namespace", f.namespace_}}},
                   {"involvedObject", std::move(involved)},
                   {"reason", f.reason},
                   {"message", f.message},
                   {"type", "Warning"},
                   {"source", {{"component", "crashdiag"}}},
                   {"reportingComponent", kReportingController},
                   {"reportingInstance", instance},
                   {"action", "Analyze"},
                   {"firstTimestamp", at},
                   {"lastTimestamp", at},
                   {"count", 1}};
  return ev;
}

bool FindingTracker::first_look(const std::string& key) {
  if (!looked_.insert(key).second) return false;
  order_.push_back(key);
  while (looked_.size() > max_looked_ && !order_.empty()) {
    looked_.erase(order_.front());
    order_.pop_front();
  }
  return true;
}

void FindingTracker::forget(const std::string& key) {
  looked_.erase(key);
  order_.erase(std::remove(order_.begin(), order_.end(), key), order_.end());
}

void FindingTracker::record(const std::string& ns, const std::string& workload, const std::set<std::string>& findings) {
  for (auto& [key, workloads] : by_) {
    if (key.first == ns && findings.count(key.second) == 0) workloads.erase(workload);
  }
  for (const std::string& finding : findings) by_[{ns, finding}].insert(workload);
}

bool FindingTracker::counted_in(const std::string& ns) const {
  return std::any_of(by_.begin(), by_.end(), [&](const auto& entry) { return entry.first.first == ns; });
}

std::map<std::pair<std::string, std::string>, int> FindingTracker::counts() const {
  std::map<std::pair<std::string, std::string>, int> out;
  for (const auto& [key, workloads] : by_) out[key] = static_cast<int>(workloads.size());
  return out;
}

void FindingTracker::clear() {
  looked_.clear();
  order_.clear();
  for (auto& [key, workloads] : by_) workloads.clear();  // the series stay, at 0
}

}  // namespace crashdiag::core
