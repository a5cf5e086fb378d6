#include "bpt/nn/init.hpp"

#include <cmath>

#include "bpt/core/error.hpp"
#include "bpt/core/rng.hpp"

namespace bpt {

Init parse_init(std::string_view name) {
  if (name == "xavier_uniform" || name == "glorot_uniform" || name == "xavier") return Init::XavierUniform;
  if (name == "xavier_normal" || name == "glorot_normal") return Init::XavierNormal;
  if (name == "he_uniform" || name == "kaiming_uniform") return Init::HeUniform;
  if (name == "he_normal" || name == "kaiming_normal" || name == "he") return Init::HeNormal;
  throw Error("unknown init '" + std::string(name) +
              "' (expected xavier_uniform, xavier_normal, he_uniform, he_normal)");
}

std::string to_string(Init i) {
  switch (i) {
    case Init::XavierUniform: return "xavier_uniform";
    case Init::XavierNormal: return "xavier_normal";
    case Init::HeUniform: return "he_uniform";
    case Init::HeNormal: return "he_normal";
  }
  return "?";
}

template <class T>
void init_dense(T* w, T* b, std::size_t out, std::size_t in, Init kind, std::uint64_t seed, std::size_t layer) {
  const bool xavier = kind == Init::XavierUniform || kind == Init::XavierNormal;
  const double var = xavier ? 2.0 / static_cast<double>(in + out) : 2.0 / static_cast<double>(in);
  const bool uniform = kind == Init::XavierUniform || kind == Init::HeUniform;
  const double limit = std::sqrt(3.0 * var), sd = std::sqrt(var);
  CounterRng rng(hash_key(seed, 0x1417, layer));
  for (std::size_t i = 0; i < out * in; ++i)
    w[i] = static_cast<T>(uniform ? (2.0 * rng.uniform() - 1.0) * limit : rng.normal() * sd);
  for (std::size_t i = 0; i < out; ++i) b[i] = T(0);
}

template void init_dense<float>(float*, float*, std::size_t, std::size_t, Init, std::uint64_t, std::size_t);
template void init_dense<double>(double*, double*, std::size_t, std::size_t, Init, std::uint64_t, std::size_t);

}  // namespace bpt
