// Central-difference gradient checks in double: relative error ‖a−n‖/‖a+n‖ ≤ 1e-6.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "bpt/core/rng.hpp"
#include "bpt/model/model.hpp"

using namespace bpt;

namespace {

struct Problem {
  std::vector<double> x, targets;
  std::vector<std::int32_t> labels;
  std::vector<std::uint64_t> ids;
  std::size_t batch;
};

Problem make_problem(std::size_t batch, std::size_t in, std::size_t k, std::uint64_t seed) {
  Problem p;
  p.batch = batch;
  CounterRng r(seed);
  p.x.resize(batch * in);
  for (auto& v : p.x) v = r.uniform() * 2 - 1;
  p.targets.resize(batch * k);
  for (auto& v : p.targets) v = r.uniform();
  for (std::size_t i = 0; i < batch; ++i) {
    p.labels.push_back(static_cast<std::int32_t>(r.below(k)));
    p.ids.push_back(i * 7 + 3);
  }
  return p;
}

double gradcheck(ModelSpec spec, std::size_t batch, float dropout = 0, float input_dropout = 0, double smoothing = 0) {
  BasicModel<double> m(spec);
  m.init(Init::XavierUniform, 5);
  // Non-zero biases, so the check covers them with something to see.
  for (std::size_t l = 0; l < m.num_layers(); ++l)
    for (std::size_t o = 0; o < m.layer(l).biases; ++o) m.bias(l)[o] = 0.1 * std::sin(double(o + l));
  Problem p = make_problem(batch, spec.inputs(), spec.outputs(), 11);
  const bool mse_targets = spec.loss == Loss::Mse;
  Targets<double> t{p.labels.data(), mse_targets ? p.targets.data() : nullptr, smoothing};
  DropoutCtx drop{dropout, 3, 9, p.ids.data(), input_dropout};
  const DropoutCtx* dp = dropout > 0 || input_dropout > 0 ? &drop : nullptr;
  m.zero_grad();
  m.forward(ConstMatView<double>(p.x.data(), batch, m.in(0)), dp);
  m.backward(t, 1.0 / static_cast<double>(batch));
  std::vector<double> analytic(m.grads().begin(), m.grads().end()), numeric(analytic.size());
  const double h = 1e-6;
  auto loss_now = [&] {
    m.forward(ConstMatView<double>(p.x.data(), batch, m.in(0)), dp);
    return m.loss_of_last(t) / static_cast<double>(batch);
  };
  for (std::size_t i = 0; i < analytic.size(); ++i) {
    double& w = m.params()[i];
    const double w0 = w;
    w = w0 + h;
    const double lp = loss_now();
    w = w0 - h;
    const double lm = loss_now();
    w = w0;
    numeric[i] = (lp - lm) / (2 * h);
  }
  double diff = 0, sum = 0;
  for (std::size_t i = 0; i < analytic.size(); ++i) {
    diff += (analytic[i] - numeric[i]) * (analytic[i] - numeric[i]);
    sum += (analytic[i] + numeric[i]) * (analytic[i] + numeric[i]);
  }
  EXPECT_GT(sum, 1e-12) << "gradient is zero: the check would prove nothing";
  return std::sqrt(diff) / std::sqrt(sum);
}

}  // namespace

class GradCheckActivation : public ::testing::TestWithParam<Activation> {};

TEST_P(GradCheckActivation, CrossEntropy) {
  EXPECT_LE(gradcheck(mlp_spec({6, 9, 4}, GetParam(), Loss::SoftmaxCrossEntropy), 5), 1e-6);
}

TEST_P(GradCheckActivation, Mse) { EXPECT_LE(gradcheck(mlp_spec({6, 9, 4}, GetParam(), Loss::Mse), 5), 1e-6); }

INSTANTIATE_TEST_SUITE_P(All, GradCheckActivation,
                         ::testing::Values(Activation::Identity, Activation::Relu, Activation::LeakyRelu,
                                           Activation::Tanh, Activation::Sigmoid),
                         [](const auto& info) { return to_string(info.param); });

TEST(GradCheck, ThreeLayerNetworkBothLosses) {
  EXPECT_LE(gradcheck(mlp_spec({7, 10, 8, 5}, Activation::Tanh, Loss::SoftmaxCrossEntropy), 6), 1e-6);
  EXPECT_LE(gradcheck(mlp_spec({7, 10, 8, 5}, Activation::Sigmoid, Loss::Mse), 6), 1e-6);
  EXPECT_LE(gradcheck(mlp_spec({7, 10, 8, 5}, Activation::Relu, Loss::SoftmaxCrossEntropy), 6), 1e-6);
}

TEST(GradCheck, ConvolutionalStacks) {
  // Convolutions ("same" and "valid", stride 2), max- and average-pooling, and dense layers after a
  // flatten, in one stack; both losses; with dropout on the dense layer and on the input.
  auto cnn = [](Shape in, const std::string& layers, Activation f, Loss loss) {
    ModelSpec s;
    s.input = in;
    s.layers = parse_layers(layers);
    s.hidden = f;
    s.loss = loss;
    return s;
  };
  EXPECT_LE(gradcheck(cnn({2, 8, 7}, "conv3:3,maxpool2,conv2:4:valid,dense:6,dense:4", Activation::Tanh,
                          Loss::SoftmaxCrossEntropy), 3), 1e-6);
  EXPECT_LE(gradcheck(cnn({1, 9, 9}, "conv3:2:s2,avgpool2,dense:3", Activation::Sigmoid, Loss::Mse), 3), 1e-6);
  EXPECT_LE(gradcheck(cnn({3, 6, 6}, "conv5:2,avgpool3,conv1:3,dense:6,dense:5", Activation::Tanh, Loss::SoftmaxCrossEntropy),
                      2, 0.3f, 0.2f), 1e-6);
  EXPECT_LE(gradcheck(cnn({1, 8, 8}, "maxpool2,conv3:2:valid,dense:4", Activation::Tanh, Loss::SoftmaxCrossEntropy), 3),
            1e-6);  // pooling first: no error signal to the input is needed
}

TEST(GradCheck, MseWithOneHotLabels) {
  // Class labels with --loss mse mean one-hot targets: the same loss as explicit targets.
  const ModelSpec spec = mlp_spec({5, 6, 3}, Activation::Tanh, Loss::Mse);
  BasicModel<double> a(spec);
  a.init(Init::XavierNormal, 2);
  Problem p = make_problem(4, 5, 3, 8);
  std::vector<double> onehot(4 * 3, 0.0);
  for (std::size_t i = 0; i < 4; ++i) onehot[i * 3 + static_cast<std::size_t>(p.labels[i])] = 1.0;
  a.forward(ConstMatView<double>(p.x.data(), 4, 5));
  EXPECT_DOUBLE_EQ(a.loss_of_last({p.labels.data(), nullptr}), a.loss_of_last({nullptr, onehot.data()}));
}

TEST(GradCheck, DropoutWithFixedMask) {
  // The mask is a pure function of (seed, step, sample id), so the loss is smooth in the weights.
  EXPECT_LE(gradcheck(mlp_spec({6, 12, 10, 4}, Activation::Tanh, Loss::SoftmaxCrossEntropy), 5, 0.3f), 1e-6);
}

TEST(GradCheck, InputDropoutWithFixedMask) {
  // The first layer's weight gradient must use the dropped input, not the input as given.
  EXPECT_LE(gradcheck(mlp_spec({6, 12, 10, 4}, Activation::Tanh, Loss::SoftmaxCrossEntropy), 5, 0, 0.4f), 1e-6);
  EXPECT_LE(gradcheck(mlp_spec({6, 12, 10, 4}, Activation::Relu, Loss::Mse), 5, 0.2f, 0.4f), 1e-6);
}

TEST(GradCheck, LabelSmoothing) {
  EXPECT_LE(gradcheck(mlp_spec({6, 12, 10, 4}, Activation::Relu, Loss::SoftmaxCrossEntropy), 5, 0, 0, 0.2), 1e-6);
}

TEST(InputDropout, DropsAboutPAndScalesTheRest) {
  // One identity layer with W = I and b = 0 passes the dropped input through: each entry is 0 or
  // x / (1 - p), a draw per (sample, feature), about p of them 0, and none without the context.
  const std::size_t n = 64, rows = 50;
  BasicModel<double> m(mlp_spec({n, n}, Activation::Relu, Loss::Mse));
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) m.weight(0)[i * n + j] = i == j ? 1.0 : 0.0;
  for (std::size_t i = 0; i < n; ++i) m.bias(0)[i] = 0;
  std::vector<double> x(rows * n, 2.0);
  std::vector<std::uint64_t> ids(rows);
  for (std::size_t r = 0; r < rows; ++r) ids[r] = 1000 + r;
  DropoutCtx drop{0, 7, 1, ids.data(), 0.25f};
  ConstMatView<double> y = m.forward(ConstMatView<double>(x.data(), rows, n), &drop);
  std::size_t zeros = 0, second_row_only = 0;
  for (std::size_t i = 0; i < rows * n; ++i) {
    ASSERT_TRUE(y.data[i] == 0.0 || std::abs(y.data[i] - 2.0 / 0.75) < 1e-12) << y.data[i];
    zeros += y.data[i] == 0.0;
  }
  for (std::size_t j = 0; j < n; ++j) second_row_only += y.data[n + j] == 0.0 && y.data[j] != 0.0;
  EXPECT_NEAR(double(zeros) / double(rows * n), 0.25, 0.03);
  EXPECT_GT(second_row_only, 0u) << "every sample drew the same mask";
  ConstMatView<double> plain = m.forward(ConstMatView<double>(x.data(), rows, n));
  for (std::size_t i = 0; i < rows * n; ++i) ASSERT_EQ(plain.data[i], 2.0);
}
