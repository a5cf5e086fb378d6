#pragma once
// The checks a run passes before it reads its data or takes a step, so that a job of hours on a
// thousand ranks fails in its first second if it is going to fail on its input. Each throws a
// CollectiveError (exit 2) whose message names the flag.
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "bpt/data/paths.hpp"
#include "bpt/train/config.hpp"

namespace bpt {

// Every flag's range and meaning, from the config alone: no files, no MPI. ranks: the job's rank
// count; cores: this machine's (0: unknown).
void validate_config(const Config& c, int ranks, unsigned cores);

// The model the data ask for within ModelLimits (model.hpp): the parameters in all, the data's sizes.
void check_model_size(const Config& c, Shape data_shape, std::size_t features, std::size_t outputs);

// The outputs of a run (the checkpoint and its --keep rotations, metrics, profile) or of --evaluate
// (--predict).
std::vector<OutputPath> outputs_of(const Config& c, const std::string& predict);

// What one rank allocates for a model, by kind, in bytes (doubles: no overflow for absurd sizes).
struct MemoryPlan {
  double weights = 0;      // parameters, gradients, and the optimizer state
  double activations = 0;  // one training micro-batch: pre-activations, activations, errors, dropout masks
  double evaluation = 0;   // one evaluation block
  double total() const { return weights + activations + evaluation; }
};
// inputs, outputs: the model's first and last sizes; eval_rows: the evaluation block's rows.
// data_shape: the data's image shape ([0, 0, 0]: none, or not read yet: then an image stack counts
// its dense layers only, a lower bound).
MemoryPlan plan_memory(const Config& c, Shape data_shape, std::size_t inputs, std::size_t outputs, std::size_t eval_rows,
                       int ranks);
// Bytes this process may still allocate: MemAvailable, or the cgroup's limit if lower.
double available_memory();
// Refuses a plan larger than `available` / `ranks_on_node`, naming the flag that asks for most.
void check_memory(const MemoryPlan& plan, const std::string& model, double available, int ranks_on_node);

}  // namespace bpt
