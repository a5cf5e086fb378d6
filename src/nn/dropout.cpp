#include "bpt/nn/dropout.hpp"

#include "bpt/core/rng.hpp"

namespace bpt {

template <class T>
void dropout_forward(ConstMatView<T> a, float p, std::uint64_t seed, std::uint64_t step, const std::uint64_t* sample_ids,
                     std::size_t layer, MatView<T> mask, MatView<T> out) {
  const T keep_scale = T(1) / (T(1) - static_cast<T>(p));
  for (std::size_t r = 0; r < a.rows; ++r) {
    const std::uint64_t key = hash_key(seed, step, sample_ids[r], layer);
    for (std::size_t c = 0; c < a.cols; ++c) {
      const bool keep = to_unit_float(mix64(key ^ c)) >= p;
      const T m = keep ? keep_scale : T(0);
      if (mask.data) mask(r, c) = m;
      out(r, c) = a(r, c) * m;
    }
  }
}

template void dropout_forward<float>(ConstMatView<float>, float, std::uint64_t, std::uint64_t, const std::uint64_t*,
                                     std::size_t, MatView<float>, MatView<float>);
template void dropout_forward<double>(ConstMatView<double>, float, std::uint64_t, std::uint64_t,
                                      const std::uint64_t*, std::size_t, MatView<double>, MatView<double>);

}  // namespace bpt
