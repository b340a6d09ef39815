#include "managed_fields.hpp"

#include <algorithm>
#include <map>

#include "api_status.hpp"

namespace crashdiag::fake {

using nlohmann::json;

namespace {

bool is_list_element_key(const std::string& k) {
  return k.rfind("k:", 0) == 0 || k.rfind("v:", 0) == 0 || k.rfind("i:", 0) == 0;
}

// FieldsV1 back to leaf paths. Fields that hold list elements (k:/v:/i:, written by a real
// apiserver for associative lists) are owned as a whole here, lists being atomic in the fake.
void decode_fields(const json& node, FieldPath& prefix, FieldSet& out) {
  if (!node.is_object()) return;
  for (const auto& [k, child] : node.items()) {
    if (k.rfind("f:", 0) != 0) continue;
    prefix.push_back(k.substr(2));
    bool has_fields = false;
    bool has_elements = false;
    if (child.is_object()) {
      for (const auto& [ck, cv] : child.items()) {
        if (ck.rfind("f:", 0) == 0) has_fields = true;
        if (is_list_element_key(ck)) has_elements = true;
      }
    }
    if (has_fields && !has_elements) {
      decode_fields(child, prefix, out);
    } else {
      out.insert(prefix);
    }
    prefix.pop_back();
  }
}

void collect(const json& value, FieldPath& path, FieldSet& out) {
  if (value.is_object() && !value.empty()) {
    for (const auto& [k, v] : value.items()) {
      path.push_back(k);
      collect(v, path, out);
      path.pop_back();
    }
  } else {
    out.insert(path);
  }
}

bool overlaps(const FieldPath& a, const FieldPath& b) {
  const std::size_t n = std::min(a.size(), b.size());
  return std::equal(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(n), b.begin());
}

void set_at(json& object, const FieldPath& p, const json& value) {
  json* cur = &object;
  for (std::size_t i = 0; i + 1 < p.size(); ++i) {
    if (!cur->is_object()) *cur = json::object();
    cur = &(*cur)[p[i]];
  }
  if (!cur->is_object()) *cur = json::object();
  (*cur)[p.back()] = value;
}

void erase_at(json& object, const FieldPath& p) {
  std::vector<json*> chain{&object};
  for (std::size_t i = 0; i + 1 < p.size(); ++i) {
    json* cur = chain.back();
    if (!cur->is_object() || !cur->contains(p[i])) return;
    chain.push_back(&(*cur)[p[i]]);
  }
  if (!chain.back()->is_object()) return;
  chain.back()->erase(p.back());
  // Maps emptied by the removal go too, up to (not including) the top-level field.
  for (std::size_t i = chain.size() - 1; i >= 2; --i) {
    if (!chain[i]->empty()) break;
    chain[i - 1]->erase(p[i - 1]);
  }
}

void drop_empty(std::vector<ManagerEntry>& managers) {
  managers.erase(
      std::remove_if(managers.begin(), managers.end(), [](const ManagerEntry& e) { return e.fields.empty(); }),
      managers.end());
}

}  // namespace

std::vector<ManagerEntry> decode_managed_fields(const json& managed_fields) {
  std::vector<ManagerEntry> out;
  if (!managed_fields.is_array()) return out;
  for (const auto& e : managed_fields) {
    if (!e.is_object()) continue;
    ManagerEntry m;
    m.manager = e.value("manager", "");
    m.operation = e.value("operation", "Update");
    m.subresource = e.value("subresource", "");
    m.api_version = e.value("apiVersion", "");
    m.time = e.value("time", "");
    FieldPath prefix;
    if (e.contains("fieldsV1")) decode_fields(e["fieldsV1"], prefix, m.fields);
    out.push_back(std::move(m));
  }
  return out;
}

json encode_managed_fields(const std::vector<ManagerEntry>& entries) {
  json out = json::array();
  for (const auto& m : entries) {
    json fields = json::object();
    for (const auto& p : m.fields) {
      json* cur = &fields;
      for (const auto& elem : p) cur = &(*cur)["f:" + elem];
      if (cur->is_null()) *cur = json::object();
    }
    json e = json::object();
    e["manager"] = m.manager;
    e["operation"] = m.operation;
    e["apiVersion"] = m.api_version;
    e["time"] = m.time;
    e["fieldsType"] = "FieldsV1";
    e["fieldsV1"] = std::move(fields);
    if (!m.subresource.empty()) e["subresource"] = m.subresource;
    out.push_back(std::move(e));
  }
  return out;
}

FieldSet leaf_paths(const json& object, FieldScope scope) {
  FieldSet out;
  if (!object.is_object()) return out;
  for (const auto& [k, v] : object.items()) {
    if (k == "apiVersion" || k == "kind") continue;
    FieldPath path{k};
    if (k == "metadata") {
      if (scope == FieldScope::kStatusOnly || !v.is_object()) continue;
      for (const char* tracked : {"labels", "annotations"}) {
        if (!v.contains(tracked)) continue;
        path.emplace_back(tracked);
        collect(v[tracked], path, out);
        path.pop_back();
      }
      for (const char* atomic : {"ownerReferences", "finalizers"}) {
        if (v.contains(atomic)) out.insert(FieldPath{"metadata", atomic});
      }
      continue;
    }
    const bool in_scope = k == "status" ? scope != FieldScope::kAllButStatus : scope != FieldScope::kStatusOnly;
    if (in_scope) collect(v, path, out);
  }
  return out;
}

std::string path_string(const FieldPath& p) {
  std::string out;
  for (const auto& e : p) out += "." + e;
  return out;
}

const json* value_at(const json& object, const FieldPath& p) {
  const json* cur = &object;
  for (const auto& e : p) {
    if (!cur->is_object() || !cur->contains(e)) return nullptr;
    cur = &(*cur)[e];
  }
  return cur;
}

std::string print_manager(const ManagerEntry& e) {
  std::string s = go_quote(e.manager);
  if (!e.subresource.empty()) s += " with subresource " + go_quote(e.subresource);
  if (e.operation == "Update") s += " using " + e.api_version + (e.time.empty() ? "" : " at " + e.time);
  return s;
}

ApplyOutcome apply_config(const json& live, const json& config, FieldScope scope, std::vector<ManagerEntry> managers,
                          const ManagerEntry& who, bool force) {
  ApplyOutcome out;
  const FieldSet applied = leaf_paths(config, scope);
  // A conflict: another manager owns an overlapping field whose value the apply would change.
  for (auto& e : managers) {
    if (e.same_identity(who)) continue;
    std::vector<FieldPath> taken;
    for (const auto& q : e.fields) {
      for (const auto& p : applied) {
        if (!overlaps(p, q)) continue;
        const FieldPath& longer = q.size() >= p.size() ? q : p;
        const json* lv = value_at(live, longer);
        const json* cv = value_at(config, longer);
        const bool same = (lv == nullptr && cv == nullptr) || (lv != nullptr && cv != nullptr && *lv == *cv);
        if (!same) {
          out.conflicts.push_back({print_manager(e), q});
          taken.push_back(q);
          break;
        }
      }
    }
    if (force) {
      for (const auto& q : taken) e.fields.erase(q);
    }
  }
  if (!out.conflicts.empty() && !force) {
    out.object = live;
    out.managers = std::move(managers);
    return out;
  }
  json object = live.is_object() ? live : json::object();
  // Fields this manager applied before and omits now are removed, unless still owned by anyone.
  for (const auto& e : managers) {
    if (!e.same_identity(who)) continue;
    for (const auto& r : e.fields) {
      const bool still_applied =
          std::any_of(applied.begin(), applied.end(), [&](const FieldPath& p) { return overlaps(p, r); });
      const bool owned_by_other = std::any_of(managers.begin(), managers.end(), [&](const ManagerEntry& o) {
        return !o.same_identity(who) &&
               std::any_of(o.fields.begin(), o.fields.end(), [&](const FieldPath& q) { return overlaps(q, r); });
      });
      if (!still_applied && !owned_by_other) erase_at(object, r);
    }
  }
  for (const auto& p : applied) {
    if (const json* v = value_at(config, p)) set_at(object, p, *v);
  }
  bool found = false;
  for (auto& e : managers) {
    if (!e.same_identity(who)) continue;
    e.fields = applied;
    e.time = who.time;
    e.api_version = who.api_version;
    found = true;
  }
  if (!found) {
    ManagerEntry e = who;
    e.fields = applied;
    managers.push_back(std::move(e));
  }
  drop_empty(managers);
  out.object = std::move(object);
  out.managers = std::move(managers);
  return out;
}

std::vector<ManagerEntry> update_managers(const json& before, const json& after, FieldScope scope,
                                          std::vector<ManagerEntry> managers, const ManagerEntry& who) {
  FieldSet changed;
  for (const auto& p : leaf_paths(after, scope)) {
    const json* b = value_at(before, p);
    const json* a = value_at(after, p);
    if (b == nullptr || a == nullptr || *a != *b) changed.insert(p);
  }
  for (auto& e : managers) {
    for (auto it = e.fields.begin(); it != e.fields.end();) {
      const json* v = value_at(after, *it);
      const bool gone = v == nullptr || (v->is_object() && !v->empty());  // removed, or no longer a leaf
      const bool taken = !e.same_identity(who) && std::any_of(changed.begin(), changed.end(),
                                                              [&](const FieldPath& p) { return overlaps(p, *it); });
      it = gone || taken ? e.fields.erase(it) : std::next(it);
    }
  }
  if (!changed.empty()) {
    bool found = false;
    for (auto& e : managers) {
      if (!e.same_identity(who)) continue;
      e.fields.insert(changed.begin(), changed.end());
      e.time = who.time;
      e.api_version = who.api_version;
      found = true;
    }
    if (!found) {
      ManagerEntry e = who;
      e.fields = changed;
      managers.push_back(std::move(e));
    }
  }
  drop_empty(managers);
  return managers;
}

json apply_conflict_status(const std::vector<Conflict>& conflicts) {
  json causes = json::array();
  for (const auto& c : conflicts) {
    json cause = json::object();
    cause["reason"] = "FieldManagerConflict";
    cause["message"] = "conflict with " + c.manager;
    cause["field"] = path_string(c.path);
    causes.push_back(std::move(cause));
  }
  std::string message;
  if (conflicts.size() == 1) {
    message =
        "Apply failed with 1 conflict: conflict with " + conflicts[0].manager + ": " + path_string(conflicts[0].path);
  } else {
    std::map<std::string, std::vector<std::string>> by_manager;
    for (const auto& c : conflicts) by_manager[c.manager].push_back(path_string(c.path));
    std::string lines;
    for (const auto& [m, paths] : by_manager) {
      lines += (lines.empty() ? "" : "\n") + std::string("conflicts with ") + m + ":";
      for (const auto& p : paths) lines += "\n- " + p;
    }
    message = "Apply failed with " + std::to_string(conflicts.size()) + " conflicts: " + lines;
  }
  json details = json::object();
  details["causes"] = std::move(causes);
  return status_body(409, "Conflict", message, std::move(details));
}

}  // namespace crashdiag::fake
