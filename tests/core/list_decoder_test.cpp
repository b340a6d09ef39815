// The streaming List decoder: items out one at a time whatever way the bytes are split, the
// list's resourceVersion and continue read wherever metadata sits, and typed errors with bounded
// memory on what is not a list.
#include "crashdiag/core/list_decoder.hpp"

#include <gtest/gtest.h>

#include <ostream>

#include <string>
#include <vector>

#include "test_support.hpp"

namespace crashdiag::core {
namespace {

struct Decoded {
  std::vector<std::string> items;
  std::string rv;
  std::string cont;
  std::optional<ListDecodeError> error;
};

Decoded decode(std::string_view body, std::size_t chunk, std::size_t max_item = 1 << 20) {
  Decoded out;
  ListDecoder d(max_item, [&](std::string_view item) { out.items.emplace_back(item); });
  for (std::size_t at = 0; at < body.size() && !out.error; at += chunk) {
    out.error = d.feed(body.substr(at, chunk));
  }
  if (!out.error) out.error = d.finish();
  out.rv = d.resource_version();
  out.cont = d.continue_token();
  return out;
}

struct Row {
  const char* name;
  std::string body;
  std::vector<std::string> items;
  std::string rv;
  std::string cont;
  std::optional<ListDecodeError> error;
};

// ctest names the row, not its bytes.
void PrintTo(const Row& row, std::ostream* os) {
  *os << row.name;
}

class ListDecoderTable : public ::testing::TestWithParam<Row> {};

// Every split of the body into two chunks, and byte by byte, decodes the same.
TEST_P(ListDecoderTable, DecodesTheSameWhereverTheBodyIsSplit) {
  const Row& row = GetParam();
  for (std::size_t chunk : {row.body.size() + 1, std::size_t{1}, std::size_t{2}, std::size_t{7}}) {
    const Decoded d = decode(row.body, chunk);
    EXPECT_EQ(d.error, row.error) << "chunk " << chunk;
    if (row.error) continue;
    EXPECT_EQ(d.items, row.items) << "chunk " << chunk;
    EXPECT_EQ(d.rv, row.rv);
    EXPECT_EQ(d.cont, row.cont);
  }
  for (std::size_t cut = 1; cut < row.body.size(); ++cut) {
    Decoded out;
    ListDecoder d(1 << 20, [&](std::string_view item) { out.items.emplace_back(item); });
    std::optional<ListDecodeError> e = d.feed(std::string_view(row.body).substr(0, cut));
    if (!e) e = d.feed(std::string_view(row.body).substr(cut));
    if (!e) e = d.finish();
    EXPECT_EQ(e, row.error) << "cut at " << cut;
    if (!row.error) {
      EXPECT_EQ(out.items, row.items) << "cut at " << cut;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Bodies, ListDecoderTable,
    ::testing::Values(
        Row{"pod_list",
            R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"375","continue":"abc"},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b","annotations":{"x":"}]{[\"\\"}}}]})",
            {R"({"metadata":{"name":"a"}})", R"({"metadata":{"name":"b","annotations":{"x":"}]{[\"\\"}}})"},
            "375",
            "abc",
            std::nullopt},
        // Escapes followed by ordinary text, an escaped quote before the real one, and a string
        // that ends right after an escaped backslash: the string scan's remembered quote must
        // be searched again once it is passed.
        Row{"escapes_then_text_in_one_string",
            R"({"items":[{"a":"x\ny\tz\\","b":"q\"r\"s]}{"},{"c":"\\"}],"metadata":{"resourceVersion":"3"}})",
            {R"({"a":"x\ny\tz\\","b":"q\"r\"s]}{"})", R"({"c":"\\"})"},
            "3",
            "",
            std::nullopt},
        Row{"metadata_after_items_and_whitespace",
            "{ \"items\" : [ {\"a\":[1,2,{}]} ,\n {} ] ,\r\n\t\"metadata\" : { \"resourceVersion\" : \"9\" } }\n",
            {R"({"a":[1,2,{}]})", "{}"},
            "9",
            "",
            std::nullopt},
        Row{"empty_and_null_items",
            R"({"kind":"EventList","metadata":{"resourceVersion":"1"},"items":null})",
            {},
            "1",
            "",
            std::nullopt},
        Row{"empty_array", R"({"metadata":{"resourceVersion":"2"},"items":[]})", {}, "2", "", std::nullopt},
        Row{"a_key_that_looks_like_items_inside_an_item",
            R"({"items":[{"items":[{"x":1}],"metadata":{"resourceVersion":"7"}}],"metadata":{"resourceVersion":"8"}})",
            {R"({"items":[{"x":1}],"metadata":{"resourceVersion":"7"}})"},
            "8",
            "",
            std::nullopt},
        Row{"a_status_is_not_a_list",
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","code":500})",
            {},
            "",
            "",
            ListDecodeError::kMalformed},
        Row{"truncated",
            R"({"metadata":{"resourceVersion":"1"},"items":[{"a":1},)",
            {},
            "",
            "",
            ListDecodeError::kMalformed},
        Row{"items_that_are_not_objects", R"({"items":[1,2]})", {}, "", "", ListDecodeError::kMalformed},
        Row{"not_json", "<html>502 Bad Gateway</html>", {}, "", "", ListDecodeError::kMalformed},
        Row{"trailing_garbage", R"({"items":[]}x)", {}, "", "", ListDecodeError::kMalformed}),
    [](const ::testing::TestParamInfo<Row>& info) { return std::string(info.param.name); });

TEST(ListDecoder, AnItemOverTheBoundIsAnErrorAndItsBytesAreNotKept) {
  const std::string big(4096, 'x');
  const std::string body = R"({"items":[{"a":"small"},{"a":")" + big + R"("}]})";
  const Decoded d = decode(body, 100, 1024);
  EXPECT_EQ(d.error, ListDecodeError::kItemTooLarge);
  EXPECT_EQ(d.items, std::vector<std::string>{R"({"a":"small"})"});
}

TEST(ListDecoder, TheRecordedRv0PodListOfARealApiserverDecodes) {
  // ../shared/k8s-fixtures/04-list-pods-rv0-from-cache-200.json (copied to tests/data/k8s): the watch cache's answer.
  const std::string body =
      testing::read_file(testing::source_path("tests/data/k8s/04-list-pods-rv0-from-cache-200.json"));
  const Decoded d = decode(body, 4096);
  ASSERT_EQ(d.error, std::nullopt);
  EXPECT_EQ(d.rv, "375");
  EXPECT_GT(d.items.size(), 0U);
  for (const std::string& item : d.items) EXPECT_EQ(item.rfind("{\"metadata\":", 0), 0U) << item.substr(0, 40);
}

}  // namespace
}  // namespace crashdiag::core
