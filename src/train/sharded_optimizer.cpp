#include "bpt/train/sharded_optimizer.hpp"

#include <algorithm>

#include "bpt/core/error.hpp"

namespace bpt {

ShardedOptimizer::ShardedOptimizer(const OptimConfig& cfg, GradReducer& reducer,
                                   const std::vector<std::size_t>& off, bool sharded, std::vector<LayerSpan> layers)
    : reducer_(reducer), opt_(cfg, off.back()), n_(off.back()), sharded_(sharded), layers_(std::move(layers)) {
  require(off.size() >= 2 && off.front() == 0, "sharded optimizer: layer offsets must start at 0");
  owned_ = sharded_ ? reducer_.owned() : Ranges{{0, n_}};
  split_ = sharded_ && reducer_.ranks() > 1;
  if (split_) opt_.keep_only(owned_);  // 1/N of the state, packed
  for (std::size_t l = 0; l + 1 < off.size(); ++l) by_layer_.push_back(clip(owned_, {off[l], off[l + 1]}));
  if (layers_.empty())
    for (std::size_t l = 0; l + 1 < off.size(); ++l) layers_.push_back({{off[l], off[l + 1]}, {off[l + 1], off[l + 1]}});
}

void ShardedOptimizer::step(std::span<float> params, std::span<const float> grads, float lr, float grad_scale) {
  if (!layerwise(opt_.config().kind)) {
    opt_.step(params, grads, lr, grad_scale, owned_);
    return;
  }
  // A layer's norms span the ranks that own parts of it: completed by one small sum, as the gradient
  // norms are in the vote (every rank reaches this step alike, or none does).
  opt_.step_layerwise(params, grads, lr, grad_scale, owned_, layers_, [&](std::span<double> fig) {
    if (split_) reducer_.comm().allreduce_sum(fig);
  });
}

double ShardedOptimizer::gather(std::span<float> params) { return sharded_ ? reducer_.gather(params) : 0.0; }

void ShardedOptimizer::gather_begin(std::span<float> params) {
  if (sharded_) reducer_.gather_begin(params);
}

double ShardedOptimizer::gather_end() { return sharded_ ? reducer_.gather_end() : 0.0; }

void ShardedOptimizer::poll() {
  if (sharded_) reducer_.poll();
}

void ShardedOptimizer::with_whole_state(const std::function<void(Optimizer&)>& use) {
  if (!split_) {
    use(opt_);
    return;
  }
  Optimizer whole(opt_.config(), n_);
  whole.set_steps(opt_.steps());
  auto mine = opt_.state(), all = whole.state();
  for (std::size_t i = 0; i < mine.size(); ++i) {
    unpack(owned_, mine[i].second, all[i].second);  // every rank puts its part in place...
    reducer_.gather(all[i].second);                  // ...and the owners' parts reach every rank
  }
  use(whole);
}

void ShardedOptimizer::load_whole_state(const std::vector<std::pair<std::string, std::vector<float>>>& state,
                                        std::uint64_t steps) {
  auto mine = opt_.state();
  require(mine.size() == state.size(), "--resume: the checkpoint's optimizer state does not match the optimizer");
  for (std::size_t i = 0; i < mine.size(); ++i) {
    require(state[i].first == mine[i].first && state[i].second.size() == n_,
            "--resume: the checkpoint's optimizer tensor '" + state[i].first + "' does not match");
    if (split_)
      pack(owned_, state[i].second, mine[i].second);
    else
      std::copy(state[i].second.begin(), state[i].second.end(), mine[i].second.begin());
  }
  opt_.set_steps(steps);
}

}  // namespace bpt
