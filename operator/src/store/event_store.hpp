// The store of Events (the events watch's sink): each pod's recent Events by its uid, bounded
// per pod, read when a failure of that pod is diagnosed (evidence/evidence.cpp).
#pragma once

#include <any>
#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crashdiag/core/pod_record.hpp"
#include "crashdiag/model/json_fields.hpp"
#include "crashdiag/model/parse.hpp"
#include "daemon.hpp"
#include "daemon_internal.hpp"
#include "watch_sink.hpp"

namespace crashdiag::daemon {

class Daemon::EventHandler final : public Daemon::WatchSink {
 public:
  explicit EventHandler(std::size_t per_pod) : per_pod_(per_pod) {}
  void begin() override { staging_.clear(); }
  void stage(std::string_view item) override { add(staging_, item); }
  void discard() override { staging_.clear(); }
  std::size_t commit() override {
    by_pod_.swap(staging_);
    staging_.clear();
    return by_pod_.size();
  }
  std::optional<core::WatchEvent> parse(std::string_view line, const std::string& resource) override {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("type")) {
      log_bad_line(resource, "not a watch event");
      return std::nullopt;
    }
    core::WatchEvent ev;
    const std::string type = j["type"].is_string() ? j["type"].get<std::string>() : "";
    ev.type = core::watch_event_type(type);
    const nlohmann::json& obj = j.contains("object") ? j["object"] : nlohmann::json();
    if (ev.type == core::WatchEventType::kError) {
      ev.error_code =
          obj.is_object() && obj.contains("code") && obj["code"].is_number_integer() ? obj["code"].get<int>() : 0;
    } else if (obj.is_object() && obj.contains("metadata") && obj["metadata"].contains("resourceVersion")) {
      ev.resource_version = obj["metadata"]["resourceVersion"].get<std::string>();
    }
    if (ev.type == core::WatchEventType::kBookmark) ev.initial_events_end = core::ends_initial_events(line);
    if (ev.type != core::WatchEventType::kError && j.contains("object")) ev.object = std::move(j);
    return ev;
  }
  void stage_event(std::any object) override {
    auto* j = std::any_cast<nlohmann::json>(&object);
    if (j == nullptr || !j->contains("object")) return;
    if ((*j)["type"] == "DELETED") {
      remove(staging_, (*j)["object"]);
    } else {
      add(staging_, (*j)["object"].dump());
    }
  }
  void apply(std::any object) override {
    auto* j = std::any_cast<nlohmann::json>(&object);
    if (j == nullptr || !j->contains("object")) return;
    if ((*j)["type"] == "DELETED") {
      // Events expire (the apiserver's --event-ttl, 1 h by default) and arrive as DELETED; a
      // failure that goes on re-emits its events, so dropping expired ones loses nothing current
      // and keeps the cache bounded by what the cluster holds.
      remove(by_pod_, (*j)["object"]);
      return;
    }
    add(by_pod_, (*j)["object"].dump());
  }
  // The pod is gone: its events can no longer be evidence.
  void forget_pod(const std::string& uid) { by_pod_.erase(uid); }
  [[nodiscard]] std::size_t pods_with_events() const { return by_pod_.size(); }
  [[nodiscard]] std::vector<Event> for_pod(const std::string& uid) const {
    auto it = by_pod_.find(uid);
    if (it == by_pod_.end()) return {};
    std::vector<Event> out;
    for (const auto& [name, ev] : it->second) out.push_back(ev);
    return out;
  }

 private:
  using Map = std::map<std::string, std::map<std::string, Event>>;  // pod uid -> event name -> event
  static void remove(Map& map, const nlohmann::json& obj) {
    if (!obj.is_object() || !obj.contains("involvedObject") || !obj.contains("metadata")) return;
    const std::string uid = json_fields::string_or(obj["involvedObject"], "uid");
    auto it = map.find(uid);
    if (it == map.end()) return;
    it->second.erase(json_fields::string_or(obj["metadata"], "name"));
    if (it->second.empty()) map.erase(it);
  }
  void add(Map& map, std::string_view item) {
    std::string text(item);
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return;
    if (!j.contains("kind")) j["kind"] = "Event";  // list items carry no kind
    auto parsed = parse_events_json(j.dump());
    if (!parsed || parsed->empty()) return;
    Event& e = parsed->front();
    if (e.involved_kind != "Pod" || e.involved_uid.empty()) return;
    if (e.source_component == "crashdiag") return;  // our own RootCauseIdentified: a conclusion, not evidence
    const std::string name = json_fields::string_or(j["metadata"], "name");
    auto& events = map[e.involved_uid];
    events[name] = std::move(e);
    while (events.size() > per_pod_) events.erase(events.begin());
  }
  std::size_t per_pod_;
  Map by_pod_;
  Map staging_;
};

}  // namespace crashdiag::daemon
