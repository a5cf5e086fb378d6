#pragma once
// The network: a stack of layers (dense, convolution, max- and average-pooling) over one flat parameter
// buffer and one flat gradient buffer, the layers as views into them. Layer l occupies [offset(l),
// offset(l) + size(l)) of both buffers: its weights, then its biases (a pooling layer: nothing).
// Activations are rows, one per sample: an image's [channels, height, width] values in that order
// (PyTorch's NCHW, flattened), so a dense layer after a convolution or pooling reads its input as
// PyTorch's nn.Flatten gives it.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "bpt/core/buffer.hpp"
#include "bpt/core/matrix.hpp"
#include "bpt/core/shape.hpp"
#include "bpt/nn/activation.hpp"
#include "bpt/nn/conv.hpp"
#include "bpt/nn/init.hpp"
#include "bpt/nn/loss.hpp"

namespace bpt {

enum class LayerKind { Dense, Conv, MaxPool, AvgPool };
const char* to_string(LayerKind k);  // dense, conv, maxpool, avgpool

// One layer as the user asks for it (--layers); the model works out its shapes (LayerPlan).
struct LayerSpec {
  LayerKind kind = LayerKind::Dense;
  std::size_t units = 0;   // dense: outputs; conv: output channels; pooling: unused
  std::size_t k = 0;       // conv: kernel size; pooling: window (and stride)
  std::size_t stride = 1;  // conv
  bool valid = false;      // conv: no zero padding; else (k - 1) / 2 on every side
  bool operator==(const LayerSpec&) const = default;
};
// "conv5:32", "conv3:64:s2:valid", "maxpool2", "avgpool3", "dense:256": the --layers grammar.
std::string to_string(const LayerSpec& l);
// Comma-separated layers from the input ("conv5:32,maxpool2,dense:256"); throws Error naming the item.
std::vector<LayerSpec> parse_layers(const std::string& text);

struct ModelSpec {
  Shape input;                    // one sample
  std::vector<LayerSpec> layers;  // from the input; the last is the output layer (dense, identity)
  Activation hidden = Activation::Relu;
  Loss loss = Loss::SoftmaxCrossEntropy;
  std::size_t inputs() const { return input.size(); }
  std::size_t outputs() const { return layers.empty() ? 0 : layers.back().units; }
  bool operator==(const ModelSpec&) const = default;
};
// A multilayer perceptron: sizes = input, hidden..., output (all dense).
ModelSpec mlp_spec(const std::vector<std::size_t>& sizes, Activation hidden = Activation::Relu,
                   Loss loss = Loss::SoftmaxCrossEntropy);
// "784-512-256-10" for an MLP; "1x28x28-conv5:32-maxpool2-dense:256-10" otherwise.
std::string describe_layers(const ModelSpec& spec);

// What one layer is, worked out from the spec: its shapes, its parameters and its geometry.
struct LayerPlan {
  LayerSpec spec;
  Shape in, out;
  std::size_t weight_rows = 0, weight_cols = 0;  // the weight as a matrix: dense [out, in], conv [C_out, C_in·K·K]
  std::size_t biases = 0;
  ConvGeom conv;  // conv only
  PoolGeom pool;  // pooling only
  std::size_t weights() const { return weight_rows * weight_cols; }
  std::size_t params() const { return weights() + biases; }
  bool has_params() const { return params() > 0; }
};
// Every layer's plan; throws Error naming the layer ("layer 2 (conv5:32): a 5x5 kernel on a 4x4 input")
// for a stack that cannot be built: a kernel or window larger than its input, zero channels or units,
// a convolution or pooling after a dense layer or on rows without an image shape.
std::vector<LayerPlan> plan_layers(const ModelSpec& spec);

// The largest model bptrain builds, and so the largest its checkpoints hold: one set of limits for the
// command line's checks, the model, the checkpoint writer and its reader (which refuses a file past
// them as damaged rather than allocate what it claims).
struct ModelLimits {
  static constexpr std::size_t layers = 1000;          // layers, the output layer included
  static constexpr std::size_t width = 1u << 24;       // a layer's inputs or outputs per sample
  static constexpr std::uint64_t params = 1ULL << 32;  // weights and biases in all
};
// Weights and biases of a model of these sizes (no overflow within the limits' widths).
std::uint64_t count_params(const std::vector<std::size_t>& sizes);
std::uint64_t count_params(const std::vector<LayerPlan>& plan);
// Throws Error naming the first limit the model passes ("a model of 1001 layers: at most 1000"), after
// plan_layers' checks ("layer 0 (dense:16777217): more than 16777216 values per sample").
void check_limits(const ModelSpec& spec);

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
  std::size_t num_layers() const { return plan_.size(); }
  const LayerPlan& layer(std::size_t l) const { return plan_[l]; }
  LayerKind kind(std::size_t l) const { return plan_[l].spec.kind; }
  // Features per sample into and out of layer l.
  std::size_t in(std::size_t l) const { return plan_[l].in.size(); }
  std::size_t out(std::size_t l) const { return plan_[l].out.size(); }
  // The output layer's is the identity; pooling has none (identity too).
  Activation activation(std::size_t l) const {
    const LayerKind k = kind(l);
    return l + 1 == num_layers() || k == LayerKind::MaxPool || k == LayerKind::AvgPool ? Activation::Identity
                                                                                         : spec_.hidden;
  }
  std::size_t offset(std::size_t l) const { return offsets_[l]; }
  std::size_t size(std::size_t l) const { return offsets_[l + 1] - offsets_[l]; }
  std::size_t num_params() const { return offsets_.back(); }

  std::span<T> params() { return params_.span(); }
  std::span<const T> params() const { return params_.span(); }
  std::span<T> grads() { return grads_.span(); }
  std::span<const T> grads() const { return grads_.span(); }
  T* weight(std::size_t l) { return params_.data() + offsets_[l]; }
  const T* weight(std::size_t l) const { return params_.data() + offsets_[l]; }
  T* bias(std::size_t l) { return weight(l) + plan_[l].weights(); }
  const T* bias(std::size_t l) const { return weight(l) + plan_[l].weights(); }
  T* grad_weight(std::size_t l) { return grads_.data() + offsets_[l]; }
  T* grad_bias(std::size_t l) { return grad_weight(l) + plan_[l].weights(); }

  void init(Init kind, std::uint64_t seed);
  void zero_grad() { grads_.zero(); }

  // x: [B, in(0)] -> logits [B, out(last)], valid until the next forward. Keeps what backward needs.
  // drop: nullptr or p == 0 for no dropout (evaluation); dropout follows each hidden dense layer.
  // layer_done(l), if given, after layer l.
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
  bool dropout_after(std::size_t l) const {  // each hidden dense layer, when dropout is on
    return dropped_ && l + 1 < num_layers() && kind(l) == LayerKind::Dense;
  }
  // Layer l's input in forward: the input (dropped or not), or what layer l - 1 handed on.
  ConstMatView<T> input_of(std::size_t l) const;

  ModelSpec spec_;
  std::vector<LayerPlan> plan_;
  std::vector<std::size_t> offsets_;
  Buffer<T> params_, grads_;
  std::size_t cap_ = 0, rows_ = 0;
  bool dropped_ = false;
  ConstMatView<T> x_;
  std::vector<Buffer<T>> z_, a_, mask_, drop_;
  std::vector<Buffer<std::int32_t>> argmax_;  // max-pooling: the element each output came from
  Buffer<T> col_;      // the convolutions' scratch (ConvGeom::scratch_size): the largest one's
  Buffer<T> in_drop_;  // input dropout's output (its mask is not kept: no error flows to the input)
  Buffer<T> delta_[2];
};

using Model = BasicModel<float>;

}  // namespace bpt
