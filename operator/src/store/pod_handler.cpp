#include "pod_handler.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "daemon_internal.hpp"
#include "event_store.hpp"
#include "log.hpp"
#include "metrics.hpp"

namespace crashdiag::daemon {

namespace {

// A pod list is hundreds of MB parsed item by item: the parser's and the list's short-lived
// blocks are freed, but glibc keeps freed memory below its heap top and in its arenas instead of
// returning it (M_TRIM_THRESHOLD applies only at the top of the main heap), so the resident size
// after a sync stays at its high-water mark. malloc_trim(0) returns the free pages of every arena
// (glibc 2.8+, malloc/malloc.c mtrim). Once per list, not per event: it walks the whole heap.
void give_back_freed_memory() {
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
}

}  // namespace

void log_bad_line(const std::string& resource, const std::string& what, std::string_view line) {
  // The start of the line (bounded) says which object it was without flooding the log.
  log(LogLevel::kWarn, "ignoring malformed watch event",
      {{"resource", resource}, {"error", what}, {"line", std::string(line.substr(0, 160))}});
}

void Daemon::PodHandler::begin() {
  d_.pods_.begin_snapshot();
}

void Daemon::PodHandler::stage(std::string_view item) {
  auto rec = core::parse_pod_record(item);
  if (rec) d_.pods_.stage(*rec);
}

void Daemon::PodHandler::stage_protobuf(std::string_view item) {
  auto rec = core::parse_pod_record_protobuf(item);
  if (rec) d_.pods_.stage(*rec);
}

void Daemon::PodHandler::discard() {
  d_.pods_.discard_snapshot();
}

std::size_t Daemon::PodHandler::commit() {
  auto vanished = d_.pods_.commit_snapshot(
      [&](const core::PodRecord* old, const core::PodRecord& now) { d_.detect(old, now, ""); });
  for (const auto& gone : vanished) forget(gone);  // deleted while we were not watching
  set_gauge();
  give_back_freed_memory();
  return d_.pods_.size();
}

std::optional<core::WatchEvent> Daemon::PodHandler::parse(std::string_view line, const std::string& resource) {
  auto parsed = core::parse_watch_line(line);
  if (!parsed) {
    log_bad_line(resource, parsed.error().what, line);
    return std::nullopt;
  }
  core::WatchEvent ev;
  ev.resource_version = parsed->resource_version;
  ev.error_code = parsed->error_code;
  ev.type = core::watch_event_type(parsed->type);
  if (ev.type == core::WatchEventType::kBookmark) ev.initial_events_end = core::ends_initial_events(line);
  if (parsed->pod) ev.object = Decoded{std::move(*parsed), std::string(line)};
  return ev;
}

void Daemon::PodHandler::stage_event(std::any object) {
  auto* ev = std::any_cast<Decoded>(&object);
  if (ev == nullptr || !ev->parsed.pod) return;
  if (ev->parsed.type == "DELETED") {
    d_.pods_.unstage(ev->parsed.pod->key());  // the commit then reports it gone: forget() runs
  } else {
    d_.pods_.stage(*ev->parsed.pod);
  }
}

void Daemon::PodHandler::apply(std::any object) {
  auto* ev = std::any_cast<Decoded>(&object);
  if (ev == nullptr || !ev->parsed.pod) return;
  const core::PodRecord& pod = *ev->parsed.pod;
  if (ev->parsed.type == "DELETED") {
    d_.pods_.remove(pod.key());
    forget(pod);
    set_gauge();
    return;
  }
  auto old = d_.pods_.upsert(pod);
  d_.detect(old ? &*old : nullptr, pod, ev->line);
  if (!old) set_gauge();
}

void Daemon::PodHandler::forget(const core::PodRecord& gone) {
  d_.event_handler_->forget_pod(gone.uid);
  d_.tracker_.forget_pod(gone.uid);
  d_.bare_pod_deleted(gone);
}

void Daemon::PodHandler::set_gauge() {
  if (d_.options_.metrics != nullptr) d_.options_.metrics->set_watched_pods(static_cast<double>(d_.pods_.size()));
}

}  // namespace crashdiag::daemon
