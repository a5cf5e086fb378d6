#include "bpt/model/model.hpp"

#include <algorithm>

#include "bpt/core/error.hpp"
#include "bpt/nn/dense.hpp"
#include "bpt/nn/dropout.hpp"

namespace bpt {

std::uint64_t count_params(const std::vector<std::size_t>& sizes) {
  std::uint64_t n = 0;
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l)
    n += std::uint64_t(sizes[l + 1]) * (std::uint64_t(sizes[l]) + 1);
  return n;
}

void check_limits(const std::vector<std::size_t>& sizes) {
  if (sizes.size() < 2) throw Error("a model needs at least an input and an output size");
  if (sizes.size() - 1 > ModelLimits::layers)
    throw Error("a model of " + std::to_string(sizes.size() - 1) + " layers: at most " +
                std::to_string(ModelLimits::layers) + " (the output layer included)");
  for (std::size_t s : sizes) {
    if (s == 0) throw Error("a layer of 0 units");
    if (s > ModelLimits::width)
      throw Error("a layer of " + std::to_string(s) + " units: at most " + std::to_string(ModelLimits::width));
  }
  if (const std::uint64_t n = count_params(sizes); n > ModelLimits::params)
    throw Error("a model of " + std::to_string(n) + " parameters: at most " + std::to_string(ModelLimits::params));
}

template <class T>
BasicModel<T>::BasicModel(ModelSpec spec) : spec_(std::move(spec)) {
  check_limits(spec_.sizes);
  offsets_.push_back(0);
  for (std::size_t l = 0; l + 1 < spec_.sizes.size(); ++l)
    offsets_.push_back(offsets_.back() + spec_.sizes[l + 1] * (spec_.sizes[l] + 1));
  params_.resize(offsets_.back());
  grads_.resize(offsets_.back());
  const std::size_t n = num_layers();
  z_.resize(n);
  a_.resize(n);
  mask_.resize(n);
  drop_.resize(n);
}

template <class T>
void BasicModel<T>::init(Init kind, std::uint64_t seed) {
  for (std::size_t l = 0; l < num_layers(); ++l) init_dense(weight(l), bias(l), out(l), in(l), kind, seed, l);
}

template <class T>
void BasicModel<T>::reserve(std::size_t batch) {
  if (batch <= cap_) return;
  std::size_t widest = *std::max_element(spec_.sizes.begin() + 1, spec_.sizes.end());
  for (std::size_t l = 0; l < num_layers(); ++l) {
    z_[l].resize(batch * out(l));
    if (activation(l) != Activation::Identity) a_[l].resize(batch * out(l));
  }
  delta_[0].resize(batch * widest);
  delta_[1].resize(batch * widest);
  cap_ = batch;
}

template <class T>
ConstMatView<T> BasicModel<T>::forward(ConstMatView<T> x, const DropoutCtx* drop,
                                       const std::function<void(std::size_t)>* layer_done) {
  require(x.cols == in(0), "model: input has " + std::to_string(x.cols) + " features, the model expects " +
                               std::to_string(in(0)));
  reserve(x.rows);
  rows_ = x.rows;
  dropped_ = drop && drop->p > 0;
  ConstMatView<T> cur = x;
  if (drop && drop->p_input > 0) {  // layer 0 then sees, and its weight gradient uses, the dropped input
    if (in_drop_.size() < cap_ * in(0)) in_drop_.resize(cap_ * in(0));
    MatView<T> d(in_drop_.data(), x.rows, in(0));
    dropout_forward<T>(x, drop->p_input, drop->seed, drop->step, drop->sample_ids, kInputDropoutKey, MatView<T>(), d);
    cur = d;
  }
  x_ = cur;
  for (std::size_t l = 0; l < num_layers(); ++l) {
    MatView<T> z(z_[l].data(), x.rows, out(l));
    // For Identity (the output layer) a aliases z: no copy.
    MatView<T> a = activation(l) == Activation::Identity ? z : MatView<T>(a_[l].data(), x.rows, out(l));
    dense_forward(cur, weight(l), bias(l), activation(l), z, a);
    cur = a;
    if (dropped_ && l + 1 < num_layers()) {
      if (drop_[l].size() < cap_ * out(l)) {
        drop_[l].resize(cap_ * out(l));
        mask_[l].resize(cap_ * out(l));
      }
      MatView<T> m(mask_[l].data(), x.rows, out(l)), d(drop_[l].data(), x.rows, out(l));
      dropout_forward<T>(a, drop->p, drop->seed, drop->step, drop->sample_ids, l, m, d);
      cur = d;
    }
    if (layer_done) (*layer_done)(l);
  }
  return cur;
}

template <class T>
double BasicModel<T>::loss_of_last(Targets<T> t) const {
  const std::size_t last = num_layers() - 1;
  ConstMatView<T> y(z_[last].data(), rows_, out(last));
  if (spec_.loss == Loss::Mse) return mse<T>(y, t.values, t.labels, MatView<T>(), T(1));
  return softmax_cross_entropy<T>(y, t.labels, MatView<T>(), T(1), t.smoothing);
}

template <class T>
double BasicModel<T>::backward(Targets<T> t, T scale, const std::function<void(std::size_t)>& layer_ready,
                               bool accumulate) {
  const std::size_t last = num_layers() - 1, b = rows_;
  ConstMatView<T> y(z_[last].data(), b, out(last));
  int cur = 0;
  MatView<T> delta(delta_[cur].data(), b, out(last));
  double loss = spec_.loss == Loss::Mse ? mse<T>(y, t.values, t.labels, delta, scale)
                                        : softmax_cross_entropy<T>(y, t.labels, delta, scale, t.smoothing);
  for (std::size_t l = last + 1; l-- > 0;) {
    ConstMatView<T> x = l == 0 ? x_
                               : ConstMatView<T>(dropped_ ? drop_[l - 1].data()
                                                          : (activation(l - 1) == Activation::Identity
                                                                 ? z_[l - 1].data()
                                                                 : a_[l - 1].data()),
                                                 b, in(l));
    ConstMatView<T> z(z_[l].data(), b, out(l));
    ConstMatView<T> a = activation(l) == Activation::Identity ? z : ConstMatView<T>(a_[l].data(), b, out(l));
    MatView<T> dx = l == 0 ? MatView<T>() : MatView<T>(delta_[1 - cur].data(), b, in(l));
    dense_backward<T>(x, weight(l), z, a, activation(l), delta, grad_weight(l), grad_bias(l), dx, accumulate);
    if (layer_ready) layer_ready(l);
    if (l == 0) break;
    if (dropped_) {  // through the dropout that fed layer l
      const T* m = mask_[l - 1].data();
      for (std::size_t i = 0; i < b * in(l); ++i) dx.data[i] *= m[i];
    }
    cur = 1 - cur;
    delta = dx;
  }
  return loss;
}

template class BasicModel<float>;
template class BasicModel<double>;

}  // namespace bpt
