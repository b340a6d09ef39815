#include "fake_apiserver.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <fstream>
#include <sstream>

#include "crashdiag/core/kubeconfig.hpp"

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

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
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

// k8s.io/apimachinery/pkg/apis/meta/v1 Status, as the apiserver writes it.
json status_body(int code, const std::string& reason, const std::string& message, json details = nullptr) {
  json s = {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
            {"status", "Failure"}, {"message", message}, {"reason", reason},
            {"code", code}};
  if (!details.is_null()) s["details"] = details;
  return s;
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

json name_details(const std::string& name, const std::string& kind) {
  json d = json::object();
  d["name"] = name;
  d["kind"] = kind;
  return d;
}

}  // namespace

struct HistoryEntry {
  std::uint64_t rv;
  std::string resource;  // "pods", "events"
  std::string type;
  json object;
};

struct FakeApiServer::Impl {
  FakeApiServer* self = nullptr;
  FakeOptions options;
  std::atomic<std::size_t> open_watches{0};
  std::atomic<std::size_t> connections{0};
  asio::io_context ioc{1};
  ssl::context tls{ssl::context::tls_server};
  tcp::acceptor acceptor{ioc};
  mutable std::mutex mu;
  std::uint64_t rv = 100;
  std::uint64_t compacted_rv = 0;
  std::map<std::string, std::map<std::string, json>> objects;  // resource path key -> ns/name -> object
  std::vector<HistoryEntry> history;
  std::map<std::string, std::string> logs;  // ns/pod/container/previous|current
  std::vector<Fault> faults;
  std::vector<RecordedRequest> recorded;
  std::atomic<std::uint64_t> close_generation{0};

  std::string accepted_token() const {
    if (options.token_file.empty()) return options.token;
    std::ifstream in(options.token_file);
    std::ostringstream s;
    s << in.rdbuf();
    std::string t = s.str();
    while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
    return t;
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
    ++rv;
    object["metadata"]["resourceVersion"] = std::to_string(rv);
    auto& store = objects[resource];
    if (type == "DELETED") {
      store.erase(key_of(object));
    } else {
      store[key_of(object)] = object;
    }
    history.push_back({rv, resource, type, std::move(object)});
  }
};

namespace {

using Response = http::response<http::string_body>;

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
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

struct Query {
  std::map<std::string, std::string> params;
  [[nodiscard]] std::string get(const std::string& k) const {
    auto it = params.find(k);
    return it == params.end() ? "" : it->second;
  }
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

}  // namespace

namespace {

// Which resource a path names: {resource key in Impl::objects, namespace or "", name or "",
// subresource or ""}; nullopt for paths that do not exist.
struct Route {
  std::string resource;  // "pods", "events", "apis/apps/v1/replicasets"...
  std::string kind;      // "Pod" / list kind prefix
  std::string api_version;
  std::string ns;
  std::string name;
  std::string sub;
  bool known_group = true;
};

std::optional<Route> route(const std::string& path) {
  auto parts = split(path, '/');
  // parts[0] == "" (leading slash)
  if (parts.size() < 2) return std::nullopt;
  Route r;
  std::size_t i = 0;
  if (parts[1] == "api" && parts.size() >= 3 && parts[2] == "v1") {
    r.api_version = "v1";
    i = 3;
  } else if (parts[1] == "apis" && parts.size() >= 4 && (parts[2] == "apps" || parts[2] == "batch") &&
             parts[3] == "v1") {
    r.api_version = parts[2] + "/v1";
    i = 4;
  } else if (parts[1] == "apis" && parts.size() >= 4 && parts[2] == "crashdiag.io" && parts[3] == "v1alpha1") {
    r.api_version = "crashdiag.io/v1alpha1";  // the RootCauseAnalysis custom resource
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
  const std::string plural = parts[i];
  static const std::map<std::string, std::pair<std::string, std::string>> kKinds = {
      {"pods", {"v1", "Pod"}},
      {"events", {"v1", "Event"}},
      {"replicasets", {"apps/v1", "ReplicaSet"}},
      {"deployments", {"apps/v1", "Deployment"}},
      {"statefulsets", {"apps/v1", "StatefulSet"}},
      {"daemonsets", {"apps/v1", "DaemonSet"}},
      {"jobs", {"batch/v1", "Job"}},
      {"cronjobs", {"batch/v1", "CronJob"}},
      {"rootcauseanalyses", {"crashdiag.io/v1alpha1", "RootCauseAnalysis"}}};
  auto k = kKinds.find(plural);
  if (k == kKinds.end() || k->second.first != r.api_version) return std::nullopt;
  r.kind = k->second.second;
  r.resource = r.api_version == "v1" ? plural : r.api_version + "/" + plural;
  if (i + 1 < parts.size()) r.name = parts[i + 1];
  if (i + 2 < parts.size()) r.sub = parts[i + 2];
  if (i + 3 < parts.size()) return std::nullopt;
  return r;
}

}  // namespace

// POST (create) and PATCH (JSON merge patch) as the apiserver answers them: 201 with the stored
// object, 409 AlreadyExists, 400 for a body that is not JSON or names another namespace, 404 for
// a missing object, 415 for patch types a resource does not support (strategic merge patch on a
// custom resource, 05-strategic-merge-patch-widget-415). Not a coroutine: no co_await inside.
Response handle_write(FakeApiServer::Impl& impl, const Route& r, const http::request<http::string_body>& req,
                      bool keep) {
  const std::string plural = r.resource.substr(r.resource.rfind('/') + 1);
  json body = json::parse(req.body(), nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return json_response(
        400,
        status_body(
            400, "BadRequest",
            "the body of the request was in an unknown format - accepted media types include: application/json"),
        keep);
  }
  std::lock_guard lock(impl.mu);
  auto& store = impl.objects[r.resource];
  if (req.method() == http::verb::post) {
    if (!r.name.empty()) {
      return json_response(
          405, status_body(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"),
          keep);
    }
    const json meta = body.contains("metadata") && body["metadata"].is_object() ? body["metadata"] : json::object();
    const std::string name = meta.value("name", "");
    const std::string ns = meta.value("namespace", r.ns);
    if (ns != r.ns) {
      return json_response(
          400,
          status_body(400, "BadRequest",
                      "the namespace of the provided object does not match the namespace sent on the request"),
          keep);
    }
    if (name.empty()) {
      return json_response(
          422,
          status_body(422, "Invalid",
                      plural + " \"\" is invalid: metadata.name: Required value: name or generateName is required"),
          keep);
    }
    if (store.count(ns + "/" + name) > 0) {
      return json_response(
          409,
          status_body(409, "AlreadyExists", plural + " \"" + name + "\" already exists", name_details(name, plural)),
          keep);
    }
    body["metadata"]["namespace"] = ns;
    body["kind"] = r.kind;
    body["apiVersion"] = r.api_version;
    body["metadata"]["uid"] = "uid-" + ns + "-" + name;
    body["metadata"]["creationTimestamp"] = "2026-11-22T03:00:00Z";
    impl.change(r.resource, "ADDED", body);
    return json_response(201, store[ns + "/" + name], keep);
  }
  const std::string content_type(req[http::field::content_type]);
  const bool builtin = r.api_version == "v1" || r.api_version == "apps/v1" || r.api_version == "batch/v1";
  if (content_type != "application/merge-patch+json" &&
      !(builtin && content_type == "application/strategic-merge-patch+json")) {
    return json_response(
        415,
        status_body(415, "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types include: "
                    "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"),
        keep);
  }
  auto it = store.find(r.ns + "/" + r.name);
  if (it == store.end()) {
    return json_response(
        404, status_body(404, "NotFound", plural + " \"" + r.name + "\" not found", name_details(r.name, plural)),
        keep);
  }
  json merged = it->second;
  merged.merge_patch(body);
  impl.change(r.resource, "MODIFIED", merged);
  return json_response(200, store[r.ns + "/" + r.name], keep);
}

// Serves one connection: keep-alive requests until the client closes, or one watch.
asio::awaitable<void> serve(FakeApiServer::Impl& impl, Stream stream) {
  auto& lowest = beast::get_lowest_layer(stream);
  lowest.expires_after(std::chrono::seconds(10));
  auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, kNoThrow);
  if (hec) co_return;  // e.g. the client rejected our certificate
  impl.connections++;
  beast::flat_buffer buffer;
  for (;;) {
    lowest.expires_after(std::chrono::seconds(60));
    http::request<http::string_body> req;
    auto [rec, rn] = co_await http::async_read(stream, buffer, req, kNoThrow);
    if (rec) co_return;
    const std::string target(req.target());
    const auto qpos = target.find('?');
    const std::string path = target.substr(0, qpos);
    const Query query =
        parse_query(qpos == std::string::npos ? std::string_view() : std::string_view(target).substr(qpos + 1));
    const bool keep = req.keep_alive();
    const std::string method(req.method_string());
    const bool is_watch = query.flag("watch");

    auto respond = [&](Response res) -> asio::awaitable<bool> {
      impl.record(method, target, static_cast<int>(res.result_int()), is_watch);
      lowest.expires_after(std::chrono::seconds(30));
      auto [wec, wn] = co_await http::async_write(stream, res, kNoThrow);
      co_return !wec && keep;
    };

    // Authentication first, as the apiserver's filter chain does (05-bad-token-list-pods-401).
    if (std::string(req[http::field::authorization]) != "Bearer " + impl.accepted_token()) {
      if (!co_await respond(json_response(401, status_body(401, "Unauthorized", "Unauthorized"), keep))) co_return;
      continue;
    }
    auto r = route(path);
    if (r && !r->known_group) {
      if (!co_await respond(text_response(404, "404 page not found\n", keep))) co_return;
      continue;
    }
    const bool write = req.method() == http::verb::post || req.method() == http::verb::patch;
    if (!r || (req.method() != http::verb::get && !write)) {
      if (!co_await respond(json_response(
              404, status_body(404, "NotFound", "the server could not find the requested resource"), keep)))
        co_return;
      continue;
    }
    if (auto fault = impl.take_fault(target, is_watch)) {
      if (fault->kind == FaultKind::kTooManyRequests || fault->kind == FaultKind::kUnavailable ||
          fault->kind == FaultKind::kInternalError || (fault->kind == FaultKind::kGone && !is_watch)) {
        const int code = fault->kind == FaultKind::kTooManyRequests ? 429
                         : fault->kind == FaultKind::kUnavailable   ? 503
                         : fault->kind == FaultKind::kGone          ? 410
                                                                    : 500;
        const std::string reason = code == 429   ? "TooManyRequests"
                                   : code == 503 ? "ServiceUnavailable"
                                   : code == 410 ? "Expired"
                                                 : "InternalError";
        auto res = json_response(code, status_body(code, reason, "scripted fault: " + reason), keep);
        if (code == 429 || code == 503) res.set(http::field::retry_after, std::to_string(fault->retry_after_seconds));
        if (!co_await respond(std::move(res))) co_return;
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
          std::string line = expired_event("too old resource version").dump() + "\n";
          co_await asio::async_write(stream, http::make_chunk(asio::buffer(line)), kNoThrow);
          co_await asio::async_write(stream, http::make_chunk_last(), kNoThrow);
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

    // ---- create and merge-patch ----------------------------------------------------------------
    if (write) {
      auto res = handle_write(impl, *r, req, keep);
      if (!co_await respond(std::move(res))) co_return;
      continue;
    }

    // ---- logs -------------------------------------------------------------------------------
    if (r->resource == "pods" && r->sub == "log") {
      json pod;
      {
        std::lock_guard lock(impl.mu);
        auto& pods = impl.objects["pods"];
        auto it = pods.find(r->ns + "/" + r->name);
        if (it != pods.end()) pod = it->second;
      }
      if (pod.is_null()) {
        auto res = json_response(
            404, status_body(404, "NotFound", "pods \"" + r->name + "\" not found", name_details(r->name, "pods")),
            keep);
        if (!co_await respond(std::move(res))) co_return;
        continue;
      }
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
        const std::string msg = container.empty() ? "a container name must be specified for pod " + r->name +
                                                        ", choose one of: [" + choices + "]"
                                                  : "container " + container + " is not valid for pod " + r->name;
        if (!co_await respond(json_response(400, status_body(400, "BadRequest", msg), keep))) co_return;
        continue;
      }
      const bool previous = query.flag("previous");
      std::optional<std::string> text;
      {
        std::lock_guard lock(impl.mu);
        auto it = impl.logs.find(r->ns + "/" + r->name + "/" + container + (previous ? "/previous" : "/current"));
        if (it != impl.logs.end()) text = it->second;
      }
      if (!text && previous) {
        // The kubelet's answer when there is no previous instance (08-pod-log fixtures).
        const std::string msg =
            "previous terminated container \"" + container + "\" in pod \"" + r->name + "\" not found";
        if (!co_await respond(json_response(400, status_body(400, "BadRequest", msg), keep))) co_return;
        continue;
      }
      std::string body = text.value_or("");
      if (auto tail = query.get("tailLines"); !tail.empty()) {
        const long n = std::stol(tail);
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
        const auto n = static_cast<std::size_t>(std::stoul(limit));
        if (body.size() > n) body.resize(n);
      }
      if (!co_await respond(text_response(200, std::move(body), keep))) co_return;
      continue;
    }

    // ---- get one object ------------------------------------------------------------------------
    if (!r->name.empty()) {
      json obj;
      {
        std::lock_guard lock(impl.mu);
        auto& store = impl.objects[r->resource];
        auto it = store.find(r->ns + "/" + r->name);
        if (it != store.end()) obj = it->second;
      }
      if (obj.is_null()) {
        std::string plural = r->resource.substr(r->resource.rfind('/') + 1);
        auto res = json_response(
            404, status_body(404, "NotFound", plural + " \"" + r->name + "\" not found", name_details(r->name, plural)),
            keep);
        if (!co_await respond(std::move(res))) co_return;
        continue;
      }
      if (!co_await respond(json_response(200, obj, keep))) co_return;
      continue;
    }

    // ---- watch ---------------------------------------------------------------------------------
    if (is_watch) {
      const std::string rv_param = query.get("resourceVersion");
      std::uint64_t from = 0;
      bool initial = rv_param.empty() || rv_param == "0";
      if (!initial) {
        auto [ptr, ec] = std::from_chars(rv_param.data(), rv_param.data() + rv_param.size(), from);
        if (ec != std::errc() || ptr != rv_param.data() + rv_param.size()) {
          if (!co_await respond(json_response(
                  400, status_body(400, "BadRequest", "invalid resource version \"" + rv_param + "\""), keep)))
            co_return;
          continue;
        }
      }
      const bool bookmarks = query.flag("allowWatchBookmarks");
      int timeout_s = 1800;
      if (auto t = query.get("timeoutSeconds"); !t.empty()) timeout_s = std::stoi(t);
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
        std::string line = ev.dump() + "\n";
        auto [ec, n] = co_await asio::async_write(stream, http::make_chunk(asio::buffer(line)), kNoThrow);
        co_return !ec;
      };
      std::uint64_t last = from;
      std::vector<json> pending;
      {
        std::lock_guard lock(impl.mu);
        if (!initial && from < impl.compacted_rv) {
          pending.push_back(expired_event("too old resource version: " + std::to_string(from) + " (" +
                                          std::to_string(impl.rv) + ")"));
          last = UINT64_MAX;
        } else if (initial) {
          for (const auto& [k, obj] : impl.objects[r->resource]) {
            if (r->ns.empty() || obj["metadata"].value("namespace", "") == r->ns)
              pending.push_back(watch_event("ADDED", obj));
          }
          last = impl.rv;
        }
      }
      for (const auto& ev : pending) {
        if (!co_await send(ev)) co_return;
      }
      if (last == UINT64_MAX) {
        co_await asio::async_write(stream, http::make_chunk_last(), kNoThrow);
        co_return;
      }
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
      auto next_bookmark = std::chrono::steady_clock::now() + impl.options.bookmark_interval;
      const std::uint64_t generation = impl.close_generation.load();
      asio::steady_timer tick(co_await asio::this_coro::executor);
      for (;;) {
        std::vector<json> events;
        std::uint64_t current = 0;
        bool expired = false;
        {
          std::lock_guard lock(impl.mu);
          current = impl.rv;
          if (last < impl.compacted_rv) {
            expired = true;
          } else {
            for (const auto& h : impl.history) {
              if (h.rv <= last || h.resource != r->resource) continue;
              if (!r->ns.empty() && h.object["metadata"].value("namespace", "") != r->ns) continue;
              events.push_back(watch_event(h.type, h.object));
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
        tick.expires_after(std::chrono::milliseconds(10));
        co_await tick.async_wait(kNoThrow);
      }
      co_await asio::async_write(stream, http::make_chunk_last(), kNoThrow);
      co_return;  // the apiserver closes the connection after a watch
    }

    // ---- list ----------------------------------------------------------------------------------
    std::uint64_t snapshot_rv = 0;
    std::string start_after;
    if (auto cont = query.get("continue"); !cont.empty()) {
      auto decoded = base64url_decode(cont);
      json token = decoded ? json::parse(*decoded, nullptr, false) : json();
      if (!decoded || token.is_discarded() || !token.is_object() || token.value("v", "") != "meta.k8s.io/v1" ||
          !token.contains("rv") || !token.contains("start")) {
        if (!co_await respond(json_response(400, status_body(400, "BadRequest", "invalid continue token"), keep)))
          co_return;
        continue;
      }
      snapshot_rv = token["rv"].get<std::uint64_t>();
      start_after = token["start"].get<std::string>();
      bool gone = false;
      {
        std::lock_guard lock(impl.mu);
        gone = snapshot_rv < impl.compacted_rv;
      }
      if (gone) {
        if (!co_await respond(json_response(
                410,
                status_body(410, "Expired",
                            "The provided continue parameter is too old to display a consistent list result."),
                keep)))
          co_return;
        continue;
      }
    }
    std::size_t limit = 0;
    if (auto l = query.get("limit"); !l.empty()) limit = std::stoul(l);
    json items = json::array();
    std::string next_start;
    std::size_t remaining = 0;
    {
      std::lock_guard lock(impl.mu);
      if (snapshot_rv == 0) snapshot_rv = impl.rv;
      for (const auto& [k, obj] : impl.objects[r->resource]) {
        if (!r->ns.empty() && obj["metadata"].value("namespace", "") != r->ns) continue;
        if (!start_after.empty() && k <= start_after) continue;
        if (limit > 0 && items.size() == limit) {
          ++remaining;
          continue;
        }
        json item = obj;
        item.erase("kind");  // list items carry no kind/apiVersion (02-list-pods-limit3-page1)
        item.erase("apiVersion");
        items.push_back(std::move(item));
        next_start = k;
      }
    }
    json list = list_body(r->kind + "List", r->api_version, snapshot_rv, std::move(items));
    if (remaining > 0) {
      list["metadata"]["continue"] = continue_token(snapshot_rv, next_start);
      list["metadata"]["remainingItemCount"] = remaining;
    }
    if (!co_await respond(json_response(200, list, keep))) co_return;
  }
}

asio::awaitable<void> accept_loop(FakeApiServer::Impl& impl) {
  for (;;) {
    auto [ec, socket] = co_await impl.acceptor.async_accept(kNoThrow);
    if (ec) co_return;
    Stream stream(std::move(socket), impl.tls);
    asio::co_spawn(impl.ioc, serve(impl, std::move(stream)), asio::detached);
  }
}

FakeApiServer::FakeApiServer(FakeOptions options) : options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  impl_->self = this;
  impl_->options = options_;
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
  asio::co_spawn(impl_->ioc, accept_loop(*impl_), asio::detached);
  thread_ = std::thread([this] { impl_->ioc.run(); });
}

FakeApiServer::~FakeApiServer() {
  impl_->ioc.stop();
  thread_.join();
}

std::string FakeApiServer::write_kubeconfig(const std::string& path) const {
  std::ofstream out(path);
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

void FakeApiServer::set_logs(const std::string& ns, const std::string& pod, const std::string& container, bool previous,
                             std::string text) {
  std::lock_guard lock(impl_->mu);
  impl_->logs[ns + "/" + pod + "/" + container + (previous ? "/previous" : "/current")] = std::move(text);
}

void FakeApiServer::compact() {
  std::lock_guard lock(impl_->mu);
  impl_->compacted_rv = impl_->rv;
  impl_->history.clear();
}

void FakeApiServer::inject(Fault fault) {
  std::lock_guard lock(impl_->mu);
  impl_->faults.push_back(std::move(fault));
}

void FakeApiServer::close_watches() {
  impl_->close_generation++;
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
