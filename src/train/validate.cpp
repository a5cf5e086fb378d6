// The checks before the first step: flags (ranges and meaning), output paths, memory.
#include "bpt/train/validate.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>

#include "bpt/core/error.hpp"
#include "bpt/core/text.hpp"

namespace bpt {
namespace {

[[noreturn]] void fail(const std::string& what) { throw CollectiveError(what); }

std::string num(double v) { return format_number("%.7g", v); }

bool is_pow2(std::size_t v) { return v && !(v & (v - 1)); }

// flag value: must lie in the interval from lo to hi, each end open or closed ("must be in [0, 1)").
void in_range(const char* flag, double v, double lo, bool lo_open, double hi, bool hi_open) {
  const bool ok = std::isfinite(v) && (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  if (ok) return;
  const std::string hs = std::isinf(hi) ? "inf" : num(hi);
  fail(std::string(flag) + " " + num(v) + ": must be in " + (lo_open ? "(" : "[") + num(lo) + ", " + hs +
       (hi_open || std::isinf(hi) ? ")" : "]"));
}

std::string gb(double bytes) { return format_number("%.1f GB", bytes / 1e9); }

}  // namespace

void validate_config(const Config& c, int ranks, unsigned cores) {
  const double inf = INFINITY;
  const char* flag = dense_only(c.layers) ? "--hidden" : "--layers";
  if (c.layers.empty()) fail(std::string(flag) + ": give at least one hidden layer");
  if (c.layers.size() + 1 > ModelLimits::layers)
    fail(std::string(flag) + ": " + std::to_string(c.layers.size()) + " hidden layers: at most " +
         std::to_string(ModelLimits::layers - 1) + " (a model has at most " + std::to_string(ModelLimits::layers) +
         " layers, the output layer included)");
  for (const LayerSpec& l : c.layers)
    if (l.units > ModelLimits::width)
      fail(std::string(flag) + ": a layer of " + std::to_string(l.units) + " units: at most " +
           std::to_string(ModelLimits::width));
  if (c.input_shape.size() > ModelLimits::width)
    fail("--input-shape: " + std::to_string(c.input_shape.size()) + " values per sample: at most " +
         std::to_string(ModelLimits::width));
  in_range("--dropout", c.dropout, 0, false, 1, true);
  in_range("--input-dropout", c.input_dropout, 0, false, 1, true);
  in_range("--label-smoothing", c.label_smoothing, 0, false, 1, true);
  in_range("--augment-shift", c.augment_shift, 0, false, inf, true);
  if (c.label_smoothing > 0 && c.loss != Loss::SoftmaxCrossEntropy)
    fail("--label-smoothing: only with --loss cross_entropy");
  in_range("--val-fraction", c.val_fraction, 0, false, 1, true);
  in_range("--lr", c.lr, 0, true, inf, true);
  in_range("--momentum", c.optim.momentum, 0, false, 1, true);
  in_range("--beta1", c.optim.beta1, 0, false, 1, true);
  in_range("--beta2", c.optim.beta2, 0, false, 1, true);
  in_range("--eps", c.optim.eps, 0, true, inf, true);
  in_range("--weight-decay", c.optim.weight_decay, 0, false, inf, true);
  in_range("--trust-coef", c.optim.trust_coef, 0, true, inf, true);
  in_range("--clip-grad-norm", c.clip_grad_norm, 0, false, inf, true);
  in_range("--lr-warmup-epochs", c.warmup_epochs_lr, 0, false, inf, true);
  in_range("--lr-gamma", c.lr_gamma, 0, true, 1, false);
  if (c.lr_step_epochs < 1) fail("--lr-step-epochs must be at least 1");
  if (c.batch_size < 1) fail("--batch-size must be at least 1");
  if (c.epochs < 1) fail("--epochs must be at least 1");
  if (c.eval_batch < 1) fail("--eval-batch must be at least 1");
  in_range("--min-delta", c.min_delta, 0, false, inf, true);
  in_range("--tol", c.tol, 0, false, inf, true);
  in_range("--bucket-mb", c.bucket_mb, 1e-5, false, 65536, false);  // a bucket holds at least a few floats
  if (c.stall_timeout != 0 && !(c.stall_timeout >= 1 && c.stall_timeout <= 1e6))
    fail("--stall-timeout " + num(c.stall_timeout) + ": must be 0 (off) or in [1, 1000000] seconds");
  in_range("--warmup-epochs", c.warmup_epochs, 0, false, inf, true);
  in_range("--grad-warn-low", c.grad_warn_low, 0, false, inf, true);
  if (!(c.grad_warn_high > c.grad_warn_low)) in_range("--grad-warn-high", c.grad_warn_high, c.grad_warn_low, true, inf, true);
  if (c.keep < 1 || c.keep > 1000) fail("--keep " + std::to_string(c.keep) + ": must be in [1, 1000]");
  if (c.keep_best && c.checkpoint.empty()) fail("--keep-best needs --checkpoint FILE (the best goes to FILE.best.h5)");
  if ((c.checkpoint_every || c.checkpoint_every_epochs) && c.checkpoint.empty())
    fail(std::string(c.checkpoint_every ? "--checkpoint-every" : "--checkpoint-every-epochs") + " needs --checkpoint FILE");
  const unsigned most = cores ? cores : 1024;
  if (c.blas_threads < 1 || static_cast<unsigned>(c.blas_threads) > most)
    fail("--blas-threads " + std::to_string(c.blas_threads) + ": must be in [1, " + std::to_string(most) + "]" +
         (cores ? " (this machine has " + std::to_string(cores) + " cores)" : ""));
  if (c.accumulate < 1 || c.accumulate > c.batch_size)
    fail("--accumulate " + std::to_string(c.accumulate) + ": must be in [1, --batch-size " + std::to_string(c.batch_size) + "]");
  if (c.accumulate > 1 && c.deterministic)
    fail("--accumulate with --deterministic: its micro-shards already split each rank's batch (use --micro-shards)");
  if (c.grad_bf16 && c.deterministic)
    fail("--grad-compression bf16 with --deterministic: the deterministic tree sums in float, independent of the rank "
         "count; bfloat16 messages would round at rank-count-dependent points");
  if (c.deterministic) {
    const auto world = static_cast<std::size_t>(ranks);
    if (!is_pow2(c.micro_shards)) fail("--micro-shards must be a power of two");
    if (!is_pow2(world) || c.micro_shards % world != 0)
      fail("--deterministic needs a power-of-two rank count that divides --micro-shards (" +
           std::to_string(c.micro_shards) + "); this job has " + std::to_string(ranks) + " ranks");
  }
  for (auto [flag, r] : {std::pair{"--fail-rank", c.fail_rank}, std::pair{"--nan-rank", c.nan_rank}})
    if (r < -1 || r >= ranks)
      fail(std::string(flag) + " " + std::to_string(r) + ": must be -1 (off) or a rank in [0, " + std::to_string(ranks) + ")");
}

void check_model_size(const Config& c, Shape data_shape, std::size_t features, std::size_t outputs) {
  if (c.input_shape.size() > 0 && c.input_shape.size() != features)
    fail("--input-shape " + std::to_string(c.input_shape.c) + "," + std::to_string(c.input_shape.h) + "," +
         std::to_string(c.input_shape.w) + ": " + std::to_string(c.input_shape.size()) + " values per sample, the data have " +
         std::to_string(features));
  const ModelSpec spec = model_spec(c, data_shape, features, outputs);
  try {
    check_limits(spec);
  } catch (const Error& e) {
    const Shape& in = spec.input;
    if (dense_only(c.layers))
      fail(std::string("--hidden with ") + std::to_string(features) + " inputs and " + std::to_string(outputs) +
           " outputs from the data: " + e.what());
    fail("--layers on " + (in.image() ? std::to_string(in.c) + "x" + std::to_string(in.h) + "x" + std::to_string(in.w) + " images"
                                      : std::to_string(features) + " features") +
         " with " + std::to_string(outputs) + " outputs: " + e.what());
  }
}

std::vector<OutputPath> outputs_of(const Config& c, const std::string& predict) {
  std::vector<OutputPath> out;
  if (!c.checkpoint.empty()) {
    out.push_back({"--checkpoint", c.checkpoint, c.resume});
    for (std::size_t k = 1; k < c.keep; ++k) out.push_back({"--keep", c.checkpoint + "." + std::to_string(k), c.resume});
    if (c.keep_best) out.push_back({"--keep-best", c.best_checkpoint(), c.resume});
  }
  if (!c.metrics.empty()) out.push_back({"--metrics", c.metrics, ""});
  if (!c.profile.empty()) out.push_back({"--profile", c.profile, ""});
  if (!c.timeline.empty()) out.push_back({"--timeline", c.timeline, ""});
  if (!predict.empty()) out.push_back({"--predict", predict, ""});
  return out;
}

MemoryPlan plan_memory(const Config& c, Shape data_shape, std::size_t inputs, std::size_t outputs, std::size_t eval_rows,
                       int ranks) {
  // Each layer's parameters and what it keeps per row, in doubles (no overflow for absurd sizes).
  // Before the data are read (an image stack's shapes unknown), the dense layers alone: a lower bound.
  Config dense = c;
  ModelSpec spec = model_spec(c, data_shape, inputs, outputs);
  std::vector<LayerPlan> plan;
  try {
    plan = plan_layers(spec);
  } catch (const Error&) {
    std::erase_if(dense.layers, [](const LayerSpec& l) { return l.kind != LayerKind::Dense; });
    spec = model_spec(dense, data_shape, inputs, outputs);
    plan = plan_layers(spec);
  }
  double params = 0, outs = 0, widest = 0, scratch = 0;
  for (std::size_t l = 0; l < plan.size(); ++l) {
    const LayerPlan& p = plan[l];
    const double n = double(p.out.size());
    params += double(p.weight_rows) * double(p.weight_cols) + double(p.biases);
    // z and a (pooling: a, and max-pooling's int32 index of each output), dropout's draws and mask
    // after a hidden dense layer.
    outs += 2 * n;
    if (c.dropout > 0 && p.spec.kind == LayerKind::Dense && l + 1 < plan.size()) outs += 2 * n;
    widest = std::max(widest, n);
    if (p.spec.kind == LayerKind::Conv)  // patches and staged outputs of one chunk of samples
      scratch = std::max(scratch, double(p.conv.scratch_size(static_cast<std::size_t>(c.eval_batch))));
  }
  const double state = c.optim.kind == OptKind::Sgd                                           ? 0
                       : c.optim.kind == OptKind::Lamb                                        ? 3  // m, v and the update
                       : (c.optim.kind == OptKind::Adam || c.optim.kind == OptKind::AdamW)   ? 2
                                                                                              : 1;
  MemoryPlan p;
  // Weights and gradients, the optimizer's state, and (checkpoints) the whole state assembled once.
  p.weights = 4.0 * params * (2 + state + (c.checkpoint.empty() ? 0 : state));
  // Per row: each layer's pre-activation and activation (and dropout's draws and mask), two error
  // signals as wide as the widest layer, the input row (twice: the loader reads ahead; once more for
  // input dropout's output and once for the augmented copy).
  const double per_row = 4.0 * (outs + 2 * widest +
                                (2 + (c.input_dropout > 0 ? 1 : 0) + (c.augment_shift > 0 || c.augment_flip ? 1 : 0)) *
                                    double(inputs));
  const double parts = c.deterministic ? double(c.micro_shards) : double(std::max(1, ranks)) * double(c.accumulate);
  const double rows = std::ceil(double(c.batch_size) / parts);
  p.activations = rows * per_row + 4.0 * scratch;
  const double erows = double(eval_rows);
  p.evaluation = std::max(0.0, erows - rows) * per_row + 4.0 * erows * (double(inputs) + double(outputs));
  return p;
}

double available_memory() {
  double avail = 0;
  std::ifstream mi("/proc/meminfo");
  std::string key;
  double kb = 0;
  std::string unit;
  while (mi >> key >> kb >> unit)
    if (key == "MemAvailable:") avail = kb * 1024.0;
  // A cgroup v2 limit (a batch job's allocation) may be lower than the machine's free memory.
  std::ifstream lim("/sys/fs/cgroup/memory.max"), cur("/sys/fs/cgroup/memory.current");
  std::string l;
  double used = 0;
  if (lim >> l && l != "max" && cur >> used) {
    const double left = std::max(0.0, std::strtod(l.c_str(), nullptr) - used);
    if (avail == 0 || left < avail) avail = left;
  }
  return avail;
}

void check_memory(const MemoryPlan& p, const std::string& model, double available, int ranks_on_node) {
  if (available <= 0) return;  // unknown: nothing to compare with
  const double each = available / double(std::max(1, ranks_on_node));
  if (p.total() <= each) return;
  const char* culprit = p.weights >= p.activations && p.weights >= p.evaluation ? "--hidden (or --layers)"
                        : p.activations >= p.evaluation                        ? "--batch-size (or --hidden, --layers)"
                                                                                : "--eval-batch";
  fail("the model " + model + " needs " + gb(p.total()) + " per rank (weights, gradients and optimizer state " +
       gb(p.weights) + ", a training batch's activations " + gb(p.activations) + ", evaluation " + gb(p.evaluation) +
       "), more than the " + gb(each) + " available to each of the " + std::to_string(ranks_on_node) +
       " ranks on this node: lower " + culprit);
}

}  // namespace bpt
