#pragma once
// The optimizer step over the ranks: sharded (ZeRO stage 1: Rajbhandari et al., 2020) or replicated.
//
// Sharded (--overlap on, not --deterministic): the reducer's reduce-scatter leaves this rank holding
// the complete gradient sum of owned() only, one chunk of every bucket. Everywhere else its gradient
// buffer holds partial sums, which nothing may read. step() updates the owned weights and their
// optimizer state; the state is kept packed (optim's pack(): the owned ranges one after another), so
// each rank holds 1/N of it. gather() then gives every rank every owner's new weights, and every rank
// ends the step with identical weights.
// Replicated (--overlap off, --deterministic, or one rank): owned() is the whole buffer, every rank
// runs the same whole step, and gather() does nothing.
// Checkpoints always hold the whole state: with_whole_state() assembles it for the occasion, and
// load_whole_state() keeps this rank's part of one.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "bpt/comm/grad_reducer.hpp"
#include "bpt/core/range.hpp"
#include "bpt/optim/optim.hpp"

namespace bpt {

class ShardedOptimizer {
 public:
  // layer_offsets: L+1 ascending offsets (layer l = [off[l], off[l+1])). sharded: the reducer runs in
  // sharded mode, and its owned() is this rank's part. layers: each layer's weights and bias (LARS
  // and LAMB; empty: the weights are each layer's whole range).
  ShardedOptimizer(const OptimConfig& cfg, GradReducer& reducer, const std::vector<std::size_t>& layer_offsets,
                   bool sharded, std::vector<LayerSpan> layers = {});

  // The elements whose summed gradient this rank holds and whose weights it updates.
  const Ranges& owned() const { return owned_; }
  // owned() cut at layer l's bounds.
  const Ranges& owned_in_layer(std::size_t l) const { return by_layer_[l]; }
  // The parts differ between ranks (sharded over more than one rank): a figure measured on owned()
  // is this rank's share and needs a sum over the ranks.
  bool split() const { return split_; }

  // Updates the owned weights with the summed gradient times grad_scale (the caller's average and
  // clipping in one factor). LARS and LAMB, split: collective (one small sum of the per-layer norms).
  void step(std::span<float> params, std::span<const float> grads, float lr, float grad_scale);
  // Collective when sharded: every rank receives every owner's new weights. Returns the seconds taken.
  double gather(std::span<float> params);
  // gather() in two halves (GradReducer::gather_begin, gather_end): params must not be read in between.
  void gather_begin(std::span<float> params);
  double gather_end();
  void poll();  // moves a begun gather on
  std::uint64_t steps() const { return opt_.steps(); }

  // Collective when split: calls use(whole) on every rank with an optimizer holding the whole state
  // (every owner's part in place), built for the call and freed after it.
  void with_whole_state(const std::function<void(Optimizer&)>& use);
  // Keeps this rank's part of a whole state (a checkpoint's, named as Optimizer::state() names it).
  void load_whole_state(const std::vector<std::pair<std::string, std::vector<float>>>& state, std::uint64_t steps);

 private:
  GradReducer& reducer_;
  Optimizer opt_;
  std::size_t n_;
  bool sharded_, split_;
  Ranges owned_;
  std::vector<Ranges> by_layer_;
  std::vector<LayerSpan> layers_;
};

}  // namespace bpt
