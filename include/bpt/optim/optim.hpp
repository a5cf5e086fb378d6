#pragma once
// Optimizers, clipping and LR schedules on flat spans of floats. Semantics follow PyTorch's
// torch.optim (SGD with momentum/nesterov/weight_decay, Adam with L2 weight_decay, AdamW decoupled).
// LARS and LAMB follow their papers' algorithms (step_layerwise() below says which equations).
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bpt/core/buffer.hpp"
#include "bpt/core/error.hpp"
#include "bpt/core/range.hpp"

namespace bpt {

enum class OptKind { Sgd, Momentum, Nesterov, Adam, AdamW, Lars, Lamb };
OptKind parse_optimizer(std::string_view name);  // sgd | momentum | nesterov | adam | adamw | lars | lamb
// LARS and LAMB scale each layer's update by a trust ratio from the whole layer's norms.
inline bool layerwise(OptKind k) { return k == OptKind::Lars || k == OptKind::Lamb; }
std::string to_string(OptKind k);

struct OptimConfig {
  OptKind kind = OptKind::Adam;
  float momentum = 0.9f;  // momentum, nesterov
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float weight_decay = 0;  // L2 added to the gradient; decoupled for AdamW; LARS's beta, LAMB's lambda
  float trust_coef = 0.001f;  // LARS's eta
};

// One layer of the flat parameter layout: its weight matrix and its bias (LARS and LAMB adapt and
// decay the weights; the biases are excluded from both, as in the papers' reference code).
struct LayerSpan {
  Range weight, bias;
};

class Optimizer {
 public:
  Optimizer(OptimConfig cfg, std::size_t n);
  // params -= update(grads * grad_scale) with learning rate lr. grads are read only; grad_scale lets
  // the caller average a sum without a pass of its own (g * grad_scale is computed once per element).
  void step(std::span<float> params, std::span<const float> grads, float lr, float grad_scale = 1.0f);
  // One step that updates only the elements in `ranges` of params and of the state: a sharded
  // optimizer, where each rank updates its own part and the parts are then exchanged. After
  // keep_only(), ranges must be exactly the ranges given to it.
  void step(std::span<float> params, std::span<const float> grads, float lr, float grad_scale, const Ranges& ranges);
  // LARS or LAMB: the step on `ranges`, each layer's update scaled by its trust ratio. The ratios need
  // the norms of the whole layer's weights and of its gradient (LARS) or update (LAMB): this optimizer
  // measures them on `ranges` (2 x layers.size() sums of squares: weights, then gradients or
  // updates) and `complete` turns them into the whole layer's (a sum over the ranks that share the
  // layers; nothing to do when ranges cover them). Equations:
  //  LARS (You, Gitman, Ginsburg 2017, Algorithm 1): for a layer's weights w with gradient g,
  //    local_lr = eta ||w|| / (||g|| + beta ||w||)  (1 when a norm is 0),
  //    v = m v + lr local_lr (g + beta w),  w -= v;  biases: local_lr 1, beta 0.
  //  LAMB (You et al. 2019, Algorithm 2, with Adam's bias correction): m = b1 m + (1 - b1) g,
  //    v = b2 v + (1 - b2) g^2, r = (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps), u = r + lambda w,
  //    w -= lr (||w|| / ||u||) u  (ratio 1 when a norm is 0, phi the identity);  biases: u = r, ratio 1.
  void step_layerwise(std::span<float> params, std::span<const float> grads, float lr, float grad_scale,
                      const Ranges& ranges, const std::vector<LayerSpan>& layers,
                      const std::function<void(std::span<double>)>& complete);
  // Keeps state only for these ranges of the layout, in the packed layout (pack() below; the state
  // is zeroed): the sharded optimizer's memory is 1/N too. state() is then packed.
  void keep_only(Ranges ranges);
  const OptimConfig& config() const { return cfg_; }
  std::uint64_t steps() const { return t_; }
  void set_steps(std::uint64_t t) { t_ = t; }
  // Named state tensors (for checkpoints): "momentum_buffer", or "exp_avg" and "exp_avg_sq"; in the
  // full layout, or packed after keep_only().
  std::vector<std::pair<std::string, std::span<float>>> state();

 private:
  void update(float* p, const float* g, float* m, float* v, std::size_t n, float lr, float gs) const;
  OptimConfig cfg_;
  std::uint64_t t_ = 0;
  Buffer<float> m_, v_;
  Buffer<float> u_;  // LAMB: the update of each element, between the norms and the step
  Ranges kept_;  // keep_only()'s ranges; empty: full layout
};

// The packed layout of a state tensor kept for `ranges` only: the ranges' elements one after another,
// in the order given (not sorted). packed.size() == total_size(ranges); full is the whole layout.
void pack(const Ranges& ranges, std::span<const float> full, std::span<float> packed);
void unpack(const Ranges& ranges, std::span<const float> packed, std::span<float> full);

// Euclidean norm, accumulated in double.
double global_norm(std::span<const float> g);
// Sum of squares (NaN or Inf if any element is not finite). One read-only pass, vectorised; the same
// bits on every rank for the same input.
double sum_squares(std::span<const float> g);

enum class LrKind { Constant, Step, Cosine };
LrKind parse_lr_schedule(std::string_view name);  // constant | step | cosine
std::string to_string(LrKind k);

struct LrSchedule {
  LrKind kind = LrKind::Constant;
  float base_lr = 1e-3f;
  std::uint64_t warmup_steps = 0;  // linear ramp from base_lr/warmup_steps to base_lr
  std::uint64_t step_size = 1;     // Step: multiply by gamma every step_size steps
  float gamma = 0.1f;
  std::uint64_t total_steps = 1;   // Cosine: decays to 0 at total_steps
  // LR for 0-based optimizer step `step`.
  float at(std::uint64_t step) const;
};

}  // namespace bpt
