// Convolution and pooling: the im2col + GEMM kernels against naive loops, central-difference gradient
// checks in double (relative error ‖a−n‖/‖a+n‖ ≤ 1e-6), and pooling on hand-worked images.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "bpt/core/rng.hpp"
#include "bpt/core/error.hpp"
#include "bpt/model/model.hpp"
#include "bpt/nn/conv.hpp"

using namespace bpt;

namespace {

template <class T>
std::vector<T> random_vec(std::size_t n, std::uint64_t seed, double lo = -1, double hi = 1) {
  CounterRng r(seed);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(lo + (hi - lo) * r.uniform());
  return v;
}

// Central differences of loss() in each element of p (p restored after each).
std::vector<double> numeric_grad(std::vector<double>& p, const std::function<double()>& loss) {
  std::vector<double> n(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) {
    const double p0 = p[i], h = 1e-6;
    p[i] = p0 + h;
    const double lp = loss();
    p[i] = p0 - h;
    const double lm = loss();
    p[i] = p0;
    n[i] = (lp - lm) / (2 * h);
  }
  return n;
}

double rel_err(const std::vector<double>& a, const std::vector<double>& n) {
  double d = 0, s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    d += (a[i] - n[i]) * (a[i] - n[i]);
    s += (a[i] + n[i]) * (a[i] + n[i]);
  }
  return s == 0 ? 0 : std::sqrt(d) / std::sqrt(s);
}

// Geometries: "same" and "valid" padding, strides 1 and 2, 1x1 kernels, several channels, a non-square
// image whose size the stride does not divide.
std::vector<ConvGeom> geometries() {
  return {{1, 6, 6, 2, 3, 1, 1}, {3, 7, 5, 4, 3, 2, 1}, {2, 8, 8, 3, 5, 1, 2}, {2, 9, 7, 3, 5, 1, 0},
          {3, 5, 5, 2, 1, 1, 0}, {2, 6, 6, 2, 3, 2, 0}, {1, 4, 4, 1, 4, 1, 0}};
}

}  // namespace

TEST(Conv, ForwardAndBackwardMatchTheNaiveLoops) {
  for (const ConvGeom& g : geometries()) {
    for (Activation f : {Activation::Relu, Activation::Tanh, Activation::Identity}) {
      SCOPED_TRACE("cin " + std::to_string(g.cin) + " " + std::to_string(g.h) + "x" + std::to_string(g.w) + " cout " +
                   std::to_string(g.cout) + " k " + std::to_string(g.k) + " s " + std::to_string(g.stride) + " p " +
                   std::to_string(g.pad) + " " + to_string(f));
      const std::size_t b = 3, in = g.in_size(), out = g.out_size();
      auto x = random_vec<float>(b * in, 1), w = random_vec<float>(g.weights(), 2), bias = random_vec<float>(g.cout, 3);
      std::vector<float> z(b * out), a(b * out), zn(b * out), an(b * out), col(g.scratch_size(b));
      conv_forward<float>(g, {x.data(), b, in}, w.data(), bias.data(), f, {z.data(), b, out}, {a.data(), b, out}, col.data());
      conv_forward_naive<float>(g, {x.data(), b, in}, w.data(), bias.data(), f, {zn.data(), b, out}, {an.data(), b, out});
      for (std::size_t i = 0; i < z.size(); ++i) {
        ASSERT_NEAR(z[i], zn[i], 1e-5f * (1 + std::fabs(zn[i]))) << "z " << i;
        ASSERT_NEAR(a[i], an[i], 1e-5f * (1 + std::fabs(an[i]))) << "a " << i;
      }
      for (bool accumulate : {true, false}) {
        auto d = random_vec<float>(b * out, 4), dn = d;
        std::vector<float> dw(g.weights(), 0.5f), db(g.cout, 0.25f), dwn = dw, dbn = db, dx(b * in), dxn(b * in);
        conv_backward<float>(g, {x.data(), b, in}, w.data(), {z.data(), b, out}, {a.data(), b, out}, f, {d.data(), b, out},
                             dw.data(), db.data(), {dx.data(), b, in}, accumulate, col.data());
        if (!accumulate) {
          std::fill(dwn.begin(), dwn.end(), 0.0f);
          std::fill(dbn.begin(), dbn.end(), 0.0f);
        }
        conv_backward_naive<float>(g, {x.data(), b, in}, w.data(), {zn.data(), b, out}, {an.data(), b, out}, f,
                                   {dn.data(), b, out}, dwn.data(), dbn.data(), {dxn.data(), b, in});
        for (std::size_t i = 0; i < dw.size(); ++i) ASSERT_NEAR(dw[i], dwn[i], 1e-4f * (1 + std::fabs(dwn[i]))) << "dw " << i;
        for (std::size_t i = 0; i < db.size(); ++i) ASSERT_NEAR(db[i], dbn[i], 1e-4f * (1 + std::fabs(dbn[i]))) << "db " << i;
        for (std::size_t i = 0; i < dx.size(); ++i) ASSERT_NEAR(dx[i], dxn[i], 1e-4f * (1 + std::fabs(dxn[i]))) << "dx " << i;
      }
    }
  }
}

TEST(Conv, ChunksOfSamplesMatchTheNaiveLoops) {
  // A geometry whose patches fill the scratch in two samples: a batch of 5 runs as chunks of 2, 2, 1.
  const ConvGeom g{8, 64, 64, 8, 5, 1, 2};
  ASSERT_EQ(g.chunk(5), 2u);
  const std::size_t b = 5, in = g.in_size(), out = g.out_size();
  auto x = random_vec<float>(b * in, 11), w = random_vec<float>(g.weights(), 12), bias = random_vec<float>(g.cout, 13);
  std::vector<float> z(b * out), a(b * out), zn(b * out), an(b * out), scratch(g.scratch_size(b));
  conv_forward<float>(g, {x.data(), b, in}, w.data(), bias.data(), Activation::Relu, {z.data(), b, out}, {a.data(), b, out},
                      scratch.data());
  conv_forward_naive<float>(g, {x.data(), b, in}, w.data(), bias.data(), Activation::Relu, {zn.data(), b, out},
                            {an.data(), b, out});
  for (std::size_t i = 0; i < z.size(); ++i) ASSERT_NEAR(z[i], zn[i], 1e-4f * (1 + std::fabs(zn[i]))) << "z " << i;
  auto d = random_vec<float>(b * out, 14), dn = d;
  std::vector<float> dw(g.weights()), db(g.cout), dwn(g.weights()), dbn(g.cout), dx(b * in), dxn(b * in);
  conv_backward<float>(g, {x.data(), b, in}, w.data(), {z.data(), b, out}, {a.data(), b, out}, Activation::Relu,
                       {d.data(), b, out}, dw.data(), db.data(), {dx.data(), b, in}, false, scratch.data());
  conv_backward_naive<float>(g, {x.data(), b, in}, w.data(), {zn.data(), b, out}, {an.data(), b, out}, Activation::Relu,
                             {dn.data(), b, out}, dwn.data(), dbn.data(), {dxn.data(), b, in});
  for (std::size_t i = 0; i < dw.size(); ++i) ASSERT_NEAR(dw[i], dwn[i], 1e-3f * (1 + std::fabs(dwn[i]))) << "dw " << i;
  for (std::size_t i = 0; i < db.size(); ++i) ASSERT_NEAR(db[i], dbn[i], 1e-3f * (1 + std::fabs(dbn[i]))) << "db " << i;
  for (std::size_t i = 0; i < dx.size(); ++i) ASSERT_NEAR(dx[i], dxn[i], 1e-4f * (1 + std::fabs(dxn[i]))) << "dx " << i;
}

TEST(Conv, GradientsMatchCentralDifferences) {
  // L = Σ r ⊙ a for a fixed random r: dL/da = r. Weights, bias and input checked.
  for (const ConvGeom& g : geometries()) {
    for (Activation f : {Activation::Tanh, Activation::Sigmoid}) {  // smooth: no kinks for the differences
      const std::size_t b = 2, in = g.in_size(), out = g.out_size();
      auto x = random_vec<double>(b * in, 5), w = random_vec<double>(g.weights(), 6), bias = random_vec<double>(g.cout, 7);
      const auto r = random_vec<double>(b * out, 8);
      std::vector<double> z(b * out), a(b * out), col(g.scratch_size(b));
      auto loss = [&] {
        conv_forward<double>(g, {x.data(), b, in}, w.data(), bias.data(), f, {z.data(), b, out}, {a.data(), b, out}, col.data());
        double s = 0;
        for (std::size_t i = 0; i < a.size(); ++i) s += r[i] * a[i];
        return s;
      };
      loss();
      std::vector<double> d = r, dw(g.weights()), db(g.cout), dx(b * in);
      conv_backward<double>(g, {x.data(), b, in}, w.data(), {z.data(), b, out}, {a.data(), b, out}, f, {d.data(), b, out},
                            dw.data(), db.data(), {dx.data(), b, in}, false, col.data());
      EXPECT_LE(rel_err(dw, numeric_grad(w, loss)), 1e-6) << "weights, k " << g.k << " stride " << g.stride;
      EXPECT_LE(rel_err(db, numeric_grad(bias, loss)), 1e-6) << "bias, k " << g.k;
      EXPECT_LE(rel_err(dx, numeric_grad(x, loss)), 1e-6) << "input, k " << g.k << " stride " << g.stride << " pad " << g.pad;
    }
  }
}

TEST(Pool, MaxPoolByHandWithTiesAndARemainder) {
  // One channel, 5x5 (floor: a 2x2 output of 2x2 windows; row 4 and column 4 are dropped).
  const PoolGeom g{1, 5, 5, 2};
  const std::vector<float> x = {1, 3, 2, 2, 9,   //
                                3, 0, 2, 2, 9,   //
                                -1, -2, 5, 4, 9,  //
                                -3, -1, 4, 5, 9,  //
                                9, 9, 9, 9, 9};
  std::vector<float> y(4), dx(25);
  std::vector<std::int32_t> arg(4);
  maxpool_forward<float>(g, {x.data(), 1, 25}, {y.data(), 1, 4}, arg.data());
  EXPECT_EQ(y, (std::vector<float>{3, 2, -1, 5}));
  // Ties go to the first maximum in row-major window order (PyTorch's choice): index 1 (not 5), 2 (not 3, 7, 8).
  EXPECT_EQ(arg, (std::vector<std::int32_t>{1, 2, 10, 12}));
  const std::vector<float> dy = {10, 20, 30, 40};
  maxpool_backward<float>(g, {dy.data(), 1, 4}, arg.data(), {dx.data(), 1, 25});
  std::vector<float> want(25, 0.0f);
  want[1] = 10;
  want[2] = 20;
  want[10] = 30;
  want[12] = 40;
  EXPECT_EQ(dx, want);
}

TEST(Pool, AvgPoolByHandAndTwoChannels) {
  const PoolGeom g{2, 2, 3, 2};  // 2x3 images: one 2x2 window each, column 2 dropped
  const std::vector<float> x = {1, 2, 100, 3, 4, 100,  // channel 0
                                -4, 0, 7, 8, 4, 7};    // channel 1
  std::vector<float> y(2), dx(12);
  avgpool_forward<float>(g, {x.data(), 1, 12}, {y.data(), 1, 2});
  EXPECT_EQ(y, (std::vector<float>{2.5f, 2.0f}));
  const std::vector<float> dy = {4, 8};
  avgpool_backward<float>(g, {dy.data(), 1, 2}, {dx.data(), 1, 12});
  EXPECT_EQ(dx, (std::vector<float>{1, 1, 0, 1, 1, 0, 2, 2, 0, 2, 2, 0}));
}

TEST(Pool, GradientsMatchCentralDifferences) {
  const PoolGeom g{3, 7, 6, 2};
  const std::size_t b = 2, in = g.in_size(), out = g.out_size();
  auto x = random_vec<double>(b * in, 9);  // continuous values: no ties, no kinks at this step
  const auto r = random_vec<double>(b * out, 10);
  std::vector<double> y(b * out), dx(b * in);
  std::vector<std::int32_t> arg(b * out);
  for (bool max : {true, false}) {
    auto loss = [&] {
      if (max) maxpool_forward<double>(g, {x.data(), b, in}, {y.data(), b, out}, arg.data());
      else avgpool_forward<double>(g, {x.data(), b, in}, {y.data(), b, out});
      double s = 0;
      for (std::size_t i = 0; i < y.size(); ++i) s += r[i] * y[i];
      return s;
    };
    loss();
    if (max) maxpool_backward<double>(g, {r.data(), b, out}, arg.data(), {dx.data(), b, in});
    else avgpool_backward<double>(g, {r.data(), b, out}, {dx.data(), b, in});
    EXPECT_LE(rel_err(dx, numeric_grad(x, loss)), 1e-6) << (max ? "max" : "avg");
  }
}

TEST(Layers, ParseAndNameEveryForm) {
  const std::vector<LayerSpec> l = parse_layers("conv5:32,maxpool2,conv3:64:s2,conv5:16:valid,conv3:8:s2:valid,avgpool3,dense:256");
  ASSERT_EQ(l.size(), 7u);
  EXPECT_EQ(l[0], (LayerSpec{LayerKind::Conv, 32, 5, 1, false}));
  EXPECT_EQ(l[1], (LayerSpec{LayerKind::MaxPool, 0, 2}));
  EXPECT_EQ(l[2], (LayerSpec{LayerKind::Conv, 64, 3, 2, false}));
  EXPECT_EQ(l[3], (LayerSpec{LayerKind::Conv, 16, 5, 1, true}));
  EXPECT_EQ(l[4], (LayerSpec{LayerKind::Conv, 8, 3, 2, true}));
  EXPECT_EQ(l[5], (LayerSpec{LayerKind::AvgPool, 0, 3}));
  EXPECT_EQ(l[6], (LayerSpec{LayerKind::Dense, 256}));
  std::string back;
  for (const LayerSpec& s : l) {
    if (!back.empty()) back += ',';
    back += to_string(s);
  }
  EXPECT_EQ(back, "conv5:32,maxpool2,conv3:64:s2,conv5:16:valid,conv3:8:s2:valid,avgpool3,dense:256");
}

TEST(Layers, BadSpecsAreRefusedNamingTheItem) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"conv5", "'conv5': conv<K>:<C>"},         {"conv:32", "'conv:32': conv<K>"},
      {"conv5:0", "'conv5:0': conv<K>:<C>"},     {"conv3:8:s0", "'s0' is not"},
      {"conv3:8:x", "'x' is not"},              {"conv3:8:valid:valid", "'valid' is not"},
      {"maxpool", "maxpool<K>"},                {"avgpool0", "avgpool<K>"},
      {"maxpool2:3", "maxpool<K>"},             {"dense", "dense:<N>"},
      {"dense:-4", "dense:<N>"},                {"dense:4,,dense:2", "an empty layer"},
      {"relu", "'relu': not a layer"},          {"dense:99999999999", "dense:<N>"}};
  for (const auto& [text, want] : cases) {
    try {
      parse_layers(text);
      ADD_FAILURE() << "accepted " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << text << ": " << e.what();
    }
  }
}

TEST(Layers, PlansShapesAndRefusesStacksThatCannotBeBuilt) {
  ModelSpec s;
  s.input = {1, 28, 28};
  s.layers = parse_layers("conv5:32,maxpool2,conv5:64,maxpool2,dense:256,dense:10");
  const std::vector<LayerPlan> p = plan_layers(s);
  EXPECT_EQ(p[0].out, (Shape{32, 28, 28}));
  EXPECT_EQ(p[1].out, (Shape{32, 14, 14}));
  EXPECT_EQ(p[2].out, (Shape{64, 14, 14}));
  EXPECT_EQ(p[3].out, (Shape{64, 7, 7}));
  EXPECT_EQ(p[4].weight_cols, 64u * 7 * 7);
  EXPECT_EQ(p[2].weight_cols, 32u * 25);
  EXPECT_EQ(count_params(p), 32u * 25 + 32 + 64u * 800 + 64 + 256u * 3136 + 256 + 10u * 256 + 10);
  EXPECT_EQ(describe_layers(s), "1x28x28-conv5:32-maxpool2-conv5:64-maxpool2-dense:256-10");
  EXPECT_EQ(describe_layers(mlp_spec({784, 512, 256, 10})), "784-512-256-10");
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"dense:8,conv3:4,dense:2", "layer 1 (conv3:4): a convolution after a dense layer"},
      {"conv9:4:valid,dense:2", "layer 0 (conv9:4:valid): a 9x9 kernel on a 1x8x8 input"},
      {"maxpool3,maxpool3,dense:2", "layer 1 (maxpool3): a 3x3 window on a 1x2x2 input leaves nothing"},
      {"dense:8,maxpool2,dense:2", "pooling after a dense layer"},
      {"conv3:4,maxpool2", "the output layer must be dense"}};
  for (const auto& [text, want] : bad) {
    ModelSpec b;
    b.input = {1, 8, 8};
    b.layers = parse_layers(text);
    try {
      plan_layers(b);
      ADD_FAILURE() << "planned " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << text << ": " << e.what();
    }
  }
  ModelSpec flat = mlp_spec({20, 4});  // rows without an image shape: a convolution cannot run on them
  flat.layers.insert(flat.layers.begin(), LayerSpec{LayerKind::Conv, 2, 3});
  EXPECT_THROW(plan_layers(flat), Error);
}
