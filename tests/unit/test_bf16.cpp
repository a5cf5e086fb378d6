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

TEST(Bf16, VectorPackMatchesTheOneValueFunctionOnEveryKindOfBitPattern) {
  // pack_bf16 runs eight at a time where it can (SSE2): the same bits as to_bf16 for random patterns
  // (every sign, exponent and NaN payload) and the edges, at lengths that leave every tail length.
  std::vector<std::uint32_t> bits = {0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7f800001u, 0xffffffffu,
                                     0x7fffffffu, 0xffff8000u, 0x7f7fffffu, 0xff7fffffu, 0x3f808000u, 0x3f818000u,
                                     0x3f807fffu, 0x00008000u, 0x00018000u, 0x807fffffu};
  std::uint64_t x = 0x9e3779b97f4a7c15ull;
  while (bits.size() < 4099) {  // splitmix64
    x += 0x9e3779b97f4a7c15ull;
    std::uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    bits.push_back(static_cast<std::uint32_t>(z ^ (z >> 31)));
  }
  std::vector<float> in(bits.size());
  std::memcpy(in.data(), bits.data(), bits.size() * sizeof(float));
  for (std::size_t n : {bits.size(), std::size_t{4096}, std::size_t{15}, std::size_t{8}, std::size_t{3}}) {
    std::vector<std::uint16_t> out(n);
    pack_bf16(out.data(), in.data(), n);
    for (std::size_t j = 0; j < n; ++j) ASSERT_EQ(out[j], to_bf16(in[j])) << "bits " << std::hex << bits[j] << ", n " << std::dec << n;
  }
}
