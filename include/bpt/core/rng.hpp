#pragma once
// Counter-based randomness: every draw is a pure function of (key, counter), so any
// rank can reproduce any draw without sharing state (dropout by global sample index,
// permutations by (seed, epoch), initial weights by (seed, layer)).
#include <cmath>
#include <cstdint>

namespace bpt {

// splitmix64 finaliser: a bijective, well-mixed 64-bit hash.
constexpr std::uint64_t mix64(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

constexpr std::uint64_t hash_key(std::uint64_t a, std::uint64_t b = 0, std::uint64_t c = 0, std::uint64_t d = 0) {
  return mix64(mix64(mix64(mix64(a) ^ b) ^ c) ^ d);
}

// Uniform in [0, 1) with 24 random bits (exact in float).
inline float to_unit_float(std::uint64_t x) { return static_cast<float>(x >> 40) * 0x1.0p-24f; }
// Uniform in [0, 1) with 53 random bits.
inline double to_unit_double(std::uint64_t x) { return static_cast<double>(x >> 11) * 0x1.0p-53; }

class CounterRng {
 public:
  explicit CounterRng(std::uint64_t key, std::uint64_t counter = 0) : key_(key), counter_(counter) {}
  std::uint64_t next() { return mix64(key_ ^ mix64(counter_++)); }
  double uniform() { return to_unit_double(next()); }
  // Uniform integer in [0, n) without modulo bias worth noticing for n << 2^64.
  std::uint64_t below(std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
  double normal() {  // Box-Muller; one draw per call keeps the counter arithmetic simple.
    double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  std::uint64_t key_, counter_;
};

}  // namespace bpt
