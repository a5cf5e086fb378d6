#pragma once
// bfloat16 (the upper 16 bits of an IEEE float: 8 exponent bits, 7 mantissa bits) for gradients on the
// wire (--grad-compression bf16). Rounding to nearest, ties to even, as PyTorch's float -> bfloat16
// cast and Intel's VCVTNEPS2BF16 round; a NaN stays a NaN (its quiet bit set, so that no NaN rounds
// to an infinity), infinities stay infinities, and a finite value beyond bfloat16's largest rounds to
// an infinity, so the step's non-finite check still sees it.
#include <cstddef>
#include <cstdint>
#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

// out[j] = to_bf16(in[j]) for j < n. With SSE2 (every x86-64), eight at a time: the compiler's own
// vectorisation of the loop narrows 32 to 16 bits by shuffles (3.6x the time of as many of the
// reducer's float additions, 2026-12-06 on a Xeon VM; this loop 2.4x: bench_kernels' BM_WireKernels);
// an arithmetic shift leaves each result in int16's range, so one signed pack narrows it exactly.
inline void pack_bf16(std::uint16_t* out, const float* in, std::size_t n) {
  std::size_t j = 0;
#ifdef __SSE2__
  const __m128i bias = _mm_set1_epi32(0x7fff), one = _mm_set1_epi32(1), magnitude = _mm_set1_epi32(0x7fffffff),
                inf = _mm_set1_epi32(0x7f800000), quiet = _mm_set1_epi32(0x400000);
  auto round = [&](__m128i u) {
    const __m128i rounded = _mm_add_epi32(_mm_add_epi32(u, bias), _mm_and_si128(_mm_srli_epi32(u, 16), one));
    const __m128i nan = _mm_cmpgt_epi32(_mm_and_si128(u, magnitude), inf);  // both sides >= 0: signed compare
    const __m128i r = _mm_or_si128(_mm_and_si128(nan, _mm_or_si128(u, quiet)), _mm_andnot_si128(nan, rounded));
    return _mm_srai_epi32(r, 16);
  };
  for (const std::size_t whole = n / 8 * 8; j < whole; j += 8) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + j));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + j + 4));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + j), _mm_packs_epi32(round(a), round(b)));
  }
#endif
  for (; j < n; ++j) out[j] = to_bf16(in[j]);
}

// d[j] += from_bf16(in[j]) for j < n: the sum itself stays in float.
inline void add_bf16(float* d, const std::uint16_t* in, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) d[j] += from_bf16(in[j]);
}

}  // namespace bpt
