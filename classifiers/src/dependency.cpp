#include "crashdiag/classifiers/dependency.hpp"

#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <string_view>

namespace crashdiag {

namespace {

constexpr std::array kDependencyCategories = {
    std::string_view{"db_connection_refused"}, std::string_view{"dns_resolution_failure"},
    std::string_view{"tls_certificate_error"}, std::string_view{"db_auth_failed"},
    std::string_view{"pg_role_missing"},
};

// A Service name is a DNS-1035 label (validation.IsDNS1035Label: ValidateServiceName); a
// namespace a DNS-1123 label.
bool is_label(std::string_view s, bool letter_first) {
  if (s.empty() || s.size() > 63) return false;
  if (letter_first ? !std::islower(static_cast<unsigned char>(s.front()))
                   : !std::isalnum(static_cast<unsigned char>(s.front()))) {
    return false;
  }
  if (!std::isalnum(static_cast<unsigned char>(s.back()))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-';
  });
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

// Words a "word:number" match picks up that are never a host: source positions in stack traces
// (main.go:45, app.py:12) and log keys (line:3, port:5432).
bool looks_like_source_or_key(std::string_view host) {
  static constexpr std::array kExtensions = {
      std::string_view{"go"},   std::string_view{"py"},  std::string_view{"js"},    std::string_view{"ts"},
      std::string_view{"java"}, std::string_view{"kt"},  std::string_view{"rb"},    std::string_view{"cs"},
      std::string_view{"php"},  std::string_view{"rs"},  std::string_view{"ex"},    std::string_view{"exs"},
      std::string_view{"c"},    std::string_view{"cc"},  std::string_view{"cpp"},   std::string_view{"h"},
      std::string_view{"mjs"},  std::string_view{"cjs"}, std::string_view{"scala"}, std::string_view{"groovy"},
      std::string_view{"yaml"}, std::string_view{"yml"}, std::string_view{"json"},  std::string_view{"conf"},
      std::string_view{"toml"}, std::string_view{"ini"}, std::string_view{"sql"},   std::string_view{"log"},
  };
  static constexpr std::array kWords = {
      std::string_view{"line"},   std::string_view{"port"},  std::string_view{"tcp"},     std::string_view{"udp"},
      std::string_view{"http"},   std::string_view{"https"}, std::string_view{"error"},   std::string_view{"host"},
      std::string_view{"at"},     std::string_view{"on"},    std::string_view{"to"},      std::string_view{"from"},
      std::string_view{"addr"},   std::string_view{"code"},  std::string_view{"errno"},   std::string_view{"status"},
      std::string_view{"col"},    std::string_view{"pid"},   std::string_view{"time"},    std::string_view{"ts"},
      std::string_view{"level"},  std::string_view{"info"},  std::string_view{"warn"},    std::string_view{"fatal"},
      std::string_view{"debug"},  std::string_view{"trace"}, std::string_view{"panic"},   std::string_view{"caused"},
      std::string_view{"dial"},   std::string_view{"read"},  std::string_view{"write"},   std::string_view{"connect"},
      std::string_view{"lookup"}, std::string_view{"proxy"}, std::string_view{"timeout"}, std::string_view{"server"},
  };
  const std::size_t dot = host.rfind('.');
  if (dot != std::string_view::npos &&
      std::find(kExtensions.begin(), kExtensions.end(), host.substr(dot + 1)) != kExtensions.end()) {
    return true;
  }
  return std::find(kWords.begin(), kWords.end(), host) != kWords.end();
}

std::optional<int> parse_port(std::string_view text) {
  int port = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || end != text.data() + text.size() || port <= 0 || port > 65535) return std::nullopt;
  return port;
}

// Lines that are about reaching another service: only they are read for a bare host:port.
const RE2& connection_words() {
  static const RE2 kWords(
      R"re((?i)refused|timed? ?out|timeout|unreachable|no such host|not known|unknown ?host|enotfound|resolv|lookup|getaddrinfo|dial|connect|x509|certificate|handshake|ssl|tls|authenticat|password|role|denied)re");
  return kWords;
}

struct Found {
  std::string host;
  std::optional<int> port;
};

// Hosts written in one line, in the forms runtimes and client libraries print them.
std::vector<Found> hosts_in(std::string_view line) {
  // Go's net package: `dial tcp: lookup db on 10.96.0.10:53: no such host` (net/lookup.go,
  // DNSError). Node: `getaddrinfo ENOTFOUND db` (lib/dns.js). Java: `UnknownHostException: db`.
  static const RE2 kLookup(
      R"re((?:lookup|getaddrinfo (?:ENOTFOUND|EAI_AGAIN)|UnknownHostException:|resolve host(?: name)?:?|resolve) ['"]?([A-Za-z0-9][A-Za-z0-9.-]*))re");
  // libpq `connection to server at "db" (10.0.0.5), port 5432 failed`, `on host "db"`; MySQL's
  // `Can't connect to MySQL server on 'db' (111)`, `Unknown MySQL server host 'db'`.
  static const RE2 kQuoted(R"re((?:on|at|to|host) (?:host |server )?["']([A-Za-z0-9][A-Za-z0-9.-]*)["'])re");
  static const RE2 kPortWord(R"re(port (\d{1,5}))re");
  // postgres://user:pw@db:5432/app, redis://cache:6379, amqp://mq, jdbc:postgresql://db/app.
  static const RE2 kUrl(R"re([A-Za-z][A-Za-z0-9+.-]*://(?:[^@/\s"']*@)?([A-Za-z0-9][A-Za-z0-9.-]*)(?::(\d{1,5}))?)re");
  // A bare host:port after a separator (so not a timestamp's 10:42, nor a path).
  static const RE2 kHostPort(R"re((?:^|[\s"'(=@\[,<])([A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*):(\d{2,5})\b)re");
  std::vector<Found> out;
  std::string host;
  std::string port;
  re2::StringPiece in(line.data(), line.size());
  while (RE2::FindAndConsume(&in, kLookup, &host)) out.push_back({host, std::nullopt});
  in = re2::StringPiece(line.data(), line.size());
  while (RE2::FindAndConsume(&in, kQuoted, &host)) {
    Found f{host, std::nullopt};
    std::string p;
    if (RE2::PartialMatch(line, kPortWord, &p)) f.port = parse_port(p);
    out.push_back(f);
  }
  in = re2::StringPiece(line.data(), line.size());
  while (RE2::FindAndConsume(&in, kUrl, &host, &port)) out.push_back({host, parse_port(port)});
  in = re2::StringPiece(line.data(), line.size());
  while (RE2::FindAndConsume(&in, kHostPort, &host, &port)) {
    if (!looks_like_source_or_key(host)) out.push_back({host, parse_port(port)});
  }
  return out;
}

// An address variable the user wrote: DATABASE_HOST, REDIS_URL, DB_ADDR, KAFKA_BOOTSTRAP_SERVERS...
bool is_address_variable(std::string_view name) {
  static const RE2 kAddress(
      R"re((?:^|_)(?:HOST|HOSTNAME|HOSTS|SERVER|SERVERS|ADDR|ADDRESS|URL|URI|DSN|ENDPOINT|BROKERS?|BOOTSTRAP_SERVERS)$)re");
  return RE2::PartialMatch(name, kAddress);
}

std::vector<Found> hosts_in_value(std::string_view value) {
  if (value.find("://") != std::string_view::npos) return hosts_in(value);
  std::vector<Found> out;
  // "db:5432", "db", "a:9092,b:9092": the first address.
  std::string_view first = value.substr(0, value.find(','));
  const std::size_t colon = first.rfind(':');
  Found f{std::string(first.substr(0, colon)), std::nullopt};
  if (colon != std::string_view::npos) f.port = parse_port(first.substr(colon + 1));
  if (!f.host.empty()) out.push_back(f);
  return out;
}

}  // namespace

bool is_dependency_category(std::string_view category) {
  return std::find(kDependencyCategories.begin(), kDependencyCategories.end(), category) != kDependencyCategories.end();
}

std::optional<DependencyRef> service_of_host(std::string_view host, const std::string& pod_namespace) {
  std::string h;
  for (char c : host) h.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (!h.empty() && h.back() == '.') h.pop_back();
  if (h.empty() || h == "localhost") return std::nullopt;
  const auto labels = split(h, '.');
  DependencyRef ref;
  if (labels.size() == 1) {
    ref.service = std::string(labels[0]);
    ref.namespace_ = pod_namespace;
  } else if (labels.size() == 2 || (labels.size() >= 3 && labels[2] == "svc")) {
    ref.service = std::string(labels[0]);
    ref.namespace_ = std::string(labels[1]);
    ref.namespace_explicit = true;
  } else {
    return std::nullopt;  // another domain: outside the cluster (or a pod's own hostname)
  }
  if (!is_label(ref.service, true) || !is_label(ref.namespace_, false)) return std::nullopt;
  return ref;
}

std::vector<DependencyRef> dependencies_of(const Evidence& ev, const Hypothesis& top) {
  std::vector<DependencyRef> out;
  if (!is_dependency_category(top.category)) return out;
  const std::string& ns = ev.pod.namespace_;
  auto add = [&out](DependencyRef ref) {
    for (DependencyRef& have : out) {
      if (have.service == ref.service && have.namespace_ == ref.namespace_) {
        if (!have.port) have.port = ref.port;
        return;
      }
    }
    out.push_back(std::move(ref));
  };
  // Ports next to an IP address (`dial tcp 10.96.4.2:5432`) choose among address variables.
  static const RE2 kIpPort(R"re(\b\d{1,3}(?:\.\d{1,3}){3}:(\d{2,5})\b)re");
  std::vector<int> ports_in_text;
  for (const EvidenceItem& item : top.evidence) {
    if (item.source == EvidenceSource::kSpec) continue;
    if (!RE2::PartialMatch(item.excerpt, connection_words())) continue;
    re2::StringPiece in(item.excerpt);
    std::string ip_port;
    while (RE2::FindAndConsume(&in, kIpPort, &ip_port)) {
      if (auto p = parse_port(ip_port)) ports_in_text.push_back(*p);
    }
    for (const Found& f : hosts_in(item.excerpt)) {
      if (f.port) ports_in_text.push_back(*f.port);
      auto ref = service_of_host(f.host, ns);
      if (!ref) continue;
      ref->port = f.port;
      ref->where = "\"" + f.host + (f.port ? ":" + std::to_string(*f.port) : "") + "\" in " + item.field;
      add(std::move(*ref));
    }
  }
  if (!out.empty()) return out;

  // Nothing in the quoted lines but an IP or a port: the container's own address variables,
  // when exactly one fits (several, e.g. a cache and a database, would be a guess).
  const Container& c = ev.target();
  std::vector<DependencyRef> from_env;
  for (const EnvVar& e : c.env) {
    if (!e.value || !is_address_variable(e.name)) continue;
    for (const Found& f : hosts_in_value(*e.value)) {
      if (!ports_in_text.empty() && f.port &&
          std::find(ports_in_text.begin(), ports_in_text.end(), *f.port) == ports_in_text.end()) {
        continue;
      }
      auto ref = service_of_host(f.host, ns);
      if (!ref) continue;
      ref->port = f.port;
      ref->where = "env " + e.name;
      bool dup = false;
      for (const DependencyRef& have : from_env) dup = dup || (have.service == ref->service);
      if (!dup) from_env.push_back(std::move(*ref));
    }
  }
  if (from_env.size() == 1) out = std::move(from_env);
  return out;
}

}  // namespace crashdiag
