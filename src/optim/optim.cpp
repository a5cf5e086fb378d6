#include "bpt/optim/optim.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include "bpt/core/error.hpp"
#include "bpt/core/names.hpp"
#include "bpt/core/sim_cost.hpp"

namespace bpt {

namespace {
constexpr NameOf<OptKind> kOptimizers[] = {{OptKind::Sgd, "sgd"},     {OptKind::Momentum, "momentum"},
                                           {OptKind::Nesterov, "nesterov"}, {OptKind::Adam, "adam"},
                                           {OptKind::AdamW, "adamw"}, {OptKind::Lars, "lars"},
                                           {OptKind::Lamb, "lamb"}};
constexpr NameOf<LrKind> kSchedules[] = {{LrKind::Constant, "constant"}, {LrKind::Step, "step"}, {LrKind::Cosine, "cosine"}};
}  // namespace

OptKind parse_optimizer(std::string_view name) { return parse_name(kOptimizers, name, "optimizer"); }
std::string to_string(OptKind k) { return name_of(kOptimizers, k); }

namespace {
bool has_second_moment(OptKind k) { return k == OptKind::Adam || k == OptKind::AdamW || k == OptKind::Lamb; }
}  // namespace

Optimizer::Optimizer(OptimConfig cfg, std::size_t n) : cfg_(cfg) {
  if (cfg_.kind != OptKind::Sgd) m_.resize(n);
  if (has_second_moment(cfg_.kind)) v_.resize(n);
}

std::vector<std::pair<std::string, std::span<float>>> Optimizer::state() {
  std::vector<std::pair<std::string, std::span<float>>> s;
  if (cfg_.kind == OptKind::Momentum || cfg_.kind == OptKind::Nesterov || cfg_.kind == OptKind::Lars)
    s.emplace_back("momentum_buffer", m_.span());
  if (has_second_moment(cfg_.kind)) {
    s.emplace_back("exp_avg", m_.span());
    s.emplace_back("exp_avg_sq", v_.span());
  }
  return s;
}

void Optimizer::step(std::span<float> params, std::span<const float> grads, float lr, float gs) {
  step(params, grads, lr, gs, Ranges{{0, params.size()}});
}

void Optimizer::keep_only(Ranges ranges) {
  for (const Range& r : ranges) require(r.begin <= r.end, "optimizer: an element range ends before it starts");
  const std::size_t total = total_size(ranges);
  if (cfg_.kind != OptKind::Sgd) m_.resize(total);
  if (has_second_moment(cfg_.kind)) v_.resize(total);
  kept_ = std::move(ranges);
}

void Optimizer::step(std::span<float> params, std::span<const float> grads, float lr, float gs, const Ranges& ranges) {
  require(!layerwise(cfg_.kind), "optimizer: " + to_string(cfg_.kind) + " needs the layers (step_layerwise)");
  require(params.size() == grads.size(), "optimizer: parameter and gradient sizes differ");
  const bool packed = !kept_.empty();
  if (packed)
    require(std::equal(ranges.begin(), ranges.end(), kept_.begin(), kept_.end()),
            "optimizer: a step on other ranges than the state was kept for");
  if (!packed) {  // packed state is sized by keep_only() for exactly its ranges
    if (cfg_.kind != OptKind::Sgd) require(m_.size() == params.size(), "optimizer: state size mismatch");
    if (has_second_moment(cfg_.kind)) require(v_.size() == params.size(), "optimizer: state size mismatch");
  }
  ++t_;
  std::size_t at = 0;  // where a range's state starts: packed, one after another; else at lo
  for (auto [lo, hi] : ranges) {
    require(lo <= hi && hi <= params.size(), "optimizer: element range outside the parameters");
    const std::size_t s = packed ? at : lo;
    update(params.data() + lo, grads.data() + lo, m_.size() ? m_.data() + s : nullptr, v_.size() ? v_.data() + s : nullptr,
           hi - lo, lr, gs);
    at += hi - lo;
  }
}

void Optimizer::update(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v,
                       std::size_t n, float lr, float gs) const {
  sim::Kernel kernel("opt_update", n, 1 + static_cast<std::size_t>(cfg_.kind));
  if (kernel.skip()) return;
  const float wd = cfg_.weight_decay;
  switch (cfg_.kind) {
    case OptKind::Sgd:
      for (std::size_t i = 0; i < n; ++i) p[i] -= lr * (g[i] * gs + wd * p[i]);
      break;
    case OptKind::Momentum:
    case OptKind::Nesterov: {
      const float mu = t_ == 1 ? 0.0f : cfg_.momentum;  // PyTorch: the buffer starts as the first gradient
      const float nmu = cfg_.kind == OptKind::Nesterov ? cfg_.momentum : 0.0f;
      if (cfg_.kind == OptKind::Nesterov) {
        for (std::size_t i = 0; i < n; ++i) {
          const float gi = g[i] * gs + wd * p[i];
          m[i] = mu * m[i] + gi;
          p[i] -= lr * (gi + nmu * m[i]);
        }
      } else {
        for (std::size_t i = 0; i < n; ++i) {
          m[i] = mu * m[i] + (g[i] * gs + wd * p[i]);
          p[i] -= lr * m[i];
        }
      }
      break;
    }
    case OptKind::Lars:
    case OptKind::Lamb:
      break;  // step_layerwise()
    case OptKind::Adam:
    case OptKind::AdamW: {
      const float b1 = cfg_.beta1, b2 = cfg_.beta2, eps = cfg_.eps;
      const double td = static_cast<double>(t_);
      const float bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(b1), td));
      const float bc2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(static_cast<double>(b2), td)));
      const float step_size = lr / bc1;
      // AdamW decays the weights directly (decoupled); Adam adds the L2 term to the gradient.
      const float decay = cfg_.kind == OptKind::AdamW ? 1.0f - lr * wd : 1.0f;
      const float l2 = cfg_.kind == OptKind::AdamW ? 0.0f : wd;
      for (std::size_t i = 0; i < n; ++i) {
        const float pi = p[i] * decay;
        const float gi = g[i] * gs + l2 * p[i];
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        p[i] = pi - step_size * m[i] / (std::sqrt(v[i]) / bc2_sqrt + eps);
      }
      break;
    }
  }
}

void Optimizer::step_layerwise(std::span<float> params, std::span<const float> grads, float lr, float gs,
                               const Ranges& ranges, const std::vector<LayerSpan>& layers,
                               const std::function<void(std::span<double>)>& complete) {
  require(layerwise(cfg_.kind), "optimizer: step_layerwise is for lars and lamb");
  require(params.size() == grads.size(), "optimizer: parameter and gradient sizes differ");
  const bool packed = !kept_.empty();
  if (packed)
    require(std::equal(ranges.begin(), ranges.end(), kept_.begin(), kept_.end()),
            "optimizer: a step on other ranges than the state was kept for");
  else
    require(m_.size() == params.size(), "optimizer: state size mismatch");
  const bool lamb = cfg_.kind == OptKind::Lamb;
  if (lamb && u_.size() != m_.size()) u_.resize(m_.size());
  ++t_;
  // Visits every piece of `ranges` that lies in one layer's weights or bias: f(layer, is_weight,
  // first element, count, where its state starts).
  auto pieces = [&](auto&& f) {
    std::size_t at = 0;
    for (auto [lo, hi] : ranges) {
      require(lo <= hi && hi <= params.size(), "optimizer: element range outside the parameters");
      const std::size_t s = packed ? at : lo;
      for (std::size_t l = 0; l < layers.size(); ++l)
        for (const bool w : {true, false}) {
          const Range part = w ? layers[l].weight : layers[l].bias;
          const std::size_t a = std::max(lo, part.begin), b = std::min(hi, part.end);
          if (a < b) f(l, w, a, b - a, s + (a - lo));
        }
      at += hi - lo;
    }
  };
  const std::size_t nl = layers.size();
  std::vector<double> fig(2 * nl, 0.0);  // per layer: ||w||^2 of the weights, then ||g||^2 (LARS) or ||u||^2 (LAMB)
  const float wd = cfg_.weight_decay, b1 = cfg_.beta1, b2 = cfg_.beta2, eps = cfg_.eps;
  const double td = static_cast<double>(t_);
  const float bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(b1), td));
  const float bc2 = static_cast<float>(1.0 - std::pow(static_cast<double>(b2), td));
  std::optional<sim::Kernel> kernel(std::in_place, "opt_layerwise_1", total_size(ranges), 1 + static_cast<std::size_t>(cfg_.kind));
  if (!kernel->skip()) pieces([&](std::size_t l, bool weight, std::size_t first, std::size_t n, std::size_t s) {
    const float* p = params.data() + first;
    const float* g = grads.data() + first;
    double ww = 0, xx = 0;
    if (!lamb) {
      if (!weight) return;
      for (std::size_t i = 0; i < n; ++i) {
        const double gi = double(g[i] * gs);
        ww += double(p[i]) * p[i];
        xx += gi * gi;
      }
    } else {
      float* m = m_.data() + s;
      float* v = v_.data() + s;
      float* u = u_.data() + s;
      const float lambda = weight ? wd : 0.0f;
      for (std::size_t i = 0; i < n; ++i) {
        const float gi = g[i] * gs;
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        u[i] = (m[i] / bc1) / (std::sqrt(v[i] / bc2) + eps) + lambda * p[i];
        ww += double(p[i]) * p[i];
        xx += double(u[i]) * u[i];
      }
      if (!weight) return;
    }
    fig[l] += ww;
    fig[nl + l] += xx;
  });
  kernel.reset();
  complete(fig);
  std::vector<float> ratio(nl, 1.0f);
  for (std::size_t l = 0; l < nl; ++l) {
    const double wn = std::sqrt(fig[l]), xn = std::sqrt(fig[nl + l]);
    if (wn > 0 && xn > 0)
      ratio[l] = static_cast<float>(lamb ? wn / xn : double(cfg_.trust_coef) * wn / (xn + double(wd) * wn));
  }
  const float mu = cfg_.momentum;
  kernel.emplace("opt_layerwise_2", total_size(ranges), 1 + static_cast<std::size_t>(cfg_.kind));
  if (!kernel->skip()) pieces([&](std::size_t l, bool weight, std::size_t first, std::size_t n, std::size_t s) {
    float* p = params.data() + first;
    const float r = weight ? ratio[l] : 1.0f;
    if (lamb) {
      const float* u = u_.data() + s;
      for (std::size_t i = 0; i < n; ++i) p[i] -= lr * r * u[i];
      return;
    }
    const float* g = grads.data() + first;
    float* m = m_.data() + s;
    const float beta = weight ? wd : 0.0f, step = lr * r;
    for (std::size_t i = 0; i < n; ++i) {
      m[i] = mu * m[i] + step * (g[i] * gs + beta * p[i]);
      p[i] -= m[i];
    }
  });
}

void pack(const Ranges& ranges, std::span<const float> full, std::span<float> packed) {
  require(packed.size() == total_size(ranges), "pack: the packed buffer does not fit the ranges");
  sim::Kernel kernel("copy", packed.size());
  if (kernel.skip()) return;
  float* out = packed.data();
  for (const Range& r : ranges) {
    require(r.begin <= r.end && r.end <= full.size(), "pack: a range outside the full layout");
    out = std::copy(full.begin() + static_cast<std::ptrdiff_t>(r.begin), full.begin() + static_cast<std::ptrdiff_t>(r.end), out);
  }
}

void unpack(const Ranges& ranges, std::span<const float> packed, std::span<float> full) {
  require(packed.size() == total_size(ranges), "unpack: the packed buffer does not fit the ranges");
  sim::Kernel kernel("copy", packed.size());
  if (kernel.skip()) return;
  const float* in = packed.data();
  for (const Range& r : ranges) {
    require(r.begin <= r.end && r.end <= full.size(), "unpack: a range outside the full layout");
    std::copy(in, in + r.size(), full.begin() + static_cast<std::ptrdiff_t>(r.begin));
    in += r.size();
  }
}

double global_norm(std::span<const float> g) {
  sim::Kernel kernel("sumsq", g.size());
  if (kernel.skip()) return 0;
  double s = 0;
  for (float x : g) s += static_cast<double>(x) * static_cast<double>(x);
  return std::sqrt(s);
}

double sum_squares(std::span<const float> g) {
  // 32 float partial sums per block of 1024 (several independent vector accumulators, so the adds
  // do not wait on each other: 6x faster than 8 on AVX-512), blocks accumulated in double.
  sim::Kernel kernel("sumsq", g.size());
  if (kernel.skip()) return 0;
  double total = 0;
  const float* p = g.data();
  const std::size_t n = g.size();
  for (std::size_t at = 0; at < n; at += 1024) {
    const std::size_t end = std::min(n, at + 1024);
    constexpr std::size_t lanes = 32;
    float acc[lanes] = {};
    std::size_t i = at;
    for (; i + lanes <= end; i += lanes)
      for (std::size_t k = 0; k < lanes; ++k) acc[k] += p[i + k] * p[i + k];
    for (; i < end; ++i) acc[0] += p[i] * p[i];
    double block = 0;
    for (float a : acc) block += static_cast<double>(a);
    total += block;
  }
  return total;
}

LrKind parse_lr_schedule(std::string_view name) { return parse_name(kSchedules, name, "LR schedule"); }
std::string to_string(LrKind k) { return name_of(kSchedules, k); }

float LrSchedule::at(std::uint64_t step) const {
  double lr = base_lr;
  switch (kind) {
    case LrKind::Constant: break;
    case LrKind::Step:
      lr *= std::pow(static_cast<double>(gamma), static_cast<double>(step / (step_size ? step_size : 1)));
      break;
    case LrKind::Cosine: {
      const double frac = std::min(1.0, static_cast<double>(step) / static_cast<double>(total_steps ? total_steps : 1));
      lr = base_lr * 0.5 * (1.0 + std::cos(3.141592653589793 * frac));
      break;
    }
  }
  if (warmup_steps > 0 && step < warmup_steps)
    lr *= static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  return static_cast<float>(lr);
}

}  // namespace bpt
