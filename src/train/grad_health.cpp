#include "bpt/train/grad_health.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "bpt/core/error.hpp"
#include "bpt/io/json.hpp"
#include "bpt/optim/optim.hpp"

namespace bpt {

GradHealth::GradHealth(const Config& cfg, const Comm& comm, std::vector<bool> watched)
    : cfg_(cfg),
      comm_(comm),
      watched_(std::move(watched)),
      sq_(watched_.size(), 0.0),
      norm_sum_(watched_.size(), 0.0),
      low_run_(watched_.size(), 0),
      high_run_(watched_.size(), 0) {}

void GradHealth::begin_epoch() {
  std::fill(norm_sum_.begin(), norm_sum_.end(), 0.0);
  ok_steps_ = 0;
}

GradHealth::Verdict GradHealth::check(std::span<const float> grads, std::span<const float> params,
                                      const ShardedOptimizer& opt, std::size_t g, std::uint64_t step, bool stop_here,
                                      bool loss_bad_here, double& comm_s) {
  auto sum_over_ranks = [&](std::span<double> v) {
    const double t0 = wall_time();
    comm_.allreduce_sum(v);
    comm_s += wall_time() - t0;
  };
  auto piece = [&](const Range& r) { return grads.subspan(r.begin, r.size()); };
  const std::size_t nl = sq_.size();
  const float inv = 1.0f / static_cast<float>(g);
  const double inv2 = static_cast<double>(inv) * static_cast<double>(inv);
  // Squared norms of the averaged gradient, per layer, from the sum (read only).
  for (std::size_t l = 0; l < nl; ++l) {
    sq_[l] = 0;
    for (const Range& r : opt.owned_in_layer(l)) sq_[l] += sum_squares(piece(r)) * inv2;
  }
  // One small sum over the ranks carries the vote (how many ranks were signalled to stop, how many
  // saw a non-finite loss) and, when each rank measured only its own part, the per-layer figures:
  // one latency per step for all of it.
  std::vector<double>& v = votes_;
  v.assign(2, 0.0);
  v[0] = stop_here ? 1.0 : 0.0;
  v[1] = loss_bad_here ? 1.0 : 0.0;
  if (opt.split()) v.insert(v.end(), sq_.begin(), sq_.end());
  sum_over_ranks(v);
  if (opt.split()) std::copy(v.begin() + 2, v.end(), sq_.begin());
  Verdict verdict;
  verdict.stop = v[0] > 0;
  const bool bad_loss = v[1] > 0;
  double total = 0;
  for (double v : sq_) total += v;
  long bad_layer = -1;
  if (!std::isfinite(total)) {  // a non-finite element, or float partial sums that overflowed
    // Per layer: the count of non-finite elements, and the sum of squares accumulated in double.
    std::vector<double> again(2 * nl, 0.0);
    for (std::size_t l = 0; l < nl; ++l)
      for (const Range& r : opt.owned_in_layer(l)) {
        auto gl = piece(r);
        again[l] += static_cast<double>(std::count_if(gl.begin(), gl.end(), [](float v) { return !std::isfinite(v); }));
        const double n = global_norm(gl);
        again[nl + l] += n * n * inv2;
      }
    if (opt.split()) sum_over_ranks(again);
    total = 0;
    for (std::size_t l = 0; l < nl; ++l) {
      if (again[l] > 0 && bad_layer < 0) bad_layer = static_cast<long>(l);
      sq_[l] = again[nl + l];
      total += sq_[l];
    }
  }
  if (bad_loss || bad_layer >= 0) {
    std::string what = "step " + std::to_string(step) + ": ";
    if (bad_loss) what += "the training loss is not finite";
    if (bad_loss && bad_layer >= 0) what += "; ";
    if (bad_layer >= 0) what += "the gradients of layer " + std::to_string(bad_layer) + " are not finite";
    if (std::any_of(params.begin(), params.end(), [](float v) { return !std::isfinite(v); }))
      throw NumericError(what + ", and the weights themselves are no longer finite (an update overflowed: lower --lr)")
          .agreed_by_all(comm_.rank(), comm_.size());
    if (cfg_.on_nonfinite_skip) {
      if (comm_.rank() == 0 && !cfg_.quiet) std::printf("bptrain: warning: %s; step skipped\n", what.c_str());
      return verdict;
    }
    throw NumericError(what + " (lower --lr, clip with --clip-grad-norm, or --on-nonfinite skip)")
        .agreed_by_all(comm_.rank(), comm_.size());
  }
  ++ok_steps_;
  for (std::size_t l = 0; l < nl; ++l) {
    const double ln = std::sqrt(sq_[l]);
    norm_sum_[l] += ln;
    if (watched_[l]) warn_if_stuck(l, ln);
  }
  const double norm = std::sqrt(total);
  verdict.scale = inv;
  if (cfg_.clip_grad_norm > 0 && norm > cfg_.clip_grad_norm)
    verdict.scale = inv * static_cast<float>(cfg_.clip_grad_norm / (norm + 1e-6));  // PyTorch's clip_grad_norm_ factor
  return verdict;
}

void GradHealth::warn_if_stuck(std::size_t l, double norm) {
  // Vanishing or exploding: warn once a layer stays past a threshold for grad_warn_steps steps.
  std::uint64_t& low = low_run_[l];
  std::uint64_t& high = high_run_[l];
  low = norm < cfg_.grad_warn_low ? low + 1 : 0;
  high = norm > cfg_.grad_warn_high ? high + 1 : 0;
  if (comm_.rank() == 0 && cfg_.grad_warn_steps && (low == cfg_.grad_warn_steps || high == cfg_.grad_warn_steps))
    std::printf("bptrain: warning: layer %zu's gradient norm has stayed %s %g for %llu steps (%s gradients?), now %.3g\n",
                l, low ? "below" : "above", low ? cfg_.grad_warn_low : cfg_.grad_warn_high,
                static_cast<unsigned long long>(cfg_.grad_warn_steps), low ? "vanishing" : "exploding", norm);
}

std::string GradHealth::layer_stats_json(const Model& model) const {
  std::string out = "[";
  for (std::size_t l = 0; l < model.num_layers(); ++l) {
    if (!watched_[l]) continue;
    const auto p = model.params().subspan(model.offset(l), model.size(l));
    JsonLine j;
    j.add("layer", static_cast<std::uint64_t>(l))
        .add("grad_norm_mean", ok_steps_ ? norm_sum_[l] / double(ok_steps_) : 0.0)
        .add("weight_norm", global_norm(p));
    if (out.size() > 1) out += ',';
    out += j.str();
  }
  return out + "]";
}

}  // namespace bpt
