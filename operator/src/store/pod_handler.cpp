#include "pod_handler.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "daemon_internal.hpp"
#include "event_store.hpp"
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

void Daemon::PodHandler::begin() {
  d_.pods_.begin_snapshot();
}

void Daemon::PodHandler::stage(std::string_view item) {
  auto rec = core::parse_pod_record(item);
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
  pending_ = std::move(*parsed);
  pending_line_.assign(line);
  core::WatchEvent ev;
  ev.resource_version = pending_.resource_version;
  ev.error_code = pending_.error_code;
  ev.type = core::watch_event_type(pending_.type);
  return ev;
}

void Daemon::PodHandler::apply() {
  if (!pending_.pod) return;
  if (pending_.type == "DELETED") {
    d_.pods_.remove(pending_.pod->key());
    forget(*pending_.pod);
    set_gauge();
    return;
  }
  auto old = d_.pods_.upsert(*pending_.pod);
  d_.detect(old ? &*old : nullptr, *pending_.pod, pending_line_);
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
