#include "crashdiag/core/rca_codec.hpp"
#include "crashdiag/model/json_fields.hpp"

#include "crashdiag/core/rca_event.hpp"
#include "rca_text.hpp"

namespace crashdiag::core {

using namespace rca_detail;  // NOLINT(google-build-using-namespace): this file's own helpers

std::optional<RcaState> decode_rca(const json& obj) {
  if (!obj.is_object() || !obj.contains("spec") || !obj.contains("metadata")) return std::nullopt;
  const json& spec = obj["spec"];
  const json& target = spec.is_object() && spec.contains("target") ? spec["target"] : json();
  RcaState s;
  s.target.namespace_ = str(obj["metadata"], "namespace");
  s.target.workload =
      WorkloadRef{str(target, "apiVersion"), str(target, "kind"), str(target, "name"), str(target, "uid")};
  s.target.container = str(target, "container");
  s.target.init = target.is_object() && json_fields::bool_or(target, "initContainer", false);
  s.target.signature = str(spec, "signature");
  if (s.target.namespace_.empty() || s.target.workload.kind.empty() || s.target.container.empty()) return std::nullopt;
  s.name = rca_name(s.target);
  if (s.name != str(obj["metadata"], "name")) return std::nullopt;  // not one of ours (or another naming scheme)
  const json st = obj.contains("status") && obj["status"].is_object() ? obj["status"] : json::object();
  s.seeded = true;
  s.active = str(st, "phase") != "Resolved";
  s.reason = str(st, "reason");
  if (st.contains("exitCode") && st["exitCode"].is_number_integer()) s.exit_code = st["exitCode"].get<int>();
  s.occurrences = static_cast<std::uint64_t>(std::max<std::int64_t>(0, num(st, "occurrences")));
  s.restart_count = static_cast<int>(num(st, "restartCount"));
  s.first_seen = parse_time(str(st, "firstSeen")).value_or(WallTime{0});
  s.last_seen = parse_time(str(st, "lastSeen")).value_or(s.first_seen);
  s.last_diagnosed = s.last_seen;
  s.phase_since = s.last_seen;
  s.diagnosis.name = s.target.container;
  s.diagnosis.init = s.target.init;
  s.diagnosis.image = str(st, "image");
  if (st.contains("whatChanged") && st["whatChanged"].is_object()) {
    const json& w = st["whatChanged"];
    WhatChanged wc;
    wc.revision = str(w, "revision");
    wc.previous_revision = str(w, "previousRevision");
    wc.changed_at = str(w, "changedAt");
    wc.summary = str(w, "summary");
    if (w.contains("changes") && w["changes"].is_array()) {
      for (const auto& c : w["changes"]) {
        if (c.is_string()) wc.changes.push_back(TemplateChange{"", ChangeAspect::kContainers, c.get<std::string>()});
      }
    }
    s.diagnosis.what_changed = std::move(wc);
  }
  if (st.contains("causedBy") && st["causedBy"].is_object()) {
    const json& c = st["causedBy"];
    s.caused_by = str(c, "name");
    s.cause = CauseLink{str(c, "namespace"), str(c, "workload"), str(c, "category"), str(c, "via")};
  }
  if (st.contains("evidenceNotes") && st["evidenceNotes"].is_array()) {
    for (const auto& n : st["evidenceNotes"]) {
      if (n.is_string()) s.diagnosis.evidence_notes.push_back(n.get<std::string>());
    }
  }
  if (st.contains("hypotheses") && st["hypotheses"].is_array()) {
    for (const auto& h : st["hypotheses"]) {
      Hypothesis hyp;
      hyp.category = str(h, "category");
      hyp.confidence = h.is_object() && h.contains("confidence") && h["confidence"].is_number()
                           ? h["confidence"].get<double>()
                           : 0.0;
      hyp.rule_id = str(h, "rule");
      hyp.title = str(h, "title");
      hyp.summary = str(h, "summary");
      hyp.explanation = str(h, "explanation");
      hyp.remediation = str(h, "remediation");
      if (h.is_object() && h.contains("evidence") && h["evidence"].is_array()) {
        for (const auto& e : h["evidence"]) {
          const std::string src = str(e, "source");
          EvidenceItem item;
          item.source = src == "logs"     ? EvidenceSource::kLogs
                        : src == "events" ? EvidenceSource::kEvents
                        : src == "spec"   ? EvidenceSource::kSpec
                                          : EvidenceSource::kStatus;
          item.field = str(e, "field");
          item.excerpt = str(e, "excerpt");
          hyp.evidence.push_back(std::move(item));
        }
      }
      if (!hyp.category.empty()) s.diagnosis.hypotheses.push_back(std::move(hyp));
    }
  }
  if (st.contains("pods") && st["pods"].is_array()) {
    for (const auto& p : st["pods"]) {
      s.pods.push_back(PodSeen{str(p, "name"), str(p, "uid"), static_cast<int>(num(p, "restartCount")),
                               parse_time(str(p, "lastSeen")).value_or(s.last_seen)});
    }
  }
  if (st.contains("history") && st["history"].is_array()) {
    for (const auto& h : st["history"]) {
      s.history.push_back(HistoryEntry{parse_time(str(h, "time")).value_or(WallTime{0}), str(h, "change"),
                                       str(h, "category"), str(h, "summary")});
    }
  }
  if (st.contains("conditions") && st["conditions"].is_array()) {
    for (const auto& c : st["conditions"]) {
      if (str(c, "type") == "Resolved")
        s.phase_since = parse_time(str(c, "lastTransitionTime")).value_or(s.phase_since);
    }
  }
  return s;
}

json encode_rca_apply(const RcaState& s) {
  const RcaTarget& t = s.target;
  json labels = {{"app.kubernetes.io/managed-by", "crashdiag"}};
  if (valid_label_value(t.workload.kind)) labels["crashdiag.io/workload-kind"] = t.workload.kind;
  if (auto v = label_value(t.workload.name); !v.empty()) labels["crashdiag.io/workload"] = v;
  if (auto v = label_value(t.container); !v.empty()) labels["crashdiag.io/container"] = v;
  if (t.init) labels["crashdiag.io/init-container"] = "true";
  // The signature as a selector: "starterror-128", "oomkilled-137" (slug, at most 63).
  std::string sig = slug(t.signature).substr(0, 63);
  while (!sig.empty() && sig.back() == '-') sig.pop_back();
  if (valid_label_value(sig)) labels["crashdiag.io/signature"] = sig;
  json meta = {{"name", s.name}, {"namespace", t.namespace_}, {"labels", labels}};
  // Garbage collection removes the RCA with its workload. Not a controller reference: crashdiag
  // does not control the workload, and blockOwnerDeletion is left unset because setting it needs
  // update permission on the owner's finalizers (OwnerReferencesPermissionEnforcement).
  if (!t.workload.uid.empty()) {
    meta["ownerReferences"] = json::array({json{{"apiVersion", t.workload.api_version},
                                                {"kind", t.workload.kind},
                                                {"name", t.workload.name},
                                                {"uid", t.workload.uid}}});
  }
  json target = {{"apiVersion", t.workload.api_version},
                 {"kind", t.workload.kind},
                 {"name", t.workload.name},
                 {"container", t.container},
                 {"initContainer", t.init}};
  if (!t.workload.uid.empty()) target["uid"] = t.workload.uid;
  return json{{"apiVersion", kApiVersion},
              {"kind", kKind},
              {"metadata", meta},
              {"spec", {{"target", target}, {"signature", cut(t.signature, 128)}}}};
}

namespace {

constexpr std::size_t kShortExcerpt = 256;  // what a shortened excerpt keeps
constexpr std::size_t kNoteRoom = 600;      // the truncation note, JSON-escaped, with room to spare

std::size_t json_size(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace).size();
}

// Keeps the status object under `budget` bytes of JSON by cutting evidence, least likely
// hypothesis and last evidence item first: excerpts shortened to 256 bytes, then evidence items
// dropped (each hypothesis keeps its first), then hypotheses after the first, then the top one's
// remediation, explanation and first excerpt shortened to 256 bytes. What was cut, and
// how much, is said in status.evidenceNotes (the CRD's maxItems 8: the last note gives way).
void fit_status(json& object, std::size_t budget) {
  const std::size_t before = json_size(object);
  if (before <= budget) return;
  json& st = object["status"];
  json& hyps = st["hypotheses"];
  const std::size_t target = budget > kNoteRoom ? budget - kNoteRoom : 0;
  std::size_t size = before;
  std::size_t shortened = 0;
  std::size_t dropped = 0;
  for (std::size_t h = hyps.size(); h-- > 0 && size > target;) {
    json& evidence = hyps[h]["evidence"];
    for (std::size_t e = evidence.size(); e-- > 0 && size > target;) {
      json& item = evidence[e];
      const std::string excerpt = json_fields::string_or(item, "excerpt");
      if (excerpt.size() <= kShortExcerpt + 16) continue;
      item["excerpt"] = utf8_clip(excerpt, kShortExcerpt);
      ++shortened;
      size = json_size(object);
    }
  }
  for (std::size_t h = hyps.size(); h-- > 0 && size > target;) {
    json& evidence = hyps[h]["evidence"];
    while (evidence.size() > 1 && size > target) {
      evidence.erase(evidence.size() - 1);
      ++dropped;
      size = json_size(object);
    }
  }
  while (hyps.size() > 1 && size > target) {
    dropped += hyps.back()["evidence"].size();
    hyps.erase(hyps.size() - 1);
    size = json_size(object);
  }
  // Last, the top hypothesis's own texts and its remaining excerpt.
  for (const char* key : {"remediation", "explanation"}) {
    if (size <= target || hyps.empty()) break;
    const std::string text = json_fields::string_or(hyps[0], key);
    if (text.size() <= kShortExcerpt + 16) continue;
    hyps[0][key] = utf8_clip(text, kShortExcerpt);
    ++shortened;
    size = json_size(object);
  }
  if (size > target && !hyps.empty() && !hyps[0]["evidence"].empty()) {
    json& item = hyps[0]["evidence"][0];
    const std::string excerpt = json_fields::string_or(item, "excerpt");
    if (excerpt.size() > kShortExcerpt + 16) {
      item["excerpt"] = utf8_clip(excerpt, kShortExcerpt);
      ++shortened;
      size = json_size(object);
    }
  }
  std::string note = "evidence truncated to fit the RCA size limit (" + std::to_string(budget) +
                     " bytes): " + std::to_string(shortened) + " excerpts or texts shortened to " +
                     std::to_string(kShortExcerpt) + " bytes, " + std::to_string(dropped) +
                     " evidence items dropped, status " + std::to_string(before) + " -> " + std::to_string(size) +
                     " bytes";
  if (!st.contains("evidenceNotes") || !st["evidenceNotes"].is_array()) st["evidenceNotes"] = json::array();
  json& notes = st["evidenceNotes"];
  // One such note: an earlier one (read back from the cluster by seed()) is replaced.
  for (std::size_t i = notes.size(); i-- > 0;) {
    if (notes[i].is_string() && notes[i].get_ref<const std::string&>().rfind("evidence truncated to fit", 0) == 0) {
      notes.erase(i);
    }
  }
  if (notes.size() >= kNotesLimit) notes.erase(notes.size() - 1);
  notes.push_back(cut(note, kNoteBytes));
}

}  // namespace

json encode_rca_status(const RcaState& s, std::size_t max_status_bytes) {
  json st = json::object();
  st["phase"] = s.active ? "Active" : "Resolved";
  st["workload"] = s.target.workload.display();
  if (const Hypothesis* top = s.top()) {
    st["category"] = top->category;
    st["confidence"] = round2(top->confidence);
    st["summary"] = cut(shown_summary(s), 512);  // the CRD's maxLength
    st["rule"] = top->rule_id;
  }
  if (!s.caused_by.empty()) {
    json cause = {{"name", s.caused_by}, {"namespace", s.cause.namespace_}, {"workload", s.cause.workload}};
    if (!s.cause.category.empty()) cause["category"] = s.cause.category;
    if (!s.cause.via.empty()) cause["via"] = s.cause.via;
    st["causedBy"] = std::move(cause);
  }
  if (!s.reason.empty()) st["reason"] = cut(s.reason, 128);
  if (s.exit_code) st["exitCode"] = *s.exit_code;
  if (!s.diagnosis.image.empty()) st["image"] = cut(s.diagnosis.image, 512);
  if (!s.diagnosis.evidence_notes.empty()) st["evidenceNotes"] = s.diagnosis.evidence_notes;
  if (s.diagnosis.what_changed) st["whatChanged"] = *s.diagnosis.what_changed;
  st["occurrences"] = s.occurrences;
  st["restartCount"] = std::max(0, s.restart_count);
  st["firstSeen"] = format_time(s.first_seen);
  st["lastSeen"] = format_time(s.last_seen);
  json pods = json::array();
  for (const auto& p : s.pods) {
    json pod = {
        {"name", p.name}, {"restartCount", std::max(0, p.restart_count)}, {"lastSeen", format_time(p.last_seen)}};
    if (!p.uid.empty()) pod["uid"] = p.uid;
    pods.push_back(std::move(pod));
  }
  st["pods"] = std::move(pods);
  json hyps = json::array();
  for (const auto& h : s.diagnosis.hypotheses) {
    json evidence = json::array();
    for (const auto& e : h.evidence) {
      evidence.push_back(
          json{{"source", std::string(to_string(e.source))}, {"field", e.field}, {"excerpt", e.excerpt}});
    }
    hyps.push_back(json{{"category", h.category},
                        {"confidence", round2(h.confidence)},
                        {"rule", h.rule_id},
                        {"title", h.title},
                        {"summary", h.summary},
                        {"explanation", h.explanation},
                        {"remediation", h.remediation},
                        {"evidence", std::move(evidence)}});
  }
  st["hypotheses"] = std::move(hyps);
  json history = json::array();
  for (const auto& h : s.history) {
    history.push_back(
        json{{"time", format_time(h.time)}, {"change", h.change}, {"category", h.category}, {"summary", h.summary}});
  }
  st["history"] = std::move(history);
  const std::string since = format_time(s.phase_since);
  st["conditions"] = json::array({json{{"type", "Resolved"},
                                       {"status", s.active ? "False" : "True"},
                                       {"reason", s.active ? "FailureOngoing" : "NoRecentFailures"},
                                       {"message", s.active ? "the container keeps failing with " + s.target.signature
                                                            : "no new failure since " + format_time(s.last_seen)},
                                       {"lastTransitionTime", since}}});
  json out = {{"apiVersion", kApiVersion},
              {"kind", kKind},
              {"metadata", {{"name", s.name}, {"namespace", s.target.namespace_}}},
              {"status", std::move(st)}};
  fit_status(out, max_status_bytes);
  return out;
}

}  // namespace crashdiag::core
