#pragma once
// HDF5 checkpoints. The layout is written down once, in docs/checkpoint.md; this is its code.
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "bpt/model/model.hpp"
#include "bpt/optim/optim.hpp"

namespace bpt {

inline constexpr std::int64_t kCheckpointFormat = 1;

// What the model was trained on, beyond the input scaling: for --evaluate and --predict, and readers.
struct DataInfo {
  std::vector<std::string> feature_names;  // CSV with a header: the feature columns in order (else empty)
  std::string task;                        // "classification" or "regression" ("": a checkpoint before 2026-12-05)
  std::vector<float> target_offset, target_scale;  // regression: model output = (target - offset) * scale; empty: none
};

// Where training stands: everything beyond weights and optimizer state that resuming needs.
struct TrainState {
  std::uint64_t epoch = 0;     // epoch in progress, 0-based (== epochs run when position == 0)
  std::uint64_t position = 0;  // steps of that epoch already done
  std::uint64_t step = 0;      // optimizer steps in all
  double epoch_loss_sum = 0;   // training-loss sum over the epoch's steps so far, all ranks
  double best_score = -std::numeric_limits<double>::infinity();  // early stopping
  std::uint64_t bad_epochs = 0;
  double prev_train_loss = std::numeric_limits<double>::quiet_NaN();  // --tol
  std::uint64_t seed = 0;  // every random draw is a pure function of (seed, epoch, step, sample)
  std::uint64_t world_size = 1;
  std::uint64_t train_fingerprint = 0, test_fingerprint = 0;
  std::uint64_t train_content_hash = 0;  // every training feature value (0: streamed, or an older file)
  std::string config;      // the full configuration, canonical text
  std::string resume_key;  // the part of it that must match to resume
  double elapsed_s = 0;
  std::string lr_schedule;  // the schedule's parameters; the LR is a pure function of step
  DataInfo data;
};

struct Checkpoint {
  ModelSpec spec;
  std::vector<float> params;  // the model's flat layout
  OptimConfig optim;
  std::uint64_t optim_steps = 0;
  std::vector<std::pair<std::string, std::vector<float>>> optim_state;
  std::vector<float> offset, scale;  // model input = (raw - offset) * scale
  TrainState train;
  std::string program_version, created;
};

// Writes to a temporary file beside `path`, flushes and fsyncs it, then renames it into place, so
// `path` is always a whole checkpoint. keep > 1 keeps the previous ones as path.1 ... path.(keep-1).
void write_checkpoint(const std::string& path, const Model& model, Optimizer& opt, const std::vector<float>& offset,
                      const std::vector<float>& scale, const TrainState& st, std::size_t keep = 1);

// Reads and validates everything (version, shapes against each other, checksums). Throws Error
// naming the file and the problem.
Checkpoint read_checkpoint(const std::string& path);

}  // namespace bpt
