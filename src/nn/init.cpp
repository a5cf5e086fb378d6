#include "bpt/nn/init.hpp"

#include <cmath>

#include "bpt/core/error.hpp"
#include "bpt/core/names.hpp"
#include "bpt/core/rng.hpp"

namespace bpt {

namespace {
constexpr NameOf<Init> kInits[] = {{Init::XavierUniform, "xavier_uniform"}, {Init::XavierNormal, "xavier_normal"},
                                   {Init::HeUniform, "he_uniform"},         {Init::HeNormal, "he_normal"},
                                   {Init::XavierUniform, "glorot_uniform"}, {Init::XavierUniform, "xavier"},
                                   {Init::XavierNormal, "glorot_normal"},   {Init::HeUniform, "kaiming_uniform"},
                                   {Init::HeNormal, "kaiming_normal"},      {Init::HeNormal, "he"}};
}  // namespace

Init parse_init(std::string_view name) { return parse_name(kInits, name, "init"); }
std::string to_string(Init i) { return name_of(kInits, i); }

template <class T>
void init_weights(T* w, std::size_t count, T* b, std::size_t bias_count, std::size_t fan_in, std::size_t fan_out,
                  Init kind, std::uint64_t seed, std::size_t layer) {
  const bool xavier = kind == Init::XavierUniform || kind == Init::XavierNormal;
  const double var = xavier ? 2.0 / static_cast<double>(fan_in + fan_out) : 2.0 / static_cast<double>(fan_in);
  const bool uniform = kind == Init::XavierUniform || kind == Init::HeUniform;
  const double limit = std::sqrt(3.0 * var), sd = std::sqrt(var);
  CounterRng rng(hash_key(seed, 0x1417, layer));
  for (std::size_t i = 0; i < count; ++i)
    w[i] = static_cast<T>(uniform ? (2.0 * rng.uniform() - 1.0) * limit : rng.normal() * sd);
  for (std::size_t i = 0; i < bias_count; ++i) b[i] = T(0);
}

template <class T>
void init_dense(T* w, T* b, std::size_t out, std::size_t in, Init kind, std::uint64_t seed, std::size_t layer) {
  init_weights(w, out * in, b, out, in, out, kind, seed, layer);
}

template void init_weights<float>(float*, std::size_t, float*, std::size_t, std::size_t, std::size_t, Init,
                                  std::uint64_t, std::size_t);
template void init_weights<double>(double*, std::size_t, double*, std::size_t, std::size_t, std::size_t, Init,
                                   std::uint64_t, std::size_t);
template void init_dense<float>(float*, float*, std::size_t, std::size_t, Init, std::uint64_t, std::size_t);
template void init_dense<double>(double*, double*, std::size_t, std::size_t, Init, std::uint64_t, std::size_t);

}  // namespace bpt
