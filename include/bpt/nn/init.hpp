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
// The same for any weight tensor of `count` elements with its fans (a convolution's, as PyTorch counts
// them: fan_in = C_in·K·K, fan_out = C_out·K·K), zeroing bias_count biases. init_dense is this with
// count = out·in, fan_in = in, fan_out = out.
template <class T>
void init_weights(T* w, std::size_t count, T* b, std::size_t bias_count, std::size_t fan_in, std::size_t fan_out,
                  Init kind, std::uint64_t seed, std::size_t layer);

}  // namespace bpt
