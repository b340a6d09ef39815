// The fake's protobuf for pods against the real server's (tests/data/k8s/pb/): the same pods,
// encoded by the fake from their JSON, must read back as the records the real server's protobuf
// gives; and the fake's LIST answers protobuf exactly where the real one does.
#include "pod_protobuf.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "crashdiag/core/list_decoder.hpp"
#include "crashdiag/core/pod_record.hpp"
#include "crashdiag/core/protobuf.hpp"
#include "test_support.hpp"

namespace crashdiag::fake {
namespace {

using nlohmann::json;

// A failed comparison says which field differs.
std::string describe(const core::PodRecord& r) {
  std::ostringstream out;
  std::ostringstream* os = &out;
  *os << r.namespace_ << "/" << r.name << " uid=" << r.uid << " rv=" << r.resource_version << " owner=" << r.owner_kind
      << "/" << r.owner_name << "/" << r.owner_uid << " policy=" << r.restart_policy << " unready=" << r.not_ready_since
      << " deleting=" << r.deleting << " ignored=" << r.ignored << " rca=" << r.rca_annotation
      << " root=" << r.root_cause_annotation;
  for (const auto& c : r.containers) {
    *os << " [" << c.name << " init=" << c.init << " restarts=" << c.restart_count << " running=" << c.running
        << " ready=" << c.ready << " sidecar=" << c.sidecar << " pvc=" << c.datastore_pvc
        << " waiting=" << c.waiting_reason;
    if (c.terminated)
      *os << " term=" << c.terminated->exit_code << "/" << c.terminated->reason << "/" << c.terminated->finished_at;
    if (c.last_terminated)
      *os << " last=" << c.last_terminated->exit_code << "/" << c.last_terminated->reason << "/"
          << c.last_terminated->finished_at;
    *os << "]";
  }
  return out.str();
}

std::string data(const std::string& relative) {
  return testing::read_file(testing::source_path(relative));
}

std::vector<core::PodRecord> pb_list(const std::string& body) {
  std::vector<core::PodRecord> out;
  core::pb::ListDecoder d(1 << 20, [&](std::string_view item) {
    auto r = core::parse_pod_record_protobuf(item);
    EXPECT_TRUE(r) << r.error().what;
    if (r) out.push_back(*r);
  });
  EXPECT_FALSE(d.feed(body));
  EXPECT_FALSE(d.finish());
  return out;
}

// The fake's Status in protobuf is the real server's, byte for byte: each recorded error, read back
// and encoded again from the JSON Status the fake would hold, gives the recorded bytes.
TEST(FakePodProtobuf, ItsStatusIsTheRealServersBytes) {
  for (const char* file : {"list-bad-continue.pb", "unauthorized.pb", "list-expired.pb"}) {
    SCOPED_TRACE(file);
    const std::string recorded = data(std::string("tests/data/k8s/pb/") + file);
    auto status = core::pb::parse_status(recorded);
    ASSERT_TRUE(status);
    EXPECT_FALSE(status->message.empty());
    const json as_json{{"kind", "Status"},    {"apiVersion", "v1"},         {"metadata", json::object()},
                       {"status", "Failure"}, {"message", status->message}, {"reason", status->reason},
                       {"code", status->code}};
    EXPECT_EQ(encode_status_protobuf(as_json), recorded);
  }
}

TEST(FakePodProtobuf, TheRecordedPodsReadAsTheRealServersEncodingOfThem) {
  const json list = json::parse(data("tests/data/k8s/pb/list-exact.json"));
  const auto real = pb_list(data("tests/data/k8s/pb/list-exact.pb"));
  ASSERT_EQ(real.size(), list["items"].size());
  for (std::size_t i = 0; i < real.size(); ++i) {
    SCOPED_TRACE(list["items"][i]["metadata"]["name"].get<std::string>());
    auto ours = core::parse_pod_record_protobuf(encode_pod_protobuf(list["items"][i]));
    ASSERT_TRUE(ours) << ours.error().what;
    EXPECT_EQ(describe(*ours), describe(real[i]));
    EXPECT_EQ(*ours, real[i]);
  }
  // The whole list body: the envelope, ListMeta and items.
  const std::string body = encode_pod_list_protobuf(list);
  EXPECT_EQ(pb_list(body), real);
  core::pb::ListDecoder d(1 << 20, [](std::string_view) {});
  ASSERT_FALSE(d.feed(body));
  ASSERT_FALSE(d.finish());
  EXPECT_EQ(d.resource_version(), "383");
}

// Every pod the examples and the recorded fixtures hold: its record from the fake's protobuf is
// its record from JSON.
TEST(FakePodProtobuf, EveryFixturePodReadsTheSameInBothEncodings) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(testing::source_path("examples")))
    if (std::filesystem::exists(e.path() / "pod.json")) files.push_back(e.path() / "pod.json");
  for (const auto& e : std::filesystem::directory_iterator(testing::source_path("tests/data/k8s")))
    if (e.path().filename().string().find("-get-pod-") != std::string::npos) files.push_back(e.path());
  ASSERT_GE(files.size(), 10U);
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    const std::string text = testing::read_file(f.string());
    auto from_json = core::parse_pod_record(text);
    ASSERT_TRUE(from_json) << from_json.error().what;
    // The real server writes initContainerStatuses before containerStatuses (PodStatus's Go field
    // order; 11-get-pod-crash-init.json), as the protobuf reader orders them; some hand-written
    // examples do not.
    std::stable_partition(from_json->containers.begin(), from_json->containers.end(),
                          [](const core::ContainerRecord& c) { return c.init; });
    const json pod = json::parse(text);
    auto from_pb = core::parse_pod_record_protobuf(encode_pod_protobuf(pod));
    ASSERT_TRUE(from_pb) << from_pb.error().what;
    EXPECT_EQ(describe(*from_pb), describe(*from_json));
    EXPECT_EQ(*from_pb, *from_json);
  }
}

}  // namespace
}  // namespace crashdiag::fake
