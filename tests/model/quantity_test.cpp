#include <gtest/gtest.h>

#include <ostream>

#include "crashdiag/model/quantity.hpp"

namespace crashdiag {
namespace {

struct QuantityCase {
  const char* text;
  std::optional<std::int64_t> bytes;
};

// gtest prints parameters in test names and failures; the name says which row.
void PrintTo(const QuantityCase& p, std::ostream* os) {
  *os << p.text;
}

class MemoryQuantity : public ::testing::TestWithParam<QuantityCase> {};

TEST_P(MemoryQuantity, ParsesLikeApimachinery) {
  EXPECT_EQ(parse_memory_quantity(GetParam().text), GetParam().bytes);
}

INSTANTIATE_TEST_SUITE_P(Table, MemoryQuantity,
                         ::testing::Values(QuantityCase{"512Mi", 512LL << 20}, QuantityCase{"1Gi", 1LL << 30},
                                           QuantityCase{"128974848", 128974848}, QuantityCase{"129e6", 129000000},
                                           QuantityCase{"129M", 129000000}, QuantityCase{"1.5Gi", 3LL << 29},
                                           QuantityCase{"100k", 100000}, QuantityCase{"", std::nullopt},
                                           QuantityCase{"12Zi", std::nullopt}, QuantityCase{"-1Mi", std::nullopt},
                                           QuantityCase{"Mi", std::nullopt}));

TEST(JvmSize, ParsesXmxValues) {
  EXPECT_EQ(parse_jvm_size("1g"), 1LL << 30);
  EXPECT_EQ(parse_jvm_size("512m"), 512LL << 20);
  EXPECT_EQ(parse_jvm_size("2048K"), 2048LL << 10);
  EXPECT_EQ(parse_jvm_size("x"), std::nullopt);
}

}  // namespace
}  // namespace crashdiag
