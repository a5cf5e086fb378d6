// The trainer's set-up and the parts of a run outside the step loop: validation, the ranks' agreement,
// resume, checkpoints, evaluation, the replica check. The loop itself is in step_loop.cpp.
#include "bpt/train/trainer.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <algorithm>
#include <cmath>

#include "bpt/core/error.hpp"
#include "bpt/core/gemm.hpp"
#include "bpt/core/hash.hpp"
#include "bpt/core/sim_cost.hpp"
#include "bpt/train/validate.hpp"

namespace bpt {
namespace {

ModelSpec spec_for(const Config& c, const Dataset& train) {
  return model_spec(c, train.shape(), train.d, train.outputs());
}

// The layers whose gradients have a norm to watch: those with parameters.
std::vector<bool> watched_layers(const Model& m) {
  std::vector<bool> w;
  for (std::size_t l = 0; l < m.num_layers(); ++l) w.push_back(m.layer(l).has_params());
  return w;
}

}  // namespace

Trainer::Trainer(const Config& cfg, const Comm& comm, Dataset train, Dataset test)
    : cfg_(cfg),
      comm_(comm),
      train_(std::move(train)),
      test_(std::move(test)),
      model_(spec_for(cfg, train_)),
      health_(cfg_, comm_, watched_layers(model_)) {
  // Everything local first, then one collective verdict: an error is printed once, not once per rank.
  agree_on_errors(comm_, [&] {
    validate();
    train_fp_ = train_.fingerprint();
    train_content_ = train_.content_hash();
    test_fp_ = test_.fingerprint();
    set_blas_threads(cfg_.blas_threads);
    // Without a validation split the training rows are all rows, kept as no list at all (memory per
    // rank must not grow with the dataset when a thousand ranks share a machine, as in simulations).
    if (cfg_.val_fraction > 0) {
      split_rows(train_.n, cfg_.val_fraction, cfg_.seed, train_rows_, val_rows_);
      if (train_rows_.empty()) throw CollectiveError("--val-fraction leaves no training samples");
    }
    ntrain_ = train_rows_.empty() ? train_.n : train_rows_.size();
    // Input scaling from the training set, applied unchanged to everything evaluated.
    train_.tf = compute_transform(train_, cfg_.normalize);
    test_.tf = train_.tf;
    // Regression targets at unit scale for the model (auto: always for regression); predictions and
    // RMSE stay in the targets' own units.
    cfg_.targets_scaled = train_.regression() && cfg_.normalize_targets != Config::TargetScaling::None;
    if (cfg_.targets_scaled) {
      train_.target_tf = compute_target_transform(train_);
      test_.target_tf = train_.target_tf;
    }
  });
  const std::size_t ntrain = ntrain_;
  cfg_.batch_size = std::min(cfg_.batch_size, ntrain);
  steps_per_epoch_ = (ntrain + cfg_.batch_size - 1) / cfg_.batch_size;
  sched_.kind = cfg_.lr_schedule;
  sched_.base_lr = cfg_.lr;
  sched_.warmup_steps = static_cast<std::uint64_t>(std::llround(cfg_.warmup_epochs_lr * double(steps_per_epoch_)));
  sched_.step_size = std::max<std::uint64_t>(1, cfg_.lr_step_epochs * steps_per_epoch_);
  sched_.gamma = cfg_.lr_gamma;
  sched_.total_steps = cfg_.epochs * steps_per_epoch_;

  // Agree on everything first: a broadcast with different layouts would not end well.
  check_agreement();
  // Same initial weights everywhere: rank 0 draws them, everyone receives them.
  if (comm_.rank() == 0) model_.init(cfg_.init, cfg_.seed);
  comm_.broadcast(model_.params(), 0);

  std::vector<std::size_t> off;
  for (std::size_t l = 0; l <= model_.num_layers(); ++l)
    off.push_back(l < model_.num_layers() ? model_.offset(l) : model_.num_params());
  const bool sharded = cfg_.overlap && !cfg_.deterministic;
  ReducerOptions ro;
  ro.bucket_bytes = static_cast<std::size_t>(cfg_.bucket_mb * 1048576.0);
  ro.overlap = cfg_.overlap;
  ro.shard = sharded;
  ro.algorithm = cfg_.reducer;
  ro.bf16 = cfg_.grad_bf16;
  reducer_ = std::make_unique<GradReducer>(comm_, model_.grads(), off, ro);
  std::vector<LayerSpan> layers;
  for (std::size_t l = 0; l < model_.num_layers(); ++l) {
    const std::size_t w = model_.offset(l), b = w + model_.layer(l).weights();
    layers.push_back({{w, b}, {b, off[l + 1]}});
  }
  opt_ = std::make_unique<ShardedOptimizer>(cfg_.optim, *reducer_, off, sharded, std::move(layers));
  gather_overlap_ = opt_->split() && (cfg_.gather_overlap == Config::GatherOverlap::On ||
                                      (cfg_.gather_overlap == Config::GatherOverlap::Auto && reducer_->nodes() > 1));
  if (cfg_.deterministic)
    tree_ = std::make_unique<TreeSum>(comm_, model_.num_params(), cfg_.micro_shards / static_cast<std::size_t>(comm_.size()));
  loader_ = std::make_unique<BatchLoader>(train_, train_rows_, comm_.rank(), comm_.size(), cfg_.deterministic,
                                          cfg_.micro_shards, cfg_.batch_size);
  aug_.height = train_.height;
  aug_.width = train_.width;
  aug_.channels = train_.channels;
  aug_.shift = cfg_.augment_shift;
  aug_.flip = cfg_.augment_flip;
}

void Trainer::validate() const {
  // Every rank holds the same config and (the agreement check confirms it) the same data, so every
  // rank reaches the same verdict: configuration errors (exit 2).
  // The flags alone: main checked them before loading anything; again here for other callers (tests,
  // embedders), as the rest of the trainer relies on them.
  validate_config(cfg_, comm_.size(), 0);
  auto fail = [](const std::string& what) { throw CollectiveError(what); };
  const std::string& tf = test_.source;
  if (test_.d != train_.d)
    fail(tf + ": has " + std::to_string(test_.d) + " features per sample, " + train_.source + " has " +
         std::to_string(train_.d));
  if (train_.regression() != test_.regression())
    fail(tf + ": holds " + (test_.regression() ? "regression targets" : "class labels") + " but " + train_.source +
         " holds " + (train_.regression() ? "regression targets" : "class labels"));
  if (train_.regression()) {
    if (test_.target_dim != train_.target_dim)
      fail(tf + ": has " + std::to_string(test_.target_dim) + " targets per sample, " + train_.source + " has " +
           std::to_string(train_.target_dim));
    if (cfg_.loss != Loss::Mse)
      fail(train_.source + ": holds regression targets; use --loss mse (or --task classification)");
  } else {
    if (train_.classes < 2) fail(train_.source + ": needs at least two classes");
    for (std::size_t i = 0; i < test_.n; ++i)
      if (static_cast<std::size_t>(test_.label(i)) >= train_.classes)
        fail(tf + ": label " + std::to_string(test_.label(i)) + " of sample " + std::to_string(i) + " is outside [0, " +
             std::to_string(train_.classes) + "), the classes of " + train_.source);
  }
  if (!train_.feature_names.empty() && !test_.feature_names.empty())
    if (const std::string why = column_mismatch(train_.feature_names, test_.feature_names); !why.empty())
      fail(tf + ": " + why + " (" + train_.source + "'s header)");
  if (!train_.regression() && cfg_.normalize_targets == Config::TargetScaling::Standard)
    fail("--normalize-targets standard: " + train_.source + " holds class labels, which have no scale to normalise");
  if ((cfg_.augment_shift > 0 || cfg_.augment_flip) && train_.height == 0)
    fail(train_.source + ": --augment-shift and --augment-flip need images (an IDX images file of [samples, rows, "
                         "columns], or --input-shape C,H,W); these rows have no image shape");
  if (cfg_.augment_shift > 0 && static_cast<std::size_t>(cfg_.augment_shift) >= std::min(train_.height, train_.width))
    fail("--augment-shift " + std::to_string(cfg_.augment_shift) + ": must be smaller than the images (" +
         std::to_string(train_.height) + " x " + std::to_string(train_.width) + ")");
}

void Trainer::check_agreement() {
  // One small collective: every rank hashes what must agree and compares with rank 0.
  std::uint64_t h = fnv1a(cfg_.canonical());
  const std::uint64_t ds[] = {train_.n,      train_.d, train_.classes, train_fp_, train_content_,
                              test_.n,       test_.d,  test_.classes,  test_fp_};
  h = fnv1a_bytes(ds, sizeof ds, h);
  h = fnv1a(describe_layers(model_.spec()), h);
  h = fnv1a(BPT_VERSION " built " __DATE__ " " __TIME__, h);  // same version, another build: caught too
  std::string bad = ranks_differing(comm_.allgather(h));
  if (!bad.empty())
    throw CollectiveError("ranks " + bad + " disagree with rank 0 on the config, the datasets (" + train_.source +
                          ", " + test_.source + "), the parameter layout or the program build (" BPT_VERSION
                          " built " __DATE__ " " __TIME__ " here)")
        .agreed_by_all(comm_.rank(), comm_.size());
}

void Trainer::verify_replicas(std::uint64_t step) {
  complete_gather();
  comm_.phase(Phase::Check);
  // The simulator's model mode: the weights are every rank's one shared block of meaningless values;
  // the checksums are not worked out (a pass over every rank's weights on one host), still exchanged.
  std::string bad = ranks_differing(comm_.allgather(sim::values_meaningless() ? 0 : checksum(model_.params())));
  if (!bad.empty())
    throw CollectiveError("weights of rank(s) " + bad + " differ from rank 0's after step " + std::to_string(step) +
                          ": replicas diverged")
        .agreed_by_all(comm_.rank(), comm_.size());
}

void Trainer::throw_if_weights_nonfinite() const {
  if (sim::values_meaningless()) return;
  for (std::size_t l = 0; l < model_.num_layers(); ++l) {
    const std::size_t lo = model_.offset(l), hi = l + 1 < model_.num_layers() ? model_.offset(l + 1) : model_.num_params();
    for (std::size_t i = lo; i < hi; ++i)
      if (!std::isfinite(model_.params()[i]))
        throw NumericError("after step " + std::to_string(st_.step) + ": the weights of layer " + std::to_string(l) +
                           " are no longer finite (an update overflowed: lower --lr)");
  }
}

double Trainer::complete_gather() {
  if (!gather_pending_) return 0.0;
  comm_.phase(Phase::Gather);
  const double t0 = wall_time();
  gather_pending_ = false;
  const double waited = opt_->gather_end();
  mark("weight gather", Timeline::kComm, t0);
  return waited;
}

void Trainer::check_weights_finite() {
  agree_on_errors(comm_, [&] { throw_if_weights_nonfinite(); });
}

EvalResult Trainer::evaluate(const Dataset& ds, const std::vector<std::uint32_t>* rows) {
  complete_gather();
  return evaluate_model(model_, ds, rows, comm_, cfg_.eval_batch);
}

float Trainer::lr_at(std::uint64_t s) const {
  double lr = sched_.at(s);
  if (cfg_.scale_lr_linear) {  // Goyal et al.: ramp from lr to N*lr over the warm-up, then N*lr
    const auto warm = static_cast<std::uint64_t>(std::llround(cfg_.warmup_epochs * double(steps_per_epoch_)));
    const double frac = warm ? std::min(1.0, double(s) / double(warm)) : 1.0;
    lr *= 1.0 + (double(comm_.size()) - 1.0) * frac;
  }
  return static_cast<float>(lr);
}

void Trainer::check_resumable(const Checkpoint& c) const {
  if (c.spec != model_.spec())
    throw CollectiveError("--resume: the checkpoint's model (" + describe(c.spec) + ") differs from this run's (" +
                          describe(model_.spec()) + ")");
  const std::string key = cfg_.resume_key(), then = upgrade_resume_key(c.train.resume_key);
  if (then != key)
    throw CollectiveError("--resume: the checkpoint was written with different settings: " + diff_settings(then, key));
  if (c.train.train_fingerprint != train_fp_ ||
      (c.train.train_content_hash && train_content_ && c.train.train_content_hash != train_content_))
    throw CollectiveError("--resume: " + train_.source + " is not the training set the checkpoint was written with" +
                          (c.train.train_fingerprint == train_fp_ ? " (a feature value differs)" : ""));
  const std::uint64_t done = c.train.epoch + (c.train.position ? 1 : 0);  // epochs begun
  if (done > cfg_.epochs)
    throw CollectiveError("--resume: --epochs " + std::to_string(cfg_.epochs) + " is fewer than the " +
                          std::to_string(done) + " epochs the checkpoint has already run");
}

void Trainer::resume(const Checkpoint& c) {
  // Every rank read the same file, so every rank should reach the same verdict; agreed all the same
  // (one small collective), so that the job ends through MPI_Finalize with rank 0's line, not an abort.
  agree_on_errors(comm_, [&] { check_resumable(c); });
  std::copy(c.params.begin(), c.params.end(), model_.params().begin());
  opt_->load_whole_state(c.optim_state, c.optim_steps);
  train_.tf.offset = c.offset;
  train_.tf.scale = c.scale;
  test_.tf = train_.tf;
  st_ = c.train;
  // Only rank 0 carries the epoch's loss sum so far; the end-of-epoch sum adds every rank's part once.
  if (comm_.rank() != 0) st_.epoch_loss_sum = 0;
  resumed_ = true;
}

double Trainer::agreed_sum(const std::vector<double>& mine) const {
  // Every rank's parts on rank 0, in rank order, which is the parts' order (rank r holds parts
  // [r k, (r + 1) k)); added there one by one, so the same bits at any rank count; then broadcast.
  // (An allreduce of all the parts, each rank's zero but its own, added the same values: memory
  // per rank grew with the ranks, ranks^2 on a simulator's one host.)
  const std::vector<double> all = comm_.gather(mine, 0);
  double s = 0;
  for (double v : all) s += v;
  comm_.broadcast(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(&s), sizeof s), 0);
  return s;
}

void Trainer::save_checkpoint(const std::vector<double>& loss_parts, double elapsed, const std::string& path,
                              std::size_t keep) {
  complete_gather();
  if (cfg_.checkpoint.empty()) return;
  const std::string& file = path.empty() ? cfg_.checkpoint : path;
  if (keep == 0) keep = cfg_.keep;
  comm_.phase(Phase::Checkpoint);
  const double t0 = wall_time();
  check_weights_finite();  // never replace a good checkpoint with weights that blew up
  loader_->wait();
  TrainState st = st_;
  st.epoch_loss_sum = loss_parts.empty() ? 0.0 : agreed_sum(loss_parts);
  st.seed = cfg_.seed;
  st.world_size = static_cast<std::uint64_t>(comm_.size());
  st.train_fingerprint = train_fp_;
  st.test_fingerprint = test_fp_;
  st.train_content_hash = train_content_;
  st.config = cfg_.canonical();
  st.resume_key = cfg_.resume_key();
  st.elapsed_s = elapsed;
  st.data.feature_names = train_.feature_names;
  st.data.task = train_.regression() ? "regression" : "classification";
  st.data.target_offset = train_.target_tf.offset;
  st.data.target_scale = train_.target_tf.scale;
  st.lr_schedule = to_string(sched_.kind) + " base_lr=" + std::to_string(sched_.base_lr) +
                   " warmup_steps=" + std::to_string(sched_.warmup_steps) + " step_size=" + std::to_string(sched_.step_size) +
                   " gamma=" + std::to_string(sched_.gamma) + " total_steps=" + std::to_string(sched_.total_steps);
  // Sharded, the whole optimizer state is assembled for the occasion (collective); rank 0 writes.
  opt_->with_whole_state([&](Optimizer& whole) {
    if (comm_.rank() == 0) write_checkpoint(file, model_, whole, train_.tf.offset, train_.tf.scale, st, keep);
  });
  mark("checkpoint", Timeline::kCompute, t0);
}

void Trainer::write_timeline() {
  if (!timeline_) return;
  comm_.phase(Phase::Report);
  std::string mine(comm_.rank() ? "," : "");
  mine += timeline_->json(comm_.rank(), host_name(), timeline_origin_, static_cast<int>(reducer_->num_buckets()));
  const std::uint64_t dropped = timeline_->dropped();
  const std::string all = comm_.gather_text(mine, 0);
  const long most_dropped = comm_.allreduce_max(static_cast<long>(dropped));
  if (comm_.rank() != 0) return;
  // Written whole to a temporary file, then renamed: a reader never sees half a trace.
  const std::string tmp = cfg_.timeline + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error(cfg_.timeline + ": cannot write the timeline (" + std::strerror(errno) + ")");
  const std::string head = "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"program\":\"bptrain " BPT_VERSION
                           "\",\"ranks\":" + std::to_string(comm_.size()) + ",\"clock\":\"MPI_Wtime, from a barrier at the start of training\"" +
                           ",\"events_dropped_on_the_fullest_rank\":" + std::to_string(most_dropped) + "},\"traceEvents\":[";
  const bool ok = std::fwrite(head.data(), 1, head.size(), f) == head.size() &&
                  std::fwrite(all.data(), 1, all.size(), f) == all.size() && std::fputs("]}\n", f) >= 0;
  if (std::fclose(f) != 0 || !ok || std::rename(tmp.c_str(), cfg_.timeline.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(cfg_.timeline + ": writing the timeline failed (" + std::strerror(errno) + ")");
  }
  if (most_dropped && !cfg_.quiet)
    std::printf("bptrain: warning: the timeline kept its first %zu events per rank; later ones were dropped (use --max-steps)\n",
                timeline_->size());
}

}  // namespace bpt
