// What a failing container depends on (issue 15, item 2): when the diagnosis blames a dependency
// (connection refused, a name that does not resolve, TLS or authentication against another
// service), the in-cluster Service it names, read from the quoted evidence (host:port, URLs,
// libpq's `on host "db"`, `getaddrinfo ENOTFOUND redis`) or, failing that, from the container's
// own address variables (`*_HOST`, `DATABASE_URL`, `*_URL`). Pure: the daemon resolves the
// Service to the workload behind it (EndpointSlices) and links the two RCAs.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "crashdiag/model/evidence.hpp"
#include "crashdiag/model/hypothesis.hpp"

namespace crashdiag {

struct DependencyRef {
  std::string service;     // the Service's name
  std::string namespace_;  // its namespace: the pod's unless the host named another
  std::optional<int> port;
  // How the host was written and where: `"db:5432" in logs[3]`, `env DATABASE_HOST`.
  std::string where;
  // The host named a namespace explicitly (`db.data`, `db.data.svc`): a two-label host is only
  // a Service when that namespace exists (`example.com` is not the Service "example" in "com").
  bool namespace_explicit = false;
  bool operator==(const DependencyRef&) const = default;
};

// The categories whose cause lies in another service the container talks to.
[[nodiscard]] bool is_dependency_category(std::string_view category);

// In-cluster host names the failure is about, most telling first, without duplicates. Empty
// when the top hypothesis is not about a dependency, or names only IP addresses, localhost or
// hosts outside the cluster (`db.example.com`).
[[nodiscard]] std::vector<DependencyRef> dependencies_of(const Evidence& ev, const Hypothesis& top);

// A host as a cluster DNS name resolves it from a pod in `pod_namespace` (the pod's resolv.conf
// searches <ns>.svc.<domain>, svc.<domain>, <domain>: pkg/kubelet/network/dns): "db",
// "db.data", "db.data.svc", "db.data.svc.cluster.local". nullopt for anything else.
[[nodiscard]] std::optional<DependencyRef> service_of_host(std::string_view host, const std::string& pod_namespace);

}  // namespace crashdiag
