// The training loop: epochs of steps, each step data -> forward -> backward (the sums start) ->
// finish the sums -> vote and check the gradient -> update -> gather -> bookkeeping.
//
// The rules this file relies on. Every rank runs this same code; break one and ranks deadlock or
// drift apart.
//  1. Threads. MPI is initialised at MPI_THREAD_FUNNELED: only the main thread calls MPI. The one
//     other thread, the --stream reader (BatchLoader::prefetch), reads the training file into the
//     loader's spare buffer and touches nothing else; it is joined before that buffer is read (the
//     next load()), before evaluation and checkpoints, and in the loader's destructor.
//  2. Same steps everywhere. Every rank draws the same permutation from (seed, epoch) and runs the
//     same number of steps; a rank with no rows in a partial last batch still takes part in every
//     collective of the step, with a zero gradient.
//  3. Collectives in one order. Each step every rank reaches, in this order: the gradient sums (the
//     reducer's buckets in their fixed order, or the tree sum), one small sum carrying the vote and
//     (split optimizer) the per-layer squares, a second one only if something is not finite, the
//     per-layer norms of LARS and LAMB (split optimizer), the weight gather (sharded; with
//     --gather-overlap on its point-to-point messages stay in flight, past the progress line's sum, until
//     complete_gather() after the next step's data or before whatever reads the weights first), the replica checksum
//     (every --check-every steps), the checkpoint's sums and gathers (when due, or signalled), the
//     progress line's loss sum (unless --quiet). At an epoch's end: the loss sum, then evaluation.
//     --timeline adds a barrier before the first step and, at the end (or after a signal's
//     checkpoint), the gather of every rank's events and a max of their dropped counts.
//  4. Collective decisions only. Whether a step stops the run, is skipped or fails is decided from
//     figures every rank holds alike: the small sum's vote (the stop signal and every rank's loss
//     verdict) and summed gradient figures. A rank that throws on its own ends the job through main's MPI_Abort.
//  5. Partial sums. Between finish() and the next step, the gradient buffer is complete only on the
//     ranges this rank owns (ShardedOptimizer::owned()); elsewhere it holds partial sums (sharded
//     mode). Only the gradient check and the optimizer step read it, and only there. The weights
//     are identical on every rank after the gather (complete_gather(), with --gather-overlap), and
//     nowhere between the update and then: nothing reads them in between.
//  6. Buffer ownership. From begin_step() until finish() returns the reducer owns the gradient
//     buffer: backward writes a layer's gradients before layer_ready(l), and nothing else touches a
//     started bucket.
#include <algorithm>
#include <cmath>

#include <sys/resource.h>

#include "bpt/core/error.hpp"
#include "bpt/core/gemm.hpp"
#include "bpt/core/sim_cost.hpp"
#include "bpt/core/text.hpp"
#include "bpt/train/trainer.hpp"

namespace bpt {
namespace {

double peak_rss_mb() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

StepTimes scaled(const StepTimes& t, double by) {
  return {t.compute * by, t.forward * by, t.comm * by, t.optim * by, t.data * by};
}
StepTimes minus(const StepTimes& a, const StepTimes& b) {
  return {a.compute - b.compute, a.forward - b.forward, a.comm - b.comm, a.optim - b.optim, a.data - b.data};
}

}  // namespace

TrainResult Trainer::run() {
  Reporter out(cfg_, comm_, resumed_);
  out.banner(describe(model_.spec()), model_.num_params(), ntrain_, val_rows_.size(), test_.n,
             steps_per_epoch_, resumed_, st_.epoch, st_.position, st_.step);
  if (!train_.header_note.empty()) out.note(train_.header_note);
  if (!test_.header_note.empty() && test_.source != train_.source) out.note(test_.header_note);
  if ((cfg_.patience > 0 || cfg_.keep_best) && val_rows_.empty())
    out.note(std::string("warning: ") + (cfg_.patience > 0 ? "--patience" : "--keep-best") +
             " watches the test set (no --val-fraction): the test figures then choose the epoch, and the test "
             "score is no longer an unbiased estimate; --val-fraction 0.1 holds out a validation set for it");
  if (cfg_.task_from_loss && train_.regression())
    out.note("--loss mse: the label column read as regression targets (--task classification for MSE on one-hot "
             "class labels)");
  if ((cfg_.optim.kind == OptKind::Lamb || cfg_.optim.kind == OptKind::Lars) && cfg_.normalize == Normalize::Unit &&
      cfg_.batch_size >= 1024)
    out.note("--optimizer " + to_string(cfg_.optim.kind) + " at batch " + std::to_string(cfg_.batch_size) +
             " with --normalize unit: large batches trained better on standardised inputs here (--normalize standard: "
             "the best of LARS/LAMB +0.7 points at batch 8,192, +1.0 at 16,384 on Fashion-MNIST; docs/large_batch.md)");
  if (cfg_.targets_scaled) {
    const Transform& t = train_.target_tf;
    out.note("regression targets standardised for the model (mean " + format_number("%.6g", double(t.offset[0])) +
             ", standard deviation " + format_number("%.6g", 1.0 / double(t.scale[0])) +
             (t.offset.size() > 1 ? " for the first of them" : "") +
             ", from the training set; --normalize-targets none keeps them as they are); predictions and RMSE in "
             "their own units");
  }
  if (!train_.regression() && out.talks()) {  // the output layer is as wide as the largest label + 1: say when that surprises
    std::vector<char> seen(train_.classes, 0);
    for (std::size_t i = 0; i < train_.n; ++i) seen[static_cast<std::size_t>(train_.label(i))] = 1;
    const auto present = static_cast<std::size_t>(std::count(seen.begin(), seen.end(), 1));
    if (present < train_.classes || train_.classes > 1000)
      out.note(std::to_string(train_.classes) + " classes (labels 0 to " + std::to_string(train_.classes - 1) + ", " +
               std::to_string(present) + " of them in " + train_.source + "): one output each" +
               (train_.classes > 1000 ? "; numeric targets? --loss mse reads them as regression" : ""));
  }
  if (out.talks() && !sim::values_meaningless())  // (model mode runs no GEMM)
    if (const std::string w = blas_kernel_warning(); !w.empty()) out.note(w);
  if (comm_.size() > 1)
    out.note(cfg_.deterministic ? "gradient sums: the deterministic tree"
             : !cfg_.overlap && !cfg_.grad_bf16 ? "gradient sums: MPI_Allreduce per bucket after backward"
             : "gradient sums: " + reducer_->describe() + (cfg_.overlap ? ", optimizer sharded" : " after backward") +
                   (gather_overlap_ ? ", weight gather under the next step's data" : "") +
                   (cfg_.grad_bf16 ? ", reduce-scatter in bfloat16" : ""));
  if (!cfg_.timeline.empty()) {  // every rank's clock starts at the same barrier
    timeline_ = std::make_unique<Timeline>();
    reducer_->set_timeline(timeline_.get());
    comm_.barrier();
    timeline_origin_ = wall_time();
  }
  if (cfg_.accumulate > 1)
    out.note("--accumulate " + std::to_string(cfg_.accumulate) + ": each rank's share of a batch in " +
             std::to_string(cfg_.accumulate) + " micro-batches, summed before the sum over ranks");
  const double start = wall_time() - st_.elapsed_s;  // a resumed run's time counts on
  TrainResult res;
  res.stop_reason = "epochs";
  auto done = [&] {  // the held-out figures: the test set's, or the validation set's without one
    out.done(res.epochs, res.steps, test_.n ? res.test : res.val, test_.n ? "test" : "val", train_.regression(),
             res.seconds, res.stop_reason, res.peak_rss_mb);
  };
  if (resumed_ && (st_.epoch >= cfg_.epochs || (cfg_.max_steps && st_.step >= cfg_.max_steps))) {
    // Nothing left to train (a finished run resumed, e.g. by a batch system's requeue): report the
    // checkpoint's model as it is, and leave the checkpoint alone.
    out.note("the checkpoint has done " + std::to_string(st_.epoch) + " epochs and " + std::to_string(st_.step) +
             " steps: nothing left to train (raise --epochs or --max-steps to go on)");
    if (test_.n) res.test = evaluate(test_);
    if (!val_rows_.empty()) res.val = evaluate(train_, &val_rows_);
    res.epochs = st_.epoch;
    res.steps = st_.step;
    res.seconds = st_.elapsed_s;
    res.stop_reason = "already done";
    res.peak_rss_mb = static_cast<double>(comm_.allreduce_max(static_cast<long>(peak_rss_mb() * 1024.0))) / 1024.0;
    done();
    return res;
  }
  Tally t;
  std::vector<double> carry;  // the loss parts of an epoch cut short by --max-steps
  while (st_.epoch < cfg_.epochs) {
    const bool go_on = run_epoch(out, t, res, start);
    complete_gather();  // the epoch's last weights, for what follows
    if (!go_on) {  // a signal: the checkpoint is written
      res.steps = st_.step;
      res.seconds = wall_time() - start;
      write_timeline();
      return res;
    }
    const bool unfinished = st_.position < steps_per_epoch_;  // --max-steps
    if (unfinished && t.steps == 0) {  // reached before the epoch began: nothing to report
      carry = t.loss;
      break;
    }
    const bool stop = end_epoch(out, t, res, start);
    if (unfinished) {
      carry = t.loss;
      break;
    }
    ++st_.epoch;  // the next epoch, from its first step
    st_.position = 0;
    if (best_due_) {  // --keep-best: this epoch's weights, resumable from the next epoch like any checkpoint
      save_checkpoint({}, wall_time() - start, cfg_.best_checkpoint(), 1);
      out.note("epoch " + std::to_string(st_.epoch) + ": the best so far (" + (train_.regression() ? "RMSE " : "accuracy ") +
               format_number("%.4f", train_.regression() ? -st_.best_score : st_.best_score) + "), kept in " +
               cfg_.best_checkpoint());
    }
    if (stop) break;
    if (st_.epoch < cfg_.epochs && cfg_.checkpoint_every_epochs && st_.epoch % cfg_.checkpoint_every_epochs == 0)
      save_checkpoint({}, wall_time() - start);
  }
  verify_replicas(st_.step);
  res.steps = st_.step;
  res.seconds = wall_time() - start;
  out.write_profile();
  res.peak_rss_mb = static_cast<double>(comm_.allreduce_max(static_cast<long>(peak_rss_mb() * 1024.0))) / 1024.0;
  // The final checkpoint: where this run ended, resumable with a larger --epochs or --max-steps.
  save_checkpoint(carry, res.seconds);
  write_timeline();
  done();
  return res;
}

bool Trainer::run_epoch(Reporter& out, Tally& t, TrainResult& res, double start) {
  const std::size_t parts = cfg_.deterministic ? loader_->micro_shards_per_rank() : 1;  // this rank's (Tally)
  t = Tally{};
  t.loss.assign(parts, 0.0);
  t.window.assign(parts, 0.0);
  t.loss[0] = st_.epoch_loss_sum;  // a resumed epoch's loss so far (rank 0 carries it; part 0 is rank 0's first)
  st_.epoch_loss_sum = 0;
  t.start = wall_time();
  health_.begin_epoch();
  const EpochOrder perm(ntrain_, cfg_.seed, st_.epoch, sim::values_meaningless());
  const std::size_t print_every = std::max<std::size_t>(1, (steps_per_epoch_ + 9) / 10);
  for (std::size_t s = st_.position; s < steps_per_epoch_; ++s) {
    if (cfg_.max_steps && st_.step >= cfg_.max_steps) {
      res.stop_reason = "max_steps";
      return true;
    }
    if (comm_.rank() == cfg_.fail_rank && st_.step == cfg_.fail_at_step)  // fault injection (tests)
      throw Error("injected failure at step " + std::to_string(st_.step) + " (--fail-rank)");
    const bool signalled = step(perm, s, out, t);
    if (cfg_.check_every && st_.step % cfg_.check_every == 0) {
      complete_gather();  // (its own event on the timeline, before the check's)
      const double t0 = wall_time();
      verify_replicas(st_.step);
      mark("replica check", Timeline::kComm, t0);
    }
    if (signalled || (cfg_.checkpoint_every && st_.step % cfg_.checkpoint_every == 0 && s + 1 < steps_per_epoch_))
      save_checkpoint(t.loss, wall_time() - start);
    if (signalled) {
      out.signalled(st_.step);
      res.stop_reason = "signal";
      return false;
    }
    if (!cfg_.quiet && cfg_.progress == Config::Progress::Step && (s + 1) % print_every == 0 && s + 1 < steps_per_epoch_) {
      comm_.phase(Phase::Report);
      const double t0 = wall_time();
      const double loss = agreed_sum(t.window) / double(std::max<std::size_t>(1, t.window_samples));
      const double el = wall_time() - t.start, done = double(s + 1) / double(steps_per_epoch_);
      out.progress(st_.epoch + 1, s + 1, steps_per_epoch_, loss, double(t.steps * cfg_.batch_size) / el,
                   el / done * (1 - done) + el / done * double(cfg_.epochs - st_.epoch - 1));
      std::fill(t.window.begin(), t.window.end(), 0.0);
      t.window_samples = 0;
      mark("progress report", Timeline::kComm, t0);
    }
  }
  return true;
}

bool Trainer::step(const EpochOrder& perm, std::size_t s, Reporter& out, Tally& t) {
  const std::size_t ntrain = ntrain_, at = s * cfg_.batch_size, g = std::min(cfg_.batch_size, ntrain - at);
  // Data: this rank's rows (and, streamed, the next step's read ahead).
  comm_.phase(Phase::Data, -1, static_cast<std::int64_t>(st_.step));
  const double td = wall_time();
  std::function<void()> poll;  // the last step's weight gather moves on while the rows are copied
  if (gather_pending_) poll = [this] { opt_->poll(); };
  t.times.data += loader_->load(perm, at, g, poll);
  if (loader_->reads_ahead() && s + 1 < steps_per_epoch_)
    loader_->prefetch(perm, at + cfg_.batch_size, std::min(cfg_.batch_size, ntrain - at - cfg_.batch_size));
  mark("data", Timeline::kCompute, td);
  t.times.comm += complete_gather();
  // Forward, backward, and the gradient sum over the ranks.
  const double loss = compute_gradients(g, t);
  // The vote and the gradient check in one small sum (a stop signal on any rank, a non-finite loss or
  // gradient on any rank; the average and clipping); the update of the weights this rank owns; then
  // every rank gets them. Waiting in the small sum is waiting for the slowest rank: communication.
  const double t0 = wall_time(), comm_before = t.times.comm;
  comm_.phase(Phase::Vote);
  const auto v = health_.check(model_.grads(), model_.params(), *opt_, g, st_.step, stop_flag_ && *stop_flag_,
                               !std::isfinite(loss), t.times.comm);
  mark("vote and gradient check", Timeline::kComm, t0);
  comm_.phase(Phase::Optimizer);
  const double to = wall_time();
  if (v.scale) opt_->step(model_.params(), model_.grads(), lr_at(st_.step), *v.scale);
  mark("optimizer", Timeline::kCompute, to);
  t.times.optim += wall_time() - t0 - (t.times.comm - comm_before);
  comm_.phase(Phase::Gather);
  const double tg = wall_time();
  if (v.scale && gather_overlap_) {
    opt_->gather_begin(model_.params());  // completed by the next step, or whatever reads the weights first
    gather_pending_ = true;
    t.times.comm += wall_time() - tg;
  } else if (v.scale) {
    t.times.comm += opt_->gather(model_.params());
    mark("weight gather", Timeline::kComm, tg);
  } else {
    ++t.skipped;
  }
  // Bookkeeping.
  out.step_times(st_.epoch, st_.step, scaled(minus(t.times, t.profiled), 1000.0));
  t.profiled = t.times;
  ++st_.step;
  st_.position = s + 1;
  ++t.steps;
  t.window_samples += g;
  return v.stop;
}

double Trainer::compute_gradients(std::size_t g, Tally& t) {
  const double t0 = wall_time();
  double loss = 0;
  if (!cfg_.deterministic) {
    // The bucketed sum: each bucket's sum starts as backward finishes its layers (of the last
    // micro-batch, with --accumulate: the others add into the gradients first).
    reducer_->begin_step(static_cast<std::int64_t>(st_.step));
    const std::size_t rows = loader_->local(g).size(), k = cfg_.accumulate;
    for (std::size_t m = 0; m < k; ++m) {
      const std::size_t a = rows * m / k, b = rows * (m + 1) / k;
      loss += forward_backward(a, b - a, st_.step, m + 1 == k, m > 0, t.times.forward);
    }
    t.loss[0] += loss;
    t.window[0] += loss;
    const double tf = wall_time();
    t.times.compute += tf - t0;
    t.times.comm += reducer_->finish();
    mark("finish sums", Timeline::kComm, tf);
    return loss;
  }
  // --deterministic: this rank's micro-shards, one backward each, into the fixed tree.
  const std::size_t base = loader_->local(g).begin, first = loader_->first_micro_shard();
  tree_->begin();
  for (std::size_t m = first; m < first + loader_->micro_shards_per_rank(); ++m) {
    const Range r = loader_->micro_shard(g, m);
    const double l = forward_backward(r.begin - base, r.size(), st_.step, false, false, t.times.forward);
    t.loss[m - first] += l;
    t.window[m - first] += l;
    loss += l;
    tree_->add(model_.grads());
  }
  const double tf = wall_time();
  t.times.compute += tf - t0;
  t.times.comm += tree_->finish(model_.grads());
  mark("tree sum", Timeline::kComm, tf);
  return loss;
}

double Trainer::forward_backward(std::size_t first, std::size_t rows, std::uint64_t step, bool notify,
                                 bool accumulate, double& forward_s) {
  if (rows == 0) {  // nothing to compute: this micro-batch adds nothing (a first one: the gradient is zero)
    if (!accumulate) model_.zero_grad();
    return 0;
  }
  const std::size_t d = train_.d;
  DropoutCtx drop{cfg_.dropout, cfg_.seed, step, loader_->ids(first), cfg_.input_dropout};
  comm_.phase(Phase::Forward);
  double tl = wall_time();
  const double tfwd = tl;
  const std::function<void(std::size_t)> fwd_done = [&](std::size_t l) {
    mark("forward", Timeline::kCompute, tl, static_cast<int>(l));
    tl = wall_time();
  };
  const float* x = loader_->x(first);
  if (aug_.active()) {
    if (aug_x_.size() < rows * d) aug_x_.resize(rows * d);
    augment_rows(aug_, train_.tf, x, rows, loader_->ids(first), cfg_.seed, step, aug_x_.data());
    x = aug_x_.data();
  }
  model_.forward(ConstMatView<float>(x, rows, d), &drop, timeline_ ? &fwd_done : nullptr);
  const Targets<float> tg{train_.regression() ? nullptr : loader_->labels(first),
                          train_.regression() ? loader_->targets(first) : nullptr, cfg_.label_smoothing};
  const bool inject = comm_.rank() == cfg_.nan_rank && step == cfg_.nan_at_step;  // fault injection (tests)
  // Overwrite, not accumulate, on a step's first micro-batch (and each --deterministic micro-shard).
  comm_.phase(Phase::Backward);
  tl = wall_time();
  forward_s += tl - tfwd;
  return model_.backward(
      tg, 1.0f,
      [&](std::size_t l) {
        if (inject && l + 1 == model_.num_layers()) model_.grad_weight(l)[1] = std::nanf("");
        mark("backward", Timeline::kCompute, tl, static_cast<int>(l));
        if (notify) reducer_->layer_ready(l);
        tl = wall_time();
      },
      accumulate);
}

bool Trainer::end_epoch(Reporter& out, Tally& t, TrainResult& res, double start) {
  const double epoch_s = wall_time() - t.start;
  const std::size_t ntrain = ntrain_;
  const std::size_t seen = std::min(ntrain, std::size_t(st_.position) * cfg_.batch_size);
  res.train_loss = agreed_sum(t.loss) / double(seen);
  comm_.phase(Phase::Evaluate);
  loader_->wait();
  const bool has_val = !val_rows_.empty(), regression = train_.regression();
  const double te = wall_time();
  if (test_.n) res.test = evaluate(test_);  // none: --val-fraction without --test
  if (has_val) res.val = evaluate(train_, &val_rows_);
  mark("evaluate", Timeline::kCompute, te);
  // The epoch's last update too must not read as success: its weights, and (finite weights can still
  // be too large to use: the last step's loss was computed before its update) the held-out loss.
  // Every rank holds the same weights and these sums: one agreement for both.
  agree_on_errors(comm_, [&] {
    throw_if_weights_nonfinite();
    if (!std::isfinite(res.test.loss) || (has_val && !std::isfinite(res.val.loss))) {
      float big = 0;
      for (float w : model_.params()) big = std::max(big, std::fabs(w));
      throw NumericError("after step " + std::to_string(st_.step) + ": the " + (std::isfinite(res.test.loss) ? "validation" : "test") +
                         " loss is not finite; the largest weight is " + format_number("%.3g", double(big)) +
                         " (an update overflowed: lower --lr)");
    }
  });
  res.epochs = st_.epoch + 1;
  res.steps = st_.step;
  EpochFigures f;
  f.epoch = st_.epoch + 1;
  f.step = st_.step;
  f.train_loss = res.train_loss;
  f.test = res.test;
  f.val = res.val;
  f.has_val = has_val;
  f.has_test = test_.n > 0;
  f.regression = regression;
  f.samples_per_s = double(std::min(ntrain, t.steps * cfg_.batch_size)) / epoch_s;
  f.elapsed_s = wall_time() - start;
  f.epoch_s = epoch_s;
  f.lr = static_cast<double>(lr_at(st_.step ? st_.step - 1 : 0));
  f.per_step = scaled(t.times, 1000.0 / double(std::max<std::size_t>(1, t.steps)));
  f.skipped = t.skipped;
  f.partial = st_.position < steps_per_epoch_;
  if (cfg_.grad_stats) f.layers = health_.layer_stats_json(model_);
  out.epoch(f);
  if (st_.position < steps_per_epoch_) return false;  // unfinished (--max-steps): no verdict on it
  // Early stopping watches the validation set when there is one, else the test set.
  const EvalResult& watched = has_val ? res.val : res.test;
  const double score = regression ? -watched.rmse : watched.accuracy;
  bool stop = false;
  const bool better = score > st_.best_score + cfg_.min_delta;
  if (better) st_.best_score = score;
  best_due_ = better && cfg_.keep_best;  // written at the epoch's boundary, by run()
  if (cfg_.patience > 0) {
    if (better) {
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
  return stop;
}

}  // namespace bpt
