#include "crashdiag/core/owner_index.hpp"

#include <simdjson.h>

#include <vector>

#include "packing.hpp"

namespace crashdiag::core {
namespace {

namespace od = simdjson::ondemand;

thread_local od::parser tls_meta_parser;

// Reads `metadata` of one object. Unknown fields (labels, managedFields, finalizers...) are
// skipped unparsed: simdjson On-Demand walks each object's fields once, in document order.
tl::expected<MetaRecord, MetaParseError> read_object(od::object obj) {
  MetaRecord rec;
  bool has_metadata = false;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return tl::unexpected(MetaParseError::kMalformedJson);
    if (key != "metadata") continue;
    od::object meta;
    if (field.value().get_object().get(meta)) return tl::unexpected(MetaParseError::kNoMetadata);
    has_metadata = true;
    for (auto m : meta) {
      std::string_view k;
      if (m.unescaped_key().get(k)) return tl::unexpected(MetaParseError::kMalformedJson);
      std::string_view s;
      if (k == "name" || k == "namespace" || k == "uid" || k == "resourceVersion") {
        if (m.value().get_string().get(s)) continue;  // a field of the wrong type reads as absent
        (k == "name"        ? rec.name
         : k == "namespace" ? rec.namespace_
         : k == "uid"       ? rec.uid
                            : rec.resource_version)
            .assign(s);
      } else if (k == "annotations") {
        od::object annotations;
        if (m.value().get_object().get(annotations)) continue;
        for (auto a : annotations) {
          std::string_view ak;
          if (a.unescaped_key().get(ak)) return tl::unexpected(MetaParseError::kMalformedJson);
          if (ak != kIgnoreAnnotation) continue;
          rec.ignore = !a.value().get_string().get(s) && s == "true";
        }
      } else if (k == "ownerReferences") {
        od::array refs;
        if (m.value().get_array().get(refs)) continue;
        for (auto r : refs) {
          od::object ref;
          if (r.get_object().get(ref)) continue;
          WorkloadRef w;
          bool controller = false;
          for (auto f : ref) {
            std::string_view fk;
            if (f.unescaped_key().get(fk)) return tl::unexpected(MetaParseError::kMalformedJson);
            if (fk == "controller") {
              bool b = false;
              controller = !f.value().get_bool().get(b) && b;
            } else if (fk == "apiVersion" || fk == "kind" || fk == "name" || fk == "uid") {
              if (f.value().get_string().get(s)) continue;
              (fk == "apiVersion" ? w.api_version : fk == "kind" ? w.kind : fk == "name" ? w.name : w.uid).assign(s);
            }
          }
          // At most one ownerReference may be the controller (apimachinery validation,
          // ValidateOwnerReferences: "Only one reference can have Controller set to true").
          if (controller && !rec.controller) rec.controller = std::move(w);
        }
      }
    }
  }
  if (!has_metadata) return tl::unexpected(MetaParseError::kNoMetadata);
  if (rec.name.empty()) return tl::unexpected(MetaParseError::kNoName);
  return rec;
}

tl::expected<MetaRecord, MetaParseError> parse_padded(const simdjson::padded_string& padded) {
  od::document doc;
  if (tls_meta_parser.iterate(padded).get(doc)) return tl::unexpected(MetaParseError::kMalformedJson);
  od::object obj;
  if (doc.get_object().get(obj)) return tl::unexpected(MetaParseError::kMalformedJson);
  return read_object(obj);
}

}  // namespace

std::string_view to_string(MetaParseError e) {
  switch (e) {
    case MetaParseError::kMalformedJson:
      return "malformed JSON";
    case MetaParseError::kNoMetadata:
      return "no metadata";
    case MetaParseError::kNoName:
      return "metadata without a name";
  }
  return "unknown";
}

tl::expected<MetaRecord, MetaParseError> parse_meta_record(std::string_view json) {
  const simdjson::padded_string padded(json);
  return parse_padded(padded);
}

tl::expected<MetaWatchLine, MetaParseError> parse_meta_watch_line(std::string_view line) {
  MetaWatchLine out;
  std::string object;  // read after the loop: "object" may precede "type" (JSON is unordered)
  {
    const simdjson::padded_string padded(line);
    od::document doc;
    if (tls_meta_parser.iterate(padded).get(doc)) return tl::unexpected(MetaParseError::kMalformedJson);
    od::object obj;
    if (doc.get_object().get(obj)) return tl::unexpected(MetaParseError::kMalformedJson);
    for (auto field : obj) {
      std::string_view key;
      if (field.unescaped_key().get(key)) return tl::unexpected(MetaParseError::kMalformedJson);
      if (key == "type") {
        std::string_view t;
        if (field.value().get_string().get(t)) return tl::unexpected(MetaParseError::kMalformedJson);
        out.type.assign(t);
      } else if (key == "object") {
        od::object o;
        std::string_view raw;
        if (field.value().get_object().get(o) || o.raw_json().get(raw))
          return tl::unexpected(MetaParseError::kMalformedJson);
        object.assign(raw);
      }
    }
  }
  if (out.type.empty() || object.empty()) return tl::unexpected(MetaParseError::kMalformedJson);
  if (out.type == "ERROR") {
    // The object is a Status: its code says what happened (410 Gone: the resourceVersion expired).
    const simdjson::padded_string padded(object);
    od::document doc;
    od::object st;
    if (!tls_meta_parser.iterate(padded).get(doc) && !doc.get_object().get(st)) {
      for (auto f : st) {
        std::string_view k;
        if (f.unescaped_key().get(k)) break;
        int64_t code = 0;
        if (k == "code" && !f.value().get_int64().get(code)) out.error_code = static_cast<int>(code);
      }
    }
    return out;
  }
  const simdjson::padded_string padded(object);
  if (out.type == "BOOKMARK") {
    // A bookmark's object is the kind with only metadata.resourceVersion (no name).
    od::document doc;
    od::object o;
    if (!tls_meta_parser.iterate(padded).get(doc) && !doc.get_object().get(o)) {
      simdjson::ondemand::value v;
      std::string_view rv;
      if (!o.find_field_unordered("metadata").get(v) && !v.find_field_unordered("resourceVersion").get(rv)) {
        out.resource_version.assign(rv);
      }
    }
    return out;
  }
  auto rec = parse_padded(padded);
  if (!rec) return tl::unexpected(rec.error());
  out.resource_version = rec->resource_version;
  out.object = std::move(*rec);
  return out;
}

namespace {

constexpr std::uint8_t kMetaIgnore = 1U << 0U;
constexpr std::uint8_t kMetaController = 1U << 1U;

// The fields in the order PackedMeta::pack writes them; size() reads them the same way.
MetaRecord read_meta(packing::Reader& in) {
  MetaRecord rec;
  in.key(rec.namespace_, rec.name);
  rec.resource_version = std::string(in.str());
  rec.uid = in.uid();
  const std::uint8_t flags = in.byte();
  rec.ignore = (flags & kMetaIgnore) != 0;
  if ((flags & kMetaController) != 0) {
    WorkloadRef c;
    c.api_version = std::string(in.str());
    c.kind = std::string(in.str());
    c.name = in.name_after(rec.name);
    c.uid = in.uid();
    rec.controller = std::move(c);
  }
  return rec;
}

}  // namespace

PackedMeta PackedMeta::pack(const MetaRecord& rec) {
  std::vector<std::uint8_t>& bytes = packing::scratch();
  packing::Writer w(bytes);
  w.key(rec.namespace_, rec.name);
  w.str(rec.resource_version);
  w.uid(rec.uid);
  std::uint8_t flags = 0;
  if (rec.ignore) flags |= kMetaIgnore;
  if (rec.controller) flags |= kMetaController;
  w.byte(flags);
  if (rec.controller) {
    const WorkloadRef& c = *rec.controller;
    w.str(c.api_version);
    w.str(c.kind);
    w.name_after(rec.name, c.name);  // a ReplicaSet after its Deployment, a Job after its CronJob
    w.uid(c.uid);
  }
  PackedMeta out;
  out.data_ = packing::to_block(bytes);
  return out;
}

MetaRecord PackedMeta::unpack() const {
  if (!data_) return {};
  packing::Reader in(data_.get());
  return read_meta(in);
}

std::string_view PackedMeta::key() const {
  if (!data_) return {};
  packing::Reader in(data_.get());
  return in.key_view();
}

std::size_t PackedMeta::size() const {
  if (!data_) return 0;
  packing::Reader in(data_.get());
  (void)read_meta(in);
  return static_cast<std::size_t>(in.at() - data_.get());
}

void MetaStore::put(Set& set, const MetaRecord& rec) {
  PackedMeta packed = PackedMeta::pack(rec);
  auto it = set.find(packed.key());
  if (it == set.end()) {
    set.insert(std::move(packed));
    return;
  }
  auto node = set.extract(it);
  node.value() = std::move(packed);
  set.insert(std::move(node));
}

void MetaStore::begin_snapshot() {
  staging_.clear();
  staging_open_ = true;
}

void MetaStore::stage(const MetaRecord& rec) {
  if (!staging_open_) return;
  put(staging_, rec);
}

void MetaStore::unstage(std::string_view key) {
  if (auto it = staging_.find(key); it != staging_.end()) staging_.erase(it);
}

void MetaStore::discard_snapshot() {
  staging_.clear();
  staging_open_ = false;
}

std::size_t MetaStore::commit_snapshot() {
  objects_.swap(staging_);
  staging_.clear();
  staging_open_ = false;
  synced_ = true;
  return objects_.size();
}

void MetaStore::upsert(const MetaRecord& rec) {
  put(objects_, rec);
}

void MetaStore::remove(std::string_view key) {
  if (auto it = objects_.find(key); it != objects_.end()) objects_.erase(it);
}

std::optional<MetaRecord> MetaStore::find(const std::string& ns, const std::string& name) const {
  auto it = objects_.find(std::string_view(ns + "/" + name));
  if (it == objects_.end()) return std::nullopt;
  return it->unpack();
}

std::size_t MetaStore::controlled_by(const std::string& ns, const std::string& owner_uid) const {
  if (owner_uid.empty()) return 0;
  std::size_t n = 0;
  const std::string prefix = ns + "/";
  // Keys are "namespace/name" and '/' cannot occur in either: one namespace is one key range.
  for (auto it = objects_.lower_bound(std::string_view(prefix)); it != objects_.end() && it->key().starts_with(prefix);
       ++it) {
    const MetaRecord rec = it->unpack();
    if (rec.controller && rec.controller->uid == owner_uid) ++n;
  }
  return n;
}

TopLevelAnswer top_level_from(const MetaStore* intermediates, const WorkloadRef& direct, const std::string& ns) {
  if (direct.kind != "ReplicaSet" && direct.kind != "Job") return {true, direct};
  if (intermediates == nullptr || !intermediates->synced()) return {};
  const std::optional<MetaRecord> rec = intermediates->find(ns, direct.name);
  // Not seen: the ReplicaSet may be newer than what the watch delivered so far, or gone. The
  // server knows; the caller asks it.
  if (!rec) return {};
  if (!direct.uid.empty() && !rec->uid.empty() && rec->uid != direct.uid) return {};  // a namesake: ask
  WorkloadRef self = direct;
  if (self.uid.empty()) self.uid = rec->uid;
  if (!rec->controller) return {true, self};  // a bare ReplicaSet or Job is the workload itself
  return {true, *rec->controller};
}

std::optional<bool> ignored_in(const MetaStore* store, const std::string& ns, const std::string& name) {
  if (store == nullptr || !store->synced()) return std::nullopt;
  const std::optional<MetaRecord> rec = store->find(ns, name);
  if (!rec) return std::nullopt;
  return rec->ignore;
}

}  // namespace crashdiag::core
