#pragma once
// The forward and backward GEMMs of an MLP at one batch size, and nothing else: what bench_floor
// times, and what bench_ceiling adds a data-parallel step to, so both run exactly the same GEMMs.
// Weights and their gradients are flat: layer l's [out, in] matrix at offset(l), as in bptrain.
#include <cstddef>
#include <sstream>
#include <string>
#include <vector>

#include "bpt/core/gemm.hpp"

namespace bench {

// "784,512,256,10" -> {784, 512, 256, 10}
inline std::vector<std::size_t> parse_sizes(const std::string& text) {
  std::vector<std::size_t> sz;
  std::stringstream ss(text);
  for (std::string t; std::getline(ss, t, ',');) sz.push_back(std::stoul(t));
  return sz;
}

class MlpGemms {
 public:
  MlpGemms(std::vector<std::size_t> sizes, std::size_t batch) : sz_(std::move(sizes)), b_(batch) {
    const std::size_t nl = sz_.size() - 1;
    off_.assign(nl + 1, 0);
    for (std::size_t l = 0; l < nl; ++l) off_[l + 1] = off_[l] + sz_[l + 1] * sz_[l];
    act_.resize(nl + 1);
    delta_.resize(nl + 1);
    for (std::size_t l = 0; l <= nl; ++l) {
      act_[l].assign(b_ * sz_[l], 0.01f);
      delta_[l].assign(b_ * sz_[l], 0.01f);
    }
  }
  std::size_t num_weights() const { return off_.back(); }
  // Training FLOPs of one pass: 6·B·in·out per layer, 4·B·in·out for the first (no input gradient).
  double flop() const {
    double f = 0;
    for (std::size_t l = 0; l + 1 < sz_.size(); ++l) f += (l == 0 ? 4.0 : 6.0) * double(b_ * sz_[l] * sz_[l + 1]);
    return f;
  }
  // Forward, then backward: dw gets every weight gradient, the deltas every input gradient but the first.
  void run(const float* w, float* dw) {
    using namespace bpt;
    const std::size_t nl = sz_.size() - 1;
    for (std::size_t l = 0; l < nl; ++l)
      gemm(Trans::No, Trans::Yes, 1.0f, ConstMatView<float>(act_[l].data(), b_, sz_[l]),
           ConstMatView<float>(w + off_[l], sz_[l + 1], sz_[l]), 0.0f, MatView<float>(act_[l + 1].data(), b_, sz_[l + 1]));
    for (std::size_t l = nl; l-- > 0;) {
      gemm(Trans::Yes, Trans::No, 1.0f, ConstMatView<float>(delta_[l + 1].data(), b_, sz_[l + 1]),
           ConstMatView<float>(act_[l].data(), b_, sz_[l]), 0.0f, MatView<float>(dw + off_[l], sz_[l + 1], sz_[l]));
      if (l > 0)
        gemm(Trans::No, Trans::No, 1.0f, ConstMatView<float>(delta_[l + 1].data(), b_, sz_[l + 1]),
             ConstMatView<float>(w + off_[l], sz_[l + 1], sz_[l]), 0.0f, MatView<float>(delta_[l].data(), b_, sz_[l]));
    }
  }

 private:
  std::vector<std::size_t> sz_, off_;
  std::size_t b_;
  std::vector<std::vector<float>> act_, delta_;
};

}  // namespace bench
