#pragma once
// Modelled compute for simulated clusters.
//
// Under SMPI a rank's computation is normally timed on the machine running the simulation, one
// simulated rank after another through one cache, so identical runs disagree (issue 26). With
// BPT_SIM_COMPUTE=model each compute kernel (a Kernel scope: GEMMs, the elementwise passes, the
// optimizer update, the reducer's additions, the batch assembly) is billed the time a calibrated cost
// model gives for its shape and not run at all (values do not matter there: the losses of a model-mode
// run are meaningless, and the run says so), and the floating-point Buffers of every simulated rank
// share one block of memory (SMPI's shared malloc: see shared_alloc). The simulation must then not time
// the host (smpirun --cfg=smpi/simulate-computation:no, which scripts/smpi/smpirun.sh sets in model
// mode), so no host timing enters the figures: two identical runs give identical simulated times.
//
// The model (BPT_SIM_MODEL, a text file; scripts/smpi/compute-model.txt) is fitted on a real machine
// by BPT_SIM_COMPUTE=record at 1 and 2 ranks (scripts/smpi/calibrate.sh): every kernel's host time by
// its shape, a median per shape (lines of one shape from several ranks: their mean). A shape the file
// lacks is interpolated along the one dimension in which it differs from recorded shapes of its kind
// (the batch, mostly), else scaled from the kind's median rate.
// A simulated core computes as the calibration machine's core did: the platform's speed is not used.
// Record mode works in every build (calibrate with the real binary under the real MPI); model mode
// only in the SMPI build.
#include <cstddef>
#include <string>

namespace bpt::sim {

enum class Mode { Measured, Model, Record };

// BPT_SIM_COMPUTE: measured (unset), model (the SMPI build only) or record (any build).
Mode mode();
// Whether the run's floating-point values mean nothing: model mode, where no kernel runs and every
// simulated rank's buffers are one shared block. Work that only looks at values (replica checksums,
// the finite-weights check, a streamed set's fingerprint, the epoch's permutation, the input scaling's
// statistics, max pooling's index buffers) is skipped then.
inline bool values_meaningless() { return mode() == Mode::Model; }
// The model's file, read (and checked) on first use: BPT_SIM_MODEL, default scripts/smpi/compute-model.txt.
const std::string& model_file();
// The modelled seconds of a kernel of this kind and shape (throws if no model applies).
double modelled_seconds(const char* kind, std::size_t d0, std::size_t d1 = 0, std::size_t d2 = 0);
// What the model held of what was billed through modelled_seconds in this process (under SMPI without
// privatization, every simulated rank's calls; scripts/smpi/smpirun.sh runs model mode so): the kernel
// shapes and their seconds, and of those the shapes the file lacked, whose times were estimated from
// other shapes (interpolated, the kind's median rate, or a stand-in kind). A run that bills a network the
// model was not calibrated with rests on those estimates (model mode's end-of-run line says how much).
struct Coverage {
  std::size_t shapes = 0, estimated_shapes = 0;
  double seconds = 0, estimated_seconds = 0;
};
Coverage coverage();  // reads the model (BPT_SIM_MODEL): for model mode
// One line for the end of a model-mode run: how much of what it billed the model held; past 5 % of the
// billed time estimated, that the figures rest on estimates and how to calibrate for the network.
std::string coverage_note(const Coverage& c);
// Record mode writes what it measured at exit: BPT_SIM_RECORD (default sim-record.txt), "kind d0 d1 d2
// seconds calls", the median of the calls past the first; every rank appends its lines.

// Model mode: memory for a floating-point Buffer, shared by every simulated rank (SMPI's shared
// malloc: its pages fold onto one block, so a thousand ranks' weights, gradients, optimizer state and
// activations take no memory and no zero-filling), or nullptr in other modes; freed by shared_free.
void* shared_alloc(std::size_t bytes);
void shared_free(void* p);

// One kernel call's scope. Model mode: billed on construction, and skip() is true: the caller leaves
// the kernel's work out (a value it returns is 0). Record mode: timed on the host from construction to
// destruction. Measured mode: nothing.
class Kernel {
 public:
  Kernel(const char* kind, std::size_t d0, std::size_t d1 = 0, std::size_t d2 = 0) : kind_(kind), d_{d0, d1, d2} {
    if (mode() != Mode::Measured) begin();
  }
  ~Kernel() {
    if (start_ >= 0) end();
  }
  bool skip() const { return skip_; }
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

 private:
  void begin();
  void end();
  const char* kind_;
  std::size_t d_[3];
  double start_ = -1;
  bool skip_ = false;
};

}  // namespace bpt::sim
