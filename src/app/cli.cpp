// bptrain's command line (cli.hpp). The only file that sees cxxopts.
#include "cli.hpp"

#include <cxxopts.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>
#include <vector>

#include "bpt/core/error.hpp"
#include "bpt_commit.h"  // generated at build time (cmake/BptCommit.cmake)

namespace bpt {
namespace {

// The commit the binary was built from, kept whole in the binary behind a fixed mark, so that a script
// can read it without running the binary (scripts/scaling.sh: grep -a 'bptrain-commit:').
constexpr char kCommitMark[] = "bptrain-commit:" BPT_COMMIT;
constexpr std::size_t kCommitAt = sizeof("bptrain-commit:") - 1;

// "512,256": each a whole number in [1, INT_MAX] (BLAS takes int dimensions). A sign, a fraction or a
// number past the range is refused here, before it can wrap or overflow a product.
// "" is no hidden layer; otherwise every comma-separated entry is a size ("8,,4" and "8,4," refused).
std::vector<std::size_t> parse_sizes(const std::string& s) {
  std::vector<std::size_t> v;
  for (std::size_t at = 0; !s.empty() && at <= s.size();) {
    const std::size_t comma = std::min(s.find(',', at), s.size());
    const std::string item = s.substr(at, comma - at);
    at = comma + 1;
    if (item.empty()) throw CollectiveError("--hidden: an empty entry in '" + s + "'");
    std::uint64_t x = 0;
    const auto res = std::from_chars(item.data(), item.data() + item.size(), x);
    const bool digits = !item.empty() && std::all_of(item.begin(), item.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
    if (!digits || res.ec != std::errc() || x == 0)
      throw CollectiveError("--hidden: '" + item + "' is not a positive integer");
    if (x > static_cast<std::uint64_t>(std::numeric_limits<int>::max()))
      throw CollectiveError("--hidden: " + item + " is larger than " + std::to_string(std::numeric_limits<int>::max()) +
                            ", the largest layer BLAS can multiply");
    v.push_back(static_cast<std::size_t>(x));
  }
  return v;
}

// Every numeric flag is read as text and converted here, so that a value that does not parse is
// refused with its flag named ("--epochs: '-1' is not a whole number in [0, ...]"), not with cxxopts'
// anonymous "Argument '-1' failed to parse". Ranges are checked later, in one place (validate_config).
struct Flags {
  const cxxopts::ParseResult& r;
  std::string text(const char* f) const { return r[f].as<std::string>(); }
  [[noreturn]] void bad(const char* f, const std::string& v, const char* what) const {
    throw CollectiveError(std::string("--") + f + ": '" + v + "' is not " + what);
  }
  double real(const char* f) const {
    const std::string s = text(f);
    double v = 0;
    const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || res.ec != std::errc() || res.ptr != s.data() + s.size() || !std::isfinite(v))
      bad(f, s, "a finite number");
    return v;
  }
  float real32(const char* f) const {
    const double v = real(f);
    if (std::fabs(v) > double(std::numeric_limits<float>::max())) bad(f, text(f), "a finite number in float32");
    return static_cast<float>(v);
  }
  // least: the smallest value the flag takes, named in the message (the range itself is checked later).
  std::uint64_t whole(const char* f, std::uint64_t least = 0) const {
    const std::string s = text(f);
    std::uint64_t v = 0;
    const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || s[0] == '-' || res.ec != std::errc() || res.ptr != s.data() + s.size())
      bad(f, s, ("a whole number in [" + std::to_string(least) + ", 18446744073709551615]").c_str());
    return v;
  }
  int integer(const char* f) const {
    const std::string s = text(f);
    int v = 0;
    const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || res.ec != std::errc() || res.ptr != s.data() + s.size()) bad(f, s, "an integer");
    return v;
  }
};

// "C,H,W": three whole numbers of at least 1 (empty: none given).
Shape parse_shape(const std::string& s) {
  if (s.empty()) return {0, 0, 0};
  std::size_t v[3] = {};
  std::size_t at = 0, i = 0;
  for (; i < 3 && at <= s.size(); ++i) {
    const std::size_t comma = std::min(s.find(',', at), s.size());
    std::uint64_t x = 0;
    const auto [end, ec] = std::from_chars(s.data() + at, s.data() + comma, x);
    if (comma == at || ec != std::errc() || end != s.data() + comma || x == 0 || x > (1u << 24)) break;
    v[i] = static_cast<std::size_t>(x);
    at = comma + 1;
  }
  if (i != 3 || at != s.size() + 1) throw CollectiveError("--input-shape: '" + s + "' is not C,H,W (three whole numbers)");
  return {v[0], v[1], v[2]};
}

bool parse_on_off(const std::string& v, const char* flag) {
  if (v == "on" || v == "true" || v == "1") return true;
  if (v == "off" || v == "false" || v == "0") return false;
  throw CollectiveError(std::string(flag) + ": expected on or off, got '" + v + "'");
}

// Every flag: its name, help text and default (c: the defaults), in the groups --help shows.
cxxopts::Options flag_table(const Config& c) {
  cxxopts::Options o("bptrain", "Data-parallel MLP trainer (backprop over MPI). Run as: mpirun -np N bptrain [options]");
  o.set_width(110);
  // clang-format off
  o.add_options("Data")
    ("train", "training set: a directory of IDX files (train-*-idx?-ubyte[.gz]), an IDX images file, or synthetic:N,D,K", cxxopts::value<std::string>()->default_value(c.train))
    ("test", "test set (default: the t10k files beside IDX training files; CSV and HDF5: none with --val-fraction, which then gives the figures)", cxxopts::value<std::string>()->default_value(""))
    ("format", "input format: auto (from the path and content), idx, csv, hdf5", cxxopts::value<std::string>()->default_value("auto"))
    ("task", "auto (integer labels: classification, else regression; with --loss mse: regression), classification, regression", cxxopts::value<std::string>()->default_value("auto"))
    ("label-column", "CSV: the label column, by header name or 0-based index (default: the last)", cxxopts::value<std::string>()->default_value(""))
    ("csv-delimiter", "CSV: the field separator: auto (from the first line: comma, semicolon, tab or |), or one of ',' ';' tab '|'", cxxopts::value<std::string>()->default_value("auto"))
    ("csv-header", "CSV: is the first line a header? auto (yes if it is not all numbers, or if it counts the columns 0,1,2,... or 1,2,3,...), yes, no", cxxopts::value<std::string>()->default_value("auto"))
    ("stream", "HDF5: keep only the current and the next batch of rows in memory, read ahead from the file")
    ("normalize", "input scaling from the training set: standard (per-feature mean/std), unit (bytes/255; floats min-max to [0,1]; the default before 2026-12-05), none; --resume: the checkpoint's unless given", cxxopts::value<std::string>()->default_value("standard"))
    ("normalize-targets", "regression targets as the model learns them: auto (standard for regression), standard (per-target mean/std of the training set, kept in the checkpoint; predictions and RMSE in the targets' own units), none; --resume: the checkpoint's unless given", cxxopts::value<std::string>()->default_value("auto"))
    ("val-fraction", "hold out this seeded fraction of the training set for validation (early stopping watches it)", cxxopts::value<std::string>()->default_value("0"));
  o.add_options("Model")
    ("hidden", "hidden dense layer sizes, comma separated (input and output sizes come from the data); --layers A,B,... for other layers", cxxopts::value<std::string>()->default_value("512,256"))
    ("layers", "the hidden layers from the input, comma separated, instead of --hidden: conv<K>:<C>[:s<S>][:valid] (KxK convolution, C channels, stride S, zero padding (K-1)/2 unless valid, then the activation), maxpool<K>, avgpool<K> (KxK windows, stride K), dense:<N>; the first dense layer after a convolution or pooling flattens (C, H, W order); the output layer is implicit", cxxopts::value<std::string>()->default_value(""))
    ("input-shape", "a sample's shape C,H,W for CSV, HDF5 and synthetic: rows (C*H*W values in C, H, W order); IDX images give theirs", cxxopts::value<std::string>()->default_value(""))
    ("activation", "hidden activation: relu, leaky_relu, tanh, sigmoid, identity", cxxopts::value<std::string>()->default_value("relu"))
    ("loss", "loss: cross_entropy (fused softmax), mse", cxxopts::value<std::string>()->default_value("cross_entropy"))
    ("init", "weight init: xavier_uniform, xavier_normal, he_uniform, he_normal", cxxopts::value<std::string>()->default_value("he_uniform"))
    ("dropout", "inverted dropout probability on hidden activations", cxxopts::value<std::string>()->default_value("0"))
    ("input-dropout", "inverted dropout probability on the input features", cxxopts::value<std::string>()->default_value("0"))
    ("label-smoothing", "train the cross-entropy against (1-e) one-hot + e/classes", cxxopts::value<std::string>()->default_value("0"))
    ("augment-shift", "images: shift each training sample by up to N pixels each way (drawn per step)", cxxopts::value<std::string>()->default_value("0"))
    ("augment-flip", "images: mirror each training sample left-right with probability 1/2 (drawn per step)");
  o.add_options("Optimisation")
    ("optimizer", "sgd, momentum, nesterov, adam, adamw, lars (momentum with per-layer trust ratios: You et al. 2017), lamb (Adam with per-layer trust ratios: You et al. 2019)", cxxopts::value<std::string>()->default_value("adam"))
    ("lr", "learning rate", cxxopts::value<std::string>()->default_value("0.001"))
    ("momentum", "momentum for momentum/nesterov", cxxopts::value<std::string>()->default_value("0.9"))
    ("beta1", "Adam beta1", cxxopts::value<std::string>()->default_value("0.9"))
    ("beta2", "Adam beta2", cxxopts::value<std::string>()->default_value("0.999"))
    ("eps", "Adam epsilon", cxxopts::value<std::string>()->default_value("1e-8"))
    ("weight-decay", "L2 weight decay (decoupled for adamw; lars and lamb: inside the trust-ratio'd update, weights only)", cxxopts::value<std::string>()->default_value("0"))
    ("trust-coef", "lars: the trust coefficient eta of the local learning rate eta*|w|/(|g|+wd*|w|)", cxxopts::value<std::string>()->default_value("0.001"))
    ("clip-grad-norm", "clip the averaged gradient to this global norm (0: off)", cxxopts::value<std::string>()->default_value("0"))
    ("lr-schedule", "constant, step, cosine", cxxopts::value<std::string>()->default_value("constant"))
    ("lr-warmup-epochs", "linear LR warm-up from lr/steps to lr over this many epochs", cxxopts::value<std::string>()->default_value("0"))
    ("lr-step-epochs", "step schedule: multiply by --lr-gamma every this many epochs", cxxopts::value<std::string>()->default_value("10"))
    ("lr-gamma", "step schedule factor", cxxopts::value<std::string>()->default_value("0.1"))
    ("batch-size", "global mini-batch size (dataset size: full batch; 1: SGD)", cxxopts::value<std::string>()->default_value("128"))
    ("epochs", "epochs", cxxopts::value<std::string>()->default_value("10"))
    ("max-steps", "stop after this many optimizer steps in all (0: no limit)", cxxopts::value<std::string>()->default_value("0"))
    ("seed", "seed for initial weights, sample order and dropout", cxxopts::value<std::string>()->default_value("42"))
    ("patience", "early stopping: stop after this many epochs without a gain in validation accuracy (test accuracy without --val-fraction; -RMSE for regression) (0: off)", cxxopts::value<std::string>()->default_value("0"))
    ("min-delta", "early stopping: smallest gain that counts", cxxopts::value<std::string>()->default_value("0"))
    ("tol", "stop when the training loss changes by less than this over an epoch (0: off)", cxxopts::value<std::string>()->default_value("0"));
  o.add_options("Parallel")
    ("bucket-mb", "gradient bucket size in MiB for the fused allreduce", cxxopts::value<std::string>()->default_value("2"))
    ("reducer", "each bucket's sum: auto (by rank count, ranks per node and bucket size), ring, rhd (recursive halving and doubling), hier (inside each node, then across nodes)", cxxopts::value<std::string>()->default_value("auto"))
    ("overlap", "on: overlap the gradient sums with backward and shard the optimizer step over the ranks; off: blocking sums after backward, every rank runs the whole step", cxxopts::value<std::string>()->default_value("on"))
    ("gather-overlap", "on: the sharded optimizer's weight gather runs on under the next step's data assembly, polled between its pieces, and completes before the forward pass; off: completed at the end of each step; auto: on when the ranks span more than one node. The same weights either way", cxxopts::value<std::string>()->default_value("auto"))
    ("grad-compression", "none, or bf16: the gradients' reduce-scatter sends bfloat16 (half the bytes), summed in float; the weights gathered in float. Changes the trajectory; not with --deterministic", cxxopts::value<std::string>()->default_value("none"))
    ("check-every", "compare a checksum of every rank's weights every N steps (0: only at the end)", cxxopts::value<std::string>()->default_value("100"))
    ("scale-lr", "none, or linear: lr x ranks, ramped up over --warmup-epochs (Goyal et al. 2017)", cxxopts::value<std::string>()->default_value("none"))
    ("warmup-epochs", "gradual warm-up for --scale-lr linear", cxxopts::value<std::string>()->default_value("5"))
    ("accumulate", "micro-batches per rank per step: each rank runs backward on K slices of its share, summing their gradients, and the sum over ranks starts with the last (activation memory of one slice)", cxxopts::value<std::string>()->default_value("1"))
    ("deterministic", "bitwise reproducible and independent of the rank count (power-of-two ranks)")
    ("micro-shards", "--deterministic: fixed micro-shards per global batch (power of two)", cxxopts::value<std::string>()->default_value("16"))
    ("blas-threads", "OpenBLAS threads per rank", cxxopts::value<std::string>()->default_value("1"))
    ("stall-timeout", "end the job (exit 4, one line naming the silent ranks, their hosts and last phase) when any wait lasts this many seconds; a warning at half of it (0: off)", cxxopts::value<std::string>()->default_value("300"));
  o.add_options("Checkpoints")
    ("checkpoint", "checkpoint file (HDF5; layout in docs/checkpoint.md); written at the cadences below and at the end", cxxopts::value<std::string>()->default_value(""))
    ("checkpoint-every", "also write one every N optimizer steps (0: off)", cxxopts::value<std::string>()->default_value("0"))
    ("checkpoint-every-epochs", "also write one every N epochs (0: off)", cxxopts::value<std::string>()->default_value("0"))
    ("keep", "keep the last K checkpoints: FILE, FILE.1, ..., FILE.(K-1)", cxxopts::value<std::string>()->default_value("1"))
    ("keep-best", "with --checkpoint FILE.h5: also the weights of the best epoch so far (validation accuracy, -RMSE in regression; the test set without --val-fraction) in FILE.best.h5, written when an epoch beats the best by more than --min-delta")
    ("resume", "continue exactly from this checkpoint (--epochs counts from the original start)", cxxopts::value<std::string>()->default_value(""))
    ("evaluate", "evaluate this checkpoint on --test and print one JSON line; no training. The file is read as the training file was (label column, separator, header, task: the checkpoint's, unless given now); a header naming other columns, or the same in another order, is refused; a CSV of the model's inputs alone (no label column) gives --predict's predictions", cxxopts::value<std::string>()->default_value(""))
    ("confusion", "--evaluate: add the confusion matrix (rows: true class)")
    ("predict", "--evaluate: write predictions to this CSV file (index,prediction,label; regression: index,prediction,target, or prediction_k and target_k for K targets)", cxxopts::value<std::string>()->default_value(""))
    ("predict-proba", "--predict: add each class's probability (columns p_0 .. p_K-1: the softmax of the outputs; models trained with cross-entropy)");
  o.add_options("Health")
    ("on-nonfinite", "a non-finite loss or gradient: stop (with the step and layer named), or skip the step (counted)", cxxopts::value<std::string>()->default_value("stop"))
    ("grad-stats", "per-layer gradient and weight norms in the metrics")
    ("grad-warn-low", "warn when a layer's gradient norm stays below this (vanishing)", cxxopts::value<std::string>()->default_value("1e-7"))
    ("grad-warn-high", "warn when a layer's gradient norm stays above this (exploding)", cxxopts::value<std::string>()->default_value("1e4"))
    ("grad-warn-steps", "... for this many steps in a row (0: never warn)", cxxopts::value<std::string>()->default_value("50"));
  o.add_options("Output")
    ("metrics", "write one JSON object per epoch to this file (rank 0); an epoch cut short by --max-steps has \"partial\":true and is written again, whole, by the resumed run", cxxopts::value<std::string>()->default_value(""))
    ("eval-batch", "evaluation batch per rank", cxxopts::value<std::string>()->default_value("1024"))
    ("profile", "write every rank's per-step times (compute, communication wait, optimizer, data; compute split into forward and backward) to this CSV, via rank 0", cxxopts::value<std::string>()->default_value(""))
    ("timeline", "write a Chrome trace-event JSON of every rank's steps to this file, via rank 0 (open in Perfetto or chrome://tracing; docs/timeline.md)", cxxopts::value<std::string>()->default_value(""))
    ("progress", "which lines a run shows: step (a line every tenth of an epoch, and each epoch's), epoch (each epoch's), none (neither: the start, notes and the done line); whole lines, never carriage returns, so a batch log reads as the terminal did", cxxopts::value<std::string>()->default_value("step"))
    ("quiet", "only the final summary line")
    ("version", "print the version and the commit the binary was built from, and exit")
    ("h,help", "print this help and exit");
  o.add_options("Testing")
    ("fail-rank", "fault injection: this rank throws at --fail-at-step (-1: off)", cxxopts::value<std::string>()->default_value("-1"))
    ("fail-at-step", "fault injection: the step at which --fail-rank throws", cxxopts::value<std::string>()->default_value("0"))
    ("nan-rank", "fault injection: this rank's gradient gets a NaN at --nan-at-step (-1: off)", cxxopts::value<std::string>()->default_value("-1"))
    ("nan-at-step", "fault injection: the step at which --nan-rank's gradient gets a NaN", cxxopts::value<std::string>()->default_value("0"));
  // clang-format on
  return o;
}

// The flags' values into c and ev, each converted with its flag named when it does not parse.
void read_flags(const cxxopts::ParseResult& r, Config& c, EvalOptions& ev) {
  try {
    const Flags f{r};
    c.train = f.text("train");
    c.test = f.text("test");
    c.load.format = parse_format(f.text("format"));
    c.load.task = parse_task(f.text("task"));
    c.load.label_column = f.text("label-column");
    c.load.stream = r.count("stream") > 0;
    c.load.delimiter = parse_delimiter(f.text("csv-delimiter"));
    c.load.header = parse_header(f.text("csv-header"));
    c.normalize = parse_normalize(f.text("normalize"));
    c.val_fraction = f.real("val-fraction");
    const std::string nt = f.text("normalize-targets");
    if (nt != "auto" && nt != "none" && nt != "standard")
      throw CollectiveError("--normalize-targets: expected auto, standard or none, got '" + nt + "'");
    c.normalize_targets = nt == "none"       ? Config::TargetScaling::None
                          : nt == "standard" ? Config::TargetScaling::Standard
                                             : Config::TargetScaling::Auto;
    const std::string layers = f.text("layers");
    if (!layers.empty()) {
      if (r.count("hidden")) throw CollectiveError("--layers and --hidden: give one (--hidden A,B is --layers dense:A,dense:B)");
      try {
        c.layers = parse_layers(layers);
      } catch (const Error& e) {
        throw CollectiveError(std::string("--layers: ") + e.what());
      }
    } else {
      c.layers.clear();
      for (std::size_t h : parse_sizes(f.text("hidden"))) c.layers.push_back({LayerKind::Dense, h});
    }
    c.input_shape = parse_shape(f.text("input-shape"));
    c.activation = parse_activation(f.text("activation"));
    c.loss = parse_loss(f.text("loss"));
    // A user who asks for MSE on a column of numbers means regression, whole numbers or not (--task
    // classification keeps MSE on one-hot class labels, the textbook form). Said in the banner.
    if (c.loss == Loss::Mse && c.load.task == Task::Auto) {
      c.load.task = Task::Regression;
      c.task_from_loss = true;
    }
    c.init = parse_init(f.text("init"));
    c.dropout = f.real32("dropout");
    c.input_dropout = f.real32("input-dropout");
    c.label_smoothing = f.real32("label-smoothing");
    c.augment_shift = f.integer("augment-shift");
    c.augment_flip = r.count("augment-flip") > 0;
    c.optim.kind = parse_optimizer(f.text("optimizer"));
    c.lr = f.real32("lr");
    c.optim.momentum = f.real32("momentum");
    c.optim.beta1 = f.real32("beta1");
    c.optim.beta2 = f.real32("beta2");
    c.optim.eps = f.real32("eps");
    c.optim.weight_decay = f.real32("weight-decay");
    c.optim.trust_coef = f.real32("trust-coef");
    c.clip_grad_norm = f.real("clip-grad-norm");
    c.lr_schedule = parse_lr_schedule(f.text("lr-schedule"));
    c.warmup_epochs_lr = f.real("lr-warmup-epochs");
    c.lr_step_epochs = f.whole("lr-step-epochs", 1);
    c.lr_gamma = f.real32("lr-gamma");
    c.batch_size = f.whole("batch-size", 1);
    c.epochs = f.whole("epochs", 1);
    c.max_steps = f.whole("max-steps");
    c.seed = f.whole("seed");
    c.load.seed = c.seed;
    c.patience = f.whole("patience");
    c.min_delta = f.real("min-delta");
    c.tol = f.real("tol");
    c.bucket_mb = f.real("bucket-mb");
    c.reducer = parse_algorithm(f.text("reducer"));
    c.overlap = parse_on_off(f.text("overlap"), "--overlap");
    const std::string go = f.text("gather-overlap");
    if (go != "auto" && go != "on" && go != "off")
      throw CollectiveError("--gather-overlap: expected auto, on or off, got '" + go + "'");
    c.gather_overlap = go == "auto" ? Config::GatherOverlap::Auto : go == "on" ? Config::GatherOverlap::On : Config::GatherOverlap::Off;
    const std::string gc = f.text("grad-compression");
    if (gc != "none" && gc != "bf16") throw CollectiveError("--grad-compression: expected none or bf16, got '" + gc + "'");
    c.grad_bf16 = gc == "bf16";
    c.check_every = f.whole("check-every");
    const std::string scale = f.text("scale-lr");
    if (scale != "none" && scale != "linear") throw CollectiveError("--scale-lr: expected none or linear, got '" + scale + "'");
    c.scale_lr_linear = scale == "linear";
    c.warmup_epochs = f.real("warmup-epochs");
    c.deterministic = r.count("deterministic") > 0;
    c.micro_shards = f.whole("micro-shards");
    c.accumulate = f.whole("accumulate", 1);
    c.blas_threads = f.integer("blas-threads");
    c.stall_timeout = f.real("stall-timeout");
    c.metrics = f.text("metrics");
    c.profile = f.text("profile");
    c.timeline = f.text("timeline");
    c.eval_batch = f.whole("eval-batch");
    c.quiet = r.count("quiet") > 0;
    const std::string pr = f.text("progress");
    if (pr != "step" && pr != "epoch" && pr != "none")
      throw CollectiveError("--progress: expected step, epoch or none, got '" + pr + "'");
    c.progress = pr == "step" ? Config::Progress::Step : pr == "epoch" ? Config::Progress::Epoch : Config::Progress::None;
    c.checkpoint = f.text("checkpoint");
    c.checkpoint_every = f.whole("checkpoint-every");
    c.checkpoint_every_epochs = f.whole("checkpoint-every-epochs");
    c.keep = f.whole("keep");
    c.keep_best = r.count("keep-best") > 0;
    c.resume = f.text("resume");
    ev.checkpoint = f.text("evaluate");
    ev.confusion = r.count("confusion") > 0;
    ev.probabilities = r.count("predict-proba") > 0;
    ev.predict = f.text("predict");
    for (const char* flag : {"format", "task", "label-column", "csv-delimiter", "csv-header", "normalize", "normalize-targets"})
      if (r.count(flag)) ev.given.emplace_back(flag);
    const std::string nf = f.text("on-nonfinite");
    if (nf != "stop" && nf != "skip") throw CollectiveError("--on-nonfinite: expected stop or skip, got '" + nf + "'");
    c.on_nonfinite_skip = nf == "skip";
    c.grad_stats = r.count("grad-stats") > 0;
    c.grad_warn_low = f.real("grad-warn-low");
    c.grad_warn_high = f.real("grad-warn-high");
    c.grad_warn_steps = f.whole("grad-warn-steps");
    c.nan_rank = f.integer("nan-rank");
    c.nan_at_step = f.whole("nan-at-step");
    c.fail_rank = f.integer("fail-rank");
    c.fail_at_step = f.whole("fail-at-step");
  } catch (const CollectiveError&) {
    throw;
  } catch (const Error& e) {
    throw CollectiveError(e.what());
  } catch (const cxxopts::exceptions::exception& e) {
    throw CollectiveError(std::string(e.what()) + " (see bptrain --help)");
  }
}

}  // namespace

bool parse(int argc, char** argv, Config& c, EvalOptions& ev, bool root, FlagTexts& flags) {
  cxxopts::Options o = flag_table(c);
  cxxopts::ParseResult r;
  try {
    r = o.parse(argc, argv);
  } catch (const cxxopts::exceptions::exception& e) {
    throw CollectiveError(std::string(e.what()) + " (see bptrain --help)");
  }
  flags.clear();
  for (const std::string& g : o.groups())
    for (const cxxopts::HelpOptionDetails& d : o.group_help(g).options) {
      const std::string& name = d.l.front();
      flags.emplace_back("--" + name, d.is_boolean ? (r.count(name) ? "on" : "off") : r[name].as<std::string>());
    }
  if (r.count("help")) {
    if (root)
      std::printf("%s\nExit status: 0 done, 1 a runtime error (one line names the rank), 2 a usage or configuration error, 3 the loss or gradients stopped being finite, 4 a rank stalled (--stall-timeout), 75 stopped by SIGTERM, SIGUSR1 or SIGINT (Ctrl-C; a second one ends at once) after writing the checkpoint (resume with --resume); without --checkpoint, 128 + the signal's number (130 for Ctrl-C; 143 on the ranks it did not reach). Under mpirun, signal the ranks (scancel --signal, kill): a signalled mpirun ends the job with its own status.\n",
                  o.help({"Data", "Model", "Optimisation", "Parallel", "Checkpoints", "Health", "Output", "Testing"}).c_str());
    return false;
  }
  if (r.count("version")) {
    if (root) std::printf("bptrain %s (commit %s)\n", BPT_VERSION, kCommitMark + kCommitAt);
    return false;
  }
  if (!r.unmatched().empty()) throw CollectiveError("unexpected argument '" + r.unmatched()[0] + "' (see bptrain --help)");
  read_flags(r, c, ev);
  if (ev.probabilities && ev.predict.empty()) throw CollectiveError("--predict-proba needs --predict FILE");
  if (ev.checkpoint.empty() && (ev.confusion || !ev.predict.empty()))
    throw CollectiveError(std::string(ev.confusion ? "--confusion" : "--predict") + " needs --evaluate CHECKPOINT");
  return true;
}

}  // namespace bpt
