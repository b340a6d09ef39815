// The protobuf pod path against what a real kube-apiserver 1.26 sends (tests/data/k8s/pb/, with
// its README): the same objects recorded in JSON and protobuf must give the same records, however
// the bytes are split; and what is cut, lies about a length or is too large gets a typed error.
#include "crashdiag/core/protobuf.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "crashdiag/core/list_decoder.hpp"
#include "crashdiag/core/pod_record.hpp"
#include "test_support.hpp"

namespace crashdiag::core {
namespace {

std::string data(const std::string& name) {
  return crashdiag::testing::read_file(crashdiag::testing::source_path("tests/data/k8s/pb/" + name));
}

std::vector<PodRecord> json_records(const std::string& body) {
  std::vector<PodRecord> out;
  ListDecoder d(1 << 20, [&](std::string_view item) {
    auto r = parse_pod_record(item);
    EXPECT_TRUE(r) << r.error().what;
    if (r) out.push_back(*r);
  });
  EXPECT_FALSE(d.feed(body));
  EXPECT_FALSE(d.finish());
  return out;
}

struct PbList {
  std::vector<PodRecord> records;
  std::string rv;
  std::string cont;
  std::optional<ListDecodeError> error;
};

PbList pb_records(std::string_view body, std::size_t piece, std::size_t max_item = 1 << 20) {
  PbList out;
  pb::ListDecoder d(max_item, [&](std::string_view item) {
    auto r = parse_pod_record_protobuf(item);
    EXPECT_TRUE(r) << r.error().what;
    if (r) out.records.push_back(*r);
  });
  for (std::size_t at = 0; at < body.size() && !out.error; at += piece) out.error = d.feed(body.substr(at, piece));
  if (!out.error) out.error = d.finish();
  out.rv = d.resource_version();
  out.cont = d.continue_token();
  return out;
}

const PodRecord* find(const std::vector<PodRecord>& records, std::string_view name) {
  for (const auto& r : records)
    if (r.name.starts_with(name)) return &r;
  return nullptr;
}

TEST(Protobuf, RecordedListGivesTheJsonRecordsWhateverThePieces) {
  const auto json = json_records(data("list-exact.json"));
  ASSERT_EQ(json.size(), 5U);
  const std::string body = data("list-exact.pb");
  for (std::size_t piece : {std::size_t{1}, std::size_t{3}, std::size_t{700}, std::size_t{16384}, body.size()}) {
    SCOPED_TRACE(piece);
    const PbList pb = pb_records(body, piece);
    ASSERT_FALSE(pb.error);
    EXPECT_EQ(pb.rv, "383");
    EXPECT_EQ(pb.cont, "");
    EXPECT_EQ(pb.records, json);
  }
  // What the comparison rests on: the fields the detector reads are there, not empty in both.
  const auto pb = pb_records(body, body.size()).records;
  const PodRecord* crasher = find(pb, "crasher-");
  ASSERT_NE(crasher, nullptr);
  EXPECT_EQ(crasher->owner_kind, "ReplicaSet");
  EXPECT_FALSE(crasher->owner_uid.empty());
  EXPECT_FALSE(crasher->not_ready_since.empty());
  ASSERT_EQ(crasher->containers.size(), 1U);
  EXPECT_GT(crasher->containers[0].restart_count, 0);
  ASSERT_TRUE(crasher->containers[0].last_terminated);
  EXPECT_EQ(crasher->containers[0].last_terminated->exit_code, 3);
  EXPECT_EQ(crasher->containers[0].last_terminated->finished_at.size(), 20U);  // 2026-12-06T15:25:37Z
  const PodRecord* init = find(pb, "initfail");
  ASSERT_NE(init, nullptr);
  ASSERT_EQ(init->containers.size(), 2U);
  EXPECT_TRUE(init->containers[0].init);
  EXPECT_EQ(init->containers[1].waiting_reason, "PodInitializing");
  EXPECT_TRUE(find(pb, "runner")->ignored);
  EXPECT_TRUE(find(pb, "runner")->containers[0].running);
  EXPECT_TRUE(find(pb, "finalized")->deleting);
  EXPECT_TRUE(find(pb, "pg")->containers[0].datastore_pvc);
}

TEST(Protobuf, RecordedPagesCarryTheContinueTokenAndRv0IgnoresLimit) {
  const PbList page = pb_records(data("list-exact-page1.pb"), 512);
  ASSERT_FALSE(page.error);
  EXPECT_EQ(page.records.size(), 2U);
  EXPECT_EQ(page.rv, "383");
  EXPECT_FALSE(page.cont.empty());
  // resourceVersion=0&limit=2: the watch cache answers every pod (shouldDelegateList in cacher.go).
  const PbList rv0 = pb_records(data("list-rv0-limit2.pb"), 4096);
  ASSERT_FALSE(rv0.error);
  EXPECT_EQ(rv0.records.size(), 5U);
  EXPECT_TRUE(rv0.cont.empty());
}

std::vector<std::string> frames(std::string_view stream) {
  std::vector<std::string> out;
  while (stream.size() >= 4) {
    const std::uint32_t n = (static_cast<std::uint32_t>(static_cast<unsigned char>(stream[0])) << 24U) |
                            (static_cast<std::uint32_t>(static_cast<unsigned char>(stream[1])) << 16U) |
                            (static_cast<std::uint32_t>(static_cast<unsigned char>(stream[2])) << 8U) |
                            static_cast<unsigned char>(stream[3]);
    out.emplace_back(stream.substr(4, n));
    stream.remove_prefix(4 + n);
  }
  EXPECT_TRUE(stream.empty());
  return out;
}

TEST(Protobuf, RecordedWatchGivesTheJsonEvents) {
  const std::string jsonl = data("watch.jsonl");
  std::vector<WatchLine> json;
  for (std::size_t at = 0; at < jsonl.size();) {
    const auto nl = jsonl.find('\n', at);
    auto line = parse_watch_line(std::string_view(jsonl).substr(at, nl - at));
    ASSERT_TRUE(line) << line.error().what;
    json.push_back(*line);
    at = nl + 1;
  }
  const auto pb_frames = frames(data("watch.pb"));
  ASSERT_EQ(pb_frames.size(), json.size());
  bool saw_bookmark = false;
  bool saw_deleting = false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    SCOPED_TRACE(i);
    auto line = parse_watch_frame_protobuf(pb_frames[i]);
    ASSERT_TRUE(line) << line.error().what;
    EXPECT_EQ(line->type, json[i].type);
    EXPECT_EQ(line->resource_version, json[i].resource_version);
    EXPECT_EQ(line->pod, json[i].pod);
    saw_bookmark |= line->type == "BOOKMARK";
    saw_deleting |= line->pod && line->pod->deleting;
  }
  EXPECT_TRUE(saw_bookmark);
  EXPECT_TRUE(saw_deleting);
}

// Hand-built protobuf, for what the recordings do not hold.
std::string varint(std::uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
  return out;
}
std::string bytes_field(int number, std::string_view value) {
  return varint((static_cast<std::uint64_t>(number) << 3U) | 2U) + varint(value.size()) + std::string(value);
}
std::string varint_field(int number, std::uint64_t v) {
  return varint(static_cast<std::uint64_t>(number) << 3U) + varint(v);
}
std::string envelope(std::string_view kind, std::string_view raw) {
  return std::string("k8s\0", 4) + bytes_field(1, bytes_field(1, "v1") + bytes_field(2, kind)) + bytes_field(2, raw) +
         bytes_field(3, "") + bytes_field(4, "");
}

TEST(Protobuf, AnErrorFrameCarriesTheStatusCodeAndReason) {
  // A 410 as the apiserver sends it in a watch: WatchEvent{ERROR, Status{reason Expired, code 410}}.
  const std::string status = bytes_field(2, "Failure") + bytes_field(3, "too old resource version: 1 (269)") +
                             bytes_field(4, "Expired") + varint_field(6, 410);
  const std::string frame = bytes_field(1, "ERROR") + bytes_field(2, bytes_field(1, envelope("Status", status)));
  auto line = parse_watch_frame_protobuf(frame);
  ASSERT_TRUE(line) << line.error().what;
  EXPECT_EQ(line->type, "ERROR");
  EXPECT_EQ(line->error_code, 410);
  EXPECT_EQ(line->error_reason, "Expired");
}

TEST(Protobuf, BrokenFramesAreErrorsNotCrashes) {
  const std::string pod = bytes_field(1, bytes_field(1, "p") + bytes_field(3, "ns") + bytes_field(6, "7"));
  struct Row {
    const char* name;
    std::string frame;
  };
  const std::vector<Row> rows = {
      {"empty", ""},
      {"no type", bytes_field(2, bytes_field(1, envelope("Pod", pod)))},
      {"unknown type", bytes_field(1, "RENAMED") + bytes_field(2, bytes_field(1, envelope("Pod", pod)))},
      {"object without envelope", bytes_field(1, "ADDED") + bytes_field(2, bytes_field(1, pod))},
      {"object of another kind", bytes_field(1, "ADDED") + bytes_field(2, bytes_field(1, envelope("Node", pod)))},
      {"length past the end", bytes_field(1, "ADDED") + std::string("\x12\x7f", 2)},
      {"group wire type", std::string("\x0b", 1)},
      {"field number 0", std::string("\x02\x00", 2)},
      {"cut varint", std::string("\x08\xff", 2)},
      {"pod name as a varint",
       bytes_field(1, "ADDED") + bytes_field(2, bytes_field(1, envelope("Pod", bytes_field(1, varint_field(1, 5)))))},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.name);
    EXPECT_FALSE(parse_watch_frame_protobuf(row.frame));
  }
  // And the good frame they are variations of.
  EXPECT_TRUE(
      parse_watch_frame_protobuf(bytes_field(1, "ADDED") + bytes_field(2, bytes_field(1, envelope("Pod", pod)))));
}

// What the recordings do not hold, hand-built by generated.proto: a negative exit code (int32,
// written sign-extended in ten bytes), a sidecar (initContainers' restartPolicy = 24, 1.28+), the
// current state terminated, and a BOOKMARK without an object.
TEST(Protobuf, NegativeExitCodesSidecarsAndTheCurrentState) {
  const std::string terminated = varint_field(1, static_cast<std::uint64_t>(std::int64_t{-1})) +
                                 bytes_field(3, "ContainerCannotRun") + bytes_field(6, varint_field(1, 1709208000));
  const std::string status =
      bytes_field(10, bytes_field(1, "proxy") + bytes_field(2, bytes_field(2, "")) + varint_field(5, 2)) +
      bytes_field(8, bytes_field(1, "app") + bytes_field(2, bytes_field(3, terminated)) + varint_field(5, 1));
  const std::string spec =
      bytes_field(20, bytes_field(1, "proxy") + bytes_field(24, "Always")) + bytes_field(2, bytes_field(1, "app"));
  const std::string pod =
      bytes_field(1, bytes_field(1, "p") + bytes_field(3, "ns")) + bytes_field(2, spec) + bytes_field(3, status);
  auto r = parse_pod_record_protobuf(pod);
  ASSERT_TRUE(r) << r.error().what;
  ASSERT_EQ(r->containers.size(), 2U);
  EXPECT_EQ(r->containers[0].name, "proxy");
  EXPECT_TRUE(r->containers[0].sidecar);
  EXPECT_TRUE(r->containers[0].running);
  EXPECT_EQ(r->containers[0].restart_count, 2);
  ASSERT_TRUE(r->containers[1].terminated);
  EXPECT_EQ(r->containers[1].terminated->exit_code, -1);
  EXPECT_EQ(r->containers[1].terminated->reason, "ContainerCannotRun");
  EXPECT_EQ(r->containers[1].terminated->finished_at, "2024-02-29T12:00:00Z");
  EXPECT_FALSE(r->containers[1].sidecar);
  auto bookmark = parse_watch_frame_protobuf(bytes_field(1, "BOOKMARK"));
  ASSERT_TRUE(bookmark) << bookmark.error().what;
  EXPECT_FALSE(bookmark->pod);
}

// A refused LIST, recorded with protobuf first in Accept: the Status comes in protobuf, and reads
// as the JSON one of the same request.
TEST(Protobuf, ARecordedErrorStatusReadsAsItsJson) {
  auto status = pb::parse_status(data("list-bad-continue.pb"));
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 400);
  EXPECT_EQ(status->reason, "BadRequest");
  const std::string json = data("list-bad-continue.json");
  EXPECT_NE(status->message.find("invalid continue token"), std::string::npos);
  EXPECT_NE(json.find(status->message.substr(0, 40)), std::string::npos);
  EXPECT_FALSE(pb::parse_status(json));
  EXPECT_FALSE(pb::parse_status(data("list-exact-page1.pb")));  // a PodList is not a Status
}

TEST(Protobuf, EveryCutOfARecordedListIsMalformedNeverACrash) {
  const std::string body = data("list-exact-page1.pb");
  // The envelope ends with two empty strings after the list (contentEncoding and contentType,
  // 4 bytes): a body cut between them is a whole message, since protobuf cannot tell a missing
  // optional field. Every cut before them is inside the list.
  ASSERT_EQ(body.substr(body.size() - 4), std::string("\x1a\x00\x22\x00", 4));
  for (std::size_t cut = 0; cut < body.size() - 4; ++cut) {
    pb::ListDecoder d(1 << 20, [](std::string_view item) { EXPECT_TRUE(parse_pod_record_protobuf(item)); });
    auto err = d.feed(std::string_view(body).substr(0, cut));
    if (!err) err = d.finish();
    ASSERT_EQ(err, ListDecodeError::kMalformed) << "cut at " << cut;
  }
}

TEST(Protobuf, ListBoundsAndLies) {
  const std::string item = bytes_field(1, bytes_field(1, "p") + bytes_field(3, "ns"));
  const std::string meta = bytes_field(1, bytes_field(2, "12") + bytes_field(3, "tok"));
  auto list = [&](const std::string& list_body) { return envelope("PodList", list_body); };
  struct Row {
    const char* name;
    std::string body;
    std::size_t max_item;
    std::optional<ListDecodeError> error;
    std::size_t items;
  };
  const std::vector<Row> rows = {
      {"two items", list(meta + bytes_field(2, item) + bytes_field(2, item)), 1024, std::nullopt, 2},
      {"metadata after the items", list(bytes_field(2, item) + meta), 1024, std::nullopt, 1},
      {"an unknown varint and fixed64 field", list(varint_field(9, 300) + "\x51" + std::string(8, 'x') + meta), 1024,
       std::nullopt, 0},
      {"item over the bound", list(meta + bytes_field(2, item)), item.size() - 3, ListDecodeError::kItemTooLarge, 0},
      {"list metadata over 64 KiB", list(bytes_field(1, std::string(70000, 'x'))), 1024,
       ListDecodeError::kMetadataTooLarge, 0},
      {"not the magic", "k9s" + list(meta).substr(3), 1024, ListDecodeError::kMalformed, 0},
      {"JSON", R"({"kind":"PodList","items":[]})", 1024, ListDecodeError::kMalformed, 0},
      {"an item longer than its list",
       std::string("k8s\0", 4) + bytes_field(1, bytes_field(2, "PodList")) + "\x12\x05" + "\x12\x7f" + "abc", 1024,
       ListDecodeError::kMalformed, 0},
      {"not a list", envelope("Pod", item), 1024, ListDecodeError::kMalformed, 0},
      {"no raw", std::string("k8s\0", 4) + bytes_field(1, bytes_field(2, "PodList")), 1024, ListDecodeError::kMalformed,
       0},
      {"a zero-length item (a Pod with nothing set)", list(meta + bytes_field(2, "")), 1024, std::nullopt, 1},
      {"a zero-length list", list(""), 1024, std::nullopt, 0},
      {"two lists",
       std::string("k8s\0", 4) + bytes_field(1, bytes_field(2, "PodList")) + bytes_field(2, meta) +
           bytes_field(2, meta + bytes_field(2, item)),
       1024, ListDecodeError::kMalformed, 0},
      {"raw before its TypeMeta",
       std::string("k8s\0", 4) + bytes_field(2, meta) + bytes_field(1, bytes_field(2, "PodList")), 1024,
       ListDecodeError::kMalformed, 0},
      {"a cut TypeMeta", std::string("k8s\0", 4) + bytes_field(1, std::string("\x12\x09PodL")) + bytes_field(2, meta),
       1024, ListDecodeError::kMalformed, 0},
      {"a cut ListMeta",
       std::string("k8s\0", 4) + bytes_field(1, bytes_field(2, "PodList")) +
           bytes_field(2, bytes_field(1, std::string("\x12\x05") + "12")),
       1024, ListDecodeError::kMalformed, 0},
      {"gzip content encoding", list(meta) + bytes_field(3, "gzip"), 1024, ListDecodeError::kMalformed, 0},
      {"a TypeMeta cut after a whole kind",
       std::string("k8s\0", 4) + bytes_field(1, bytes_field(2, "PodList") + std::string("\x0a\x05v1", 4)) +
           bytes_field(2, meta + bytes_field(2, item)),
       1024, ListDecodeError::kMalformed, 0},
      {"a second TypeMeta after the list", list(meta + bytes_field(2, item)) + bytes_field(1, bytes_field(2, "Status")),
       1024, ListDecodeError::kMalformed, 0},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.name);
    for (std::size_t piece : {std::size_t{1}, std::size_t{5}, row.body.size()}) {
      std::size_t items = 0;
      pb::ListDecoder d(row.max_item, [&](std::string_view) { ++items; });
      std::optional<ListDecodeError> err;
      for (std::size_t at = 0; at < row.body.size() && !err; at += piece)
        err = d.feed(std::string_view(row.body).substr(at, piece));
      if (!err) err = d.finish();
      EXPECT_EQ(err, row.error) << "piece " << piece;
      if (row.error && std::string_view(row.name) != "a second TypeMeta after the list") {
        EXPECT_EQ(items, 0U);  // nothing handed on from what is not a list
      }
      if (!row.error) {
        EXPECT_EQ(items, row.items);
        if (std::string_view(row.name).find("zero-length list") == std::string_view::npos) {
          EXPECT_EQ(d.resource_version(), "12");
          EXPECT_EQ(d.continue_token(), "tok");
        }
      }
    }
  }
}

TEST(Protobuf, TimesAreJsonsRfc3339) {
  struct Row {
    std::int64_t seconds;
    const char* text;
  };
  for (const Row& row : std::vector<Row>{{0, ""},
                                         {951782400, "2000-02-29T00:00:00Z"},
                                         {1709208000, "2024-02-29T12:00:00Z"},
                                         {1796484337, "2026-12-05T15:25:37Z"},
                                         {4102444799, "2099-12-31T23:59:59Z"},
                                         {-86400, "1969-12-31T00:00:00Z"}}) {
    EXPECT_EQ(pb::rfc3339(row.seconds), row.text) << row.seconds;
  }
}

TEST(Protobuf, EncodingFollowsTheContentType) {
  EXPECT_EQ(pb::encoding_of("application/vnd.kubernetes.protobuf"), pb::Encoding::kProtobuf);
  EXPECT_EQ(pb::encoding_of("application/vnd.kubernetes.protobuf;stream=watch"), pb::Encoding::kProtobuf);
  EXPECT_EQ(pb::encoding_of("Application/Vnd.Kubernetes.Protobuf ; stream=watch"), pb::Encoding::kProtobuf);
  EXPECT_EQ(pb::encoding_of("application/json"), pb::Encoding::kJson);
  EXPECT_EQ(pb::encoding_of(""), pb::Encoding::kJson);
  EXPECT_EQ(pb::encoding_of("application/vnd.kubernetes.protobuf-x"), pb::Encoding::kJson);
}

}  // namespace
}  // namespace crashdiag::core
