#include "fake_apiserver.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

#include "api_status.hpp"
#include "crashdiag/core/kubeconfig.hpp"
#include "crashdiag/model/yaml_json.hpp"
#include "crd_schema.hpp"
#include "field_selector.hpp"
#include "label_selector.hpp"
#include "managed_fields.hpp"
#include "resources.hpp"

namespace crashdiag::fake {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using nlohmann::json;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
using Stream = beast::ssl_stream<beast::tcp_stream>;

// The apiserver's request body limit (DefaultMaxRequestSizeBytes, 3 MiB): larger bodies get 413.
// Bodies up to kMaxReadBytes are read whole first so the connection stays usable.
constexpr std::uint64_t kMaxRequestBytes = std::uint64_t{3} * 1024 * 1024;
constexpr std::uint64_t kMaxReadBytes = std::uint64_t{16} * 1024 * 1024;
// etcd's default --max-request-bytes (1.5 MiB): a larger write fails in etcd and the apiserver
// answers 500 "etcdserver: request is too large", no reason (tests/data/k8s-real/
// 22-create-podtemplate-2mib-etcd-too-large.http). The real request is the protobuf object plus
// the key; the fake measures the stored JSON, which is larger, so it refuses a little earlier.
constexpr std::size_t kEtcdMaxRequestBytes = std::size_t{1536} * 1024;

// Go's encoding/json writes each byte of invalid UTF-8 as U+FFFD, so whatever a client stored
// (a kubelet's termination message cut mid-character: tests/data/k8s-real/24-get-pod-
// termination-message-cut-mid-utf8.json), the apiserver serves valid UTF-8.
void coerce_utf8(std::string& s) {
  std::string out;
  std::size_t i = 0;
  bool changed = false;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80U ? 1 : (c >> 5U) == 0x6U ? 2 : (c >> 4U) == 0xEU ? 3 : (c >> 3U) == 0x1EU ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0U) == 0x80U;
    if (ok && len > 1) {
      // Overlong forms, surrogates and code points past U+10FFFF are invalid too (utf8.DecodeRune).
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      ok = !(len == 2 && c < 0xC2U) && !(len == 3 && c == 0xE0U && c1 < 0xA0U) &&
           !(len == 3 && c == 0xEDU && c1 >= 0xA0U) && !(len == 4 && c == 0xF0U && c1 < 0x90U) &&
           !(len == 4 && (c > 0xF4U || (c == 0xF4U && c1 >= 0x90U)));
    }
    if (ok) {
      out.append(s, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      changed = true;
      ++i;
    }
  }
  if (changed) s = std::move(out);
}

void coerce_utf8(json& v) {
  if (v.is_string()) {
    coerce_utf8(v.get_ref<std::string&>());
  } else if (v.is_array()) {
    for (auto& e : v) coerce_utf8(e);
  } else if (v.is_object()) {
    bool bad_key = false;
    for (auto& [k, e] : v.items()) {
      std::string key = k;
      coerce_utf8(key);
      bad_key = bad_key || key != k;
      coerce_utf8(e);
    }
    if (bad_key) {
      json fixed = json::object();
      for (auto& [k, e] : v.items()) {
        std::string key = k;
        coerce_utf8(key);
        fixed[key] = std::move(e);
      }
      v = std::move(fixed);
    }
  }
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2])));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    auto pos = s.find(sep, start);
    if (pos == std::string_view::npos) pos = s.size();
    out.emplace_back(s.substr(start, pos - start));
    start = pos + 1;
  }
  return out;
}

// RFC 4648 base64: the URL alphabet without padding for continue tokens (as the apiserver),
// the standard alphabet with padding for kubeconfig *-data fields.
std::string base64_encode(const std::string& in, bool url) {
  const char* alphabet = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                             : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned val = 0;
  int bits = -6;
  for (unsigned char c : in) {
    val = (val << 8U) + c;
    bits += 8;
    while (bits >= 0) {
      out.push_back(alphabet[(val >> static_cast<unsigned>(bits)) & 0x3FU]);
      bits -= 6;
    }
  }
  if (bits > -6) out.push_back(alphabet[((val << 8U) >> static_cast<unsigned>(bits + 8)) & 0x3FU]);
  while (!url && out.size() % 4 != 0) out.push_back('=');
  return out;
}

std::string base64url(const std::string& in) {
  return base64_encode(in, true);
}

std::optional<std::string> base64url_decode(const std::string& in) {
  std::string std_b64 = in;
  for (char& c : std_b64) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  return core::base64_decode(std_b64);
}

std::string key_of(const json& obj) {
  return obj["metadata"].value("namespace", "") + "/" + obj["metadata"].value("name", "");
}

// JSON built outside coroutines: GCC 12 miscompiles braced initializer lists holding string
// literals inside a coroutine body ("array used as initializer").
json watch_event(const std::string& type, const json& object) {
  json ev = json::object();
  ev["type"] = type;
  ev["object"] = object;
  return ev;
}

// One line of a watch stream, "type" before "object" as the apiserver writes it (metav1.WatchEvent's
// field order, encoded by encoding/json; ../shared/k8s-fixtures/03-watch-pods-all-namespaces-
// stream.events.jsonl). nlohmann::json sorts keys, which would put "object" first: a client that
// only works with one order, or is slower with the other, must see the real one.
std::string watch_line(const json& ev) {
  std::string line = R"({"type":)" + ev.value("type", json("")).dump();
  if (auto it = ev.find("object"); it != ev.end()) line += R"(,"object":)" + it->dump();
  line += "}\n";
  return line;
}

json expired_event(const std::string& message) {
  return watch_event("ERROR", status_body(410, "Expired", message));
}

json bookmark_event(const std::string& kind, const std::string& api_version, std::uint64_t rv) {
  json obj = json::object();
  obj["kind"] = kind;
  obj["apiVersion"] = api_version;
  obj["metadata"]["resourceVersion"] = std::to_string(rv);
  obj["metadata"]["creationTimestamp"] = nullptr;
  return watch_event("BOOKMARK", obj);
}

json list_body(const std::string& kind, const std::string& api_version, std::uint64_t rv, json items) {
  json list = json::object();
  list["kind"] = kind;
  list["apiVersion"] = api_version;
  list["metadata"]["resourceVersion"] = std::to_string(rv);
  list["items"] = std::move(items);
  return list;
}

std::string continue_token(std::uint64_t rv, const std::string& start) {
  json t = json::object();
  t["v"] = "meta.k8s.io/v1";
  t["rv"] = rv;
  t["start"] = start;
  return base64url(t.dump());
}

}  // namespace

struct HistoryEntry {
  std::uint64_t rv;
  std::string resource;  // "pods", "events"
  std::string type;
  json object;
};

// One open watch waiting for the history to grow. A change marks it and cancels its timer, so a
// watch sleeps until there is something to send, its next bookmark or its timeout: no polling.
// `notified` (guarded by Impl::mu) covers a change that lands while the watch is still sending
// what it found: the watch checks it before it waits. The cancel is posted to the server's one io
// thread, where the watch itself runs, so it cannot overtake the wait it is meant to end.
struct WatchWaiter {
  explicit WatchWaiter(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  bool notified = false;
};

struct FakeApiServer::Impl {
  FakeApiServer* self = nullptr;
  FakeOptions options;
  std::unique_ptr<ResourceRegistry> registry;
  std::atomic<std::size_t> open_watches{0};
  std::atomic<std::size_t> connections{0};
  // Declared before the io_context: destroying it destroys the watches' suspended coroutines,
  // whose clean-up unregisters them here.
  std::mutex waiters_mu;
  std::set<std::shared_ptr<WatchWaiter>> waiters;
  asio::io_context ioc{1};
  ssl::context tls{ssl::context::tls_server};
  tcp::acceptor acceptor{ioc};
  mutable std::mutex mu;
  std::uint64_t rv = 100;
  std::uint64_t compacted_rv = 0;
  std::map<std::string, std::map<std::string, json>> objects;  // resource path key -> ns/name -> object
  std::vector<HistoryEntry> history;                           // ascending resourceVersion
  std::map<std::string, std::string> logs;                     // ns/pod/container/previous|current
  std::vector<Fault> faults;
  std::vector<RecordedRequest> recorded;
  std::atomic<std::uint64_t> close_generation{0};
  std::mt19937_64 rng{std::random_device{}()};
  std::string started;                                     // creationTimestamp of the implicit namespaces
  std::map<std::string, NamespaceState> namespace_states;  // only those not kActive

  std::string accepted_token() const {
    if (options.token_file.empty()) return options.token;
    std::ifstream in(options.token_file);
    std::ostringstream s;
    s << in.rdbuf();
    std::string t = s.str();
    while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
    return t;
  }

  std::string now() const { return options.clock ? options.clock() : now_rfc3339(); }
  std::int64_t now_seconds() const {
    auto t = parse_rfc3339(now());
    return t ? t->seconds : 0;
  }

  // A version 4 UUID, as the apiserver assigns metadata.uid. Caller holds mu.
  std::string new_uid() {
    const std::uint64_t a = rng();
    const std::uint64_t b = rng();
    std::array<char, 40> buf{};
    std::snprintf(buf.data(), buf.size(), "%08llx-%04llx-4%03llx-%04llx-%012llx",
                  static_cast<unsigned long long>(a >> 32U), static_cast<unsigned long long>((a >> 16U) & 0xFFFFU),
                  static_cast<unsigned long long>(a & 0xFFFU),
                  static_cast<unsigned long long>(((b >> 48U) & 0x3FFFU) | 0x8000U),
                  static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFULL));
    return buf.data();
  }

  std::optional<Fault> take_fault(const std::string& target, bool watch) {
    std::lock_guard lock(mu);
    for (auto it = faults.begin(); it != faults.end(); ++it) {
      if (target.find(it->path_contains) == std::string::npos) continue;
      if (it->watch_only && !watch) continue;
      if (it->list_only && watch) continue;
      Fault f = *it;
      if (--it->times <= 0) faults.erase(it);
      return f;
    }
    return std::nullopt;
  }

  void record(const std::string& method, const std::string& target, int status, bool watch) {
    std::lock_guard lock(mu);
    recorded.push_back({method, target, status, watch});
  }

  void change(const std::string& resource, const std::string& type, json object) {
    // caller holds mu
    coerce_utf8(object);
    ++rv;
    object["metadata"]["resourceVersion"] = std::to_string(rv);
    auto& store = objects[resource];
    if (type == "DELETED") {
      store.erase(key_of(object));
    } else {
      store[key_of(object)] = object;
    }
    history.push_back({rv, resource, type, std::move(object)});
    wake_watches();
  }

  void wake_watches() {
    // caller holds mu (it guards `notified`)
    std::lock_guard lock(waiters_mu);
    for (const auto& w : waiters) {
      w->notified = true;
      asio::post(ioc, [w] { w->timer.cancel(); });
    }
  }
};

namespace {

using Response = http::response<http::string_body>;
using Request = http::request<http::string_body>;

Response json_response(int status, const json& body, bool keep_alive) {
  Response res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-cache, private");
  res.set("Audit-Id", "00000000-0000-0000-0000-000000000000");
  res.keep_alive(keep_alive);
  res.body() = body.dump();
  res.prepare_payload();
  return res;
}

Response text_response(int status, std::string body, bool keep_alive) {
  Response res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.set(http::field::cache_control, "no-cache, private");
  res.set("X-Content-Type-Options", "nosniff");
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response page_not_found(bool keep) {
  return text_response(404, "404 page not found\n", keep);
}

Response status_response(const json& status, bool keep) {
  return json_response(status.value("code", 500), status, keep);
}

json bad_request(const std::string& message) {
  return status_body(400, "BadRequest", message);
}

json method_not_allowed() {
  return status_body(405, "MethodNotAllowed", "the server does not allow this method on the requested resource",
                     json::object());
}

json resource_not_found() {
  return status_body(404, "NotFound", "the server could not find the requested resource", json::object());
}

struct Query {
  std::map<std::string, std::string> params;
  [[nodiscard]] std::string get(const std::string& k) const {
    auto it = params.find(k);
    return it == params.end() ? "" : it->second;
  }
  [[nodiscard]] bool has(const std::string& k) const { return params.count(k) > 0; }
  [[nodiscard]] bool flag(const std::string& k) const {
    auto v = get(k);
    return v == "1" || v == "true";
  }
};

Query parse_query(std::string_view q) {
  Query out;
  if (q.empty()) return out;
  for (const auto& part : split(q, '&')) {
    auto eq = part.find('=');
    out.params[url_decode(part.substr(0, eq))] = eq == std::string::npos ? "" : url_decode(part.substr(eq + 1));
  }
  return out;
}

// Which resource a path names; nullopt for paths that do not exist.
struct Route {
  const ResourceType* type = nullptr;
  std::string resource;  // the key of Impl::objects: "pods", "apps/v1/replicasets"...
  std::string kind;
  std::string api_version;
  std::string ns;
  std::string name;
  std::string sub;
  bool known_group = true;
};

std::optional<Route> route(const ResourceRegistry& registry, const std::string& path) {
  auto parts = split(path, '/');
  // parts[0] == "" (leading slash)
  if (parts.size() < 2) return std::nullopt;
  Route r;
  std::size_t i = 0;
  std::string gv;
  if (parts[1] == "api" && parts.size() >= 3 && parts[2] == "v1") {
    gv = "v1";
    i = 3;
  } else if (parts[1] == "apis" && parts.size() >= 4 && registry.serves_group_version(parts[2] + "/" + parts[3])) {
    gv = parts[2] + "/" + parts[3];
    i = 4;
  } else {
    r.known_group = false;
    return r;
  }
  if (i < parts.size() && parts[i] == "namespaces" && i + 2 < parts.size()) {
    r.ns = parts[i + 1];
    i += 2;
  }
  if (i >= parts.size()) return std::nullopt;
  r.type = registry.find(gv, parts[i]);
  if (r.type == nullptr) return std::nullopt;
  r.kind = r.type->kind;
  r.api_version = r.type->api_version();
  r.resource = r.type->store_key();
  if (i + 1 < parts.size()) r.name = parts[i + 1];
  if (i + 2 < parts.size()) r.sub = parts[i + 2];
  if (i + 3 < parts.size() || (i + 1 < parts.size() && r.name.empty())) return std::nullopt;
  return r;
}

struct MediaRange {
  std::string type;
  std::map<std::string, std::string> params;
};

std::vector<MediaRange> parse_accept(const std::string& accept) {
  std::vector<MediaRange> out;
  for (const auto& part : split(accept, ',')) {
    auto fields = split(part, ';');
    MediaRange m;
    auto trim = [](std::string s) {
      while (!s.empty() && s.front() == ' ') s.erase(0, 1);
      while (!s.empty() && s.back() == ' ') s.pop_back();
      return s;
    };
    m.type = trim(fields[0]);
    for (std::size_t i = 1; i < fields.size(); ++i) {
      const auto eq = fields[i].find('=');
      if (eq != std::string::npos) m.params[trim(fields[i].substr(0, eq))] = trim(fields[i].substr(eq + 1));
    }
    if (!m.type.empty()) out.push_back(std::move(m));
  }
  return out;
}

bool plain_json(const MediaRange& m) {
  return (m.type == "application/json" || m.type == "*/*" || m.type == "application/*") && m.params.count("as") == 0;
}

// "v1"/"v1beta1" when the client prefers a meta.k8s.io Table (kubectl's Accept), "" for JSON.
std::string table_version(const std::string& accept) {
  for (const auto& m : parse_accept(accept)) {
    if (plain_json(m)) return "";
    if (m.type == "application/json" && m.params.count("as") > 0 && m.params.at("as") == "Table" &&
        m.params.count("g") > 0 && m.params.at("g") == "meta.k8s.io" && m.params.count("v") > 0 &&
        (m.params.at("v") == "v1" || m.params.at("v") == "v1beta1")) {
      return m.params.at("v");
    }
  }
  return "";
}

// The metadata-only view client-go's metadata informers ask for
// (k8s.io/client-go/metadata/metadata.go): `application/json;as=PartialObjectMetadataList;
// g=meta.k8s.io;v=v1` for lists, `...;as=PartialObjectMetadata;...` for gets and watches
// (apiserver endpoints/handlers/response.go, transformResponseObject). The first acceptable range
// wins, as the apiserver's negotiation does; "" means the plain object. A list asked only "as"
// PartialObjectMetadata is refused with 406 (tests/data/k8s/12-list-replicasets-as-object-
// metadata-406.json): `refused` says so.
struct MetadataView {
  std::string as;  // "", "PartialObjectMetadata" or "PartialObjectMetadataList"
  bool refused = false;
};
MetadataView metadata_view(const std::string& accept, bool list) {
  const std::string wanted = list ? "PartialObjectMetadataList" : "PartialObjectMetadata";
  const auto ranges = parse_accept(accept);
  bool asked = false;
  for (const auto& m : ranges) {
    if (plain_json(m)) return {"", false};
    if (m.type != "application/json" || m.params.count("as") == 0) continue;
    const std::string& as = m.params.at("as");
    if (as == "Table") return {"", false};  // table_version's business
    if (as != "PartialObjectMetadata" && as != "PartialObjectMetadataList") continue;
    asked = true;
    if (as == wanted && m.params.count("g") > 0 && m.params.at("g") == "meta.k8s.io" && m.params.count("v") > 0 &&
        m.params.at("v") == "v1") {
      return {as, false};
    }
  }
  return {"", asked};
}

json partial_metadata(const json& obj) {
  json partial = json::object();
  partial["kind"] = "PartialObjectMetadata";
  partial["apiVersion"] = "meta.k8s.io/v1";
  partial["metadata"] = obj.contains("metadata") ? obj["metadata"] : json::object();
  return partial;
}

// ---- discovery ------------------------------------------------------------------------------

// /version, /api, /apis, /apis/<g>, /api/v1, /apis/<g>/<v>: plain JSON even when kubectl asks for
// aggregated discovery first (kube-apiserver 1.26 without the AggregatedDiscoveryEndpoint gate,
// 01-discovery-*-aggregated-accept); 406 when the client accepts nothing else. A minimal OpenAPI v3
// (resources.hpp) lets `kubectl apply` see that the server validates fields itself.
std::optional<Response> discovery(const FakeApiServer::Impl& impl, const std::string& path, const Request& req,
                                  bool keep, std::uint16_t port) {
  if (req.method() != http::verb::get) return std::nullopt;
  auto parts = split(path, '/');
  if (!parts.empty() && parts.back().empty() && parts.size() > 2) parts.pop_back();  // trailing slash
  const std::string accept(req[http::field::accept]);
  auto json_accepted = [&] {
    const auto ranges = parse_accept(accept);
    return ranges.empty() || std::any_of(ranges.begin(), ranges.end(), plain_json);
  };
  auto not_acceptable = [&] {
    // This Status is indented even for non-curl clients (01-discovery-apis-aggregated-only-accept).
    Response res = json_response(406, json::object(), keep);
    res.body() = status_body(406, "NotAcceptable",
                             "only the following media types are accepted: application/json, application/yaml, "
                             "application/vnd.kubernetes.protobuf")
                     .dump(2);
    res.prepare_payload();
    return res;
  };
  const ResourceRegistry& reg = *impl.registry;
  if (path == "/version") {
    Response res = json_response(200, json::object(), keep);
    res.body() = version_info().dump(2);  // always indented (01-version)
    res.prepare_payload();
    return res;
  }
  if (path == "/openapi/v3") return json_response(200, openapi_v3_index(reg), keep);
  if (parts.size() >= 4 && parts[1] == "openapi" && parts[2] == "v3") {
    std::string gv_path;
    for (std::size_t i = 3; i < parts.size(); ++i) gv_path += (gv_path.empty() ? "" : "/") + parts[i];
    auto doc = openapi_v3_document(reg, gv_path);
    return doc ? json_response(200, *doc, keep) : page_not_found(keep);
  }
  // No OpenAPI v2: kubectl 1.32 only falls back to it when v3 is missing.
  if (parts.size() >= 2 && parts[1] == "openapi") return page_not_found(keep);
  if (parts.size() == 2 && parts[1] == "api") {
    if (!json_accepted()) return not_acceptable();
    return json_response(200, reg.api_versions("127.0.0.1:" + std::to_string(port)), keep);
  }
  if (parts.size() == 2 && parts[1] == "apis") {
    if (!json_accepted()) return not_acceptable();
    return json_response(200, reg.group_list(), keep);
  }
  if (parts.size() == 3 && parts[1] == "api" && parts[2] == "v1") {
    return json_response(200, *reg.resource_list("v1"), keep);
  }
  if (parts.size() == 3 && parts[1] == "apis") {
    auto group = reg.group(parts[2]);
    return group ? json_response(200, *group, keep) : page_not_found(keep);
  }
  if (parts.size() == 4 && parts[1] == "apis") {
    auto list = reg.resource_list(parts[2] + "/" + parts[3]);
    return list ? json_response(200, *list, keep) : page_not_found(keep);
  }
  return std::nullopt;
}

// ---- reads ----------------------------------------------------------------------------------

json implicit_namespace(const FakeApiServer::Impl& impl, const std::string& name) {
  // The shape of a created Namespace (00-create-namespace-fx).
  std::array<char, 40> uid{};
  const std::size_t h = std::hash<std::string>{}("namespace/" + name);
  std::snprintf(uid.data(), uid.size(), "%08zx-0000-4000-8000-%012zx", h & 0xFFFFFFFFU, (h >> 16U) & 0xFFFFFFFFFFFFU);
  json ns = json::object();
  ns["kind"] = "Namespace";
  ns["apiVersion"] = "v1";
  ns["metadata"]["name"] = name;
  ns["metadata"]["uid"] = uid.data();
  ns["metadata"]["resourceVersion"] = "1";
  ns["metadata"]["creationTimestamp"] = impl.started;
  ns["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
  ns["spec"]["finalizers"] = json::array({"kubernetes"});
  ns["status"]["phase"] = "Active";
  return ns;
}

// Namespaces are implicit in the fake: the four every cluster has, every namespace an object
// lives in, and Namespace objects created explicitly. Creates are accepted in any namespace but
// those set_namespace_state() made Terminating or Gone (namespace_refusal). Caller holds mu.
std::map<std::string, json> known_namespaces(FakeApiServer::Impl& impl) {
  std::map<std::string, json> out;
  for (const char* n : {"default", "kube-node-lease", "kube-public", "kube-system"}) {
    out["/" + std::string(n)] = implicit_namespace(impl, n);
  }
  for (const auto& [resource, store] : impl.objects) {
    if (resource == "namespaces") continue;
    for (const auto& [key, obj] : store) {
      const std::string ns = obj["metadata"].value("namespace", "");
      if (!ns.empty() && out.count("/" + ns) == 0) out["/" + ns] = implicit_namespace(impl, ns);
    }
  }
  for (const auto& [key, obj] : impl.objects["namespaces"]) out[key] = obj;
  return out;
}

Response handle_logs(FakeApiServer::Impl& impl, const Route& r, const Query& query, bool keep) {
  json pod;
  {
    std::lock_guard lock(impl.mu);
    auto& pods = impl.objects["pods"];
    auto it = pods.find(r.ns + "/" + r.name);
    if (it != pods.end()) pod = it->second;
  }
  if (pod.is_null()) return status_response(not_found_status("", "pods", r.name), keep);
  std::string container = query.get("container");
  std::vector<std::string> names;
  for (const auto& c : pod["spec"]["containers"]) names.push_back(c["name"]);
  if (pod["spec"].contains("initContainers")) {
    for (const auto& c : pod["spec"]["initContainers"]) names.push_back(c["name"]);
  }
  if (container.empty() && pod["spec"]["containers"].size() == 1) container = names[0];
  if (std::find(names.begin(), names.end(), container) == names.end()) {
    std::string choices;
    for (const auto& n : names) choices += (choices.empty() ? "" : " ") + n;
    const std::string msg = container.empty() ? "a container name must be specified for pod " + r.name +
                                                    ", choose one of: [" + choices + "]"
                                              : "container " + container + " is not valid for pod " + r.name;
    return json_response(400, bad_request(msg), keep);
  }
  const bool previous = query.flag("previous");
  std::optional<std::string> text;
  {
    std::lock_guard lock(impl.mu);
    auto it = impl.logs.find(r.ns + "/" + r.name + "/" + container + (previous ? "/previous" : "/current"));
    if (it != impl.logs.end()) text = it->second;
  }
  if (!text && previous) {
    // The kubelet's answer when there is no previous instance (08-pod-log fixtures).
    return json_response(
        400, bad_request("previous terminated container \"" + container + "\" in pod \"" + r.name + "\" not found"),
        keep);
  }
  std::string body = text.value_or("");
  if (auto tail = query.get("tailLines"); !tail.empty()) {
    long n = 0;
    std::from_chars(tail.data(), tail.data() + tail.size(), n);
    std::size_t pos = body.size();
    long seen = 0;
    if (!body.empty() && body.back() == '\n') --pos;
    while (pos > 0 && seen < n) {
      --pos;
      if (body[pos] == '\n') ++seen;
    }
    if (seen == n && pos < body.size()) body = body.substr(body[pos] == '\n' ? pos + 1 : pos);
  }
  if (auto limit = query.get("limitBytes"); !limit.empty()) {
    std::size_t n = body.size();
    std::from_chars(limit.data(), limit.data() + limit.size(), n);
    if (body.size() > n) body.resize(n);
  }
  return text_response(200, std::move(body), keep);
}

Response handle_get(FakeApiServer::Impl& impl, const Route& r, const Query& query, const std::string& table,
                    bool keep) {
  json obj;
  {
    std::lock_guard lock(impl.mu);
    auto& store = impl.objects[r.resource];
    auto it = store.find(r.ns + "/" + r.name);
    if (it != store.end()) obj = it->second;
    if (r.kind == "Namespace") {
      auto known = known_namespaces(impl);
      if (auto ns = known.find("/" + r.name); ns != known.end()) obj = ns->second;
    }
  }
  if (obj.is_null()) return status_response(not_found_status(r.type->group, r.type->plural, r.name), keep);
  if (!table.empty()) {
    json t = make_table(*r.type, {obj}, table, query.get("includeObject"), impl.now_seconds());
    t["metadata"]["resourceVersion"] = obj["metadata"].value("resourceVersion", "");
    return json_response(200, t, keep);
  }
  return json_response(200, obj, keep);
}

// The resource's plural, which decides the field labels it supports ("pods", "events").
std::string plural_of(const Route& r) {
  return r.resource.substr(r.resource.rfind('/') + 1);
}

// Whether the object of history[i] matched `selector` before that change: its latest earlier
// version in the history (none: it did not exist, or it was created before the history began
// and never changed since, which a watch from that point has not seen either).
bool previously_matched(const std::vector<HistoryEntry>& history, std::size_t i,
                        const std::function<bool(const json&)>& matches) {
  const json& meta = history[i].object["metadata"];
  const std::string ns = meta.value("namespace", "");
  const std::string name = meta.value("name", "");
  for (std::size_t j = i; j-- > 0;) {
    const HistoryEntry& h = history[j];
    if (h.resource != history[i].resource) continue;
    const json& m = h.object["metadata"];
    if (m.value("name", "") != name || m.value("namespace", "") != ns) continue;
    return h.type != "DELETED" && matches(h.object);
  }
  return false;
}

Response handle_list(FakeApiServer::Impl& impl, const Route& r, const Query& query, const std::string& table,
                     const MetadataView& view, bool keep) {
  if (view.refused) {
    // The Go type of the list in the message: the internal package's name (apps, batch, core),
    // unstructured for custom resources. Indented, as the real one is.
    const std::string package = r.type->custom          ? std::string("unstructured")
                                : r.type->group.empty() ? std::string("core")
                                                        : r.type->group.substr(0, r.type->group.find('.'));
    const std::string go_type = "*" + package + "." + (r.type->custom ? std::string("Unstructured") : r.kind) + "List";
    Response res = json_response(406, json::object(), keep);
    res.body() =
        status_body(406, "NotAcceptable",
                    "you requested PartialObjectMetadata, but the requested object is a list (" + go_type + ")")
            .dump(2);
    res.prepare_payload();
    return res;
  }
  std::uint64_t snapshot_rv = 0;
  std::string start_after;
  if (auto cont = query.get("continue"); !cont.empty()) {
    auto decoded = base64url_decode(cont);
    json token = decoded ? json::parse(*decoded, nullptr, false) : json();
    if (!decoded || token.is_discarded() || !token.is_object() || token.value("v", "") != "meta.k8s.io/v1" ||
        !token.contains("rv") || !token["rv"].is_number_unsigned() || !token.contains("start") ||
        !token["start"].is_string()) {
      return json_response(400, bad_request("invalid continue token"), keep);
    }
    snapshot_rv = token["rv"].get<std::uint64_t>();
    start_after = token["start"].get<std::string>();
    bool gone = false;
    {
      std::lock_guard lock(impl.mu);
      gone = snapshot_rv < impl.compacted_rv;
    }
    if (gone) {
      return json_response(
          410,
          status_body(410, "Expired",
                      "The provided continue parameter is too old to display a consistent list result."),
          keep);
    }
  }
  auto selector = parse_label_selector(query.get("labelSelector"));
  if (!selector) return json_response(400, bad_request(selector.error().message), keep);
  auto fields = parse_field_selector(query.get("fieldSelector"), plural_of(r));
  if (!fields) return json_response(400, bad_request(fields.error().message), keep);
  std::size_t limit = 0;
  if (auto l = query.get("limit"); !l.empty()) std::from_chars(l.data(), l.data() + l.size(), limit);
  // resourceVersion=0 without a continue token is served from the watch cache, which ignores
  // `limit`: the whole list in one body (shouldDelegateList, k8s.io/apiserver/pkg/storage/cacher/
  // cacher.go, v1.26; ../shared/k8s-fixtures/04-list-pods-rv0-from-cache-200.json).
  if (query.get("resourceVersion") == "0" && query.get("continue").empty()) limit = 0;
  json items = json::array();
  std::vector<json> objects;
  std::string next_start;
  std::size_t remaining = 0;
  {
    std::lock_guard lock(impl.mu);
    if (snapshot_rv == 0) snapshot_rv = impl.rv;
    std::map<std::string, json> namespaces;
    const std::map<std::string, json>* source = &impl.objects[r.resource];
    if (r.kind == "Namespace") {
      namespaces = known_namespaces(impl);
      source = &namespaces;
    }
    for (const auto& [k, obj] : *source) {
      if (!r.ns.empty() && obj["metadata"].value("namespace", "") != r.ns) continue;
      // Filtered before paging, as etcd3's store does.
      if (!selector->matches(obj) || !fields->matches(obj)) continue;
      if (!start_after.empty() && k <= start_after) continue;
      if (limit > 0 && items.size() == limit) {
        ++remaining;
        continue;
      }
      if (!table.empty()) objects.push_back(obj);
      if (!view.as.empty()) {
        items.push_back(partial_metadata(obj));  // each item says its kind (12-list-replicasets-metadata-rv0)
        next_start = k;
        continue;
      }
      json item = obj;
      item.erase("kind");  // list items carry no kind/apiVersion (02-list-pods-limit3-page1)
      item.erase("apiVersion");
      items.push_back(std::move(item));
      next_start = k;
    }
  }
  json list = list_body(r.kind + "List", r.api_version, snapshot_rv, std::move(items));
  if (r.type->custom) list["kind"] = r.type->list_kind;
  if (!view.as.empty()) {
    list["kind"] = "PartialObjectMetadataList";
    list["apiVersion"] = "meta.k8s.io/v1";
  }
  if (remaining > 0) {
    list["metadata"]["continue"] = continue_token(snapshot_rv, next_start);
    list["metadata"]["remainingItemCount"] = remaining;
  } else if (r.type->custom) {
    list["metadata"]["continue"] = "";  // CR lists serialize the empty continue (06-list-widgets)
  }
  if (!table.empty()) {
    json t = make_table(*r.type, objects, table, query.get("includeObject"), impl.now_seconds());
    t["metadata"] = list["metadata"];
    if (t["metadata"].value("continue", "").empty()) t["metadata"].erase("continue");
    return json_response(200, t, keep);
  }
  return json_response(200, list, keep);
}

// ---- writes ---------------------------------------------------------------------------------
//
// Plain functions (no co_await): create, update, patch, apply and delete as the apiserver's
// generic registry runs them - decode, preconditions, strategy (PrepareForCreate/Update), field
// pruning, validation, managedFields, then the storage write, which is skipped when nothing
// changed (a no-op update keeps the resourceVersion and sends no watch event).

struct WriteContext {
  FakeApiServer::Impl& impl;
  const Route& r;
  const ResourceType& t;
  const Query& query;
  std::string manager;  // fieldManager, else the User-Agent's product (prefixFromUserAgent)
  std::string now;
  bool dry_run = false;
  std::vector<std::string> warnings;
};

Response write_response(const WriteContext& ctx, int code, const json& body, bool keep) {
  Response res = json_response(code, body, keep);
  for (const auto& w : ctx.warnings) {
    // RFC 7234 warn-text, as the apiserver's warning recorder writes it.
    std::string text;
    for (char c : w) {
      if (c == '"' || c == '\\') text.push_back('\\');
      text.push_back(c);
    }
    res.insert(http::field::warning, "299 - \"" + text + "\"");
  }
  return res;
}

FieldScope scope_for(const ResourceType& t, const std::string& sub) {
  if (sub == "status") return FieldScope::kStatusOnly;
  return t.status_subresource ? FieldScope::kAllButStatus : FieldScope::kAll;
}

std::string product_of(const std::string& user_agent) {
  std::string m = user_agent.substr(0, user_agent.find('/'));
  if (m.size() > 128) m.resize(128);
  return m;
}

// `<Kind> in version "<v>" cannot be handled as a <Kind>: <why>` - the decoder's 400.
json decode_error(const ResourceType& t, const std::string& why) {
  return bad_request(t.kind + " in version " + go_quote(t.version) + " cannot be handled as a " + t.kind + ": " + why);
}

std::string go_json_type(const json& v) {
  if (v.is_string()) return "string";
  if (v.is_number()) return "number";
  if (v.is_boolean()) return "bool";
  if (v.is_array()) return "array";
  return "object";
}

// encoding/json's wording for a syntax error: "unexpected end of JSON input" when the text stops
// early (05-create-pod-malformed-json-400), else the offending character.
std::string go_json_syntax_error(const std::string& text) {
  try {
    const json parsed = json::parse(text);
    if (parsed.is_discarded()) return "unexpected end of JSON input";
  } catch (const json::parse_error& e) {
    if (e.byte >= text.size() + 1 || text.find_first_not_of(" \t\r\n") == std::string::npos) {
      return "unexpected end of JSON input";
    }
    const char c = e.byte >= 1 && e.byte <= text.size() ? text[e.byte - 1] : '?';
    return std::string("invalid character '") + c + "' looking for beginning of value";
  } catch (const std::exception& e) {
    return e.what();
  }
  return "unexpected end of JSON input";
}

// The body of a create or update: JSON (or YAML), the object's kind and apiVersion defaulted
// from the URL and checked against it.
std::optional<json> decode_object(const WriteContext& ctx, const Request& req, json& error) {
  const std::string content_type(req[http::field::content_type]);
  const std::string media = content_type.substr(0, content_type.find(';'));
  std::optional<json> body;
  if (media.empty() || media == "application/json") {
    json parsed = json::parse(req.body(), nullptr, false);
    if (parsed.is_discarded()) {
      const std::string snippet = req.body().size() <= 30 ? req.body() : req.body().substr(0, 30) + " ...";
      error = bad_request("the object provided is unrecognized (must be of type " + ctx.t.kind +
                          "): couldn't get version/kind; json parse error: " + go_json_syntax_error(req.body()) + " (" +
                          snippet + ")");
      return std::nullopt;
    }
    body = std::move(parsed);
  } else if (media == "application/yaml") {
    std::string why;
    body = yaml_to_json(req.body(), &why);
    if (!body) {
      error = bad_request("the object provided is unrecognized (must be of type " + ctx.t.kind + "): " + why);
      return std::nullopt;
    }
  } else {
    error =
        status_body(415, "UnsupportedMediaType",
                    std::string("the body of the request was in an unknown format - accepted media types include: ") +
                        (ctx.t.custom ? "application/json, application/yaml"
                                      : "application/json, application/yaml, application/vnd.kubernetes.protobuf"));
    return std::nullopt;
  }
  if (!body->is_object()) {
    error =
        decode_error(ctx.t, "json: cannot unmarshal " + go_json_type(*body) + " into Go value of type " + ctx.t.kind);
    return std::nullopt;
  }
  const std::string api_version = body->value("apiVersion", ctx.t.api_version());
  if (api_version != ctx.t.api_version()) {
    error = bad_request("the API version in the data (" + api_version + ") does not match the expected API version (" +
                        ctx.t.api_version() + ")");
    return std::nullopt;
  }
  const std::string kind = body->value("kind", ctx.t.kind);
  if (kind != ctx.t.kind) {
    // The decoder cannot turn another kind into this one (approximation of its message).
    error = bad_request("the object provided is unrecognized (must be of type " + ctx.t.kind + "): no kind " +
                        go_quote(kind) + " is registered for the endpoint of " + ctx.t.kind);
    return std::nullopt;
  }
  (*body)["apiVersion"] = ctx.t.api_version();
  (*body)["kind"] = ctx.t.kind;
  if (!body->contains("metadata") || !(*body)["metadata"].is_object()) (*body)["metadata"] = json::object();
  return body;
}

// Field validation (fieldValidation=Strict|Warn|Ignore, default Warn): what the schema does not
// declare is dropped; Strict makes it a 400, Warn a Warning header. Built-ins only get their
// ObjectMeta checked here (the fake has no schema for them).
std::optional<json> prune_fields(WriteContext& ctx, json& obj, bool patch) {
  std::vector<std::string> unknown;
  if (ctx.t.crd) {
    prune_unknown(ctx.t.crd->schema, obj, unknown);
  } else {
    json schema = json::object();
    schema["x-kubernetes-preserve-unknown-fields"] = true;
    prune_unknown(schema, obj, unknown);
  }
  if (unknown.empty()) return std::nullopt;
  std::sort(unknown.begin(), unknown.end());
  const std::string mode = ctx.query.get("fieldValidation");
  if (mode == "Ignore") return std::nullopt;
  if (mode == "Strict") {
    std::string list;
    for (const auto& u : unknown) list += (list.empty() ? "" : ", ") + std::string("unknown field ") + go_quote(u);
    // Patches report the strict decoding error bare; creates and updates through the decoder.
    return patch ? bad_request("strict decoding error: " + list)
                 : decode_error(ctx.t, "strict decoding error: " + list);
  }
  for (const auto& u : unknown) ctx.warnings.push_back("unknown field " + go_quote(u));
  return std::nullopt;
}

// Typed fields of the built-ins crashdiag writes, as their Go structs decode them: label and
// annotation values are strings; Lease and Event times are metav1.Time (RFC 3339, stored to the
// second) and metav1.MicroTime (exactly six fractional digits, "2006-01-02T15:04:05.000000Z07:00").
std::optional<json> decode_typed_fields(const ResourceType& t, json& obj) {
  for (const char* map : {"labels", "annotations"}) {
    if (!obj["metadata"].contains(map) || obj["metadata"][map].is_null()) continue;
    if (!obj["metadata"][map].is_object()) {
      return decode_error(t, "json: cannot unmarshal " + go_json_type(obj["metadata"][map]) +
                                 " into Go struct field ObjectMeta.metadata." + map + " of type map[string]string");
    }
    for (const auto& [k, v] : obj["metadata"][map].items()) {
      if (!v.is_string()) {
        return decode_error(t, "json: cannot unmarshal " + go_json_type(v) +
                                   " into Go struct field ObjectMeta.metadata." + map + " of type string");
      }
    }
  }
  auto time_field = [&](json& parent, const std::string& key, const std::string& go_field,
                        bool micro) -> std::optional<json> {
    if (!parent.is_object() || !parent.contains(key) || parent[key].is_null()) return std::nullopt;
    if (!parent[key].is_string()) {
      return decode_error(t, "json: cannot unmarshal " + go_json_type(parent[key]) + " into Go struct field " +
                                 go_field + " of type string");
    }
    const std::string s = parent[key].get<std::string>();
    auto ts = parse_rfc3339(s);
    if (!ts || (micro && ts->fraction_digits != 6)) {
      const std::string layout = micro ? "2006-01-02T15:04:05.000000Z07:00" : "2006-01-02T15:04:05Z07:00";
      const std::string rest = s.size() > 19 ? s.substr(19) : s;
      return decode_error(t, "parsing time " + go_quote(s) + " as " + go_quote(layout) + ": cannot parse " +
                                 go_quote(ts || s.size() > 19 ? rest : s) + " as " +
                                 go_quote(ts || s.size() > 19 ? (micro ? ".000000" : "Z07:00") : "2006"));
    }
    parent[key] = format_rfc3339(*ts, micro ? 6 : 0);
    return std::nullopt;
  };
  auto int_field = [&](json& parent, const std::string& key, const std::string& go_field) -> std::optional<json> {
    if (!parent.is_object() || !parent.contains(key) || parent[key].is_null() || parent[key].is_number_integer()) {
      return std::nullopt;
    }
    return decode_error(t, "json: cannot unmarshal " + go_json_type(parent[key]) + " into Go struct field " + go_field +
                               " of type int32");
  };
  if (t.kind == "Lease" && obj.contains("spec")) {
    json& spec = obj["spec"];
    if (!spec.is_object())
      return decode_error(
          t, "json: cannot unmarshal " + go_json_type(spec) + " into Go struct field Lease.spec of type v1.LeaseSpec");
    if (spec.contains("holderIdentity") && !spec["holderIdentity"].is_null() && !spec["holderIdentity"].is_string()) {
      return decode_error(t, "json: cannot unmarshal " + go_json_type(spec["holderIdentity"]) +
                                 " into Go struct field LeaseSpec.spec.holderIdentity of type string");
    }
    for (const char* k : {"leaseDurationSeconds", "leaseTransitions"}) {
      if (auto e = int_field(spec, k, std::string("LeaseSpec.spec.") + k)) return e;
    }
    for (const char* k : {"acquireTime", "renewTime"}) {
      if (auto e = time_field(spec, k, std::string("LeaseSpec.spec.") + k, true)) return e;
    }
  }
  if (t.kind == "Event") {
    for (const char* k : {"firstTimestamp", "lastTimestamp"}) {
      if (auto e = time_field(obj, k, std::string("Event.") + k, false)) return e;
    }
    if (auto e = time_field(obj, "eventTime", "Event.eventTime", true)) return e;
    if (obj.contains("series") && obj["series"].is_object()) {
      if (auto e = time_field(obj["series"], "lastObservedTime", "EventSeries.series.lastObservedTime", true)) return e;
    }
    if (auto e = int_field(obj, "count", "Event.count")) return e;
  }
  return std::nullopt;
}

// ValidateEvent for core/v1 (legacy events without eventTime, and new-style ones with it).
void validate_event(const json& ev, std::vector<FieldError>& errors) {
  const std::string ns = ev["metadata"].value("namespace", "");
  const json involved =
      ev.contains("involvedObject") && ev["involvedObject"].is_object() ? ev["involvedObject"] : json::object();
  const std::string involved_ns = involved.value("namespace", "");
  const bool has_event_time = ev.contains("eventTime") && !ev["eventTime"].is_null();
  const FieldError mismatch{FieldError::Type::kInvalid, "involvedObject.namespace", involved_ns, std::nullopt,
                            "does not match event.namespace"};
  if (!has_event_time) {
    if (involved_ns.empty() ? !(ns.empty() || ns == "default") : ns != involved_ns) errors.push_back(mismatch);
    return;
  }
  if (involved_ns.empty() && ns != "default" && ns != "kube-system") errors.push_back(mismatch);
  auto required = [&](const char* key, const char* field, std::size_t limit) {
    const std::string v = ev.value(key, "");
    if (v.empty()) errors.push_back({FieldError::Type::kRequired, field, nullptr, std::nullopt, ""});
    if (limit > 0 && v.size() > limit) {
      errors.push_back({FieldError::Type::kInvalid, field, "", std::nullopt,
                        "can have at most " + std::to_string(limit) + " characters"});
    }
  };
  required("reportingComponent", "reportingComponent", 0);
  for (const auto& m : qualified_name_errors(ev.value("reportingComponent", ""))) {
    if (!ev.value("reportingComponent", "").empty()) {
      errors.push_back(
          {FieldError::Type::kInvalid, "reportingComponent", ev.value("reportingComponent", ""), std::nullopt, m});
    }
  }
  required("reportingInstance", "reportingInstance", 128);
  required("action", "action", 128);
  required("reason", "reason", 128);
  if (ev.value("message", "").size() > 1024) {
    errors.push_back({FieldError::Type::kInvalid, "message", "", std::nullopt, "can have at most 1024 characters"});
  }
}

// Validation on every write: ObjectMeta, then the type's own rules (the CRD's schema for
// custom resources).
std::vector<FieldError> validate_object(const ResourceType& t, const json& obj, bool creating) {
  std::vector<FieldError> errors;
  validate_object_meta(obj["metadata"], creating, errors);
  if (t.crd) validate_schema(t.crd->schema, obj, errors);
  if (t.kind == "Pod") {
    if (!obj.contains("spec") || !obj["spec"].contains("containers") || !obj["spec"]["containers"].is_array() ||
        obj["spec"]["containers"].empty()) {
      errors.push_back({FieldError::Type::kRequired, "spec.containers", nullptr, std::nullopt, ""});
    }
  }
  if (t.kind == "Event") validate_event(obj, errors);
  if (t.kind == "Lease" && obj.contains("spec") && obj["spec"].is_object()) {
    const json& spec = obj["spec"];
    if (spec.contains("leaseDurationSeconds") && spec["leaseDurationSeconds"].is_number_integer() &&
        spec["leaseDurationSeconds"].get<std::int64_t>() <= 0) {
      errors.push_back({FieldError::Type::kInvalid, "spec.leaseDurationSeconds", spec["leaseDurationSeconds"],
                        std::nullopt, "must be greater than 0"});
    }
    if (spec.contains("leaseTransitions") && spec["leaseTransitions"].is_number_integer() &&
        spec["leaseTransitions"].get<std::int64_t>() < 0) {
      errors.push_back({FieldError::Type::kInvalid, "spec.leaseTransitions", spec["leaseTransitions"], std::nullopt,
                        "must be greater than or equal to 0"});
    }
  }
  return errors;
}

json pod_initial_status(const json& pod) {
  // PrepareForCreate: phase Pending and the QoS class of the requests and limits.
  bool any = false;
  bool guaranteed = true;
  if (pod.contains("spec") && pod["spec"].contains("containers") && pod["spec"]["containers"].is_array()) {
    for (const auto& c : pod["spec"]["containers"]) {
      const json res = c.contains("resources") && c["resources"].is_object() ? c["resources"] : json::object();
      const json req = res.contains("requests") ? res["requests"] : json::object();
      const json lim = res.contains("limits") ? res["limits"] : json::object();
      if (!req.empty() || !lim.empty()) any = true;
      for (const char* r : {"cpu", "memory"}) {
        if (!lim.contains(r) || (req.contains(r) && req[r] != lim[r])) guaranteed = false;
      }
    }
  }
  json status = json::object();
  status["phase"] = "Pending";
  status["qosClass"] = !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable";
  return status;
}

// rest.BeforeCreate + the type's PrepareForCreate.
void prepare_for_create(WriteContext& ctx, json& obj) {
  json& meta = obj["metadata"];
  if (ctx.t.namespaced) meta["namespace"] = ctx.r.ns;
  meta["uid"] = ctx.impl.new_uid();
  meta["creationTimestamp"] = ctx.now;
  for (const char* k : {"deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"}) meta.erase(k);
  if (ctx.t.has_generation) {
    meta["generation"] = 1;
  } else {
    meta.erase("generation");
  }
  if (ctx.t.status_subresource) {
    if (ctx.t.custom) {
      obj.erase("status");  // the status subresource owns it: dropped on create
    } else if (ctx.t.kind == "Pod") {
      obj["status"] = pod_initial_status(obj);
    } else {
      obj["status"] = json::object();
    }
  }
}

json without_meta_and_status(json obj) {
  obj.erase("metadata");
  obj.erase("status");
  return obj;
}

// rest.BeforeUpdate + the type's PrepareForUpdate: system metadata comes from the stored object;
// the main resource cannot change .status when a status subresource exists, and the status
// subresource changes nothing but .status (pods also take labels and annotations there).
// generation moves with every change outside metadata and status.
void prepare_for_update(const WriteContext& ctx, const json& old, json& obj, const std::string& sub) {
  if (sub == "status") {
    json next = old;
    if (obj.contains("status")) {
      next["status"] = obj["status"];
    } else {
      next.erase("status");
    }
    if (ctx.t.kind == "Pod") {
      for (const char* k : {"labels", "annotations"}) {
        if (obj["metadata"].contains(k)) {
          next["metadata"][k] = obj["metadata"][k];
        } else {
          next["metadata"].erase(k);
        }
      }
    }
    obj = std::move(next);
    return;
  }
  json& meta = obj["metadata"];
  const json& old_meta = old["metadata"];
  for (const char* k : {"name", "namespace", "uid", "creationTimestamp", "generation", "deletionTimestamp",
                        "deletionGracePeriodSeconds", "managedFields", "resourceVersion"}) {
    if (old_meta.contains(k)) {
      meta[k] = old_meta[k];
    } else {
      meta.erase(k);
    }
  }
  meta.erase("selfLink");
  if (ctx.t.status_subresource) {
    if (old.contains("status")) {
      obj["status"] = old["status"];
    } else {
      obj.erase("status");
    }
  }
  if (ctx.t.has_generation && without_meta_and_status(obj) != without_meta_and_status(old)) {
    meta["generation"] = old_meta.value("generation", 0) + 1;
  }
}

json optimistic_lock_conflict(const ResourceType& t, const std::string& name) {
  return conflict_status(t.group, t.plural, name,
                         "the object has been modified; please apply your changes to the latest version and try again");
}

// metadata.resourceVersion and metadata.uid in a body are preconditions.
std::optional<json> check_preconditions(const ResourceType& t, const json& meta, const json& old) {
  const json& old_meta = old["metadata"];
  if (meta.contains("uid") && meta["uid"].is_string() && !meta["uid"].get<std::string>().empty() &&
      meta["uid"] != old_meta.value("uid", "")) {
    return conflict_status(t.group, t.plural, old_meta.value("name", ""),
                           "Precondition failed: UID in precondition: " + meta["uid"].get<std::string>() +
                               ", UID in object meta: " + old_meta.value("uid", ""));
  }
  if (meta.contains("resourceVersion") && meta["resourceVersion"].is_string() &&
      !meta["resourceVersion"].get<std::string>().empty() &&
      meta["resourceVersion"] != old_meta.value("resourceVersion", "")) {
    return optimistic_lock_conflict(t, old_meta.value("name", ""));
  }
  return std::nullopt;
}

bool same_ignoring_times(json a, json b) {
  for (json* o : {&a, &b}) {
    if (!(*o)["metadata"].contains("managedFields")) continue;
    for (auto& e : (*o)["metadata"]["managedFields"]) e.erase("time");
  }
  return a == b;
}

// The storage write's own limit (kEtcdMaxRequestBytes).
bool too_large_for_etcd(const json& obj) {
  return obj.dump(-1, ' ', false, json::error_handler_t::replace).size() > kEtcdMaxRequestBytes;
}

json etcd_too_large() {
  return status_body(500, "", "etcdserver: request is too large");
}

// The end of every update: managedFields, the no-op check, then the write (unless dryRun).
Response commit_update(WriteContext& ctx, const json& old, json obj, const std::vector<ManagerEntry>& managers,
                       bool keep) {
  if (managers.empty()) {
    obj["metadata"].erase("managedFields");
  } else {
    obj["metadata"]["managedFields"] = encode_managed_fields(managers);
  }
  if (same_ignoring_times(old, obj)) return write_response(ctx, 200, old, keep);  // no-op: no write, no event
  if (ctx.dry_run) return write_response(ctx, 200, obj, keep);
  if (too_large_for_etcd(obj)) return status_response(etcd_too_large(), keep);
  ctx.impl.change(ctx.r.resource, "MODIFIED", obj);
  return write_response(ctx, 200, ctx.impl.objects[ctx.r.resource][key_of(obj)], keep);
}

// NamespaceLifecycle admission, which looks at creates only: into a namespace being terminated
// 403 Forbidden (cause NamespaceTerminating), into one that is gone 404 for the namespace
// (staging/src/k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle/admission.go, v1.26;
// tests/data/k8s-real/20-terminating-*-403 and 21-gone-*-404). It runs as admission, before the
// object is validated. Caller holds mu.
std::optional<json> namespace_refusal(const WriteContext& ctx, const std::string& name) {
  if (!ctx.t.namespaced || ctx.r.ns.empty()) return std::nullopt;
  auto it = ctx.impl.namespace_states.find(ctx.r.ns);
  if (it == ctx.impl.namespace_states.end() || it->second == NamespaceState::kActive) return std::nullopt;
  if (it->second == NamespaceState::kTerminating) {
    return namespace_terminating_status(ctx.t.group, ctx.t.plural, name, ctx.r.ns);
  }
  return not_found_status("", "namespaces", ctx.r.ns);
}

Response commit_create(WriteContext& ctx, json obj, bool keep) {
  auto& store = ctx.impl.objects[ctx.r.resource];
  if (store.count(key_of(obj)) > 0) {
    return status_response(already_exists_status(ctx.t.group, ctx.t.plural, obj["metadata"].value("name", "")), keep);
  }
  if (ctx.dry_run) return write_response(ctx, 201, obj, keep);
  if (too_large_for_etcd(obj)) return status_response(etcd_too_large(), keep);
  ctx.impl.change(ctx.r.resource, "ADDED", obj);
  return write_response(ctx, 201, store[key_of(obj)], keep);
}

ManagerEntry update_identity(const WriteContext& ctx, const std::string& operation) {
  ManagerEntry who;
  who.manager = ctx.manager;
  who.operation = operation;
  who.subresource = ctx.r.sub == "status" ? "status" : "";
  who.api_version = ctx.t.api_version();
  who.time = ctx.now;
  return who;
}

std::string generated_name(FakeApiServer::Impl& impl, const std::string& prefix) {
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";  // utilrand.String's
  std::string out = prefix;
  for (int i = 0; i < 5; ++i) out.push_back(kAlphabet[impl.rng() % kAlphabet.size()]);
  return out;
}

// Create (POST, and PUT of a missing object where the type allows it). Caller holds mu.
Response create_object(WriteContext& ctx, json obj, bool keep) {
  json& meta = obj["metadata"];
  if (meta.contains("resourceVersion") && meta["resourceVersion"].is_string() &&
      !meta["resourceVersion"].get<std::string>().empty() && ctx.r.name.empty()) {
    // The storage layer's refusal: a plain error, so 500 without a reason.
    return status_response(status_body(500, "", "resourceVersion should not be set on objects to be created"), keep);
  }
  meta.erase("resourceVersion");
  meta.erase("managedFields");
  if (meta.value("name", "").empty() && !meta.value("generateName", "").empty()) {
    meta["name"] = generated_name(ctx.impl, meta["generateName"].get<std::string>());
  }
  if (auto refused = namespace_refusal(ctx, meta.value("name", ""))) return status_response(*refused, keep);
  if (auto err = prune_fields(ctx, obj, false)) return status_response(*err, keep);
  if (auto err = decode_typed_fields(ctx.t, obj)) return status_response(*err, keep);
  prepare_for_create(ctx, obj);
  auto errors = validate_object(ctx.t, obj, true);
  if (!errors.empty()) {
    return status_response(invalid_status(ctx.t.group, ctx.t.kind, obj["metadata"].value("name", ""), errors), keep);
  }
  auto managers = update_managers(json::object(), obj, scope_for(ctx.t, ""), {}, update_identity(ctx, "Update"));
  if (!managers.empty()) obj["metadata"]["managedFields"] = encode_managed_fields(managers);
  return commit_create(ctx, std::move(obj), keep);
}

Response handle_create(WriteContext& ctx, const Request& req, bool keep) {
  if (!ctx.r.name.empty() || (ctx.t.namespaced && ctx.r.ns.empty())) {
    return status_response(method_not_allowed(), keep);  // 05-post-to-pod-item-405
  }
  json error;
  auto obj = decode_object(ctx, req, error);
  if (!obj) return status_response(error, keep);
  const std::string ns = (*obj)["metadata"].value("namespace", ctx.r.ns);
  if (ns != ctx.r.ns) {
    return json_response(
        400, bad_request("the namespace of the provided object does not match the namespace sent on the request"),
        keep);
  }
  std::lock_guard lock(ctx.impl.mu);
  return create_object(ctx, std::move(*obj), keep);
}

std::optional<json> check_name(const json& meta, const Route& r) {
  const std::string name = meta.value("name", "");
  if (name != r.name) {
    return bad_request("the name of the object (" + name + ") does not match the name on the URL (" + r.name + ")");
  }
  const std::string ns = meta.value("namespace", "");
  if (!ns.empty() && ns != r.ns) {
    return bad_request("the namespace of the object (" + ns + ") does not match the namespace on the request (" + r.ns +
                       ")");
  }
  return std::nullopt;
}

Response handle_update(WriteContext& ctx, const Request& req, bool keep) {
  if (ctx.r.name.empty()) return status_response(method_not_allowed(), keep);
  json error;
  auto obj = decode_object(ctx, req, error);
  if (!obj) return status_response(error, keep);
  if (auto err = check_name((*obj)["metadata"], ctx.r)) return status_response(*err, keep);
  std::lock_guard lock(ctx.impl.mu);
  auto& store = ctx.impl.objects[ctx.r.resource];
  auto it = store.find(ctx.r.ns + "/" + ctx.r.name);
  if (it == store.end()) {
    if (ctx.t.allow_create_on_update && ctx.r.sub.empty()) {
      (*obj)["metadata"].erase("resourceVersion");
      return create_object(ctx, std::move(*obj), keep);
    }
    return status_response(not_found_status(ctx.t.group, ctx.t.plural, ctx.r.name), keep);
  }
  const json old = it->second;
  const json& meta = (*obj)["metadata"];
  if (!ctx.t.allow_unconditional_update && meta.value("resourceVersion", "").empty()) {
    // The registry's message names the resource, not the kind (09-update-lease-without-rv-422).
    FieldError e{FieldError::Type::kInvalid, "metadata.resourceVersion", 0, std::string("0x0"),
                 "must be specified for an update"};
    return status_response(invalid_status(ctx.t.group, ctx.t.plural, ctx.r.name, {e}), keep);
  }
  if (auto err = check_preconditions(ctx.t, meta, old)) return status_response(*err, keep);
  if (auto err = prune_fields(ctx, *obj, false)) return status_response(*err, keep);
  if (auto err = decode_typed_fields(ctx.t, *obj)) return status_response(*err, keep);
  prepare_for_update(ctx, old, *obj, ctx.r.sub);
  auto errors = validate_object(ctx.t, *obj, false);
  if (!errors.empty()) return status_response(invalid_status(ctx.t.group, ctx.t.kind, ctx.r.name, errors), keep);
  auto managers = update_managers(old, *obj, scope_for(ctx.t, ctx.r.sub),
                                  decode_managed_fields(old["metadata"].value("managedFields", json::array())),
                                  update_identity(ctx, "Update"));
  return commit_update(ctx, old, std::move(*obj), managers, keep);
}

// Integral floats become integers, as the apply decoder's YAML -> JSON -> unstructured round
// trip makes them (1.0 is stored as 1).
void normalize_numbers(json& v) {
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (d == static_cast<double>(static_cast<std::int64_t>(d)) && d > -9e15 && d < 9e15) {
      v = static_cast<std::int64_t>(d);
    }
  } else if (v.is_structured()) {
    for (auto& item : v) normalize_numbers(item);
  }
}

void drop_nulls(json& v) {
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end();) {
      if (it->is_null()) {
        it = v.erase(it);
      } else {
        drop_nulls(*it);
        ++it;
      }
    }
  } else if (v.is_array()) {
    for (auto& item : v) drop_nulls(item);
  }
}

// Server-side apply (application/apply-patch+yaml).
Response handle_apply(WriteContext& ctx, const Request& req, bool keep) {
  std::optional<json> config;
  const std::string& body = req.body();
  const auto first = body.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && body[first] == '{') {
    json parsed = json::parse(body, nullptr, false);
    if (!parsed.is_discarded()) config = std::move(parsed);
  }
  if (!config) {
    std::string why;
    config = yaml_to_json(body, &why);
    if (!config) return status_response(bad_request("error decoding YAML: " + why), keep);
  }
  if (!config->is_object()) {
    return status_response(bad_request("error decoding YAML: json: cannot unmarshal " + go_json_type(*config) +
                                       " into Go value of type map[string]interface {}"),
                           keep);
  }
  normalize_numbers(*config);
  drop_nulls(*config);
  if (!config->contains("metadata") || !(*config)["metadata"].is_object()) (*config)["metadata"] = json::object();
  json& meta = (*config)["metadata"];
  if (meta.contains("managedFields")) return status_response(bad_request("metadata.managedFields must be nil"), keep);
  const std::string api_version = config->value("apiVersion", "");
  if (api_version != ctx.t.api_version()) {
    return status_response(bad_request("Incorrect version specified in apply patch. Specified patch version: " +
                                       api_version + ", expected: " + ctx.t.api_version()),
                           keep);
  }
  const std::string kind = config->value("kind", "");
  if (kind != ctx.t.kind) {
    // Approximation: the real apiserver fails decoding the applied object as this kind.
    return status_response(bad_request("the kind in the apply patch (" + kind + ") does not match the kind of " +
                                       qualified_resource(ctx.t.group, ctx.t.plural) + " (" + ctx.t.kind + ")"),
                           keep);
  }
  if (auto err = check_name(meta, ctx.r)) return status_response(*err, keep);
  if (ctx.t.crd) {
    // structured-merge-diff converts the configuration with the CRD's schema first: a field the
    // schema does not declare (or a wrong type) fails the whole apply - with a plain error, so
    // 500 without a reason, whatever fieldValidation says (kubernetes/kubernetes#122480).
    auto errs = typed_conversion_errors(ctx.t.crd->schema, *config);
    if (!errs.empty()) {
      std::string text = errs.size() == 1 ? errs[0] : "errors:";
      if (errs.size() > 1) {
        for (const auto& e : errs) text += "\n  " + e;
      }
      return status_response(status_body(500, "",
                                         "failed to create typed patch object (" + ctx.r.ns + "/" + ctx.r.name + "; " +
                                             ctx.t.api_version() + ", Kind=" + ctx.t.kind + "): " + text),
                             keep);
    }
  }
  std::lock_guard lock(ctx.impl.mu);
  auto& store = ctx.impl.objects[ctx.r.resource];
  auto it = store.find(ctx.r.ns + "/" + ctx.r.name);
  const bool creating = it == store.end();
  if (creating && ctx.r.sub == "status") {
    return status_response(not_found_status(ctx.t.group, ctx.t.plural, ctx.r.name), keep);
  }
  if (creating) {
    if (auto refused = namespace_refusal(ctx, ctx.r.name)) return status_response(*refused, keep);
  }
  const json old = creating ? json::object() : it->second;
  if (!creating) {
    if (auto err = check_preconditions(ctx.t, meta, old)) return status_response(*err, keep);
  }
  meta.erase("resourceVersion");
  meta.erase("uid");
  const FieldScope scope = scope_for(ctx.t, ctx.r.sub);
  json live = old;
  if (!creating) live["metadata"].erase("managedFields");
  auto managers = creating ? std::vector<ManagerEntry>{}
                           : decode_managed_fields(old["metadata"].value("managedFields", json::array()));
  ManagerEntry who = update_identity(ctx, "Apply");
  ApplyOutcome outcome = apply_config(live, *config, scope, std::move(managers), who, ctx.query.flag("force"));
  if (!outcome.conflicts.empty() && !ctx.query.flag("force")) {
    return status_response(apply_conflict_status(outcome.conflicts), keep);
  }
  json obj = std::move(outcome.object);
  obj["apiVersion"] = ctx.t.api_version();
  obj["kind"] = ctx.t.kind;
  obj["metadata"]["name"] = ctx.r.name;
  if (ctx.t.namespaced) obj["metadata"]["namespace"] = ctx.r.ns;
  if (auto err = decode_typed_fields(ctx.t, obj)) return status_response(*err, keep);
  if (creating) {
    prepare_for_create(ctx, obj);
  } else {
    prepare_for_update(ctx, old, obj, ctx.r.sub);
  }
  auto errors = validate_object(ctx.t, obj, creating);
  if (!errors.empty()) return status_response(invalid_status(ctx.t.group, ctx.t.kind, ctx.r.name, errors), keep);
  if (creating) {
    if (!outcome.managers.empty()) obj["metadata"]["managedFields"] = encode_managed_fields(outcome.managers);
    return commit_create(ctx, std::move(obj), keep);
  }
  return commit_update(ctx, old, std::move(obj), outcome.managers, keep);
}

json patch_decode_error(const std::string& body) {
  return bad_request("error decoding patch: " + go_json_syntax_error(body));  // 05-merge-patch-pod-malformed-json-400
}

Response handle_patch(WriteContext& ctx, const Request& req, bool keep) {
  if (ctx.r.name.empty()) return status_response(method_not_allowed(), keep);
  const std::string content_type(req[http::field::content_type]);
  const std::string media = content_type.substr(0, content_type.find(';'));
  const bool apply = media == "application/apply-patch+yaml";
  // PatchOptions validation comes first (ValidatePatchOptions).
  if (apply && ctx.query.get("fieldManager").empty()) {
    FieldError e{FieldError::Type::kRequired, "fieldManager", nullptr, std::nullopt, "is required for apply patch"};
    return status_response(invalid_status("meta.k8s.io", "PatchOptions", "", {e}), keep);
  }
  if (!apply && ctx.query.has("force")) {
    FieldError e{FieldError::Type::kForbidden, "force", nullptr, std::nullopt,
                 "may not be specified for non-apply patch"};
    return status_response(invalid_status("meta.k8s.io", "PatchOptions", "", {e}), keep);
  }
  if (ctx.query.get("fieldManager").size() > 128) {
    FieldError e{FieldError::Type::kTooLong, "fieldManager", ctx.query.get("fieldManager"), std::nullopt,
                 "may not be longer than 128"};
    return status_response(invalid_status("meta.k8s.io", "PatchOptions", "", {e}), keep);
  }
  if (apply) return handle_apply(ctx, req, keep);
  const bool merge = media == "application/merge-patch+json";
  // Strategic merge patch is applied as a JSON merge patch: list items are not merged by key.
  const bool strategic = !ctx.t.custom && media == "application/strategic-merge-patch+json";
  const bool json_patch = media == "application/json-patch+json";
  if (!merge && !strategic && !json_patch) {
    return json_response(
        415,
        status_body(415, "UnsupportedMediaType",
                    std::string("the body of the request was in an unknown format - accepted media types include: ") +
                        (ctx.t.custom ? "application/json-patch+json, application/merge-patch+json, "
                                        "application/apply-patch+yaml"
                                      : "application/json-patch+json, application/merge-patch+json, "
                                        "application/strategic-merge-patch+json, application/apply-patch+yaml")),
        keep);
  }
  json patch = json::parse(req.body(), nullptr, false);
  if (patch.is_discarded()) return status_response(patch_decode_error(req.body()), keep);
  if (json_patch && !patch.is_array()) {
    return status_response(
        bad_request("json: cannot unmarshal " + go_json_type(patch) + " into Go value of type jsonpatch.Patch"), keep);
  }
  if (!json_patch && !patch.is_object()) {
    return status_response(bad_request("error decoding patch: json: cannot unmarshal " + go_json_type(patch) +
                                       " into Go value of type map[string]interface {}"),
                           keep);
  }
  std::lock_guard lock(ctx.impl.mu);
  auto& store = ctx.impl.objects[ctx.r.resource];
  auto it = store.find(ctx.r.ns + "/" + ctx.r.name);
  if (it == store.end()) return status_response(not_found_status(ctx.t.group, ctx.t.plural, ctx.r.name), keep);
  const json old = it->second;
  json obj = old;
  if (json_patch) {
    try {
      obj = old.patch(patch);
    } catch (const std::exception& e) {
      json details = json::object();
      json cause = json::object();
      cause["reason"] = "UnexpectedServerResponse";
      cause["message"] = e.what();
      details["causes"] = json::array({cause});
      return status_response(
          status_body(422, "Invalid", "the server rejected our request due to an error in our request", details), keep);
    }
  } else {
    obj.merge_patch(patch);
  }
  if (!obj.is_object()) return status_response(patch_decode_error(""), keep);
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = json::object();
  // A resourceVersion or uid the patch sets is a precondition (05-merge-patch-widget-stale-rv-409-conflict).
  if (auto err = check_preconditions(ctx.t, obj["metadata"], old)) return status_response(*err, keep);
  if (auto err = check_name(obj["metadata"], ctx.r)) return status_response(*err, keep);
  if (obj.value("apiVersion", "") != ctx.t.api_version() || obj.value("kind", "") != ctx.t.kind) {
    obj["apiVersion"] = ctx.t.api_version();
    obj["kind"] = ctx.t.kind;
  }
  if (auto err = prune_fields(ctx, obj, true)) return status_response(*err, keep);
  if (auto err = decode_typed_fields(ctx.t, obj)) return status_response(*err, keep);
  prepare_for_update(ctx, old, obj, ctx.r.sub);
  auto errors = validate_object(ctx.t, obj, false);
  if (!errors.empty()) return status_response(invalid_status(ctx.t.group, ctx.t.kind, ctx.r.name, errors), keep);
  auto managers = update_managers(old, obj, scope_for(ctx.t, ctx.r.sub),
                                  decode_managed_fields(old["metadata"].value("managedFields", json::array())),
                                  update_identity(ctx, "Update"));
  return commit_update(ctx, old, std::move(obj), managers, keep);
}

json delete_success(const ResourceType& t, const json& obj) {
  json details = json::object();
  details["name"] = obj["metadata"].value("name", "");
  if (!t.group.empty()) details["group"] = t.group;
  details["kind"] = t.plural;  // "Yes we set Kind field to resource." (06-delete-widget-w3)
  details["uid"] = obj["metadata"].value("uid", "");
  json s = json::object();
  s["kind"] = "Status";
  s["apiVersion"] = "v1";
  s["metadata"] = json::object();
  s["status"] = "Success";
  s["details"] = std::move(details);
  return s;
}

Response handle_delete(WriteContext& ctx, const Request& req, bool keep) {
  if (ctx.r.name.empty() || !ctx.r.sub.empty()) return status_response(method_not_allowed(), keep);
  json options = req.body().empty() ? json::object() : json::parse(req.body(), nullptr, false);
  if (options.is_discarded() || !options.is_object()) {
    return status_response(bad_request("the object provided is unrecognized (must be of type DeleteOptions)"), keep);
  }
  std::lock_guard lock(ctx.impl.mu);
  auto& store = ctx.impl.objects[ctx.r.resource];
  auto it = store.find(ctx.r.ns + "/" + ctx.r.name);
  if (it == store.end()) return status_response(not_found_status(ctx.t.group, ctx.t.plural, ctx.r.name), keep);
  json obj = it->second;
  if (options.contains("preconditions") && options["preconditions"].is_object()) {
    const json& pre = options["preconditions"];
    const json& meta = obj["metadata"];
    if (pre.contains("uid") && pre["uid"].is_string() && pre["uid"] != meta.value("uid", "")) {
      return status_response(
          conflict_status(ctx.t.group, ctx.t.plural, ctx.r.name,
                          "Precondition failed: UID in precondition: " + pre["uid"].get<std::string>() +
                              ", UID in object meta: " + meta.value("uid", "")),
          keep);
    }
    if (pre.contains("resourceVersion") && pre["resourceVersion"].is_string() &&
        pre["resourceVersion"] != meta.value("resourceVersion", "")) {
      return status_response(
          conflict_status(
              ctx.t.group, ctx.t.plural, ctx.r.name,
              "Precondition failed: ResourceVersion in precondition: " + pre["resourceVersion"].get<std::string>() +
                  ", ResourceVersion in object meta: " + meta.value("resourceVersion", "")),
          keep);
    }
  }
  if (ctx.dry_run) return json_response(200, ctx.t.return_deleted_object ? obj : delete_success(ctx.t, obj), keep);
  const bool finalizers = obj["metadata"].contains("finalizers") && !obj["metadata"]["finalizers"].empty();
  if (finalizers || ctx.t.return_deleted_object) {
    // Graceful deletion: deletionTimestamp first (MODIFIED). With finalizers the object stays until
    // they are removed; pods go at once, as with gracePeriodSeconds=0 (03-action4-delete-pod-grace0).
    if (!obj["metadata"].contains("deletionTimestamp")) {
      obj["metadata"]["deletionTimestamp"] = ctx.now;
      obj["metadata"]["deletionGracePeriodSeconds"] = 0;
      ctx.impl.change(ctx.r.resource, "MODIFIED", obj);
      obj = store[key_of(obj)];
    }
    if (finalizers) return json_response(200, obj, keep);
  }
  ctx.impl.change(ctx.r.resource, "DELETED", obj);
  return json_response(200, ctx.t.return_deleted_object ? obj : delete_success(ctx.t, obj), keep);
}

// Every non-watch request on a resource path. Never throws: anything unexpected is a 500 Status.
Response handle_resource(FakeApiServer::Impl& impl, const Route& r, const Request& req, const Query& query, bool keep) {
  try {
    const ResourceType& t = *r.type;
    if (!r.sub.empty() && !(r.sub == "status" && t.status_subresource) && !(r.sub == "log" && t.log_subresource)) {
      // pods/binding, deployments/scale, ...: not served by the fake.
      return status_response(resource_not_found(), keep);
    }
    const std::string accept(req[http::field::accept]);
    if (req.method() == http::verb::get) {
      if (r.sub == "log") return handle_logs(impl, r, query, keep);
      const std::string table = table_version(accept);
      if (!r.name.empty()) return handle_get(impl, r, query, table, keep);
      return handle_list(impl, r, query, table, metadata_view(accept, true), keep);
    }
    if (r.sub == "log") return status_response(method_not_allowed(), keep);
    WriteContext ctx{impl, r, t, query, {}, impl.now(), query.get("dryRun") == "All", {}};
    ctx.manager =
        query.has("fieldManager") ? query.get("fieldManager") : product_of(std::string(req[http::field::user_agent]));
    const std::string validation = query.get("fieldValidation");
    if (!validation.empty() && validation != "Ignore" && validation != "Warn" && validation != "Strict") {
      const char* options_kind = req.method() == http::verb::post    ? "CreateOptions"
                                 : req.method() == http::verb::patch ? "PatchOptions"
                                                                     : "UpdateOptions";
      FieldError e{FieldError::Type::kNotSupported, "fieldValidation", validation, std::nullopt,
                   "supported values: \"Ignore\", \"Strict\", \"Warn\""};
      return status_response(invalid_status("meta.k8s.io", options_kind, "", {e}), keep);
    }
    switch (req.method()) {
      case http::verb::post:
        return handle_create(ctx, req, keep);
      case http::verb::put:
        return handle_update(ctx, req, keep);
      case http::verb::patch:
        return handle_patch(ctx, req, keep);
      case http::verb::delete_:
        return handle_delete(ctx, req, keep);
      default:
        return status_response(method_not_allowed(), keep);
    }
  } catch (const std::exception& e) {
    return status_response(status_body(500, "InternalError", std::string("Internal error occurred: ") + e.what()),
                           keep);
  }
}

// A watch event as a Table with one row (kubectl get -w): only the first carries the column
// definitions (01-table-watch-widgets-rv0-stream).
json table_event(const FakeApiServer::Impl& impl, const ResourceType& t, const json& ev, const std::string& version,
                 const std::string& include_object, bool first) {
  if (!ev.contains("object") || ev["type"] == "BOOKMARK" || ev["type"] == "ERROR") return ev;
  try {
    json table = make_table(t, {ev["object"]}, version, include_object, impl.now_seconds());
    table["metadata"]["resourceVersion"] = ev["object"]["metadata"].value("resourceVersion", "");
    if (!first) table["columnDefinitions"] = nullptr;
    return watch_event(ev["type"].get<std::string>(), table);
  } catch (const std::exception&) {
    return ev;  // an object the printer cannot handle (set up by a test): sent as it is
  }
}

Response fault_response(const Fault& fault, const Route& r, bool keep) {
  if (fault.kind == FaultKind::kConflict) {
    return status_response(optimistic_lock_conflict(*r.type, r.name), keep);
  }
  if (fault.kind == FaultKind::kInvalid) {
    FieldError e{FieldError::Type::kInvalid, "spec", "scripted", std::nullopt, "scripted fault"};
    return status_response(invalid_status(r.type->group, r.kind, r.name, {e}), keep);
  }
  if (fault.kind == FaultKind::kContainerLogsGone) {
    return status_response(status_body(400, "BadRequest",
                                       "unable to retrieve container logs for "
                                       "containerd://5b2f0e7c1d9a3b8e4f6a0c2d7e9b1a3c5d7f9e0b2a4c6d8e0f1a3b5c7d9e1f3a"),
                           keep);
  }
  if (fault.kind == FaultKind::kApplyTypeError) {
    return status_response(
        status_body(500, "",
                    "failed to create typed patch object (" + r.ns + "/" + r.name + "; " + r.api_version +
                        ", Kind=" + r.kind + "): .status.scripted: field not declared in schema"),
        keep);
  }
  const int code = fault.kind == FaultKind::kTooManyRequests ? 429
                   : fault.kind == FaultKind::kUnavailable   ? 503
                   : fault.kind == FaultKind::kGone          ? 410
                                                             : 500;
  const std::string reason = code == 429   ? "TooManyRequests"
                             : code == 503 ? "ServiceUnavailable"
                             : code == 410 ? "Expired"
                                           : "InternalError";
  auto res = json_response(code, status_body(code, reason, "scripted fault: " + reason), keep);
  if (code == 429 || code == 503) res.set(http::field::retry_after, std::to_string(fault.retry_after_seconds));
  return res;
}

Response too_large(bool keep) {
  return json_response(413,
                       status_body(413, "RequestEntityTooLarge",
                                   "Request entity too large: limit is " + std::to_string(kMaxRequestBytes)),
                       keep);
}

}  // namespace

// Serves one connection: keep-alive requests until the client closes, or one watch.
asio::awaitable<void> serve(FakeApiServer::Impl& impl, Stream stream, std::uint16_t port) {
  auto& lowest = beast::get_lowest_layer(stream);
  lowest.expires_after(std::chrono::seconds(10));
  auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, kNoThrow);
  if (hec) co_return;  // e.g. the client rejected our certificate
  impl.connections++;
  beast::flat_buffer buffer;
  for (;;) {
    lowest.expires_after(std::chrono::seconds(60));
    http::request_parser<http::string_body> parser;
    parser.body_limit(kMaxReadBytes);
    auto [rec, rn] = co_await http::async_read(stream, buffer, parser, kNoThrow);
    const bool unread_body = rec == http::error::body_limit;
    if (rec && !unread_body) co_return;
    Request req = parser.release();
    const bool body_too_large = unread_body || req.body().size() > kMaxRequestBytes;
    const std::string target(req.target());
    const auto qpos = target.find('?');
    const std::string path = target.substr(0, qpos);
    const Query query =
        parse_query(qpos == std::string::npos ? std::string_view() : std::string_view(target).substr(qpos + 1));
    const bool keep = req.keep_alive() && !unread_body;
    const std::string method(req.method_string());
    const bool is_watch = query.flag("watch");

    auto respond = [&](Response res) -> asio::awaitable<bool> {
      if (impl.options.before_response) impl.options.before_response(method, target);
      impl.record(method, target, static_cast<int>(res.result_int()), is_watch);
      lowest.expires_after(std::chrono::seconds(30));
      auto [wec, wn] = co_await http::async_write(stream, res, kNoThrow);
      co_return !wec && keep;
    };

    // Authentication first, as the apiserver's filter chain does (05-bad-token-list-pods-401).
    if (std::string(req[http::field::authorization]) != "Bearer " + impl.accepted_token()) {
      Response unauthorized = json_response(401, status_body(401, "Unauthorized", "Unauthorized"), keep);
      if (!co_await respond(std::move(unauthorized))) co_return;
      continue;
    }
    if (body_too_large) {
      Response refused = too_large(keep);
      if (!co_await respond(std::move(refused))) co_return;  // closes when the body was not read
      continue;
    }
    if (auto d = discovery(impl, path, req, keep, port)) {
      Response dres = std::move(*d);
      if (!co_await respond(std::move(dres))) co_return;
      continue;
    }
    auto r = route(*impl.registry, path);
    if (r && !r->known_group) {
      Response missing = page_not_found(keep);
      if (!co_await respond(std::move(missing))) co_return;
      continue;
    }
    if (!r) {
      Response missing = json_response(404, resource_not_found(), keep);
      if (!co_await respond(std::move(missing))) co_return;
      continue;
    }
    if (auto fault = impl.take_fault(target, is_watch)) {
      if (fault->kind == FaultKind::kTooManyRequests || fault->kind == FaultKind::kUnavailable ||
          fault->kind == FaultKind::kInternalError || fault->kind == FaultKind::kConflict ||
          fault->kind == FaultKind::kInvalid || fault->kind == FaultKind::kApplyTypeError ||
          fault->kind == FaultKind::kContainerLogsGone || (fault->kind == FaultKind::kGone && !is_watch)) {
        Response scripted = fault_response(*fault, *r, keep);
        if (!co_await respond(std::move(scripted))) co_return;
        continue;
      }
      if (is_watch) {
        // Stream faults: header first, then the misbehaviour.
        impl.record(method, target, 200, true);
        http::response<http::empty_body> res{http::status::ok, 11};
        res.set(http::field::content_type, "application/json");
        res.chunked(true);
        http::response_serializer<http::empty_body> sr{res};
        auto [whec, whn] = co_await http::async_write_header(stream, sr, kNoThrow);
        if (whec) co_return;
        if (fault->kind == FaultKind::kGone) {
          std::string line = watch_line(expired_event("too old resource version"));
          auto chunk = http::make_chunk(asio::buffer(line));
          co_await asio::async_write(stream, chunk, kNoThrow);
          auto last_chunk = http::make_chunk_last();
          co_await asio::async_write(stream, last_chunk, kNoThrow);
          co_return;
        }
        if (fault->kind == FaultKind::kStall) {
          asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::minutes(10));
          impl.open_watches++;
          co_await t.async_wait(kNoThrow);
          impl.open_watches--;
          co_return;
        }
        if (fault->kind == FaultKind::kDropMidStream) {
          beast::get_lowest_layer(stream).socket().close();
          co_return;
        }
      }
    }

    if (!is_watch || req.method() != http::verb::get || !r->name.empty()) {
      Response res = handle_resource(impl, *r, req, query, keep);
      if (!co_await respond(std::move(res))) co_return;
      continue;
    }

    // ---- watch ---------------------------------------------------------------------------------
    const std::string rv_param = query.get("resourceVersion");
    std::uint64_t from = 0;
    bool initial = rv_param.empty() || rv_param == "0";
    if (!initial) {
      auto [ptr, ec] = std::from_chars(rv_param.data(), rv_param.data() + rv_param.size(), from);
      if (ec != std::errc() || ptr != rv_param.data() + rv_param.size()) {
        Response invalid = json_response(400, bad_request("invalid resource version \"" + rv_param + "\""), keep);
        if (!co_await respond(std::move(invalid))) co_return;
        continue;
      }
    }
    auto selector = parse_label_selector(query.get("labelSelector"));
    auto fields = parse_field_selector(query.get("fieldSelector"), plural_of(*r));
    if (!selector || !fields) {
      Response invalid =
          json_response(400, bad_request(selector ? fields.error().message : selector.error().message), keep);
      if (!co_await respond(std::move(invalid))) co_return;
      continue;
    }
    // Both selectors as one filter, as the watch cache applies them (storage.SelectionPredicate).
    const bool filtered = !selector->requirements.empty() || !fields->requirements.empty();
    const std::function<bool(const json&)> matches = [&](const json& o) {
      return selector->matches(o) && fields->matches(o);
    };
    const bool bookmarks = query.flag("allowWatchBookmarks");
    int timeout_s = 1800;
    if (auto t = query.get("timeoutSeconds"); !t.empty()) std::from_chars(t.data(), t.data() + t.size(), timeout_s);
    const std::string table = table_version(std::string(req[http::field::accept]));
    // A metadata watch sends each object, bookmarks included, as PartialObjectMetadata
    // (tests/data/k8s/12-watch-replicasets-metadata-stream.events.jsonl).
    const bool metadata_only = !metadata_view(std::string(req[http::field::accept]), false).as.empty();
    const std::string include_object = query.get("includeObject");
    bool first_table_event = true;
    impl.record(method, target, 200, true);
    http::response<http::empty_body> res{http::status::ok, 11};
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-cache, private");
    res.chunked(true);
    http::response_serializer<http::empty_body> sr{res};
    lowest.expires_never();
    auto [whec, whn] = co_await http::async_write_header(stream, sr, kNoThrow);
    if (whec) co_return;
    impl.open_watches++;
    struct Closer {
      std::atomic<std::size_t>& n;
      ~Closer() { n--; }
    } closer{impl.open_watches};
    auto send = [&](const json& ev) -> asio::awaitable<bool> {
      std::string line;
      if (metadata_only && ev.contains("object") && ev.value("type", "") != "ERROR") {
        json partial = partial_metadata(ev["object"]);
        if (ev.value("type", "") == "BOOKMARK") partial["metadata"]["creationTimestamp"] = nullptr;
        line = watch_line(watch_event(ev["type"].get<std::string>(), partial));
      } else if (table.empty()) {
        line = watch_line(ev);
      } else {
        line = watch_line(table_event(impl, *r->type, ev, table, include_object, first_table_event));
        if (ev.value("type", "") != "BOOKMARK" && ev.value("type", "") != "ERROR") first_table_event = false;
      }
      auto chunk = http::make_chunk(asio::buffer(line));
      auto [ec, n] = co_await asio::async_write(stream, chunk, kNoThrow);
      co_return !ec;
    };
    std::uint64_t last = from;
    std::vector<json> pending;
    {
      std::lock_guard lock(impl.mu);
      if (!initial && from < impl.compacted_rv) {
        pending.push_back(
            expired_event("too old resource version: " + std::to_string(from) + " (" + std::to_string(impl.rv) + ")"));
        last = UINT64_MAX;
      } else if (initial) {
        for (const auto& [k, obj] : impl.objects[r->resource]) {
          if ((r->ns.empty() || obj["metadata"].value("namespace", "") == r->ns) && matches(obj))
            pending.push_back(watch_event("ADDED", obj));
        }
        last = impl.rv;
      }
    }
    for (const auto& ev : pending) {
      if (!co_await send(ev)) co_return;
    }
    if (last == UINT64_MAX) {
      auto last_chunk = http::make_chunk_last();
      co_await asio::async_write(stream, last_chunk, kNoThrow);
      co_return;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    auto next_bookmark = std::chrono::steady_clock::now() + impl.options.bookmark_interval;
    const std::uint64_t generation = impl.close_generation.load();
    auto waiter = std::make_shared<WatchWaiter>(co_await asio::this_coro::executor);
    {
      std::lock_guard lock(impl.waiters_mu);
      impl.waiters.insert(waiter);
    }
    struct Unregister {
      FakeApiServer::Impl& impl;
      std::shared_ptr<WatchWaiter> w;
      ~Unregister() {
        std::lock_guard lock(impl.waiters_mu);
        impl.waiters.erase(w);
      }
    } unregister{impl, waiter};
    for (;;) {
      std::vector<json> events;
      std::uint64_t current = 0;
      bool expired = false;
      {
        std::lock_guard lock(impl.mu);
        waiter->notified = false;
        current = impl.rv;
        if (last < impl.compacted_rv) {
          expired = true;
        } else {
          // The history is in resourceVersion order: start after what this watch has sent.
          const auto first = std::partition_point(impl.history.begin(), impl.history.end(),
                                                  [&](const HistoryEntry& h) { return h.rv <= last; });
          for (auto i = static_cast<std::size_t>(first - impl.history.begin()); i < impl.history.size(); ++i) {
            const HistoryEntry& h = impl.history[i];
            if (h.resource != r->resource) continue;
            if (!r->ns.empty() && h.object["metadata"].value("namespace", "") != r->ns) continue;
            if (!filtered) {
              events.push_back(watch_event(h.type, h.object));
              continue;
            }
            // With a selector the watch cache compares the object before and after the change
            // (k8s.io/apiserver/pkg/storage/cacher/cache_watcher.go, convertToWatchEvent): one
            // that starts matching arrives as ADDED, one that stops matching as DELETED.
            const bool now = h.type != "DELETED" && matches(h.object);
            const bool before = previously_matched(impl.history, i, matches);
            if (h.type == "DELETED") {
              if (before || matches(h.object)) events.push_back(watch_event("DELETED", h.object));
            } else if (now && !before) {
              events.push_back(watch_event("ADDED", h.object));
            } else if (now) {
              events.push_back(watch_event(h.type, h.object));
            } else if (before) {
              events.push_back(watch_event("DELETED", h.object));
            }
          }
        }
      }
      if (expired) {
        const json gone = expired_event("too old resource version");
        co_await send(gone);
        break;
      }
      for (const auto& ev : events) {
        if (!co_await send(ev)) co_return;
        last = std::stoull(ev["object"]["metadata"]["resourceVersion"].get<std::string>());
      }
      if (last < current) last = current;
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline || impl.close_generation.load() != generation) break;
      if (bookmarks && now >= next_bookmark) {
        const json bm = bookmark_event(r->kind, r->api_version, last);
        if (!co_await send(bm)) co_return;
        next_bookmark = now + impl.options.bookmark_interval;
      }
      {
        std::lock_guard lock(impl.mu);
        if (waiter->notified) continue;  // changed while we were sending: look again first
      }
      waiter->timer.expires_at(bookmarks ? std::min(deadline, next_bookmark) : deadline);
      co_await waiter->timer.async_wait(kNoThrow);
    }
    auto last_chunk = http::make_chunk_last();
    co_await asio::async_write(stream, last_chunk, kNoThrow);
    co_return;  // the apiserver closes the connection after a watch
  }
}

asio::awaitable<void> accept_loop(FakeApiServer::Impl& impl, std::uint16_t port) {
  for (;;) {
    auto [ec, socket] = co_await impl.acceptor.async_accept(kNoThrow);
    if (ec) co_return;
    Stream stream(std::move(socket), impl.tls);
    asio::co_spawn(impl.ioc, serve(impl, std::move(stream), port), asio::detached);
  }
}

FakeApiServer::FakeApiServer(FakeOptions options) : options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  impl_->self = this;
  impl_->options = options_;
  impl_->registry = std::make_unique<ResourceRegistry>(load_crd(options_.crd_path));
  impl_->started = impl_->now();
  CertBundle served = make_cert_bundle(options_.subject_alt_names);
  trusted_ca_pem_ = served.ca_pem;
  if (options_.serve_untrusted_certificate) served = make_cert_bundle(options_.subject_alt_names, "some-other-ca");
  impl_->tls.use_certificate_chain(asio::buffer(served.cert_pem));
  impl_->tls.use_private_key(asio::buffer(served.key_pem), ssl::context::pem);
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  port_ = impl_->acceptor.local_endpoint().port();
  asio::co_spawn(impl_->ioc, accept_loop(*impl_, port_), asio::detached);
  thread_ = std::thread([this] { impl_->ioc.run(); });
}

FakeApiServer::~FakeApiServer() {
  impl_->ioc.stop();
  thread_.join();
}

std::string FakeApiServer::write_kubeconfig(const std::string& path) const {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot write the kubeconfig " + path);
  const std::string ca_b64 = base64_encode(trusted_ca_pem_, false);
  out << "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
      << "clusters:\n- name: fake\n  cluster:\n    server: " << url() << "\n    certificate-authority-data: " << ca_b64
      << "\n"
      << "contexts:\n- name: fake\n  context: {cluster: fake, user: fake}\n"
      << "users:\n- name: fake\n  user:\n";
  if (!options_.token_file.empty()) {
    out << "    tokenFile: " << options_.token_file << "\n";
  } else {
    out << "    token: " << options_.token << "\n";
  }
  out.close();
  if (!out) throw std::runtime_error("cannot write the kubeconfig " + path);
  // It holds the bearer token: owner-only, as kubectl writes ~/.kube/config.
  std::error_code ec;
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::replace, ec);
  return path;
}

void FakeApiServer::apply_pod(json pod) {
  std::lock_guard lock(impl_->mu);
  const bool exists = impl_->objects["pods"].count(key_of(pod)) > 0;
  impl_->change("pods", exists ? "MODIFIED" : "ADDED", std::move(pod));
}

void FakeApiServer::delete_pod(const std::string& ns, const std::string& name) {
  delete_object("pods", ns, name);
}

void FakeApiServer::delete_object(const std::string& resource, const std::string& ns, const std::string& name) {
  std::lock_guard lock(impl_->mu);
  auto& store = impl_->objects[resource];
  auto it = store.find(ns + "/" + name);
  if (it == store.end()) return;
  json obj = it->second;
  impl_->change(resource, "DELETED", std::move(obj));
}

void FakeApiServer::add_event(json event) {
  std::lock_guard lock(impl_->mu);
  impl_->change("events", "ADDED", std::move(event));
}

void FakeApiServer::put_object(const std::string& api_prefix, const std::string& plural, json object) {
  std::lock_guard lock(impl_->mu);
  const std::string group = api_prefix.rfind("/apis/", 0) == 0 ? api_prefix.substr(6) : "";
  impl_->change(group.empty() ? plural : group + "/" + plural, "ADDED", std::move(object));
}

void FakeApiServer::add_object(json object) {
  if (!object.is_object()) throw std::invalid_argument("not a Kubernetes object: " + object.dump());
  const ResourceType* t = impl_->registry->find_kind(object.value("apiVersion", ""), object.value("kind", ""));
  if (t == nullptr) {
    throw std::invalid_argument("the fake does not serve " + object.value("apiVersion", "") + " " +
                                object.value("kind", ""));
  }
  json& meta = object["metadata"];
  if (!meta.is_object() || meta.value("name", "").empty() || (t->namespaced && meta.value("namespace", "").empty())) {
    throw std::invalid_argument(t->kind + " without metadata.name/namespace");
  }
  {
    std::lock_guard lock(impl_->mu);
    if (!meta.contains("uid")) meta["uid"] = impl_->new_uid();
  }
  if (!meta.contains("creationTimestamp")) meta["creationTimestamp"] = impl_->now();
  if (t->has_generation && !meta.contains("generation")) meta["generation"] = 1;
  std::vector<FieldError> errors = validate_object(*t, object, true);
  if (!errors.empty()) {
    throw std::invalid_argument(invalid_status(t->group, t->kind, meta.value("name", ""), errors)["message"]);
  }
  if (t->kind == "Pod") {
    apply_pod(std::move(object));
    return;
  }
  std::lock_guard lock(impl_->mu);
  const bool exists = impl_->objects[t->store_key()].count(key_of(object)) > 0;
  impl_->change(t->store_key(), exists ? "MODIFIED" : "ADDED", std::move(object));
}

std::vector<json> FakeApiServer::list_objects(const std::string& resource, const std::string& ns) const {
  std::lock_guard lock(impl_->mu);
  std::vector<json> out;
  auto store = impl_->objects.find(resource);
  if (store == impl_->objects.end()) return out;
  for (const auto& [key, obj] : store->second) {
    if (ns.empty() || obj["metadata"].value("namespace", "") == ns) out.push_back(obj);
  }
  return out;
}

std::optional<json> FakeApiServer::table(const std::string& api_version, const std::string& plural,
                                         const std::string& ns) const {
  const ResourceType* type = impl_->registry->find(api_version, plural);
  if (type == nullptr) return std::nullopt;
  std::vector<json> objects = list_objects(type->store_key(), ns);
  return make_table(*type, objects, "v1", "Metadata", impl_->now_seconds());
}

std::optional<json> FakeApiServer::get_object(const std::string& resource, const std::string& ns,
                                              const std::string& name) const {
  std::lock_guard lock(impl_->mu);
  auto store = impl_->objects.find(resource);
  if (store == impl_->objects.end()) return std::nullopt;
  auto it = store->second.find(ns + "/" + name);
  if (it == store->second.end()) return std::nullopt;
  return it->second;
}

void FakeApiServer::set_logs(const std::string& ns, const std::string& pod, const std::string& container, bool previous,
                             std::string text) {
  std::lock_guard lock(impl_->mu);
  impl_->logs[ns + "/" + pod + "/" + container + (previous ? "/previous" : "/current")] = std::move(text);
}

void FakeApiServer::set_namespace_state(const std::string& ns, NamespaceState state) {
  std::lock_guard lock(impl_->mu);
  if (state == NamespaceState::kActive) {
    impl_->namespace_states.erase(ns);
    return;
  }
  impl_->namespace_states[ns] = state;
  if (state != NamespaceState::kGone) return;
  for (auto& [resource, store] : impl_->objects) {
    if (resource == "namespaces") continue;
    std::vector<json> doomed;
    for (const auto& [key, obj] : store) {
      if (key.rfind(ns + "/", 0) == 0) doomed.push_back(obj);
    }
    for (auto& obj : doomed) impl_->change(resource, "DELETED", std::move(obj));
  }
}

void FakeApiServer::compact() {
  std::lock_guard lock(impl_->mu);
  impl_->compacted_rv = impl_->rv;
  impl_->history.clear();
  impl_->wake_watches();  // a watch behind the compaction gets its 410 now
}

void FakeApiServer::inject(Fault fault) {
  std::lock_guard lock(impl_->mu);
  impl_->faults.push_back(std::move(fault));
}

void FakeApiServer::close_watches() {
  impl_->close_generation++;
  std::lock_guard lock(impl_->mu);
  impl_->wake_watches();
}

std::size_t FakeApiServer::open_watches() const {
  return impl_->open_watches.load();
}
std::size_t FakeApiServer::connections() const {
  return impl_->connections.load();
}

std::vector<RecordedRequest> FakeApiServer::requests() const {
  std::lock_guard lock(impl_->mu);
  return impl_->recorded;
}

std::uint64_t FakeApiServer::resource_version() const {
  std::lock_guard lock(impl_->mu);
  return impl_->rv;
}

json make_pod(const std::string& ns, const std::string& name, const json& container, const json& owner) {
  json pod = {{"kind", "Pod"},
              {"apiVersion", "v1"},
              {"metadata",
               {{"name", name},
                {"namespace", ns},
                {"uid", "uid-" + ns + "-" + name},
                {"creationTimestamp", "2026-11-22T03:00:00Z"}}},
              {"spec",
               {{"containers", json::array({container})},
                {"restartPolicy", "Always"},
                {"terminationGracePeriodSeconds", 30},
                {"dnsPolicy", "ClusterFirst"},
                {"serviceAccountName", "default"},
                {"nodeName", "fake-node-1"},
                {"enableServiceLinks", true}}},
              {"status", {{"phase", "Running"}, {"containerStatuses", json::array()}}}};
  if (!owner.is_null()) pod["metadata"]["ownerReferences"] = json::array({owner});
  return pod;
}

}  // namespace crashdiag::fake
