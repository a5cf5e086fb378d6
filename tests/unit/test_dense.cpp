#include <gtest/gtest.h>

#include <vector>

#include "bpt/core/rng.hpp"
#include "bpt/nn/dense.hpp"

using namespace bpt;

namespace {
std::vector<float> rnd(std::size_t n, std::uint64_t seed) {
  CounterRng r(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(r.uniform() * 2 - 1);
  return v;
}
}  // namespace

// The fused BLAS path against the naive loops, for every activation, on odd shapes.
TEST(Dense, FastMatchesNaive) {
  for (Activation f : {Activation::Identity, Activation::Relu, Activation::LeakyRelu, Activation::Tanh,
                       Activation::Sigmoid}) {
    const std::size_t b = 7, in = 13, out = 5;
    auto x = rnd(b * in, 1), w = rnd(out * in, 2), bias = rnd(out, 3), dy = rnd(b * out, 4);
    std::vector<float> z1(b * out), a1(b * out), z2(b * out), a2(b * out);
    dense_forward<float>(ConstMatView<float>(x.data(), b, in), w.data(), bias.data(), f, MatView<float>(z1.data(), b, out),
                         MatView<float>(a1.data(), b, out));
    dense_forward_naive<float>(ConstMatView<float>(x.data(), b, in), w.data(), bias.data(), f,
                               MatView<float>(z2.data(), b, out), MatView<float>(a2.data(), b, out));
    for (std::size_t i = 0; i < z1.size(); ++i) {
      ASSERT_NEAR(z1[i], z2[i], 1e-5);
      ASSERT_NEAR(a1[i], a2[i], 1e-5);
    }
    auto d1 = dy, d2 = dy;
    std::vector<float> dw1(out * in, 0.5f), dw2(out * in, 0.5f), db1(out, 0.25f), db2(out, 0.25f);
    std::vector<float> dx1(b * in), dx2(b * in);
    dense_backward<float>(ConstMatView<float>(x.data(), b, in), w.data(), ConstMatView<float>(z1.data(), b, out),
                          ConstMatView<float>(a1.data(), b, out), f, MatView<float>(d1.data(), b, out), dw1.data(),
                          db1.data(), MatView<float>(dx1.data(), b, in));
    dense_backward_naive<float>(ConstMatView<float>(x.data(), b, in), w.data(), ConstMatView<float>(z2.data(), b, out),
                                ConstMatView<float>(a2.data(), b, out), f, MatView<float>(d2.data(), b, out),
                                dw2.data(), db2.data(), MatView<float>(dx2.data(), b, in));
    for (std::size_t i = 0; i < dw1.size(); ++i) ASSERT_NEAR(dw1[i], dw2[i], 1e-5) << to_string(f);
    for (std::size_t i = 0; i < db1.size(); ++i) ASSERT_NEAR(db1[i], db2[i], 1e-5) << to_string(f);
    for (std::size_t i = 0; i < dx1.size(); ++i) ASSERT_NEAR(dx1[i], dx2[i], 1e-5) << to_string(f);
  }
}
