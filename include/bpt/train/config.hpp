#pragma once
// The plain configuration main() builds from the command line; the Trainer reads nothing else.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bpt/comm/schedule.hpp"
#include "bpt/data/dataset.hpp"
#include "bpt/model/model.hpp"
#include "bpt/optim/optim.hpp"

namespace bpt {

struct Config {
  // data
  std::string train = "/usr/share/datasets/fashion-mnist";
  std::string test;  // empty: the t10k files beside the training files
  LoadOptions load;  // format, task, label column, --stream, seed for synthetic sets
  bool task_from_loss = false;  // --loss mse without --task: the labels read as regression targets
  Normalize normalize = Normalize::Standard;  // measured in datasets/README.md ("Scaling")
  // --normalize-targets: Auto is Standard for regression; the trainer sets targets_scaled once it knows.
  enum class TargetScaling { Auto, None, Standard } normalize_targets = TargetScaling::Auto;
  bool targets_scaled = false;  // regression targets standardised for the model (part of the resume key)
  double val_fraction = 0;
  // model: the hidden layers from the input (--layers, or --hidden as dense layers); the output layer,
  // dense and as wide as the data's classes or targets, is implicit
  std::vector<LayerSpec> layers = {{LayerKind::Dense, 512}, {LayerKind::Dense, 256}};
  Shape input_shape{0, 0, 0};  // --input-shape C,H,W; zero: the data's own (IDX images), or flat rows
  Activation activation = Activation::Relu;
  Loss loss = Loss::SoftmaxCrossEntropy;
  Init init = Init::HeUniform;
  float dropout = 0;
  float input_dropout = 0;
  float label_smoothing = 0;
  int augment_shift = 0;      // training images shifted by up to this many pixels each way
  bool augment_flip = false;  // and mirrored left-right with probability 1/2
  // optimisation
  OptimConfig optim;
  float lr = 1e-3f;
  LrKind lr_schedule = LrKind::Constant;
  double warmup_epochs_lr = 0;  // linear LR warm-up (--lr-warmup-epochs)
  std::uint64_t lr_step_epochs = 10;
  float lr_gamma = 0.1f;
  double clip_grad_norm = 0;
  std::size_t batch_size = 128;  // global
  std::size_t epochs = 10;
  std::uint64_t seed = 42;
  // early stopping
  std::size_t patience = 0;  // 0: off
  double min_delta = 0;
  double tol = 0;  // 0: off
  // data parallel
  double bucket_mb = 2;  // MiB
  Algorithm reducer = Algorithm::Auto;  // each bucket's sum (comm/schedule.hpp)
  bool overlap = true;
  bool grad_bf16 = false;  // --grad-compression bf16: the reduce-scatter's messages as bfloat16
  // The sharded optimizer's weight gather under the next step's data: auto is on when the ranks span
  // more than one node (on one node the gather is a memory copy with nothing to hide).
  enum class GatherOverlap { Auto, On, Off } gather_overlap = GatherOverlap::Auto;
  std::uint64_t check_every = 100;
  bool scale_lr_linear = false;
  double warmup_epochs = 0;  // gradual warm-up for --scale-lr linear
  bool deterministic = false;
  std::size_t micro_shards = 16;
  std::size_t accumulate = 1;  // micro-batches per rank per step, their gradients summed before the sum over ranks
  int blas_threads = 1;
  // output
  std::string metrics;
  std::string profile;  // per-rank, per-step time split, gathered to rank 0 (CSV)
  std::string timeline;  // Chrome trace-event JSON of every rank's steps, gathered to rank 0
  std::size_t eval_batch = 1024;
  bool quiet = false;
  enum class Progress { Step, Epoch, None } progress = Progress::Step;  // --progress: which lines a run shows
  double stall_timeout = 300;  // seconds a wait may last before the job is ended as stalled (0: off)
  std::uint64_t max_steps = 0;  // stop after this many steps in all (0: no limit)
  // numeric health
  bool on_nonfinite_skip = false;  // else stop with an error
  bool grad_stats = false;         // per-layer gradient and weight norms in the metrics
  double grad_warn_low = 1e-7, grad_warn_high = 1e4;
  std::uint64_t grad_warn_steps = 50;  // 0: no warnings
  // fault injection, for tests: rank fail_rank throws at step fail_at_step; rank nan_rank's
  // gradient gets a NaN at step nan_at_step
  int fail_rank = -1;
  std::uint64_t fail_at_step = 0;
  int nan_rank = -1;
  std::uint64_t nan_at_step = 0;

  // checkpoints
  std::string checkpoint;              // path; empty: none
  std::uint64_t checkpoint_every = 0;  // steps (0: off)
  std::uint64_t checkpoint_every_epochs = 0;
  std::size_t keep = 1;
  bool keep_best = false;  // also the best epoch's weights, in best_checkpoint()
  std::string resume;  // checkpoint to continue from

  // --keep-best's file: the checkpoint's name with .best before .h5 (ck.h5 -> ck.best.h5).
  std::string best_checkpoint() const;

  // A canonical text of every field that must agree across ranks.
  std::string canonical() const;
  // The settings that decide the weights' trajectory: a resumed run must match them.
  std::string resume_key() const;
};

// The model a run trains: c.layers, then a dense output layer of `outputs`; its input an image shape
// when a convolution or pooling needs one (--input-shape, else the data's own, else flat rows, which
// plan_layers refuses for them), flat rows of `features` otherwise.
ModelSpec model_spec(const Config& c, Shape data_shape, std::size_t features, std::size_t outputs);
// Only dense layers: the model is a multilayer perceptron (--hidden's form).
bool dense_only(const std::vector<LayerSpec>& layers);
// "512,256" for dense layers only (--hidden's form), else --layers' ("conv5:32,maxpool2,dense:256").
std::string layers_text(const std::vector<LayerSpec>& layers);

// One setting's value in a Config::canonical() text (a checkpoint's config); nullopt if absent.
std::optional<std::string> setting_of(const std::string& text, const std::string& key);
// A resume key as an older bptrain wrote it, in today's words (task=0 -> task=auto).
std::string upgrade_resume_key(std::string key);
// "--lr 0.001 in the checkpoint, 0.002 now, ..." for two Config::resume_key() texts.
std::string diff_settings(const std::string& then, const std::string& now);
// "784-512-256-10 relu cross_entropy"
std::string describe(const ModelSpec& spec);

}  // namespace bpt
