// bptrain: the program. Every check that can run before the data are loaded, then training (or
// --evaluate), and one exit path for every error. The command line itself is cli.cpp.
#include "cli.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iomanip>
#include <limits>
#include <thread>

#include "bpt/core/error.hpp"
#include "bpt/core/isolate.hpp"
#include "bpt/core/partial_file.hpp"
#include "bpt/core/sim_cost.hpp"
#include "bpt/data/paths.hpp"
#include "bpt/data/dataset.hpp"
#include "bpt/comm/comm.hpp"
#include "bpt/io/checkpoint.hpp"
#include "bpt/io/json.hpp"
#include "bpt/train/trainer.hpp"
#include "bpt/train/validate.hpp"

namespace {

using namespace bpt;

constexpr int kExitError = 1;  // 2 (usage) and 3 (numeric) come with their CollectiveError
constexpr int kExitStalled = 4;  // a wait outlasted --stall-timeout (comm's stall watch aborts with it)
constexpr int kExitCheckpointed = 75;  // EX_TEMPFAIL: stopped by a signal after writing a checkpoint; resume

// The one piece of global state: what a signal handler may touch. It holds the signal's number.
// A second SIGINT (Ctrl-C pressed again) ends the rank at once, removing a half-written checkpoint;
// one within a second of the first is the same Ctrl-C delivered twice (MPICH's Hydra forwards it to
// a rank that the terminal's process group already reached) and changes nothing.
volatile int g_stop = 0;
volatile long g_first_int_ms = -1;  // written by the handler only
extern "C" void on_stop_signal(int sig) {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);  // async-signal-safe
  const long ms = static_cast<long>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
  if (sig == SIGINT && g_first_int_ms >= 0 && ms - g_first_int_ms >= 1000) {
    remove_partial_file();
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
    return;
  }
  if (sig == SIGINT && g_first_int_ms < 0) g_first_int_ms = ms;
  if (g_stop == 0) g_stop = sig;
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

// f() (a read of `file`), with a crash inside it (a damaged HDF5 file that check_in_child's read
// survived) ending this rank with one line naming the file, exit 2.
template <class F>
auto guarded(const Comm& world, const std::string& file, F&& f) {
  const std::string where = world.size() > 1 ? " on rank " + std::to_string(world.rank()) : "";
  CrashGuard guard("bptrain: error" + where + ": " + file + ": the HDF5 library crashed reading it: the file is damaged");
  return f();
}

// What can be checked before any data is read: the output paths (on rank 0: one probe per folder,
// not a thousand) and a lower bound on the model's memory (the data's sizes are at least 1).
// Returns the number of ranks on this rank's node, who share its memory.
int check_before_loading(const Config& cfg, const EvalOptions& ev, const Comm& world) {
  agree_on_root(world, [&] {
    std::vector<std::string> inputs = input_files(cfg.train, cfg.test, cfg.load);
    for (const std::string* extra : {&cfg.resume, &ev.checkpoint})
      if (!extra->empty()) inputs.push_back(*extra);
    const auto outputs = ev.checkpoint.empty() ? outputs_of(cfg, "") : outputs_of(Config{}, ev.predict);
    check_outputs(outputs, inputs);
    lock_outputs(outputs, host_name());
    // Untrusted HDF5 files read in a child first (rank 0 only: one extra read, not one per rank).
    check_hdf5_inputs_in_child(cfg.train, cfg.test, cfg.load);
    for (const std::string* ck : {&cfg.resume, &ev.checkpoint})
      if (!ck->empty()) check_in_child(*ck, "the HDF5 library", [&] { read_checkpoint(*ck); });
  });
  const int per_node = node_layout(world).per_node;
  if (!ev.checkpoint.empty()) return per_node;
  agree_on_errors(world, [&] {
    const std::string layers = layers_text(cfg.layers);
    check_memory(plan_memory(cfg, {0, 0, 0}, 1, 1, 1, world.size()),
                 "with hidden layers " + (layers.empty() ? std::string("(none)") : layers) +
                     " (one input and one output counted: the data are not read yet)",
                 available_memory(), per_node);
  });
  return per_node;
}

// How --evaluate reads its file: the data flags given now, the others as the checkpoint's run had them
// (label column, separator, header, format, task), so that a file is read as the training file was.
LoadOptions evaluation_settings(const Config& cfg, const EvalOptions& ev, const Checkpoint& ck) {
  LoadOptions o = cfg.load;
  const std::string& then = ck.train.config;
  auto take = [&](const char* flag, auto&& set) {
    if (ev.was_given(flag)) return;
    if (const auto v = setting_of(then, flag)) try {
        set(*v);
      } catch (const std::exception&) {  // a checkpoint before readable values (a number, a NUL): auto
      }
  };
  take("label-column", [&](const std::string& v) { o.label_column = v; });
  take("csv-delimiter", [&](const std::string& v) { o.delimiter = parse_delimiter(v); });
  take("csv-header", [&](const std::string& v) { o.header = v == "1" ? CsvHeader::Yes : v == "2" ? CsvHeader::No : parse_header(v); });
  take("format", [&](const std::string& v) { o.format = parse_format(v); });
  if (!ev.was_given("task") && !ck.train.data.task.empty()) o.task = parse_task(ck.train.data.task);
  o.unlabeled_columns = ck.spec.inputs();  // a CSV of the inputs alone: predictions without labels
  return o;
}

// --resume: the input and target scaling the checkpoint's run had, unless given now (a checkpoint from
// before --normalize standard became the default resumes as it was written, without flags).
void inherit_scaling(Config& cfg, const EvalOptions& ev, const Checkpoint& ck) {
  const std::string key = upgrade_resume_key(ck.train.resume_key);
  if (!ev.was_given("normalize"))
    if (const auto v = setting_of(key, "normalize")) try {
        cfg.normalize = parse_normalize(*v);
      } catch (const std::exception&) {  // the resume check names it
      }
  if (!ev.was_given("normalize-targets"))  // written only when on
    cfg.normalize_targets = setting_of(key, "normalize-targets") ? Config::TargetScaling::Standard : Config::TargetScaling::None;
}

// --evaluate: one JSON line on stdout from rank 0, the work split across ranks.
void run_evaluate(const Config& cfg, const EvalOptions& ev, const Comm& world) {
  Checkpoint ck;
  Dataset test;
  std::string note;  // said once, on stderr
  agree_on_errors(world, [&] {
    as_input_error([&] {
      ck = guarded(world, ev.checkpoint, [&] { return read_checkpoint(ev.checkpoint); });
      const LoadOptions opt = evaluation_settings(cfg, ev, ck);
      test = guarded(world, cfg.test.empty() ? cfg.train : cfg.test, [&] { return load_test(cfg.test, cfg.train, opt); });
      if (test.d != ck.spec.inputs())
        throw Error(test.source + ": has " + std::to_string(test.d) +
                    " features per sample, the checkpoint's model takes " + std::to_string(ck.spec.inputs()));
      const std::vector<std::string>& names = ck.train.data.feature_names;
      if (!names.empty() && !test.feature_names.empty())
        if (const std::string why = column_mismatch(names, test.feature_names); !why.empty())
          throw Error(test.source + ": " + why + " (the columns " + ev.checkpoint + " was trained on)");
      if (!names.empty() && test.feature_names.empty())
        note = test.source + ": no header line: its columns taken as the training data's, in order (" + names.front() +
               (names.size() > 1 ? ", ..., " + names.back() : "") + ")";
      const std::size_t outs = ck.spec.outputs();
      if (test.unlabeled) {  // the model's inputs only
        if (ev.predict.empty())
          throw Error(test.source + ": no label column (its " + std::to_string(test.d) +
                      " columns are the model's inputs): nothing to score; --predict FILE writes the predictions");
        if (ev.confusion) throw Error("--confusion: " + test.source + " has no labels to count against");
        const bool regression = ck.train.data.task.empty() ? ck.spec.loss == Loss::Mse : ck.train.data.task == "regression";
        (regression ? test.target_dim : test.classes) = outs;
      } else if (!ck.train.data.task.empty() && test.regression() != (ck.train.data.task == "regression")) {
        throw Error(test.source + ": read as " + (test.regression() ? "regression targets" : "class labels") + ", but " +
                    ev.checkpoint + " was trained for " + ck.train.data.task + " (--task)");
      }
      if (test.regression() ? test.target_dim != outs : test.classes > outs)
        throw Error(test.source + ": its " + (test.regression() ? "targets" : "labels") + " do not fit the model's " +
                    std::to_string(outs) + " outputs");
      if (ev.probabilities && (test.regression() || ck.spec.loss != Loss::SoftmaxCrossEntropy))
        throw Error("--predict-proba: " + ev.checkpoint + " " +
                    (test.regression() ? "is a regression model" : "was trained with --loss mse") +
                    ": its outputs are no class probabilities");
    });
  });
  const std::size_t outs = ck.spec.outputs();
  test.tf.offset = ck.offset;
  test.tf.scale = ck.scale;
  test.target_tf.offset = ck.train.data.target_offset;
  test.target_tf.scale = ck.train.data.target_scale;
  if (!note.empty() && world.rank() == 0) std::fprintf(stderr, "bptrain: %s\n", note.c_str());
  Model model(ck.spec);
  std::copy(ck.params.begin(), ck.params.end(), model.params().begin());
  EvalExtras ex;
  ex.want_confusion = ev.confusion && !test.regression();
  ex.want_predictions = !ev.predict.empty();
  ex.want_probabilities = ev.probabilities;
  const EvalResult e = evaluate_model(model, test, nullptr, world, cfg.eval_batch, &ex);
  if (world.rank() != 0) return;
  JsonLine j;
  j.add("checkpoint", ev.checkpoint).add("test", test.source);
  if (test.unlabeled) j.raw("labels", "false");  // predictions only: nothing to score
  else if (test.regression()) j.add("loss", e.loss).add("rmse", e.rmse);
  else j.add("loss", e.loss).add("accuracy", e.accuracy);
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
    out << std::setprecision(std::numeric_limits<float>::max_digits10);  // floats read back exactly
    // Classification: index,prediction,label (then p_0..p_(K-1) with --predict-proba). Regression with
    // K targets: index, then K predictions and K targets (prediction,target when K is 1;
    // prediction_0..K-1,target_0..K-1 otherwise).
    // A file without labels: no label or target columns.
    const std::size_t w = test.regression() ? test.target_dim : 1;
    if (test.regression()) {
      out << "index";
      for (const char* what : {"prediction", "target"})
        for (std::size_t k = 0; k < w && !(test.unlabeled && what[0] == 't'); ++k) {
          out << ',' << what;
          if (w > 1) out << '_' << k;
        }
      out << '\n';
    } else {  // --predict-proba: then p_0 .. p_(K-1)
      out << (test.unlabeled ? "index,prediction" : "index,prediction,label");
      if (ex.want_probabilities)
        for (std::size_t c = 0; c < outs; ++c) out << ",p_" << c;
      out << '\n';
    }
    for (std::size_t i = 0; i < test.n; ++i) {
      out << i;
      for (std::size_t k = 0; k < w; ++k) out << ',' << ex.predictions[i * w + k];
      if (!test.unlabeled && test.regression())
        for (std::size_t k = 0; k < w; ++k) out << ',' << test.targets[i * w + k];
      else if (!test.unlabeled)
        out << ',' << test.label(i);
      if (ex.want_probabilities)
        for (std::size_t c = 0; c < outs; ++c) out << ',' << ex.probabilities[i * outs + c];
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
// aborts, so that no other rank's abort kills it before its line is out.
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
  remove_output_locks();  // the abort skips the normal exit that would remove them
  if (world.rank() == 0 || !collective) {
    // The speaker's line is flushed, but MPICH's Hydra can still drop it when the abort kills its
    // forwarding proxy first (CI saw a one-rank error lose its line): a moment for it to get out.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    world.abort(code);
  }
  std::this_thread::sleep_for(std::chrono::seconds(10));  // rank 0's abort ends us first
  world.abort(code);
}

void say(const std::string& where, const char* what) {
  std::fprintf(stderr, "bptrain: error%s%s: %s\n", where.empty() ? "" : " ", where.c_str(), what);
  std::fflush(stderr);
}

}  // namespace

int main(int argc, char** argv) {
  // SLURM and PBS send SIGTERM (or a chosen signal, often USR1) before a job's time runs out, and a
  // user presses Ctrl-C (SIGINT). Caught from the first instruction: a signal during start-up is seen
  // at the first step (a checkpoint, exit 75), not the default action that would kill the rank.
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGUSR1, on_stop_signal);
  // A script's background job starts with SIGINT ignored (the Ctrl-C is not meant for it): kept so.
  if (std::signal(SIGINT, on_stop_signal) == SIG_IGN) std::signal(SIGINT, SIG_IGN);
  MpiEnv env(&argc, &argv);
  Comm world = Comm::world();
  const bool root = world.rank() == 0;
  const std::string all_ranks = CollectiveError::all_ranks(world.size());
  try {
    Config cfg;
    EvalOptions ev;
    bool go = true;  // a bad command line is agreed like bad input: one line, exit 2
    FlagTexts flags;
    agree_on_errors(world, [&] {
      as_input_error([&] {
        go = parse(argc, argv, cfg, ev, root, flags);
        if (go) validate_config(cfg, world.size(), std::thread::hardware_concurrency());
        // A bad BPT_SIM_COMPUTE, model mode outside the SMPI build, an unreadable model: said here.
        if (sim::mode() == sim::Mode::Model) (void)sim::model_file();
      });
    });
    if (root && go && sim::mode() == sim::Mode::Model)
      std::fprintf(stderr, "bptrain: simulated compute (BPT_SIM_COMPUTE=model): every kernel billed by the model %s; "
                   "times are modelled, losses and accuracies meaningless\n", sim::model_file().c_str());
    // Before any collective a flag decides (the stall watch, --evaluate's, the reducer's): ranks started
    // with other flags, or another build, are named here rather than left waiting in other collectives.
    flags.emplace_back("the program build", BPT_VERSION " built " __DATE__ " " __TIME__);
    agree_on_settings(world, flags);
    if (!go) return 0;
    world.watch_stalls(cfg.stall_timeout, kExitStalled, cfg.quiet);
    const int ranks_on_node = check_before_loading(cfg, ev, world);
    if (!ev.checkpoint.empty()) {
      run_evaluate(cfg, ev, world);
      return 0;
    }
    Dataset train, test;
    agree_on_errors(world, [&] {
      as_input_error([&] {
        train = guarded(world, cfg.train, [&] { return load_train(cfg.train, cfg.load); });
        if (cfg.test.empty() && cfg.val_fraction > 0 && !has_default_test(cfg.train, cfg.load)) {
          test.source = "(no test set)";  // --val-fraction holds out the validation set; no test figures
          test.d = train.d;
          test.classes = train.classes;
          test.target_dim = train.target_dim;
          test.raw_bytes = train.raw_bytes;
        } else {
          test = guarded(world, cfg.test.empty() ? cfg.train : cfg.test, [&] { return load_test(cfg.test, cfg.train, cfg.load); });
        }
        // The model's memory, now that the data give its first and last sizes: before it is allocated.
        if (cfg.input_shape.size() > 0 && cfg.input_shape.size() == train.d)  // else check_model_size says why
          for (Dataset* ds : {&train, &test})
            if (ds->d == train.d) {  // --input-shape: the rows are images (augmentation reads the shape)
              ds->channels = cfg.input_shape.c;
              ds->height = cfg.input_shape.h;
              ds->width = cfg.input_shape.w;
            }
        check_model_size(cfg, train.shape(), train.d, train.outputs());
        const std::size_t eval_rows = std::min(cfg.eval_batch, std::max(test.n, train.n));
        check_memory(plan_memory(cfg, train.shape(), train.d, train.outputs(), eval_rows, world.size()),
                     describe_layers(model_spec(cfg, train.shape(), train.d, train.outputs())), available_memory(),
                     ranks_on_node);
      });
    });
    Checkpoint ck;
    if (!cfg.resume.empty()) {
      agree_on_errors(world, [&] {
        as_input_error([&] { ck = guarded(world, cfg.resume, [&] { return read_checkpoint(cfg.resume); }); });
      });
      inherit_scaling(cfg, ev, ck);
    }
    Trainer trainer(cfg, world, std::move(train), std::move(test));
    if (!cfg.resume.empty()) trainer.resume(ck);
    ck = Checkpoint{};  // the trainer holds its weights and state now: not a second copy for the whole run
    trainer.set_stop_flag(&g_stop);
    // Stopped by a signal: 75 (resume) with a checkpoint; without one, the shell's 128 + the signal's
    // number (130 for Ctrl-C), as if it had not been caught.
    if (trainer.run().stop_reason == "signal") return cfg.checkpoint.empty() ? 128 + (g_stop ? g_stop : SIGTERM) : kExitCheckpointed;
    if (root && sim::mode() == sim::Mode::Model) std::fprintf(stderr, "%s\n", sim::coverage_note(sim::coverage()).c_str());
  } catch (const CollectiveError& e) {
    if (e.agreed() ? e.speaks() : root) say(e.agreed() ? e.where() : all_ranks, e.what());
    return fail(world, e.exit_code(), e.agreed(), true);
  } catch (const std::exception& e) {
    say(world.size() > 1 ? "on rank " + std::to_string(world.rank()) : "", e.what());
    return fail(world, kExitError, false, false);
  }
  return 0;
}
