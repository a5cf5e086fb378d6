#pragma once
// FNV-1a over bytes: checksums of weights (replica agreement) and fingerprints of configs.
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace bpt {

inline std::uint64_t fnv1a_bytes(const void* data, std::size_t n, std::uint64_t h = 0xcbf29ce484222325ULL) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}
// FNV-1a's step applied to a whole word at once (faster than bytes; fingerprints of sizes and values).
inline std::uint64_t fnv1a_word(std::uint64_t v, std::uint64_t h = 0xcbf29ce484222325ULL) {
  return (h ^ v) * 0x100000001b3ULL;
}
inline std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 0xcbf29ce484222325ULL) {
  return fnv1a_bytes(s.data(), s.size(), h);
}

// A 64-bit hash of n bytes, eight at a time in four independent lanes, each word mixed down as well
// as up: several GB/s, for fingerprints of whole datasets.
inline std::uint64_t hash_words(const void* data, std::size_t n, std::uint64_t h = 0xcbf29ce484222325ULL) {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t lane[4] = {h, h ^ 0x9E3779B97F4A7C15ULL, h ^ 0xBF58476D1CE4E5B9ULL, h ^ 0x94D049BB133111EBULL};
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int k = 0; k < 4; ++k) {
      std::uint64_t w;
      std::memcpy(&w, p + i + 8 * k, sizeof w);
      lane[k] = (lane[k] ^ w) * 0x9E3779B97F4A7C15ULL;
      lane[k] ^= lane[k] >> 29;
    }
  std::uint64_t out = fnv1a_bytes(p + i, n - i, fnv1a_word(n, h));
  for (std::uint64_t v : lane) out = fnv1a_word(v ^ (v >> 32), out);
  return out;
}

// Bitwise checksum of a float buffer, word at a time (fast enough to run every few steps).
inline std::uint64_t checksum(std::span<const float> v) {
  std::uint64_t h = 0x84222325cbf29ce4ULL ^ v.size();
  for (float f : v) {
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    h = fnv1a_word(u, h);
  }
  return h;
}

}  // namespace bpt
