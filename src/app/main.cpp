// bptrain: the command line. The only file that sees cxxopts.
#include <cxxopts.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "bpt/core/error.hpp"
#include "bpt/data/dataset.hpp"
#include "bpt/comm/comm.hpp"
#include "bpt/io/checkpoint.hpp"
#include "bpt/io/json.hpp"
#include "bpt/train/trainer.hpp"

namespace {

using namespace bpt;

constexpr int kExitError = 1;  // 2 (usage) and 3 (numeric) come with their CollectiveError
constexpr int kExitCheckpointed = 75;  // EX_TEMPFAIL: stopped by a signal after writing a checkpoint; resume

// The one piece of global state: what a signal handler may touch.
volatile int g_stop = 0;
extern "C" void on_stop_signal(int) { g_stop = 1; }

std::vector<std::size_t> parse_sizes(const std::string& s) {
  std::vector<std::size_t> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    std::size_t used = 0;
    unsigned long long x = 0;
    try {
      x = std::stoull(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || x == 0) throw CollectiveError("--hidden: '" + item + "' is not a positive integer");
    v.push_back(static_cast<std::size_t>(x));
  }
  return v;
}

bool parse_on_off(const std::string& v, const char* flag) {
  if (v == "on" || v == "true" || v == "1") return true;
  if (v == "off" || v == "false" || v == "0") return false;
  throw CollectiveError(std::string(flag) + ": expected on or off, got '" + v + "'");
}

// What the command line asks for besides training: --evaluate and its options.
struct EvalOptions {
  std::string checkpoint, predict;
  bool confusion = false;
};

// Returns false when the program should exit 0 without training (--help, --version).
bool parse(int argc, char** argv, Config& c, EvalOptions& ev, bool root) {
  cxxopts::Options o("bptrain", "Data-parallel MLP trainer (backprop over MPI). Run as: mpirun -np N bptrain [options]");
  o.set_width(110);
  // clang-format off
  o.add_options("Data")
    ("train", "training set: a directory of IDX files (train-*-idx?-ubyte[.gz]), an IDX images file, or synthetic:N,D,K", cxxopts::value<std::string>()->default_value(c.train))
    ("test", "test set (default: the t10k files beside the training files)", cxxopts::value<std::string>()->default_value(""))
    ("format", "input format: auto (from the path and content), idx, csv, hdf5", cxxopts::value<std::string>()->default_value("auto"))
    ("task", "auto (integer labels: classification, else regression), classification, regression", cxxopts::value<std::string>()->default_value("auto"))
    ("label-column", "CSV: the label column, by header name or 0-based index (default: the last)", cxxopts::value<std::string>()->default_value(""))
    ("stream", "HDF5: keep only the current and the next batch of rows in memory, read ahead from the file")
    ("normalize", "input scaling from the training set: none, unit (bytes/255; floats min-max to [0,1]), standard (per-feature mean/std)", cxxopts::value<std::string>()->default_value("unit"))
    ("val-fraction", "hold out this seeded fraction of the training set for validation (early stopping watches it)", cxxopts::value<double>()->default_value("0"));
  o.add_options("Model")
    ("hidden", "hidden layer sizes, comma separated (input and output sizes come from the data)", cxxopts::value<std::string>()->default_value("512,256"))
    ("activation", "hidden activation: relu, leaky_relu, tanh, sigmoid, identity", cxxopts::value<std::string>()->default_value("relu"))
    ("loss", "loss: cross_entropy (fused softmax), mse", cxxopts::value<std::string>()->default_value("cross_entropy"))
    ("init", "weight init: xavier_uniform, xavier_normal, he_uniform, he_normal", cxxopts::value<std::string>()->default_value("he_uniform"))
    ("dropout", "inverted dropout probability on hidden activations", cxxopts::value<float>()->default_value("0"));
  o.add_options("Optimisation")
    ("optimizer", "sgd, momentum, nesterov, adam, adamw", cxxopts::value<std::string>()->default_value("adam"))
    ("lr", "learning rate", cxxopts::value<float>()->default_value("0.001"))
    ("momentum", "momentum for momentum/nesterov", cxxopts::value<float>()->default_value("0.9"))
    ("beta1", "Adam beta1", cxxopts::value<float>()->default_value("0.9"))
    ("beta2", "Adam beta2", cxxopts::value<float>()->default_value("0.999"))
    ("eps", "Adam epsilon", cxxopts::value<float>()->default_value("1e-8"))
    ("weight-decay", "L2 weight decay (decoupled for adamw)", cxxopts::value<float>()->default_value("0"))
    ("clip-grad-norm", "clip the averaged gradient to this global norm (0: off)", cxxopts::value<double>()->default_value("0"))
    ("lr-schedule", "constant, step, cosine", cxxopts::value<std::string>()->default_value("constant"))
    ("lr-warmup-epochs", "linear LR warm-up from lr/steps to lr over this many epochs", cxxopts::value<double>()->default_value("0"))
    ("lr-step-epochs", "step schedule: multiply by --lr-gamma every this many epochs", cxxopts::value<std::uint64_t>()->default_value("10"))
    ("lr-gamma", "step schedule factor", cxxopts::value<float>()->default_value("0.1"))
    ("batch-size", "global mini-batch size (dataset size: full batch; 1: SGD)", cxxopts::value<std::size_t>()->default_value("128"))
    ("epochs", "epochs", cxxopts::value<std::size_t>()->default_value("10"))
    ("max-steps", "stop after this many optimizer steps in all (0: no limit)", cxxopts::value<std::uint64_t>()->default_value("0"))
    ("seed", "seed for initial weights, sample order and dropout", cxxopts::value<std::uint64_t>()->default_value("42"))
    ("patience", "early stopping: stop after this many epochs without test-accuracy gain (0: off)", cxxopts::value<std::size_t>()->default_value("0"))
    ("min-delta", "early stopping: smallest gain that counts", cxxopts::value<double>()->default_value("0"))
    ("tol", "stop when the training loss changes by less than this over an epoch (0: off)", cxxopts::value<double>()->default_value("0"));
  o.add_options("Parallel")
    ("bucket-mb", "gradient bucket size in MiB for the fused allreduce", cxxopts::value<double>()->default_value("2"))
    ("reducer", "each bucket's sum: auto (by rank count, ranks per node and bucket size), ring, rhd (recursive halving and doubling), hier (inside each node, then across nodes)", cxxopts::value<std::string>()->default_value("auto"))
    ("overlap", "on: overlap the gradient sums with backward and shard the optimizer step over the ranks; off: blocking sums after backward, every rank runs the whole step", cxxopts::value<std::string>()->default_value("on"))
    ("check-every", "compare a checksum of every rank's weights every N steps (0: only at the end)", cxxopts::value<std::uint64_t>()->default_value("100"))
    ("scale-lr", "none, or linear: lr x ranks, ramped up over --warmup-epochs (Goyal et al. 2017)", cxxopts::value<std::string>()->default_value("none"))
    ("warmup-epochs", "gradual warm-up for --scale-lr linear", cxxopts::value<double>()->default_value("5"))
    ("deterministic", "bitwise reproducible and independent of the rank count (power-of-two ranks)")
    ("micro-shards", "--deterministic: fixed micro-shards per global batch (power of two)", cxxopts::value<std::size_t>()->default_value("16"))
    ("blas-threads", "OpenBLAS threads per rank", cxxopts::value<int>()->default_value("1"));
  o.add_options("Checkpoints")
    ("checkpoint", "checkpoint file (HDF5; layout in docs/checkpoint.md); written at the cadences below and at the end", cxxopts::value<std::string>()->default_value(""))
    ("checkpoint-every", "also write one every N optimizer steps (0: off)", cxxopts::value<std::uint64_t>()->default_value("0"))
    ("checkpoint-every-epochs", "also write one every N epochs (0: off)", cxxopts::value<std::uint64_t>()->default_value("0"))
    ("keep", "keep the last K checkpoints: FILE, FILE.1, ..., FILE.(K-1)", cxxopts::value<std::size_t>()->default_value("1"))
    ("resume", "continue exactly from this checkpoint (--epochs counts from the original start)", cxxopts::value<std::string>()->default_value(""))
    ("evaluate", "evaluate this checkpoint on --test and print one JSON line; no training", cxxopts::value<std::string>()->default_value(""))
    ("confusion", "--evaluate: add the confusion matrix (rows: true class)")
    ("predict", "--evaluate: write predictions to this CSV file (index,prediction[,label])", cxxopts::value<std::string>()->default_value(""));
  o.add_options("Health")
    ("on-nonfinite", "a non-finite loss or gradient: stop (with the step and layer named), or skip the step (counted)", cxxopts::value<std::string>()->default_value("stop"))
    ("grad-stats", "per-layer gradient and weight norms in the metrics")
    ("grad-warn-low", "warn when a layer's gradient norm stays below this (vanishing)", cxxopts::value<double>()->default_value("1e-7"))
    ("grad-warn-high", "warn when a layer's gradient norm stays above this (exploding)", cxxopts::value<double>()->default_value("1e4"))
    ("grad-warn-steps", "... for this many steps in a row (0: never warn)", cxxopts::value<std::uint64_t>()->default_value("50"));
  o.add_options("Output")
    ("metrics", "write one JSON object per epoch to this file (rank 0)", cxxopts::value<std::string>()->default_value(""))
    ("eval-batch", "evaluation batch per rank", cxxopts::value<std::size_t>()->default_value("1024"))
    ("profile", "write every rank's per-step times (compute, communication wait, optimizer, data) to this CSV, via rank 0", cxxopts::value<std::string>()->default_value(""))
    ("quiet", "only the final summary line")
    ("version", "print the version and exit")
    ("h,help", "print this help and exit");
  o.add_options("Testing")
    ("fail-rank", "fault injection: this rank throws at --fail-at-step (-1: off)", cxxopts::value<int>()->default_value("-1"))
    ("fail-at-step", "fault injection: the step at which --fail-rank throws", cxxopts::value<std::uint64_t>()->default_value("0"))
    ("nan-rank", "fault injection: this rank's gradient gets a NaN at --nan-at-step (-1: off)", cxxopts::value<int>()->default_value("-1"))
    ("nan-at-step", "fault injection: the step at which --nan-rank's gradient gets a NaN", cxxopts::value<std::uint64_t>()->default_value("0"));
  // clang-format on
  cxxopts::ParseResult r;
  try {
    r = o.parse(argc, argv);
  } catch (const cxxopts::exceptions::exception& e) {
    throw CollectiveError(std::string(e.what()) + " (see bptrain --help)");
  }
  if (r.count("help")) {
    if (root)
      std::printf("%s\nExit status: 0 done, 1 a runtime error (one line names the rank), 2 a usage or configuration error, 3 the loss or gradients stopped being finite, 75 stopped by SIGTERM or SIGUSR1 after writing the checkpoint (resume with --resume).\n",
                  o.help({"Data", "Model", "Optimisation", "Parallel", "Checkpoints", "Health", "Output", "Testing"}).c_str());
    return false;
  }
  if (r.count("version")) {
    if (root) std::printf("bptrain %s\n", BPT_VERSION);
    return false;
  }
  if (!r.unmatched().empty()) throw CollectiveError("unexpected argument '" + r.unmatched()[0] + "' (see bptrain --help)");
  try {
    c.train = r["train"].as<std::string>();
    c.test = r["test"].as<std::string>();
    c.load.format = parse_format(r["format"].as<std::string>());
    c.load.task = parse_task(r["task"].as<std::string>());
    c.load.label_column = r["label-column"].as<std::string>();
    c.load.stream = r.count("stream") > 0;
    c.normalize = parse_normalize(r["normalize"].as<std::string>());
    c.val_fraction = r["val-fraction"].as<double>();
    c.hidden = parse_sizes(r["hidden"].as<std::string>());
    c.activation = parse_activation(r["activation"].as<std::string>());
    c.loss = parse_loss(r["loss"].as<std::string>());
    c.init = parse_init(r["init"].as<std::string>());
    c.dropout = r["dropout"].as<float>();
    c.optim.kind = parse_optimizer(r["optimizer"].as<std::string>());
    c.lr = r["lr"].as<float>();
    c.optim.momentum = r["momentum"].as<float>();
    c.optim.beta1 = r["beta1"].as<float>();
    c.optim.beta2 = r["beta2"].as<float>();
    c.optim.eps = r["eps"].as<float>();
    c.optim.weight_decay = r["weight-decay"].as<float>();
    c.clip_grad_norm = r["clip-grad-norm"].as<double>();
    c.lr_schedule = parse_lr_schedule(r["lr-schedule"].as<std::string>());
    c.warmup_epochs_lr = r["lr-warmup-epochs"].as<double>();
    c.lr_step_epochs = r["lr-step-epochs"].as<std::uint64_t>();
    c.lr_gamma = r["lr-gamma"].as<float>();
    c.batch_size = r["batch-size"].as<std::size_t>();
    c.epochs = r["epochs"].as<std::size_t>();
    c.max_steps = r["max-steps"].as<std::uint64_t>();
    c.seed = r["seed"].as<std::uint64_t>();
    c.load.seed = c.seed;
    c.patience = r["patience"].as<std::size_t>();
    c.min_delta = r["min-delta"].as<double>();
    c.tol = r["tol"].as<double>();
    c.bucket_mb = r["bucket-mb"].as<double>();
    c.reducer = parse_algorithm(r["reducer"].as<std::string>());
    c.overlap = parse_on_off(r["overlap"].as<std::string>(), "--overlap");
    c.check_every = r["check-every"].as<std::uint64_t>();
    const std::string scale = r["scale-lr"].as<std::string>();
    if (scale != "none" && scale != "linear") throw CollectiveError("--scale-lr: expected none or linear, got '" + scale + "'");
    c.scale_lr_linear = scale == "linear";
    c.warmup_epochs = r["warmup-epochs"].as<double>();
    c.deterministic = r.count("deterministic") > 0;
    c.micro_shards = r["micro-shards"].as<std::size_t>();
    c.blas_threads = r["blas-threads"].as<int>();
    c.metrics = r["metrics"].as<std::string>();
    c.profile = r["profile"].as<std::string>();
    c.eval_batch = r["eval-batch"].as<std::size_t>();
    c.quiet = r.count("quiet") > 0;
    c.checkpoint = r["checkpoint"].as<std::string>();
    c.checkpoint_every = r["checkpoint-every"].as<std::uint64_t>();
    c.checkpoint_every_epochs = r["checkpoint-every-epochs"].as<std::uint64_t>();
    c.keep = r["keep"].as<std::size_t>();
    c.resume = r["resume"].as<std::string>();
    ev.checkpoint = r["evaluate"].as<std::string>();
    ev.confusion = r.count("confusion") > 0;
    ev.predict = r["predict"].as<std::string>();
    const std::string nf = r["on-nonfinite"].as<std::string>();
    if (nf != "stop" && nf != "skip") throw CollectiveError("--on-nonfinite: expected stop or skip, got '" + nf + "'");
    c.on_nonfinite_skip = nf == "skip";
    c.grad_stats = r.count("grad-stats") > 0;
    c.grad_warn_low = r["grad-warn-low"].as<double>();
    c.grad_warn_high = r["grad-warn-high"].as<double>();
    c.grad_warn_steps = r["grad-warn-steps"].as<std::uint64_t>();
    c.nan_rank = r["nan-rank"].as<int>();
    c.nan_at_step = r["nan-at-step"].as<std::uint64_t>();
    c.fail_rank = r["fail-rank"].as<int>();
    c.fail_at_step = r["fail-at-step"].as<std::uint64_t>();
  } catch (const CollectiveError&) {
    throw;
  } catch (const Error& e) {
    throw CollectiveError(e.what());
  } catch (const cxxopts::exceptions::exception& e) {
    throw CollectiveError(std::string(e.what()) + " (see bptrain --help)");
  }
  if (c.hidden.empty()) throw CollectiveError("--hidden: give at least one hidden layer size");
  if (c.keep == 0) throw CollectiveError("--keep must be at least 1");
  if ((c.checkpoint_every || c.checkpoint_every_epochs) && c.checkpoint.empty())
    throw CollectiveError("--checkpoint-every needs --checkpoint FILE");
  if (c.batch_size == 0) throw CollectiveError("--batch-size must be at least 1");
  if (c.epochs == 0) throw CollectiveError("--epochs must be at least 1");
  if (c.eval_batch == 0) throw CollectiveError("--eval-batch must be at least 1");
  if (!(c.bucket_mb >= 0.001)) throw CollectiveError("--bucket-mb must be at least 0.001");
  if (!(c.lr > 0)) throw CollectiveError("--lr must be positive");
  if (!(c.val_fraction >= 0 && c.val_fraction < 1)) throw CollectiveError("--val-fraction must be in [0, 1)");
  return true;
}

// Input that cannot be used (a missing or malformed file, data that does not fit) is a usage error:
// exit 2, like a bad flag.
void as_input_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const CollectiveError&) {
    throw;
  } catch (const Error& e) {
    throw CollectiveError(e.what());
  }
}

// --evaluate: one JSON line on stdout from rank 0, the work split across ranks.
void run_evaluate(const Config& cfg, const EvalOptions& ev, const Comm& world) {
  Checkpoint ck;
  Dataset test;
  agree_on_errors(world, [&] {
    as_input_error([&] {
      ck = read_checkpoint(ev.checkpoint);
      test = load_test(cfg.test, cfg.train, cfg.load);
      if (test.d != ck.spec.sizes.front())
        throw Error(test.source + ": has " + std::to_string(test.d) +
                    " features per sample, the checkpoint's model takes " + std::to_string(ck.spec.sizes.front()));
      const std::size_t outs = ck.spec.sizes.back();
      if (test.regression() ? test.target_dim != outs : test.classes > outs)
        throw Error(test.source + ": its " + (test.regression() ? "targets" : "labels") + " do not fit the model's " +
                    std::to_string(outs) + " outputs");
    });
  });
  const std::size_t outs = ck.spec.sizes.back();
  test.tf.offset = ck.offset;
  test.tf.scale = ck.scale;
  Model model(ck.spec);
  std::copy(ck.params.begin(), ck.params.end(), model.params().begin());
  EvalExtras ex;
  ex.want_confusion = ev.confusion && !test.regression();
  ex.want_predictions = !ev.predict.empty();
  const EvalResult e = evaluate_model(model, test, nullptr, world, cfg.eval_batch, &ex);
  if (world.rank() != 0) return;
  JsonLine j;
  j.add("checkpoint", ev.checkpoint).add("test", test.source).add("loss", e.loss);
  if (test.regression()) j.add("rmse", e.rmse); else j.add("accuracy", e.accuracy);
  j.add("samples", static_cast<std::uint64_t>(e.samples));
  if (ex.want_confusion) {
    std::string m = "[";
    for (std::size_t r = 0; r < outs; ++r) {
      m += r ? ",[" : "[";
      for (std::size_t c = 0; c < outs; ++c) {
        if (c) m += ',';
        m += std::to_string(static_cast<long long>(ex.confusion[r * outs + c]));
      }
      m += "]";
    }
    j.raw("confusion", m + "]");
  }
  if (ex.want_predictions) {
    std::ofstream out(ev.predict);
    if (!out) throw Error(ev.predict + ": cannot open for writing");
    const std::size_t w = test.regression() ? test.target_dim : 1;
    out << (test.regression() ? "index,prediction\n" : "index,prediction,label\n");
    for (std::size_t i = 0; i < test.n; ++i) {
      out << i;
      for (std::size_t k = 0; k < w; ++k) out << ',' << ex.predictions[i * w + k];
      if (!test.regression()) out << ',' << test.label(i);
      out << '\n';
    }
    if (!out) throw Error(ev.predict + ": write failed");
  }
  std::printf("%s\n", j.str().c_str());
}

// The one exit for errors. An error every rank saw is printed once (by rank 0, or after agreement by
// the rank that speaks for each group of ranks); an error of one rank is printed by that rank. Then
// MPI_Abort, so that no rank is left waiting. An agreed error needs no abort: every rank is here, so
// all leave through MPI_Finalize with the code (an abort can lose the speaker's line: MPICH's Hydra
// dropped it about one time in eight). For an error every rank raises without agreement, only rank 0
// aborts at once, so that no other rank's abort kills it before its line is out.
// Returns the exit code in a one-rank job and after an agreed error.
int fail(const Comm& world, int code, bool agreed, bool collective) {
  if (world.size() == 1) return code;
  if (agreed) {
    try {
      world.barrier();  // every rank is here (they agreed): let each speaker finish its line first
      return code;
    } catch (const std::exception&) {
    }
  }
  if (world.rank() == 0 || !collective) world.abort(code);
  std::this_thread::sleep_for(std::chrono::seconds(10));  // rank 0's abort ends us first
  world.abort(code);
}

void say(const std::string& where, const char* what) {
  std::fprintf(stderr, "bptrain: error%s%s: %s\n", where.empty() ? "" : " ", where.c_str(), what);
  std::fflush(stderr);
}

}  // namespace

int main(int argc, char** argv) {
  MpiEnv env(&argc, &argv);
  const Comm world = Comm::world();
  const bool root = world.rank() == 0;
  const std::string all_ranks = world.size() > 1 ? "(all " + std::to_string(world.size()) + " ranks)" : "";
  try {
    Config cfg;
    EvalOptions ev;
    bool go = true;  // a bad command line is agreed like bad input: one line, exit 2
    agree_on_errors(world, [&] { as_input_error([&] { go = parse(argc, argv, cfg, ev, root); }); });
    if (!go) return 0;
    if (!ev.checkpoint.empty()) {
      run_evaluate(cfg, ev, world);
      return 0;
    }
    // SLURM and PBS send SIGTERM (or a chosen signal, often USR1) before a job's time runs out.
    std::signal(SIGTERM, on_stop_signal);
    std::signal(SIGUSR1, on_stop_signal);
    Dataset train, test;
    agree_on_errors(world, [&] {
      as_input_error([&] {
        train = load_train(cfg.train, cfg.load);
        test = load_test(cfg.test, cfg.train, cfg.load);
      });
    });
    Trainer trainer(cfg, world, std::move(train), std::move(test));
    if (!cfg.resume.empty()) {
      Checkpoint ck;
      agree_on_errors(world, [&] { as_input_error([&] { ck = read_checkpoint(cfg.resume); }); });
      trainer.resume(ck);
    }
    trainer.set_stop_flag(&g_stop);
    if (trainer.run().stop_reason == "signal") return kExitCheckpointed;
  } catch (const CollectiveError& e) {
    if (e.agreed() ? e.speaks() : root) say(e.agreed() ? e.where() : all_ranks, e.what());
    return fail(world, e.exit_code(), e.agreed(), true);
  } catch (const std::exception& e) {
    say(world.size() > 1 ? "on rank " + std::to_string(world.rank()) : "", e.what());
    return fail(world, kExitError, false, false);
  }
  return 0;
}
