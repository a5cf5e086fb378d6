// bfloat16 for --grad-compression bf16 (bpt/core/bf16.hpp): rounding to nearest, ties to even, and
// what happens to NaN, infinities and values beyond bfloat16's range.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "bpt/core/bf16.hpp"

using namespace bpt;

TEST(Bf16, RoundsToNearestTiesToEven) {
  // bfloat16 keeps 8 significant bits: between 1 and 2 its steps are 2^-7.
  const float step = std::ldexp(1.0f, -7);
  EXPECT_EQ(from_bf16(to_bf16(1.0f)), 1.0f);
  EXPECT_EQ(from_bf16(to_bf16(1.0f + step)), 1.0f + step);
  EXPECT_EQ(from_bf16(to_bf16(1.0f + 0.4f * step)), 1.0f);
  EXPECT_EQ(from_bf16(to_bf16(1.0f + 0.6f * step)), 1.0f + step);
  EXPECT_EQ(from_bf16(to_bf16(1.0f + 0.5f * step)), 1.0f);                 // tie: to the even 1.0
  EXPECT_EQ(from_bf16(to_bf16(1.0f + 1.5f * step)), 1.0f + 2 * step);      // tie: to the even 1 + 2 step
  EXPECT_EQ(from_bf16(to_bf16(-(1.0f + 0.6f * step))), -(1.0f + step));    // sign kept, magnitude rounded
  EXPECT_EQ(to_bf16(0.0f), 0x0000);
  EXPECT_EQ(to_bf16(-0.0f), 0x8000);
  EXPECT_EQ(to_bf16(3.0f), 0x4040);  // 3.0f is 0x40400000
}

TEST(Bf16, KeepsNanAndInfinityAndRoundsBeyondItsRangeToInfinity) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(from_bf16(to_bf16(inf)), inf);
  EXPECT_EQ(from_bf16(to_bf16(-inf)), -inf);
  EXPECT_TRUE(std::isnan(from_bf16(to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  // A NaN whose payload lies only in the low 16 bits would round to infinity without the quiet bit.
  std::uint32_t u = 0x7f800001u;
  float low_nan;
  std::memcpy(&low_nan, &u, sizeof u);
  ASSERT_TRUE(std::isnan(low_nan));
  EXPECT_TRUE(std::isnan(from_bf16(to_bf16(low_nan))));
  EXPECT_EQ(from_bf16(to_bf16(std::numeric_limits<float>::max())), inf);  // beyond bfloat16's largest
  EXPECT_TRUE(std::isfinite(from_bf16(to_bf16(3.0e38f))));
}

TEST(Bf16, PackAndAddMatchTheOneValueFunctions) {
  std::vector<float> in = {1.0f, -2.5f, 3.14159f, 1e-20f, 65504.0f}, d = {1, 1, 1, 1, 1};
  std::vector<std::uint16_t> packed(in.size());
  pack_bf16(packed.data(), in.data(), in.size());
  add_bf16(d.data(), packed.data(), in.size());
  for (std::size_t j = 0; j < in.size(); ++j) {
    EXPECT_EQ(packed[j], to_bf16(in[j]));
    EXPECT_EQ(d[j], 1.0f + from_bf16(to_bf16(in[j])));
    EXPECT_NEAR(from_bf16(packed[j]), in[j], std::fabs(in[j]) * std::ldexp(1.0, -8));
  }
}
