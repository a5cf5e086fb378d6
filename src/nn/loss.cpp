#include "bpt/nn/loss.hpp"

#include <cmath>

#include "bpt/core/error.hpp"
#include "bpt/core/names.hpp"
#include "bpt/core/sim_cost.hpp"

namespace bpt {

namespace {
constexpr NameOf<Loss> kLosses[] = {{Loss::SoftmaxCrossEntropy, "cross_entropy"},
                                    {Loss::Mse, "mse"},
                                    {Loss::SoftmaxCrossEntropy, "softmax_cross_entropy"},
                                    {Loss::SoftmaxCrossEntropy, "ce"}};
}  // namespace

Loss parse_loss(std::string_view name) { return parse_name(kLosses, name, "loss"); }
std::string to_string(Loss l) { return name_of(kLosses, l); }

template <class T>
double softmax_cross_entropy(ConstMatView<T> logits, const std::int32_t* labels, MatView<T> grad, T scale,
                             T smoothing) {
  const std::size_t k = logits.cols;
  const double e = static_cast<double>(smoothing), spread = e / static_cast<double>(k);
  sim::Kernel kernel("softmax_ce", logits.rows, k);
  if (kernel.skip()) return 0;
  double total = 0;
  for (std::size_t r = 0; r < logits.rows; ++r) {
    const T* x = logits.row(r);
    T mx = x[0];
    for (std::size_t c = 1; c < k; ++c) mx = x[c] > mx ? x[c] : mx;
    double sum = 0;
    for (std::size_t c = 0; c < k; ++c) sum += std::exp(static_cast<double>(x[c] - mx));
    const double lse = static_cast<double>(mx) + std::log(sum);
    const auto y = static_cast<std::size_t>(labels[r]);
    if (e == 0) {
      total += lse - static_cast<double>(x[y]);
    } else {  // -sum_c q_c log p_c = lse - (1 - e) x_y - (e / K) sum_c x_c
      double all = 0;
      for (std::size_t c = 0; c < k; ++c) all += static_cast<double>(x[c]);
      total += lse - (1.0 - e) * static_cast<double>(x[y]) - spread * all;
    }
    if (grad.data) {
      T* g = grad.row(r);
      const double inv = 1.0 / sum, s = static_cast<double>(scale);
      for (std::size_t c = 0; c < k; ++c)
        g[c] = static_cast<T>((std::exp(static_cast<double>(x[c] - mx)) * inv - spread) * s);
      g[y] -= static_cast<T>((1.0 - e) * s);
    }
  }
  return total;
}

template <class T>
double mse(ConstMatView<T> out, const T* targets, const std::int32_t* labels, MatView<T> grad, T scale) {
  const std::size_t k = out.cols;
  const T g2 = T(2) * scale / static_cast<T>(k);
  sim::Kernel kernel("mse", out.rows, k);
  if (kernel.skip()) return 0;
  double total = 0;
  for (std::size_t r = 0; r < out.rows; ++r) {
    double s = 0;
    for (std::size_t c = 0; c < k; ++c) {
      T t = targets ? targets[r * k + c] : (static_cast<std::size_t>(labels[r]) == c ? T(1) : T(0));
      T d = out(r, c) - t;
      s += static_cast<double>(d) * static_cast<double>(d);
      if (grad.data) grad(r, c) = g2 * d;
    }
    total += s / static_cast<double>(k);
  }
  return total;
}

template <class T>
std::size_t count_correct(ConstMatView<T> logits, const std::int32_t* labels) {
  std::size_t n = 0;
  for (std::size_t r = 0; r < logits.rows; ++r) {
    const T* x = logits.row(r);
    std::size_t best = 0;
    for (std::size_t c = 1; c < logits.cols; ++c)
      if (x[c] > x[best]) best = c;
    n += best == static_cast<std::size_t>(labels[r]);
  }
  return n;
}

template double softmax_cross_entropy<float>(ConstMatView<float>, const std::int32_t*, MatView<float>, float, float);
template double softmax_cross_entropy<double>(ConstMatView<double>, const std::int32_t*, MatView<double>, double,
                                              double);
template double mse<float>(ConstMatView<float>, const float*, const std::int32_t*, MatView<float>, float);
template double mse<double>(ConstMatView<double>, const double*, const std::int32_t*, MatView<double>, double);
template std::size_t count_correct<float>(ConstMatView<float>, const std::int32_t*);
template std::size_t count_correct<double>(ConstMatView<double>, const std::int32_t*);

}  // namespace bpt
