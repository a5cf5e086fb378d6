#include "bpt/train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>

#include <sys/resource.h>

#include "bpt/core/error.hpp"
#include "bpt/core/gemm.hpp"
#include "bpt/core/hash.hpp"
#include "bpt/io/checkpoint.hpp"
#include "bpt/io/json.hpp"

namespace bpt {
namespace {

long peak_rss_kb() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

constexpr int kVoteStop = 1, kVoteBadLoss = 2;
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

bool is_pow2(std::size_t v) { return v && !(v & (v - 1)); }

// The packed layout (the ranges one after another, as Optimizer::keep_only lays out its state) from
// the full one, and back.
using Ranges = std::vector<std::pair<std::size_t, std::size_t>>;
void pack(const Ranges& ranges, const float* full, float* packed) {
  for (auto [lo, hi] : ranges) packed = std::copy(full + lo, full + hi, packed);
}
void unpack(const Ranges& ranges, const float* packed, float* full) {
  for (auto [lo, hi] : ranges) {
    std::copy(packed, packed + (hi - lo), full + lo);
    packed += hi - lo;
  }
}

ModelSpec spec_for(const Config& c, const Dataset& train) {
  ModelSpec s;
  s.sizes.push_back(train.d);
  for (std::size_t h : c.hidden) s.sizes.push_back(h);
  s.sizes.push_back(train.outputs());
  s.hidden = c.activation;
  s.loss = c.loss;
  return s;
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

}  // namespace

Trainer::Trainer(const Config& cfg, const Comm& comm, Dataset train, Dataset test)
    : cfg_(cfg),
      comm_(comm),
      train_(std::move(train)),
      test_(std::move(test)),
      model_(spec_for(cfg, train_)),
      opt_(cfg.optim, model_.num_params()) {
  require(cfg_.batch_size >= 1, "--batch-size must be at least 1");
  require(cfg_.epochs >= 1, "--epochs must be at least 1");
  require(cfg_.dropout >= 0 && cfg_.dropout < 1, "--dropout must be in [0, 1)");
  check_data();
  train_fp_ = train_.fingerprint();
  test_fp_ = test_.fingerprint();
  set_blas_threads(cfg_.blas_threads);
  split_rows(train_.n, cfg_.val_fraction, cfg_.seed, train_rows_, val_rows_);
  require(!train_rows_.empty(), "--val-fraction leaves no training samples");
  // Input scaling from the training set, applied unchanged to everything evaluated.
  train_.tf = compute_transform(train_, cfg_.normalize);
  test_.tf = train_.tf;
  const std::size_t world = static_cast<std::size_t>(comm_.size());
  if (cfg_.deterministic) {
    require(is_pow2(cfg_.micro_shards), "--micro-shards must be a power of two");
    if (!is_pow2(world) || cfg_.micro_shards % world != 0)
      throw CollectiveError("--deterministic needs a power-of-two rank count that divides --micro-shards (" +
                            std::to_string(cfg_.micro_shards) + "); this job has " + std::to_string(world) +
                            " ranks");
  }
  const std::size_t ntrain = train_rows_.size();
  const std::size_t b = std::min(cfg_.batch_size, ntrain);
  steps_per_epoch_ = (ntrain + b - 1) / b;
  cfg_.batch_size = b;

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

  const std::size_t local_max =
      cfg_.deterministic ? (b + cfg_.micro_shards - 1) / cfg_.micro_shards * (cfg_.micro_shards / world)
                         : (b + world - 1) / world;
  const std::size_t rows = std::max(local_max, cfg_.eval_batch);
  xbuf_.resize(rows * train_.d);
  tbuf_.resize(rows * std::max<std::size_t>(1, train_.target_dim));
  ybuf_.resize(rows);
  ids_.resize(rows);
  if (train_.streamed()) xnext_.resize(xbuf_.size());  // the two swap roles every step
  layer_sq_.assign(model_.num_layers(), 0.0);
  layer_norm_sum_.assign(model_.num_layers(), 0.0);
  low_run_.assign(model_.num_layers(), 0);
  high_run_.assign(model_.num_layers(), 0);
  std::vector<std::size_t> off;
  for (std::size_t l = 0; l <= model_.num_layers(); ++l)
    off.push_back(l < model_.num_layers() ? model_.offset(l) : model_.num_params());
  sharded_ = cfg_.overlap && !cfg_.deterministic;
  reducer_ = std::make_unique<GradReducer>(comm_, model_.grads(), off, static_cast<std::size_t>(cfg_.bucket_mb * 1048576.0),
                                           cfg_.overlap, 0, sharded_);
  held_ = sharded_ ? reducer_->owned() : std::vector<std::pair<std::size_t, std::size_t>>{{0, model_.num_params()}};
  // Sharded over several ranks, each keeps only its part of the optimizer state (ZeRO stage 1).
  split_ = sharded_ && world > 1;
  if (split_) opt_.keep_only(held_);
  held_by_layer_.resize(model_.num_layers());
  for (auto [lo, hi] : held_)
    for (std::size_t l = 0; l < model_.num_layers(); ++l) {
      const std::size_t a = std::max(lo, off[l]), b2 = std::min(hi, off[l + 1]);
      if (a < b2) held_by_layer_[l].emplace_back(a, b2);
    }
  if (cfg_.deterministic) {
    std::size_t levels = 1;
    for (std::size_t m = cfg_.micro_shards / world; m > 1; m /= 2) ++levels;
    tree_.resize(levels);
    for (auto& t : tree_) t.resize(model_.num_params());
    if (world > 1) peer_.resize(model_.num_params());
  }
}

Trainer::~Trainer() {
  if (pending_.valid()) pending_.wait();  // the reader thread writes into our buffers
}

void Trainer::check_data() {
  const std::string& tf = test_.source;
  if (test_.d != train_.d)
    throw Error(tf + ": has " + std::to_string(test_.d) + " features per sample, " + train_.source + " has " +
                std::to_string(train_.d));
  if (train_.regression() != test_.regression())
    throw Error(tf + ": holds " + (test_.regression() ? "regression targets" : "class labels") + " but " +
                train_.source + " holds " + (train_.regression() ? "regression targets" : "class labels"));
  if (train_.regression()) {
    if (test_.target_dim != train_.target_dim)
      throw Error(tf + ": has " + std::to_string(test_.target_dim) + " targets per sample, " + train_.source + " has " +
                  std::to_string(train_.target_dim));
    if (cfg_.loss != Loss::Mse)
      throw Error(train_.source + ": holds regression targets; use --loss mse (or --task classification)");
  } else {
    require(train_.classes >= 2, train_.source + ": needs at least two classes");
    for (std::size_t i = 0; i < test_.n; ++i)
      if (static_cast<std::size_t>(test_.labels[i]) >= train_.classes)
        throw Error(tf + ": label " + std::to_string(test_.labels[i]) + " of sample " + std::to_string(i) +
                    " is outside [0, " + std::to_string(train_.classes) + "), the classes of " + train_.source);
  }
}

void Trainer::check_agreement() {
  // One small collective: every rank hashes what must agree and compares with rank 0.
  std::uint64_t h = fnv1a(cfg_.canonical());
  const std::uint64_t ds[] = {train_.n, train_.d, train_.classes, train_fp_, test_.n, test_.d, test_.classes, test_fp_};
  h = fnv1a_bytes(ds, sizeof ds, h);
  for (std::size_t s : model_.spec().sizes) h = fnv1a_bytes(&s, sizeof s, h);
  h = fnv1a(BPT_VERSION " built " __DATE__ " " __TIME__, h);  // same version, another build: caught too
  std::string bad = ranks_differing(comm_.allgather(h));
  if (!bad.empty())
    throw CollectiveError("ranks " + bad + " disagree with rank 0 on the config, the datasets (" + train_.source +
                          ", " + test_.source + "), the parameter layout or the program build (" BPT_VERSION
                          " built " __DATE__ " " __TIME__ " here)");
}

void Trainer::verify_replicas(std::uint64_t step) {
  std::string bad = ranks_differing(comm_.allgather(checksum(model_.params())));
  if (!bad.empty())
    throw CollectiveError("weights of rank(s) " + bad + " differ from rank 0's after step " + std::to_string(step) +
                          ": replicas diverged");
}

Range Trainer::local_range(std::size_t g) const {
  if (!cfg_.deterministic) return shard(g, comm_.rank(), comm_.size());
  const auto per = static_cast<int>(cfg_.micro_shards) / comm_.size(), first = comm_.rank() * per;
  const auto m = static_cast<int>(cfg_.micro_shards);
  return {shard(g, first, m).begin, shard(g, first + per - 1, m).end};
}

void Trainer::load_local(const std::vector<std::uint32_t>& perm, std::size_t at, std::size_t g, StepTimes& t) {
  auto t0 = Clock::now();
  const Range r = local_range(g);
  rows_.resize(r.size());
  for (std::size_t i = 0; i < r.size(); ++i) rows_[i] = train_rows_[perm[at + r.begin + i]];
  if (pending_.valid() && pending_at_ == at) {
    pending_.get();  // rethrows a read error from the reader thread
    std::swap(xbuf_, xnext_);
  } else {
    train_.gather(rows_.data(), rows_.size(), xbuf_.data());
  }
  for (std::size_t i = 0; i < rows_.size(); ++i) {
    const std::uint32_t row = rows_[i];
    ids_[i] = row;
    if (train_.regression())
      std::copy_n(train_.targets.data() + std::size_t(row) * train_.target_dim, train_.target_dim,
                  tbuf_.data() + i * train_.target_dim);
    else
      ybuf_[i] = train_.labels[row];
  }
  t.data += since(t0);
}

void Trainer::prefetch(const std::vector<std::uint32_t>& perm, std::size_t at, std::size_t g) {
  const Range r = local_range(g);
  next_rows_.resize(r.size());
  for (std::size_t i = 0; i < r.size(); ++i) next_rows_[i] = train_rows_[perm[at + r.begin + i]];
  pending_at_ = at;
  pending_ = std::async(std::launch::async, [this] { train_.gather(next_rows_.data(), next_rows_.size(), xnext_.data()); });
}

double Trainer::forward_backward(std::size_t first, std::size_t rows, std::uint64_t step, bool notify) {
  if (rows == 0) {  // nothing to compute: this rank's share of the gradient is zero
    model_.zero_grad();
    return 0;
  }
  DropoutCtx drop{cfg_.dropout, cfg_.seed, step, ids_.data() + first};
  model_.forward(ConstMatView<float>(xbuf_.data() + first * train_.d, rows, train_.d), &drop);
  const Targets<float> tg{train_.regression() ? nullptr : ybuf_.data() + first,
                          train_.regression() ? tbuf_.data() + first * train_.target_dim : nullptr};
  const bool inject = comm_.rank() == cfg_.nan_rank && step == cfg_.nan_at_step;  // fault injection (tests)
  // Overwrite, not accumulate: each step (each micro-shard) starts the gradients afresh.
  return model_.backward(
      tg, 1.0f,
      [&](std::size_t l) {
        if (inject && l + 1 == model_.num_layers()) model_.grad_weight(l)[1] = std::nanf("");
        if (notify) reducer_->layer_ready(l);
      },
      false);
}

double Trainer::step_default(std::size_t g, std::uint64_t step, StepTimes& t) {
  auto t0 = Clock::now();
  reducer_->begin_step();
  double loss = forward_backward(0, local_range(g).size(), step, true);
  t.compute += since(t0);
  t.comm += reducer_->finish();
  return loss;
}

double Trainer::step_deterministic(std::size_t g, std::uint64_t step, StepTimes& t) {
  // Fixed micro-shards summed in a fixed binary tree: the sum is the same bits for any power-of-two N.
  auto t0 = Clock::now();
  const std::size_t world = static_cast<std::size_t>(comm_.size());
  const std::size_t per = cfg_.micro_shards / world, first = static_cast<std::size_t>(comm_.rank()) * per;
  const std::size_t base = local_range(g).begin;
  const std::size_t n = model_.num_params();
  std::vector<std::size_t> level_of;  // stack of occupied tree levels
  double loss = 0;
  for (std::size_t m = first; m < first + per; ++m) {
    Range r = shard(g, static_cast<int>(m), static_cast<int>(cfg_.micro_shards));
    loss += forward_backward(r.begin - base, r.size(), step, false);
    // Binary-counter merge: tree_[l] holds the pending left subtree of level l; the new gradient is
    // the right one, and equal levels combine as left + right, as a perfect binary tree would.
    std::size_t lvl = 0;
    const float* right = model_.grads().data();
    while (!level_of.empty() && level_of.back() == lvl) {
      level_of.pop_back();
      float* left = tree_[lvl].data();
      for (std::size_t i = 0; i < n; ++i) left[i] = left[i] + right[i];
      right = left;
      ++lvl;
    }
    if (right != tree_[lvl].data()) std::copy_n(right, n, tree_[lvl].data());
    level_of.push_back(lvl);
  }
  t.compute += since(t0);
  auto t1 = Clock::now();
  float* sum = tree_.back().data();
  for (std::size_t k = 1; k < world; k <<= 1) {
    int partner = comm_.rank() ^ static_cast<int>(k);
    comm_.sendrecv(std::span<const float>(sum, n), peer_.span(), partner);
    const float* o = peer_.data();
    for (std::size_t i = 0; i < n; ++i) sum[i] = comm_.rank() < partner ? sum[i] + o[i] : o[i] + sum[i];
  }
  std::copy_n(sum, n, model_.grads().data());
  t.comm += since(t1);
  return loss;
}

EvalResult Trainer::evaluate(const Dataset& ds, const std::vector<std::uint32_t>* rows) {
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

bool Trainer::finish_gradients(std::size_t g, std::uint64_t step, int vote, std::uint64_t& ok_steps, float& grad_scale,
                               double& comm_s) {
  // The small sums' time moves from the caller's optimizer time to comm_s.
  auto reduce = [&](std::span<double> v) {
    auto t0 = Clock::now();
    comm_.allreduce_sum(v);
    comm_s += since(t0);
  };
  // Measure each layer of the summed gradient (read only); the average is taken inside the optimizer.
  // Sharded, each rank measures the chunks it holds and one small sum completes the figures.
  const std::size_t nl = model_.num_layers();
  const float inv = 1.0f / static_cast<float>(g);
  const double inv2 = static_cast<double>(inv) * static_cast<double>(inv);
  const auto grads = model_.grads();
  auto piece = [&](std::pair<std::size_t, std::size_t> r) { return grads.subspan(r.first, r.second - r.first); };
  double total = 0;
  bool finite = true;
  for (std::size_t l = 0; l < nl; ++l) {
    layer_sq_[l] = 0;
    for (auto r : held_by_layer_[l]) layer_sq_[l] += sum_squares(piece(r)) * inv2;
  }
  if (split_) reduce(layer_sq_);
  for (double v : layer_sq_) total += v;
  if (!std::isfinite(total)) {  // either a non-finite element, or float partial sums that overflowed
    // Per layer: the count of non-finite elements and the sum of squares accumulated in double.
    std::vector<double> again(2 * nl, 0.0);
    for (std::size_t l = 0; l < nl; ++l)
      for (auto r : held_by_layer_[l]) {
        auto gl = piece(r);
        again[l] += static_cast<double>(std::count_if(gl.begin(), gl.end(), [](float v) { return !std::isfinite(v); }));
        const double n = global_norm(gl);
        again[nl + l] += n * n * inv2;
      }
    if (split_) reduce(again);
    total = 0;
    for (std::size_t l = 0; l < nl; ++l) {
      if (again[l] > 0) {
        finite = false;
        if (bad_layer_ < 0) bad_layer_ = static_cast<long>(l);
      }
      layer_sq_[l] = again[nl + l];
      total += layer_sq_[l];
    }
  }
  const bool bad_loss = vote & kVoteBadLoss;
  if (bad_loss || !finite) {
    std::string what = "step " + std::to_string(step) + ": ";
    if (bad_loss) what += "the training loss is not finite";
    if (bad_loss && !finite) what += "; ";
    if (!finite) what += "the gradients of layer " + std::to_string(bad_layer_) + " are not finite";
    bad_layer_ = -1;
    const auto p = model_.params();
    if (std::any_of(p.begin(), p.end(), [](float v) { return !std::isfinite(v); }))
      throw NumericError(what + ", and the weights themselves are no longer finite (an update overflowed: lower --lr)");
    if (cfg_.on_nonfinite_skip) {
      if (comm_.rank() == 0 && !cfg_.quiet) std::printf("bptrain: warning: %s; step skipped\n", what.c_str());
      return false;
    }
    throw NumericError(what + " (lower --lr, clip with --clip-grad-norm, or --on-nonfinite skip)");
  }
  const double norm = std::sqrt(total);
  grad_scale = inv;
  if (cfg_.clip_grad_norm > 0 && norm > cfg_.clip_grad_norm) {  // rare: average in place, then clip
    for (auto r : held_) {
      for (float& v : piece(r)) v *= inv;
      clip_to_norm(piece(r), norm, cfg_.clip_grad_norm);
    }
    grad_scale = 1.0f;
  }
  ++ok_steps;
  for (std::size_t l = 0; l < nl; ++l) {
    const double ln = std::sqrt(layer_sq_[l]);
    layer_norm_sum_[l] += ln;
    // Vanishing or exploding: warn once a layer stays past a threshold for grad_warn_steps steps.
    std::uint64_t& low = low_run_[l];
    std::uint64_t& high = high_run_[l];
    low = ln < cfg_.grad_warn_low ? low + 1 : 0;
    high = ln > cfg_.grad_warn_high ? high + 1 : 0;
    if (comm_.rank() == 0 && cfg_.grad_warn_steps && (low == cfg_.grad_warn_steps || high == cfg_.grad_warn_steps))
      std::printf("bptrain: warning: layer %zu's gradient norm has stayed %s %g for %llu steps (%s gradients?), now %.3g\n",
                  l, low ? "below" : "above", low ? cfg_.grad_warn_low : cfg_.grad_warn_high,
                  static_cast<unsigned long long>(cfg_.grad_warn_steps), low ? "vanishing" : "exploding", ln);
  }
  return true;
}

std::string Trainer::layer_stats_json(std::uint64_t ok_steps) const {
  std::string out = "[";
  for (std::size_t l = 0; l < model_.num_layers(); ++l) {
    const auto p = std::span<const float>(model_.params()).subspan(model_.offset(l), model_.size(l));
    JsonLine j;
    j.add("layer", static_cast<std::uint64_t>(l))
        .add("grad_norm_mean", ok_steps ? layer_norm_sum_[l] / double(ok_steps) : 0.0)
        .add("weight_norm", global_norm(p));
    if (l) out += ',';
    out += j.str();
  }
  return out + "]";
}

void Trainer::write_profile() {
  if (cfg_.profile.empty()) return;
  // Every rank ran the same steps, so the per-rank tables have the same length: one gather.
  const std::vector<double> all = comm_.gather(profile_, 0);
  profile_.clear();
  if (comm_.rank() != 0) return;
  std::ofstream out(cfg_.profile);
  if (!out) throw Error(cfg_.profile + ": cannot open the profile file for writing");
  out << "rank,epoch,step,compute_ms,comm_wait_ms,optimizer_ms,data_ms\n";
  const std::size_t per = all.size() / static_cast<std::size_t>(comm_.size());
  std::vector<double> total(static_cast<std::size_t>(comm_.size()), 0.0);
  char line[160];
  for (int r = 0; r < comm_.size(); ++r)
    for (std::size_t i = static_cast<std::size_t>(r) * per; i < (static_cast<std::size_t>(r) + 1) * per; i += 6) {
      std::snprintf(line, sizeof line, "%d,%.0f,%.0f,%.4f,%.4f,%.4f,%.4f\n", r, all[i] + 1, all[i + 1], all[i + 2],
                    all[i + 3], all[i + 4], all[i + 5]);
      out << line;
      total[static_cast<std::size_t>(r)] += all[i + 2] + all[i + 4] + all[i + 5];  // the rank's own work
    }
  const auto slow = std::max_element(total.begin(), total.end()) - total.begin();
  std::printf("bptrain: profile written to %s; slowest rank: %ld (%.1f ms of compute, optimizer and data; fastest %.1f ms)\n",
              cfg_.profile.c_str(), static_cast<long>(slow), total[static_cast<std::size_t>(slow)],
              *std::min_element(total.begin(), total.end()));
}

void Trainer::resume(const Checkpoint& c) {
  // Every rank read the same file, so every rank reaches the same verdict.
  if (c.spec.sizes != model_.spec().sizes || c.spec.hidden != model_.spec().hidden || c.spec.loss != model_.spec().loss)
    throw CollectiveError("--resume: the checkpoint's model (" + describe(c.spec) + ") differs from this run's (" +
                          describe(model_.spec()) + ")");
  const std::string key = cfg_.resume_key();
  if (c.train.resume_key != key)
    throw CollectiveError("--resume: the checkpoint was written with different settings: " +
                          diff_settings(c.train.resume_key, key));
  if (c.train.train_fingerprint != train_.fingerprint())
    throw CollectiveError("--resume: " + train_.source + " is not the training set the checkpoint was written with");
  std::copy(c.params.begin(), c.params.end(), model_.params().begin());
  auto state = opt_.state();
  require(state.size() == c.optim_state.size(), "--resume: optimizer state does not match");
  for (std::size_t i = 0; i < state.size(); ++i) {
    const std::vector<float>& full = c.optim_state[i].second;
    if (!split_) {
      std::copy(full.begin(), full.end(), state[i].second.begin());
    } else {  // sharded: this rank's ranges, packed as keep_only() laid them out
      pack(held_, full.data(), state[i].second.data());
    }
  }
  opt_.set_steps(c.optim_steps);
  train_.tf.offset = c.offset;
  train_.tf.scale = c.scale;
  test_.tf = train_.tf;
  st_ = c.train;
  // Only rank 0 carries the epoch's loss sum so far; the end-of-epoch sum adds every rank's part once.
  if (comm_.rank() != 0) st_.epoch_loss_sum = 0;
  resumed_ = true;
}

void Trainer::save_checkpoint(double local_loss_sum, double elapsed) {
  if (cfg_.checkpoint.empty()) return;
  if (pending_.valid()) pending_.wait();
  // Sharded, each rank holds its part of the optimizer state, packed: rank 0 writes a whole copy,
  // assembled for the occasion (every rank unpacks its part into the full layout; one gather).
  std::optional<Optimizer> whole;
  if (split_) {
    whole.emplace(cfg_.optim, model_.num_params());
    whole->set_steps(opt_.steps());
    auto mine = opt_.state(), all = whole->state();
    for (std::size_t i = 0; i < mine.size(); ++i) {
      unpack(held_, mine[i].second.data(), all[i].second.data());
      reducer_->gather(all[i].second);
    }
  }
  double sum = local_loss_sum;
  comm_.allreduce_sum(std::span<double>(&sum, 1));
  if (comm_.rank() != 0) return;
  TrainState st = st_;
  st.epoch_loss_sum = sum;
  st.seed = cfg_.seed;
  st.world_size = static_cast<std::uint64_t>(comm_.size());
  st.train_fingerprint = train_fp_;
  st.test_fingerprint = test_fp_;
  st.config = cfg_.canonical();
  st.resume_key = cfg_.resume_key();
  st.elapsed_s = elapsed;
  st.lr_schedule = to_string(sched_.kind) + " base_lr=" + std::to_string(sched_.base_lr) +
                   " warmup_steps=" + std::to_string(sched_.warmup_steps) + " step_size=" + std::to_string(sched_.step_size) +
                   " gamma=" + std::to_string(sched_.gamma) + " total_steps=" + std::to_string(sched_.total_steps);
  write_checkpoint(cfg_.checkpoint, model_, whole ? *whole : opt_, train_.tf.offset, train_.tf.scale, st, cfg_.keep);
}

TrainResult Trainer::run() {
  const bool root = comm_.rank() == 0, talk = root && !cfg_.quiet;
  const std::size_t world = static_cast<std::size_t>(comm_.size());
  std::ofstream metrics;
  if (root && !cfg_.metrics.empty()) {
    metrics.open(cfg_.metrics, resumed_ ? std::ios::app : std::ios::trunc);
    if (!metrics) throw Error(cfg_.metrics + ": cannot open the metrics file for writing");
  }
  const std::size_t ntrain = train_rows_.size();
  const bool regression = train_.regression(), has_val = !val_rows_.empty();
  TrainResult res;
  res.stop_reason = "epochs";
  const double elapsed0 = st_.elapsed_s;
  auto start = Clock::now();
  auto elapsed = [&] { return elapsed0 + since(start); };
  FlagVote vote(comm_);
  if (talk) {
    std::printf("bptrain: %zu ranks, model %s, %zu parameters, %zu train / %zu validation / %zu test samples, %zu steps "
                "per epoch\n",
                world, describe(model_.spec()).c_str(), model_.num_params(), ntrain, val_rows_.size(), test_.n,
                steps_per_epoch_);
    if (resumed_)
      std::printf("bptrain: resumed at epoch %llu, step %llu of %zu in it (%llu steps in all)\n",
                  static_cast<unsigned long long>(st_.epoch + 1), static_cast<unsigned long long>(st_.position),
                  steps_per_epoch_, static_cast<unsigned long long>(st_.step));
  }
  bool stop = false;
  double carry = 0;  // this rank's loss sum of an epoch cut short by --max-steps
  for (; st_.epoch < cfg_.epochs && !stop; ++st_.epoch, st_.position = 0) {
    const std::uint64_t epoch = st_.epoch;
    const auto perm = epoch_permutation(ntrain, cfg_.seed, epoch);
    auto epoch_start = Clock::now();
    StepTimes times, prev;
    double loss_sum = st_.epoch_loss_sum, window_loss = 0;
    st_.epoch_loss_sum = 0;
    std::size_t window_rows = 0, steps_this_epoch = 0, skipped = 0;
    std::uint64_t grads_ok_total = 0;
    layer_norm_sum_.assign(model_.num_layers(), 0.0);
    const std::size_t print_every = std::max<std::size_t>(1, steps_per_epoch_ / 10);
    for (std::size_t s = st_.position; s < steps_per_epoch_; ++s) {
      if (cfg_.max_steps && st_.step >= cfg_.max_steps) {
        stop = true;
        res.stop_reason = "max_steps";
        break;
      }
      if (comm_.rank() == cfg_.fail_rank && st_.step == cfg_.fail_at_step)
        throw Error("injected failure at step " + std::to_string(st_.step) + " (--fail-rank)");
      const std::size_t at = s * cfg_.batch_size, g = std::min(cfg_.batch_size, ntrain - at);
      load_local(perm, at, g, times);
      if (train_.streamed() && s + 1 < steps_per_epoch_) {
        const std::size_t at2 = at + cfg_.batch_size;
        prefetch(perm, at2, std::min(cfg_.batch_size, ntrain - at2));
      }
      const double l = cfg_.deterministic ? step_deterministic(g, st_.step, times) : step_default(g, st_.step, times);
      // One small vote per step carries the stop signal and whether any rank's loss went non-finite.
      // Waiting on it (and on the other small sums) is waiting for the slowest rank: counted as comm.
      auto t0 = Clock::now();
      vote.start((stop_flag_ && *stop_flag_ ? kVoteStop : 0) | (std::isfinite(l) ? 0 : kVoteBadLoss));
      const int voted = vote.wait();
      times.comm += since(t0);
      t0 = Clock::now();
      float grad_scale = 1.0f;
      const bool ok = finish_gradients(g, st_.step, voted, grads_ok_total, grad_scale, times.comm);
      if (ok) opt_.step(model_.params(), model_.grads(), lr_at(st_.step), grad_scale, held_);
      times.optim += since(t0);
      if (ok && sharded_) times.comm += reducer_->gather(model_.params());  // each rank's new weights to all
      if (!cfg_.profile.empty()) {  // this step's split: the differences of the running totals
        const double row[] = {double(epoch), double(st_.step), (times.compute - prev.compute) * 1e3,
                              (times.comm - prev.comm) * 1e3, (times.optim - prev.optim) * 1e3,
                              (times.data - prev.data) * 1e3};
        profile_.insert(profile_.end(), std::begin(row), std::end(row));
        prev = times;
      }
      if (!ok) ++skipped;
      ++st_.step;
      st_.position = s + 1;
      ++steps_this_epoch;
      loss_sum += l;
      window_loss += l;
      window_rows += local_range(g).size();
      if (cfg_.check_every && st_.step % cfg_.check_every == 0) verify_replicas(st_.step);
      const int signalled = vote.wait() & kVoteStop;
      if (signalled || (cfg_.checkpoint_every && st_.step % cfg_.checkpoint_every == 0 && s + 1 < steps_per_epoch_))
        save_checkpoint(loss_sum, elapsed());
      if (signalled) {
        if (talk) std::printf("bptrain: signal received: checkpoint written at step %llu, exiting\n",
                              static_cast<unsigned long long>(st_.step));
        res.stop_reason = "signal";
        res.steps = st_.step;
        res.seconds = elapsed();
        return res;
      }
      if (talk && ((s + 1) % print_every == 0) && s + 1 < steps_per_epoch_) {
        const double el = since(epoch_start), done = double(s + 1) / double(steps_per_epoch_);
        const double sps = double(steps_this_epoch * cfg_.batch_size) / el;
        std::printf("  epoch %llu/%zu step %zu/%zu loss %.4f %.0f samples/s ETA %.0fs\n",
                    static_cast<unsigned long long>(epoch + 1), cfg_.epochs, s + 1, steps_per_epoch_,
                    window_rows ? window_loss / double(window_rows) : 0.0, sps,
                    el / done * (1 - done) + el / done * double(cfg_.epochs - epoch - 1));
        std::fflush(stdout);
        window_loss = 0;
        window_rows = 0;
      }
    }
    if (st_.position < steps_per_epoch_ && steps_this_epoch == 0) {  // --max-steps reached before it began
      carry = loss_sum;
      break;
    }
    const double epoch_s = since(epoch_start);
    double sums[1] = {loss_sum};
    comm_.allreduce_sum(std::span<double>(sums, 1));
    const std::size_t seen = std::min(ntrain, std::size_t(st_.position) * cfg_.batch_size);
    res.train_loss = sums[0] / double(seen);
    if (pending_.valid()) pending_.wait();
    res.test = evaluate(test_);
    if (has_val) res.val = evaluate(train_, &val_rows_);
    res.epochs = epoch + 1;
    res.steps = st_.step;
    // Early stopping watches the validation set when there is one, else the test set.
    const EvalResult& watched = has_val ? res.val : res.test;
    const double score = regression ? -watched.rmse : watched.accuracy;
    const double sps = double(std::min(ntrain, steps_this_epoch * cfg_.batch_size)) / epoch_s;
    const double per = 1000.0 / double(std::max<std::size_t>(1, steps_this_epoch));
    auto m = [&](const EvalResult& e) { return regression ? e.rmse : e.accuracy; };
    const char* metric = regression ? "rmse" : "accuracy";
    if (talk) {
      std::string val = has_val ? fmt("  val_loss %.4f", res.val.loss) + "  val_" + metric + fmt(" %.4f", m(res.val)) : "";
      std::printf("epoch %llu/%zu  train_loss %.4f%s  test_loss %.4f  test_%s %.4f  %.0f samples/s  %.1fs  "
                  "(per step: compute %.2fms, comm wait %.2fms, optimizer %.2fms, data %.2fms)%s\n",
                  static_cast<unsigned long long>(epoch + 1), cfg_.epochs, res.train_loss, val.c_str(), res.test.loss,
                  metric, m(res.test), sps, elapsed(), times.compute * per, times.comm * per, times.optim * per,
                  times.data * per,
                  skipped ? ("  [" + std::to_string(skipped) + " non-finite steps skipped]").c_str() : "");
      std::fflush(stdout);
    }
    if (metrics) {
      JsonLine j;
      j.add("epoch", epoch + 1).add("step", st_.step).add("train_loss", res.train_loss);
      if (has_val) j.add("val_loss", res.val.loss).add(std::string("val_") + metric, m(res.val));
      j.add("test_loss", res.test.loss).add(std::string("test_") + metric, m(res.test));
      metrics << j.add("samples_per_second", sps)
                     .add("elapsed_s", elapsed())
                     .add("epoch_s", epoch_s)
                     .add("lr", static_cast<double>(lr_at(st_.step ? st_.step - 1 : 0)))
                     .add("ranks", static_cast<std::uint64_t>(world))
                     .add("compute_ms_per_step", times.compute * per)
                     .add("comm_wait_ms_per_step", times.comm * per)
                     .add("optimizer_ms_per_step", times.optim * per)
                     .add("data_ms_per_step", times.data * per)
                     .add("skipped_steps", static_cast<std::uint64_t>(skipped))
                     .raw("layers", cfg_.grad_stats ? layer_stats_json(grads_ok_total) : "null")
                     .str()
              << '\n';
      metrics.flush();
    }
    if (st_.position < steps_per_epoch_) {  // --max-steps: the epoch is unfinished
      carry = loss_sum;
      break;
    }
    if (cfg_.patience > 0) {
      if (score > st_.best_score + cfg_.min_delta) {
        st_.best_score = score;
        st_.bad_epochs = 0;
      } else if (++st_.bad_epochs >= cfg_.patience) {
        res.stop_reason = "patience";
        stop = true;
      }
    }
    if (cfg_.tol > 0 && std::isfinite(st_.prev_train_loss) && std::fabs(st_.prev_train_loss - res.train_loss) < cfg_.tol) {
      res.stop_reason = "tol";
      stop = true;
    }
    st_.prev_train_loss = res.train_loss;
    const bool last = stop || epoch + 1 == cfg_.epochs;
    if (!last && cfg_.checkpoint_every_epochs && (epoch + 1) % cfg_.checkpoint_every_epochs == 0) {
      TrainState keep = st_;
      ++st_.epoch;  // the checkpoint records the next epoch, from its first step
      st_.position = 0;
      save_checkpoint(0, elapsed());
      st_ = keep;
    }
  }
  verify_replicas(st_.step);
  res.steps = st_.step;
  res.seconds = elapsed();
  write_profile();
  // Peak resident memory of the largest rank, for the memory benchmark.
  res.peak_rss_mb = static_cast<double>(comm_.allreduce_max(peak_rss_kb())) / 1024.0;
  // The final checkpoint: where this run ended, resumable with a larger --epochs or --max-steps.
  save_checkpoint(carry, res.seconds);
  if (root)
    std::printf("done: %zu epochs, %llu steps, test_%s %.4f, %.1fs (stopped: %s), peak RSS %.0f MB (largest rank)\n",
                res.epochs, static_cast<unsigned long long>(res.steps), regression ? "rmse" : "accuracy",
                regression ? res.test.rmse : res.test.accuracy, res.seconds, res.stop_reason.c_str(), res.peak_rss_mb);
  return res;
}

namespace {

using Settings = std::vector<std::pair<std::string, std::string>>;

// Settings that decide the trajectory of the weights: a resume must match them.
Settings trajectory_settings(const Config& c) {
  auto g = [](double v) { return fmt("%.9g", v); };
  std::string hidden;
  for (std::size_t h : c.hidden) {
    if (!hidden.empty()) hidden += ',';
    hidden += std::to_string(h);
  }
  Settings s = {{"hidden", hidden},
                {"activation", to_string(c.activation)},
                {"loss", to_string(c.loss)},
                {"init", to_string(c.init)},
                {"dropout", g(c.dropout)},
                {"optimizer", to_string(c.optim.kind)},
                {"momentum", g(c.optim.momentum)},
                {"beta1", g(c.optim.beta1)},
                {"beta2", g(c.optim.beta2)},
                {"eps", g(c.optim.eps)},
                {"weight-decay", g(c.optim.weight_decay)},
                {"lr", g(c.lr)},
                {"lr-schedule", to_string(c.lr_schedule)},
                {"lr-warmup-epochs", g(c.warmup_epochs_lr)},
                {"lr-step-epochs", std::to_string(c.lr_step_epochs)},
                {"lr-gamma", g(c.lr_gamma)},
                {"clip-grad-norm", g(c.clip_grad_norm)},
                {"batch-size", std::to_string(c.batch_size)},
                {"seed", std::to_string(c.seed)},
                {"normalize", to_string(c.normalize)},
                {"val-fraction", g(c.val_fraction)},
                {"task", std::to_string(int(c.load.task))},
                {"scale-lr", c.scale_lr_linear ? "linear" : "none"},
                {"warmup-epochs", g(c.warmup_epochs)},
                {"deterministic", c.deterministic ? "on" : "off"},
                {"micro-shards", std::to_string(c.micro_shards)}};
  // The cosine schedule decays over all epochs, so there they shape the trajectory too.
  if (c.lr_schedule == LrKind::Cosine) s.emplace_back("epochs", std::to_string(c.epochs));
  return s;
}

std::string join(const Settings& s) {
  std::string out;
  for (auto& [k, v] : s) out += k + "=" + v + ";";
  return out;
}

Settings parse(const std::string& text) {
  Settings s;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t semi = text.find(';', at), eq = text.find('=', at);
    if (semi == std::string::npos || eq == std::string::npos || eq > semi) break;
    s.emplace_back(text.substr(at, eq - at), text.substr(eq + 1, semi - eq - 1));
    at = semi + 1;
  }
  return s;
}

}  // namespace

std::string Config::resume_key() const { return join(trajectory_settings(*this)); }

std::string Config::canonical() const {
  Settings s = trajectory_settings(*this);
  s.insert(s.end(), {{"train", train},
                     {"test", test},
                     {"format", std::to_string(int(load.format))},
                     {"label-column", load.label_column},
                     {"stream", load.stream ? "on" : "off"},
                     {"epochs", std::to_string(epochs)},
                     {"patience", std::to_string(patience)},
                     {"min-delta", fmt("%.9g", min_delta)},
                     {"tol", fmt("%.9g", tol)},
                     {"max-steps", std::to_string(max_steps)},
                     {"checkpoint", checkpoint},
                     {"checkpoint-every", std::to_string(checkpoint_every)},
                     {"checkpoint-every-epochs", std::to_string(checkpoint_every_epochs)}});
  return join(s);
}

std::string diff_settings(const std::string& then, const std::string& now) {
  Settings a = parse(then), b = parse(now);
  std::string out;
  for (auto& [k, v] : b) {
    auto it = std::find_if(a.begin(), a.end(), [&](auto& p) { return p.first == k; });
    const std::string old = it == a.end() ? "(absent)" : it->second;
    if (old == v) continue;
    if (!out.empty()) out += ", ";
    out += "--" + k + " " + old + " in the checkpoint, " + v + " now";
  }
  return out.empty() ? "(none found)" : out;
}

std::string describe(const ModelSpec& spec) {
  std::string s;
  for (std::size_t v : spec.sizes) {
    if (!s.empty()) s += '-';
    s += std::to_string(v);
  }
  return s + " " + to_string(spec.hidden) + " " + to_string(spec.loss);
}

}  // namespace bpt
