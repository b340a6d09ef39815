// The fake apiserver's TLS server: the accept loop (declared in fake_internal.hpp) and each
// connection's keep-alive requests - authentication, the request size limits, discovery, routing,
// the scripted faults (fault_response and the stream faults), then the reads and writes
// (handle_resource) or a watch stream (fake_watch.cpp).
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "api_status.hpp"
#include "fake_internal.hpp"
#include "field_selector.hpp"
#include "label_selector.hpp"

namespace crashdiag::fake::detail {

namespace {

// The apiserver's request body limit (DefaultMaxRequestSizeBytes, 3 MiB): larger bodies get 413.
// Bodies up to kMaxReadBytes are read whole first so the connection stays usable.
constexpr std::uint64_t kMaxRequestBytes = std::uint64_t{3} * 1024 * 1024;
constexpr std::uint64_t kMaxReadBytes = std::uint64_t{16} * 1024 * 1024;

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
  if (fault.kind == FaultKind::kTooManyRequests) {
    // API Priority and Fairness (and the max-in-flight filter) refuse with http.Error: text/plain,
    // not a Status, whatever the Accept (k8s.io/apiserver/pkg/server/filters/maxinflight.go
    // tooManyRequests; ../shared/k8s-fixtures/05-apf-reject-429).
    auto res = text_response(429, "Too many requests, please try again later.\n", keep);
    res.set(http::field::retry_after, std::to_string(fault.retry_after_seconds));
    return res;
  }
  const int code = fault.kind == FaultKind::kUnavailable ? 503 : fault.kind == FaultKind::kGone ? 410 : 500;
  const std::string reason = code == 503 ? "ServiceUnavailable" : code == 410 ? "Expired" : "InternalError";
  auto res = json_response(code, status_body(code, reason, "scripted fault: " + reason), keep);
  if (code == 503) res.set(http::field::retry_after, std::to_string(fault.retry_after_seconds));
  return res;
}

Response too_large(bool keep) {
  return json_response(413,
                       status_body(413, "RequestEntityTooLarge",
                                   "Request entity too large: limit is " + std::to_string(kMaxRequestBytes)),
                       keep);
}

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
    const std::string accept(req[http::field::accept]);

    auto respond = [&](Response res) -> asio::awaitable<bool> {
      if (impl.options.before_response) impl.options.before_response(method, target);
      impl.record(method, target, static_cast<int>(res.result_int()), is_watch,
                  std::string(res[http::field::content_type]));
      lowest.expires_after(std::chrono::seconds(30));
      auto [wec, wn] = co_await http::async_write(stream, res, kNoThrow);
      co_return !wec && keep;
    };

    // Authentication first, as the apiserver's filter chain does (05-bad-token-list-pods-401).
    if (std::string(req[http::field::authorization]) != "Bearer " + impl.accepted_token()) {
      // Authentication refuses before routing, so the Status is in protobuf for any path whose
      // Accept put it first (recorded: tests/data/k8s/pb/unauthorized.pb).
      Response unauthorized = json_response(401, status_body(401, "Unauthorized", "Unauthorized"), keep);
      if (protobuf_preferred(accept)) status_in_protobuf(unauthorized);
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
    // Handlers write their errors with responsewriters.ErrorNegotiated, in the encoding the Accept
    // asked for: a protobuf Status to a protobuf-first client. The fake does it where it serves
    // protobuf at all, for pods (pod_protobuf.hpp); other kinds' errors stay JSON.
    const bool protobuf_errors = protobuf_preferred(accept) && r->kind == "Pod";
    // A drop after some events: the stream runs as usual and is cut after that many.
    int cut_after_events = -1;
    if (auto fault = impl.take_fault(target, is_watch)) {
      if (fault->kind == FaultKind::kTooManyRequests || fault->kind == FaultKind::kUnavailable ||
          fault->kind == FaultKind::kInternalError || fault->kind == FaultKind::kConflict ||
          fault->kind == FaultKind::kInvalid || fault->kind == FaultKind::kApplyTypeError ||
          fault->kind == FaultKind::kContainerLogsGone || (fault->kind == FaultKind::kGone && !is_watch)) {
        Response scripted = fault_response(*fault, *r, keep);
        // The 503 comes from the shutdown filter, which writes JSON whatever the Accept
        // (k8s.io/apiserver/pkg/server/filters/waitgroup.go), and the 429 is text; the rest are
        // handlers' errors, negotiated.
        if (protobuf_errors && fault->kind != FaultKind::kUnavailable) status_in_protobuf(scripted);
        if (!co_await respond(std::move(scripted))) co_return;
        continue;
      }
      if (is_watch && fault->kind == FaultKind::kDropMidStream && fault->after_events > 0) {
        cut_after_events = fault->after_events;
      } else if (is_watch) {
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
      if (protobuf_errors && res.result_int() >= 400) status_in_protobuf(res);
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
        if (protobuf_errors) status_in_protobuf(invalid);
        if (!co_await respond(std::move(invalid))) co_return;
        continue;
      }
    }
    auto selector = parse_label_selector(query.get("labelSelector"));
    auto fields = parse_field_selector(query.get("fieldSelector"), plural_of(*r));
    if (!selector || !fields) {
      Response invalid =
          json_response(400, bad_request(selector ? fields.error().message : selector.error().message), keep);
      if (protobuf_errors) status_in_protobuf(invalid);
      if (!co_await respond(std::move(invalid))) co_return;
      continue;
    }
    // A streaming list (FakeOptions::watch_list). Without the feature, ListOptions validation
    // forbids resourceVersionMatch on a watch and ignores sendInitialEvents (k8s.io/apimachinery/
    // pkg/apis/meta/internalversion/validation, 1.26; tests/data/k8s/watchlist/). With it,
    // validateWatchOptions (1.27+): sendInitialEvents needs resourceVersionMatch=NotOlderThan, and
    // resourceVersionMatch on a watch needs sendInitialEvents.
    const bool streaming_list = impl.options.watch_list && query.get("sendInitialEvents") == "true";
    {
      std::vector<FieldError> errors;
      const std::string match = query.get("resourceVersionMatch");
      if (!impl.options.watch_list && query.has("resourceVersionMatch")) {
        errors.push_back({FieldError::Type::kForbidden, "resourceVersionMatch", nullptr, std::nullopt,
                          "resourceVersionMatch is forbidden for watch"});
        if (rv_param.empty()) {
          errors.push_back({FieldError::Type::kForbidden, "resourceVersionMatch", nullptr, std::nullopt,
                            "resourceVersionMatch is forbidden unless resourceVersion is provided"});
        }
      } else if (impl.options.watch_list) {
        if (query.has("sendInitialEvents") && match != "NotOlderThan") {
          errors.push_back({FieldError::Type::kForbidden, "resourceVersionMatch", nullptr, std::nullopt,
                            "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"});
        }
        if (!match.empty() && !query.has("sendInitialEvents")) {
          errors.push_back({FieldError::Type::kForbidden, "resourceVersionMatch", nullptr, std::nullopt,
                            "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"});
        }
      }
      if (!errors.empty()) {
        Response invalid = status_response(invalid_status("meta.k8s.io", "ListOptions", "", errors), keep);
        if (protobuf_errors) status_in_protobuf(invalid);
        if (!co_await respond(std::move(invalid))) co_return;
        continue;
      }
    }
    // The stream itself: fake_watch.cpp.
    co_await watch_stream(impl, stream, req, query, *r, from, initial || streaming_list, streaming_list, *selector,
                          *fields, cut_after_events);
    co_return;  // the apiserver closes the connection after a watch
  }
}

}  // namespace

asio::awaitable<void> accept_loop(FakeApiServer::Impl& impl, std::uint16_t port) {
  for (;;) {
    auto [ec, socket] = co_await impl.acceptor.async_accept(kNoThrow);
    if (ec) co_return;
    Stream stream(std::move(socket), impl.tls);
    asio::co_spawn(impl.ioc, serve(impl, std::move(stream), port), asio::detached);
  }
}

}  // namespace crashdiag::fake::detail
