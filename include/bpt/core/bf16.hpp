#pragma once
// bfloat16 (the upper 16 bits of an IEEE float: 8 exponent bits, 7 mantissa bits) for gradients on the
// wire (--grad-compression bf16). Rounding to nearest, ties to even, as PyTorch's float -> bfloat16
// cast and Intel's VCVTNEPS2BF16 round; a NaN stays a NaN (its quiet bit set, so that no NaN rounds
// to an infinity), infinities stay infinities, and a finite value beyond bfloat16's largest rounds to
// an infinity, so the step's non-finite check still sees it.
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace bpt {

inline std::uint16_t to_bf16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  const std::uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  const std::uint32_t nan = (u >> 16) | 0x40u;
  return static_cast<std::uint16_t>((u & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}

inline float from_bf16(std::uint16_t h) {
  const std::uint32_t u = static_cast<std::uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// out[j] = to_bf16(in[j]) for j < n.
inline void pack_bf16(std::uint16_t* out, const float* in, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) out[j] = to_bf16(in[j]);
}

// d[j] += from_bf16(in[j]) for j < n: the sum itself stays in float.
inline void add_bf16(float* d, const std::uint16_t* in, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) d[j] += from_bf16(in[j]);
}

}  // namespace bpt
