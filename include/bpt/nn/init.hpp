#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace bpt {

enum class Init { XavierUniform, XavierNormal, HeUniform, HeNormal };
Init parse_init(std::string_view name);  // xavier_uniform | xavier_normal | he_uniform | he_normal
std::string to_string(Init i);

// Fills W [out, in] from a counter RNG keyed by (seed, layer), and zeroes b [out].
// Xavier/Glorot: Var = 2/(in+out); He/Kaiming (fan_in): Var = 2/in.
template <class T>
void init_dense(T* w, T* b, std::size_t out, std::size_t in, Init kind, std::uint64_t seed, std::size_t layer);

}  // namespace bpt
