#pragma once
// The network: one flat parameter buffer, one flat gradient buffer, layers as views into them.
// Layer l occupies [offset(l), offset(l) + size(l)) of both buffers: W_l [out, in] then b_l [out].
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "bpt/core/buffer.hpp"
#include "bpt/core/matrix.hpp"
#include "bpt/nn/activation.hpp"
#include "bpt/nn/init.hpp"
#include "bpt/nn/loss.hpp"

namespace bpt {

struct ModelSpec {
  std::vector<std::size_t> sizes;  // input, hidden..., output
  Activation hidden = Activation::Relu;
  Loss loss = Loss::SoftmaxCrossEntropy;
};

// The largest model bptrain builds, and so the largest its checkpoints hold: one set of limits for the
// command line's checks, the model, the checkpoint writer and its reader (which refuses a file past
// them as damaged rather than allocate what it claims).
struct ModelLimits {
  static constexpr std::size_t layers = 1000;       // weight layers, the output layer included
  static constexpr std::size_t width = 1u << 24;    // the sizes: inputs, each layer's units, outputs
  static constexpr std::uint64_t params = 1ULL << 32;  // weights and biases in all
};
// Weights and biases of a model of these sizes (no overflow within the limits' widths).
std::uint64_t count_params(const std::vector<std::size_t>& sizes);
// Throws Error naming the first limit that sizes pass ("a layer of 16777217 units: at most 16777216").
void check_limits(const std::vector<std::size_t>& sizes);

// Randomness for one training step's dropout; sample_ids[r] is the global index of row r.
struct DropoutCtx {
  float p = 0;  // on hidden activations
  std::uint64_t seed = 0, step = 0;
  const std::uint64_t* sample_ids = nullptr;
  float p_input = 0;  // on the input features
};

// What the loss compares the output with: class labels [B], or float targets [B, K] (MSE).
template <class T>
struct Targets {
  const std::int32_t* labels = nullptr;
  const T* values = nullptr;
  T smoothing = T(0);  // labels with cross-entropy: (1 - smoothing) one-hot + smoothing / K
};

template <class T>
class BasicModel {
 public:
  explicit BasicModel(ModelSpec spec);

  const ModelSpec& spec() const { return spec_; }
  std::size_t num_layers() const { return spec_.sizes.size() - 1; }
  std::size_t in(std::size_t l) const { return spec_.sizes[l]; }
  std::size_t out(std::size_t l) const { return spec_.sizes[l + 1]; }
  Activation activation(std::size_t l) const { return l + 1 == num_layers() ? Activation::Identity : spec_.hidden; }
  std::size_t offset(std::size_t l) const { return offsets_[l]; }
  std::size_t size(std::size_t l) const { return offsets_[l + 1] - offsets_[l]; }
  std::size_t num_params() const { return offsets_.back(); }

  std::span<T> params() { return params_.span(); }
  std::span<const T> params() const { return params_.span(); }
  std::span<T> grads() { return grads_.span(); }
  std::span<const T> grads() const { return grads_.span(); }
  T* weight(std::size_t l) { return params_.data() + offsets_[l]; }
  const T* weight(std::size_t l) const { return params_.data() + offsets_[l]; }
  T* bias(std::size_t l) { return weight(l) + out(l) * in(l); }
  T* grad_weight(std::size_t l) { return grads_.data() + offsets_[l]; }
  T* grad_bias(std::size_t l) { return grad_weight(l) + out(l) * in(l); }

  void init(Init kind, std::uint64_t seed);
  void zero_grad() { grads_.zero(); }

  // x: [B, in(0)] -> logits [B, out(last)], valid until the next forward. Keeps every z and a.
  // drop: nullptr or p == 0 for no dropout (evaluation). layer_done(l), if given, after layer l.
  ConstMatView<T> forward(ConstMatView<T> x, const DropoutCtx* drop = nullptr,
                          const std::function<void(std::size_t)>* layer_done = nullptr);

  // Requires forward() on the same batch first. Accumulates scale * dLoss/dθ into grads(), from the
  // last layer to the first, calling layer_ready(l) as soon as layer l's gradients are final
  // (accumulate = false: overwrites grads() instead, so no zero_grad() is needed).
  // Returns the sum of per-sample losses over the batch.
  double backward(Targets<T> t, T scale, const std::function<void(std::size_t)>& layer_ready = {},
                  bool accumulate = true);

  // Loss sum of the last forward() without touching gradients.
  double loss_of_last(Targets<T> t) const;

 private:
  void reserve(std::size_t batch);

  ModelSpec spec_;
  std::vector<std::size_t> offsets_;
  Buffer<T> params_, grads_;
  std::size_t cap_ = 0, rows_ = 0;
  bool dropped_ = false;
  ConstMatView<T> x_;
  std::vector<Buffer<T>> z_, a_, mask_, drop_;
  Buffer<T> in_drop_;  // input dropout's output (its mask is not kept: no error flows to the input)
  Buffer<T> delta_[2];
};

using Model = BasicModel<float>;

}  // namespace bpt
