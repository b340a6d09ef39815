// The fake apiserver's request routing (declared in fake_internal.hpp): the response helpers, query
// parsing, which resource a path names, Accept negotiation (Tables and the metadata-only views)
// and discovery (/version, /api, /apis, APIResourceLists, OpenAPI v3).
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api_status.hpp"
#include "fake_internal.hpp"
#include "pod_protobuf.hpp"
#include "resources.hpp"

namespace crashdiag::fake::detail {

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

Query parse_query(std::string_view q) {
  Query out;
  if (q.empty()) return out;
  for (const auto& part : split(q, '&')) {
    auto eq = part.find('=');
    out.params[url_decode(part.substr(0, eq))] = eq == std::string::npos ? "" : url_decode(part.substr(eq + 1));
  }
  return out;
}

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

namespace {

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

}  // namespace

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

bool protobuf_preferred(const std::string& accept) {
  for (const auto& m : parse_accept(accept)) {
    if (m.type == "application/vnd.kubernetes.protobuf" && m.params.count("as") == 0) return true;
    if (plain_json(m) || m.type == "application/yaml") return false;
  }
  return false;
}

void status_in_protobuf(Response& res) {
  if (res[http::field::content_type] != "application/json") return;
  const json status = json::parse(res.body(), nullptr, false);
  if (!status.is_object() || status.value("kind", "") != "Status") return;
  res.set(http::field::content_type, "application/vnd.kubernetes.protobuf");
  res.body() = encode_status_protobuf(status);
  res.prepare_payload();
}

// The view an Accept header asks for (MetadataView, fake_internal.hpp).
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

}  // namespace crashdiag::fake::detail
