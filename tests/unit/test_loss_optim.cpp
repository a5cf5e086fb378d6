#include <gtest/gtest.h>

#include <barrier>
#include <cmath>
#include <thread>
#include <vector>

#include "bpt/nn/loss.hpp"
#include "bpt/optim/optim.hpp"

using namespace bpt;

TEST(Loss, SoftmaxCrossEntropyIsStableForHugeLogits) {
  std::vector<float> logits = {1e4f, -1e4f, 0.0f, 3e4f, 3e4f, -3e4f};
  std::vector<std::int32_t> y = {0, 2};
  std::vector<float> g(6);
  double l = softmax_cross_entropy<float>(ConstMatView<float>(logits.data(), 2, 3), y.data(),
                                          MatView<float>(g.data(), 2, 3), 1.0f);
  EXPECT_TRUE(std::isfinite(l));
  // Row 0: the label holds the maximum, loss ~0. Row 1: label is 6e4 below the max, loss ~6e4 + log 2.
  EXPECT_NEAR(l, 6e4 + std::log(2.0), 1e-2);
  for (float v : g) EXPECT_TRUE(std::isfinite(v));
  EXPECT_NEAR(g[0], 0.0f, 1e-6);
  EXPECT_NEAR(g[3], 0.5f, 1e-6);
  EXPECT_NEAR(g[5], -1.0f, 1e-6);
}

TEST(Loss, CrossEntropyKnownValue) {
  std::vector<float> logits = {0, 0, 0, 0};
  std::vector<std::int32_t> y = {1};
  double l = softmax_cross_entropy<float>(ConstMatView<float>(logits.data(), 1, 4), y.data(), MatView<float>(), 1.0f);
  EXPECT_NEAR(l, std::log(4.0), 1e-6);
}

TEST(Loss, LabelSmoothingMatchesTheNaiveDoubleFormula) {
  // -sum_c q_c log softmax(x)_c with q = (1 - e) one-hot + e / K, and its gradient (p - q) * scale.
  const std::size_t b = 3, k = 5;
  const double e = 0.1, scale = 0.25;
  std::vector<double> x = {0.3, -1.2, 2.0, 0.7, -0.4, 5.0, 1.0, -3.0, 0.0, 2.5, -0.1, 0.2, 0.1, -0.3, 0.05};
  std::vector<std::int32_t> y = {2, 4, 0};
  std::vector<double> g(b * k);
  const double l = softmax_cross_entropy<double>(ConstMatView<double>(x.data(), b, k), y.data(),
                                                 MatView<double>(g.data(), b, k), scale, e);
  double want = 0;
  for (std::size_t r = 0; r < b; ++r) {
    double z = 0;
    for (std::size_t c = 0; c < k; ++c) z += std::exp(x[r * k + c]);
    for (std::size_t c = 0; c < k; ++c) {
      const double p = std::exp(x[r * k + c]) / z;
      const double q = (c == static_cast<std::size_t>(y[r]) ? 1 - e : 0) + e / k;
      want -= q * std::log(p);
      EXPECT_NEAR(g[r * k + c], (p - q) * scale, 1e-12) << r << "," << c;
    }
  }
  EXPECT_NEAR(l, want, 1e-12);
  // No smoothing is the plain loss.
  EXPECT_EQ(softmax_cross_entropy<double>(ConstMatView<double>(x.data(), b, k), y.data(), MatView<double>(), 1.0, 0.0),
            softmax_cross_entropy<double>(ConstMatView<double>(x.data(), b, k), y.data(), MatView<double>(), 1.0));
}

TEST(Loss, MseKnownValueAndGradient) {
  std::vector<float> out = {1, 2}, t = {0, 4}, g(2);
  double l = mse<float>(ConstMatView<float>(out.data(), 1, 2), t.data(), nullptr, MatView<float>(g.data(), 1, 2), 0.5f);
  EXPECT_NEAR(l, (1.0 + 4.0) / 2.0, 1e-6);
  EXPECT_NEAR(g[0], 2 * 0.5 * 1 / 2.0, 1e-6);
  EXPECT_NEAR(g[1], 2 * 0.5 * -2 / 2.0, 1e-6);
}

TEST(Loss, CountCorrect) {
  std::vector<float> logits = {0.1f, 0.9f, 0.8f, 0.2f, 0.5f, 0.5f};
  std::vector<std::int32_t> y = {1, 1, 0};
  EXPECT_EQ(count_correct<float>(ConstMatView<float>(logits.data(), 3, 2), y.data()), 2u);
}

TEST(Optim, SgdStep) {
  Optimizer o({OptKind::Sgd}, 2);
  std::vector<float> p = {1, 2}, g = {0.5f, -1};
  o.step(p, g, 0.1f);
  EXPECT_FLOAT_EQ(p[0], 0.95f);
  EXPECT_FLOAT_EQ(p[1], 2.1f);
}

TEST(Optim, MomentumMatchesHandComputation) {
  OptimConfig c{OptKind::Momentum};
  c.momentum = 0.9f;
  Optimizer o(c, 1);
  std::vector<float> p = {1}, g = {1};
  o.step(p, g, 0.1f);  // buf = 1, p = 0.9
  o.step(p, g, 0.1f);  // buf = 1.9, p = 0.71
  EXPECT_NEAR(p[0], 0.71f, 1e-6);
}

TEST(Optim, NesterovMatchesHandComputation) {
  OptimConfig c{OptKind::Nesterov};
  c.momentum = 0.5f;
  Optimizer o(c, 1);
  std::vector<float> p = {0}, g = {1};
  o.step(p, g, 1.0f);  // buf = 1, update = 1 + 0.5 = 1.5
  o.step(p, g, 1.0f);  // buf = 1.5, update = 1 + 0.75 = 1.75
  EXPECT_NEAR(p[0], -3.25f, 1e-6);
}

TEST(Optim, AdamFirstStepIsLrTimesSign) {
  Optimizer o({OptKind::Adam}, 2);
  std::vector<float> p = {0, 0}, g = {3, -0.01f};
  o.step(p, g, 0.01f);
  EXPECT_NEAR(p[0], -0.01f, 1e-6);
  EXPECT_NEAR(p[1], 0.01f, 1e-5);
  EXPECT_EQ(o.steps(), 1u);
}

TEST(Optim, AdamWDecaysWeightsDirectly) {
  OptimConfig c{OptKind::AdamW};
  c.weight_decay = 0.5f;
  Optimizer o(c, 1);
  std::vector<float> p = {2}, g = {0};
  o.step(p, g, 0.1f);  // zero gradient: only the decoupled decay acts
  EXPECT_NEAR(p[0], 2 * (1 - 0.05f), 1e-6);
}

TEST(Optim, StepOnRangesUpdatesThoseElementsExactlyAsAWholeStepAndNothingElse) {
  // The sharded optimizer: each rank steps its own ranges. Over three steps, the elements in the
  // ranges must get the same bits as a whole-buffer step; the others (and their state) stay as they were.
  for (OptKind k : {OptKind::Sgd, OptKind::Momentum, OptKind::Nesterov, OptKind::Adam, OptKind::AdamW}) {
    OptimConfig c{k};
    c.weight_decay = 0.01f;
    const std::size_t n = 37;
    Optimizer whole(c, n), part(c, n), packed(c, n);
    std::vector<float> pw(n), pp(n), pk(n), g(n);
    for (std::size_t i = 0; i < n; ++i) pw[i] = pp[i] = pk[i] = 0.1f * static_cast<float>(i % 7) - 0.3f;
    // Not in ascending order: the packed state follows the order given (the reducer's buckets run
    // from the last layer down).
    const Ranges ranges = {{20, 37}, {5, 5}, {0, 5}};
    packed.keep_only(ranges);
    for (int step = 0; step < 3; ++step) {
      for (std::size_t i = 0; i < n; ++i) g[i] = std::sin(static_cast<float>(i + 11 * step));
      whole.step(pw, g, 0.01f, 0.5f);
      part.step(pp, g, 0.01f, 0.5f, ranges);
      packed.step(pk, g, 0.01f, 0.5f, ranges);
    }
    EXPECT_EQ(part.steps(), 3u);
    // Packed state: the same weights, and the whole step's state of those elements, in range order.
    ASSERT_EQ(pk, pp) << to_string(k);
    auto sk = packed.state(), sw0 = whole.state();
    for (std::size_t t = 0; t < sk.size(); ++t) {
      ASSERT_EQ(sk[t].second.size(), 22u);
      std::vector<float> expect(sw0[t].second.begin() + 20, sw0[t].second.end());
      expect.insert(expect.end(), sw0[t].second.begin(), sw0[t].second.begin() + 5);
      ASSERT_TRUE(std::equal(expect.begin(), expect.end(), sk[t].second.begin())) << to_string(k);
    }
    EXPECT_THROW(packed.step(pk, g, 0.01f, 1.0f, Ranges{{0, 5}}), Error);
    auto sw = whole.state(), sp = part.state();
    for (std::size_t i = 0; i < n; ++i) {
      const bool in = i < 5 || i >= 20;
      if (in) {
        ASSERT_EQ(pp[i], pw[i]) << to_string(k) << " element " << i;
        for (std::size_t t = 0; t < sw.size(); ++t) ASSERT_EQ(sp[t].second[i], sw[t].second[i]) << to_string(k);
      } else {
        ASSERT_EQ(pp[i], 0.1f * static_cast<float>(i % 7) - 0.3f) << to_string(k) << " element " << i;
        for (std::size_t t = 0; t < sp.size(); ++t) ASSERT_EQ(sp[t].second[i], 0.0f) << to_string(k);
      }
    }
    EXPECT_THROW(part.step(pp, g, 0.01f, 1.0f, Ranges{{30, 38}}), Error);
  }
}

TEST(Optim, PackedLayoutIsTheRangesInTheOrderGiven) {
  std::vector<float> full(10);
  for (std::size_t i = 0; i < full.size(); ++i) full[i] = static_cast<float>(i);
  const Ranges r = {{6, 9}, {0, 2}, {4, 4}};  // not sorted, one empty
  std::vector<float> packed(total_size(r));
  pack(r, full, packed);
  EXPECT_EQ(packed, (std::vector<float>{6, 7, 8, 0, 1}));
  std::vector<float> back(10, -1.0f);
  unpack(r, packed, back);
  EXPECT_EQ(back, (std::vector<float>{0, 1, -1, -1, -1, -1, 6, 7, 8, -1}));
  EXPECT_THROW(pack(r, full, std::span<float>(packed).first(4)), Error);   // too small for the ranges
  EXPECT_THROW(unpack(Ranges{{8, 11}}, std::span<const float>(packed).first(3), back), Error);  // outside
}

TEST(Optim, LrSchedules) {
  LrSchedule s;
  s.base_lr = 1.0f;
  EXPECT_FLOAT_EQ(s.at(1000), 1.0f);
  s.kind = LrKind::Step;
  s.step_size = 10;
  s.gamma = 0.5f;
  EXPECT_FLOAT_EQ(s.at(9), 1.0f);
  EXPECT_FLOAT_EQ(s.at(10), 0.5f);
  EXPECT_FLOAT_EQ(s.at(25), 0.25f);
  s.kind = LrKind::Cosine;
  s.total_steps = 100;
  EXPECT_FLOAT_EQ(s.at(0), 1.0f);
  EXPECT_NEAR(s.at(50), 0.5f, 1e-6);
  EXPECT_NEAR(s.at(100), 0.0f, 1e-6);
  s.kind = LrKind::Constant;
  s.warmup_steps = 4;
  EXPECT_FLOAT_EQ(s.at(0), 0.25f);
  EXPECT_FLOAT_EQ(s.at(3), 1.0f);
  EXPECT_FLOAT_EQ(s.at(4), 1.0f);
}

TEST(Optim, ParseNames) {
  EXPECT_EQ(parse_optimizer("adamw"), OptKind::AdamW);
  EXPECT_THROW(parse_optimizer("rmsprop"), Error);
  EXPECT_THROW(parse_lr_schedule("linear"), Error);
}

// ---- LARS and LAMB against a naive double-precision reference of the papers' equations ----
namespace {

// Two layers: 3x4 weights + 3 biases, then 2x3 weights (all zero at the start: a trust ratio of 1)
// + 2 biases.
const std::vector<LayerSpan> kLayers = {{{0, 12}, {12, 15}}, {{15, 21}, {21, 23}}};

struct RefState {
  std::vector<double> p, m, v;
  int t = 0;
};

void ref_step(RefState& s, const std::vector<float>& g, const OptimConfig& c, double lr, double gs) {
  const bool lamb = c.kind == OptKind::Lamb;
  ++s.t;
  std::vector<double> u(s.p.size());
  if (lamb)
    for (std::size_t i = 0; i < s.p.size(); ++i) {
      const double gi = double(g[i]) * gs;
      s.m[i] = double(c.beta1) * s.m[i] + (1 - double(c.beta1)) * gi;
      s.v[i] = double(c.beta2) * s.v[i] + (1 - double(c.beta2)) * gi * gi;
      const double mh = s.m[i] / (1 - std::pow(double(c.beta1), s.t)), vh = s.v[i] / (1 - std::pow(double(c.beta2), s.t));
      u[i] = mh / (std::sqrt(vh) + double(c.eps));
    }
  for (const LayerSpan& L : kLayers) {
    double wn = 0, xn = 0;
    for (std::size_t i = L.weight.begin; i < L.weight.end; ++i) {
      if (lamb) u[i] += double(c.weight_decay) * s.p[i];
      wn += s.p[i] * s.p[i];
      xn += lamb ? u[i] * u[i] : (double(g[i]) * gs) * (double(g[i]) * gs);
    }
    wn = std::sqrt(wn), xn = std::sqrt(xn);
    const double ratio = wn > 0 && xn > 0 ? (lamb ? wn / xn : double(c.trust_coef) * wn / (xn + double(c.weight_decay) * wn)) : 1;
    for (const bool weight : {true, false}) {
      const Range r = weight ? L.weight : L.bias;
      for (std::size_t i = r.begin; i < r.end; ++i) {
        if (lamb) {
          s.p[i] -= lr * (weight ? ratio : 1) * u[i];
        } else {
          s.m[i] = double(c.momentum) * s.m[i] + lr * (weight ? ratio : 1) * (double(g[i]) * gs + (weight ? double(c.weight_decay) * s.p[i] : 0));
          s.p[i] -= s.m[i];
        }
      }
    }
  }
}

std::vector<float> start_params() {
  std::vector<float> p(23, 0.0f);
  for (std::size_t i = 0; i < 15; ++i) p[i] = 0.1f * float(int(i % 7) - 3) + 0.01f * float(i);
  p[21] = 0.05f;  // a bias
  return p;
}

std::vector<float> grads_at(int step) {
  std::vector<float> g(23);
  for (std::size_t i = 0; i < g.size(); ++i) g[i] = std::sin(0.7f * float(i) + 1.3f * float(step)) * (1.0f + 0.1f * float(step));
  return g;
}

OptimConfig layerwise_config(OptKind k) {
  OptimConfig c{k};
  c.weight_decay = 0.01f;
  c.trust_coef = 0.02f;
  c.momentum = 0.9f;
  return c;
}

}  // namespace

TEST(Layerwise, LarsAndLambMatchTheNaiveDoubleReference) {
  for (OptKind k : {OptKind::Lars, OptKind::Lamb}) {
    const OptimConfig c = layerwise_config(k);
    const float lr = k == OptKind::Lars ? 2.0f : 0.01f, gs = 0.5f;
    std::vector<float> p = start_params();
    RefState ref{std::vector<double>(p.begin(), p.end()), std::vector<double>(23, 0.0), std::vector<double>(23, 0.0)};
    Optimizer o(c, p.size());
    for (int step = 0; step < 6; ++step) {
      const auto g = grads_at(step);
      o.step_layerwise(p, g, lr, gs, {{0, 23}}, kLayers, [](std::span<double>) {});
      ref_step(ref, g, c, lr, gs);
    }
    double moved = 0;
    for (std::size_t i = 0; i < p.size(); ++i) {
      EXPECT_NEAR(p[i], ref.p[i], 1e-5 * (1 + std::fabs(ref.p[i]))) << to_string(k) << " element " << i;
      moved += std::fabs(ref.p[i] - double(start_params()[i]));
    }
    EXPECT_GT(moved, 1e-3) << to_string(k);  // the steps did something
    EXPECT_EQ(o.state().size(), k == OptKind::Lars ? 1u : 2u);
  }
}

// Sharded: two parts of the layout, each with its own packed state, cut across weights and biases;
// the per-layer figures completed by summing the two parts' (threads in place of ranks) give the
// whole step's weights.
TEST(Layerwise, TwoPartsWithCompletedNormsEqualTheWholeStep) {
  for (OptKind k : {OptKind::Lars, OptKind::Lamb}) {
    const OptimConfig c = layerwise_config(k);
    const float lr = k == OptKind::Lars ? 2.0f : 0.01f;
    std::vector<float> whole = start_params(), split = whole;
    const Ranges part[2] = {{{0, 7}, {15, 20}}, {{7, 15}, {20, 23}}};
    Optimizer o(c, 23), a(c, 23), b(c, 23);
    a.keep_only(part[0]);
    b.keep_only(part[1]);
    for (int step = 0; step < 4; ++step) {
      const auto g = grads_at(step);
      o.step_layerwise(whole, g, lr, 1.0f, {{0, 23}}, kLayers, [](std::span<double>) {});
      std::vector<double> figs[2];
      std::barrier sync(2);
      auto run = [&](Optimizer& opt, int i) {
        opt.step_layerwise(split, g, lr, 1.0f, part[i], kLayers, [&](std::span<double> f) {
          figs[i].assign(f.begin(), f.end());
          sync.arrive_and_wait();  // both parts measured
          for (std::size_t j = 0; j < f.size(); ++j) f[j] = figs[0][j] + figs[1][j];
          sync.arrive_and_wait();  // both parts read the sum
        });
      };
      std::thread ta(run, std::ref(a), 0), tb(run, std::ref(b), 1);
      ta.join();
      tb.join();
    }
    for (std::size_t i = 0; i < whole.size(); ++i) EXPECT_NEAR(split[i], whole[i], 1e-6 * (1 + std::fabs(whole[i]))) << to_string(k) << " " << i;
  }
}

TEST(Layerwise, PlainStepRefusesLarsAndLamb) {
  Optimizer o(OptimConfig{OptKind::Lamb}, 4);
  std::vector<float> p(4, 1.0f), g(4, 1.0f);
  EXPECT_THROW(o.step(p, g, 0.1f), Error);
  EXPECT_EQ(parse_optimizer("lars"), OptKind::Lars);
  EXPECT_EQ(parse_optimizer("lamb"), OptKind::Lamb);
}
