#include "crashdiag/classifiers/evidence_view.hpp"

#include <array>
#include <cstdint>

namespace crashdiag {

std::string container_path(const Pod& pod, const Container& container) {
  int index = 0;
  for (const Container& c : pod.containers) {
    if (&c == &container || (c.name == container.name && c.init == container.init)) break;
    if (c.init == container.init) ++index;
  }
  return std::string(container.init ? "spec.initContainers[" : "spec.containers[") + std::to_string(index) + "]";
}

std::string image_repository(std::string_view image) {
  std::string_view s = image;
  if (auto at = s.find('@'); at != std::string_view::npos) s = s.substr(0, at);
  // A tag colon comes after the last slash; a colon before it is a registry port.
  auto slash = s.rfind('/');
  auto colon = s.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) s = s.substr(0, colon);
  // Drop the registry: the first component if it has a dot or colon or is "localhost".
  auto first = s.find('/');
  if (first != std::string_view::npos) {
    std::string_view head = s.substr(0, first);
    if (head.find('.') != std::string_view::npos || head.find(':') != std::string_view::npos || head == "localhost") {
      s = s.substr(first + 1);
    }
  }
  if (s.rfind("library/", 0) == 0) s = s.substr(8);
  return std::string(s);
}

std::string image_tag(std::string_view image) {
  std::string_view s = image;
  if (auto at = s.find('@'); at != std::string_view::npos) s = s.substr(0, at);
  auto slash = s.rfind('/');
  auto colon = s.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    return std::string(s.substr(colon + 1));
  }
  return "latest";
}

bool image_in_family(std::string_view image, std::string_view family) {
  const std::string repo = image_repository(image);
  const std::string_view base = [&]() -> std::string_view {
    auto slash = repo.rfind('/');
    return slash == std::string::npos ? std::string_view(repo) : std::string_view(repo).substr(slash + 1);
  }();
  auto has = [&](std::string_view needle) { return base.find(needle) != std::string_view::npos; };
  if (family == "postgres") {
    return has("postgres") || has("postgis") || has("timescaledb") || has("pgvector") || base == "spilo" ||
           has("cloudnative-pg") || base == "pg" || has("patroni");
  }
  if (family == "mysql") return has("mysql") || has("mariadb") || has("percona");
  if (family == "mongo") return has("mongo");
  if (family == "redis") return has("redis") || has("valkey") || has("keydb");
  if (family == "jvm") {
    return has("openjdk") || has("temurin") || has("corretto") || has("jdk") || has("jre") || has("java") ||
           has("tomcat") || has("jetty") || has("spring") || has("keycloak") || has("elasticsearch") || has("kafka");
  }
  if (family == "node") return base == "node" || has("node");
  if (family == "python") return has("python") || has("django") || has("flask");
  if (family == "nginx") return has("nginx");
  if (family == "elasticsearch") return has("elasticsearch") || has("opensearch");
  if (family == "kafka") return has("kafka");
  if (family == "rabbitmq") return has("rabbitmq");
  return has(family);
}

std::string quote_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += "]";
  return out;
}

namespace {

// Splits a probe command into words, including the words of a `sh -c "..."` script.
std::vector<std::string> probe_words(const Probe& probe) {
  std::vector<std::string> words;
  for (const std::string& arg : probe.exec_command) {
    std::string word;
    for (char c : arg) {
      if (c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|' || c == '(' || c == ')' || c == '"' ||
          c == '\'') {
        if (!word.empty()) words.push_back(word);
        word.clear();
      } else {
        word += c;
      }
    }
    if (!word.empty()) words.push_back(word);
  }
  return words;
}

std::string_view basename_of(std::string_view word) {
  auto slash = word.rfind('/');
  return slash == std::string_view::npos ? word : word.substr(slash + 1);
}

}  // namespace

bool probe_runs(const Probe& probe, std::string_view program) {
  if (probe.kind != ProbeKind::kExec) return false;
  for (const std::string& w : probe_words(probe)) {
    if (basename_of(w) == program) return true;
  }
  return false;
}

bool probe_has_any_flag(const Probe& probe, const std::vector<std::string>& flags) {
  for (const std::string& w : probe_words(probe)) {
    for (const std::string& f : flags) {
      if (w == f) return true;
      // --username=foo, -Ufoo
      if (w.rfind(f, 0) == 0 && w.size() > f.size() && (f.size() == 2 || w[f.size()] == '=')) return true;
    }
    // A libpq connection string or URI carries the user too: "user=x" / "postgresql://x@".
    if (w.rfind("user=", 0) == 0 || w.find("://") != std::string::npos) return true;
  }
  return false;
}

std::string describe_state(const Container& c) {
  if (!c.status) return "no status reported";
  std::string out;
  if (c.status->waiting) {
    out = c.status->waiting->reason.empty() ? "Waiting" : c.status->waiting->reason;
  } else if (c.status->running) {
    out = "Running";
  } else if (c.status->terminated) {
    out = "Terminated";
  }
  if (const Terminated* t = c.latest_termination()) {
    if (!out.empty()) out += ", ";
    out += t->exit_code == kUnknownExitCode
               ? std::string(c.status->terminated ? "exited" : "exited before")
               : (c.status->terminated ? "exit " : "last exit ") + std::to_string(t->exit_code);
    if (!t->reason.empty()) out += " (" + t->reason + ")";
    if (t->signal) out += ", signal " + std::to_string(*t->signal);
  }
  if (c.status->restart_count > 0) out += ", " + std::to_string(c.status->restart_count) + " restarts";
  return out;
}

std::string format_bytes(std::int64_t bytes) {
  constexpr std::array<const char*, 5> kUnits = {"Ki", "Mi", "Gi", "Ti", "Pi"};
  if (bytes < 1024 || bytes % 1024 != 0) return std::to_string(bytes);
  std::int64_t v = bytes;
  std::size_t unit = 0;
  v /= 1024;
  while (v >= 1024 && v % 1024 == 0 && unit + 1 < kUnits.size()) {
    v /= 1024;
    ++unit;
  }
  return std::to_string(v) + kUnits.at(unit);
}

std::string normalize_path(std::string_view path) {
  std::vector<std::string> parts;
  std::string part;
  auto flush = [&] {
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    part.clear();
  };
  for (char c : path) {
    if (c == '/') {
      flush();
    } else {
      part += c;
    }
  }
  flush();
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

bool path_is_within(std::string_view child, std::string_view parent) {
  std::string c = normalize_path(child);
  std::string p = normalize_path(parent);
  if (p == "/") return true;
  return c == p || (c.size() > p.size() && c.compare(0, p.size(), p) == 0 && c[p.size()] == '/');
}

}  // namespace crashdiag
