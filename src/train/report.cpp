#include "bpt/train/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "bpt/core/text.hpp"
#include <iterator>

#include "bpt/core/error.hpp"
#include "bpt/io/json.hpp"

namespace bpt {
Reporter::Reporter(const Config& cfg, const Comm& comm, bool resumed)
    : cfg_(cfg), comm_(comm), root_(comm.rank() == 0), talk_(root_ && !cfg.quiet) {
  if (root_ && !cfg_.metrics.empty()) {
    metrics_.open(cfg_.metrics, resumed ? std::ios::app : std::ios::trunc);
    if (!metrics_) throw Error(cfg_.metrics + ": cannot open the metrics file for writing");
  }
}

void Reporter::banner(const std::string& model, std::size_t params, std::size_t ntrain, std::size_t nval,
                      std::size_t ntest, std::size_t steps_per_epoch, bool resumed, std::uint64_t epoch,
                      std::uint64_t position, std::uint64_t step) {
  if (!talk_) return;
  const std::string test = ntest ? std::to_string(ntest) + " test samples" : "no test set";
  std::printf("bptrain: %d rank%s, model %s, %zu parameters, %zu train / %zu validation samples / %s, %zu steps per "
              "epoch\n",
              comm_.size(), comm_.size() == 1 ? "" : "s", model.c_str(), params, ntrain, nval, test.c_str(), steps_per_epoch);
  if (resumed)
    std::printf("bptrain: resumed at epoch %llu, step %llu of %zu in it (%llu steps in all)\n",
                static_cast<unsigned long long>(epoch + 1), static_cast<unsigned long long>(position), steps_per_epoch,
                static_cast<unsigned long long>(step));
}

void Reporter::note(const std::string& what) {
  if (talk_) std::printf("bptrain: %s\n", what.c_str());
}

void Reporter::progress(std::uint64_t epoch, std::size_t step, std::size_t steps_per_epoch, double loss,
                        double samples_per_s, double eta_s) {
  if (!talk_ || cfg_.progress != Config::Progress::Step) return;
  std::printf("  epoch %llu/%zu step %zu/%zu loss %.4f %.0f samples/s ETA %.0fs\n",
              static_cast<unsigned long long>(epoch), cfg_.epochs, step, steps_per_epoch, loss, samples_per_s, eta_s);
  std::fflush(stdout);
}

void Reporter::epoch(const EpochFigures& f) {
  auto m = [&](const EvalResult& e) { return f.regression ? e.rmse : e.accuracy; };
  const char* metric = f.regression ? "rmse" : "accuracy";
  const StepTimes& t = f.per_step;
  if (talk_ && cfg_.progress != Config::Progress::None) {
    const std::string val =
        f.has_val ? format_number("  val_loss %.4f", f.val.loss) + "  val_" + metric + format_number(" %.4f", m(f.val)) : "";
    const std::string skipped = f.skipped ? "  [" + std::to_string(f.skipped) + " non-finite steps skipped]" : "";
    const std::string test = f.has_test ? format_number("  test_loss %.4f", f.test.loss) + "  test_" + metric +
                                              format_number(" %.4f", m(f.test)) : "";
    std::printf("epoch %llu/%zu  train_loss %.4f%s%s  %.0f samples/s  %.1fs  "
                "(per step: compute %.2fms, comm wait %.2fms, optimizer %.2fms, data %.2fms)%s\n",
                static_cast<unsigned long long>(f.epoch), cfg_.epochs, f.train_loss, val.c_str(), test.c_str(),
                f.samples_per_s, f.elapsed_s, t.compute, t.comm, t.optim, t.data, skipped.c_str());
    std::fflush(stdout);
  }
  if (!metrics_.is_open()) return;
  JsonLine j;
  j.add("epoch", f.epoch).add("step", f.step).add("train_loss", f.train_loss);
  if (f.has_val) j.add("val_loss", f.val.loss).add(std::string("val_") + metric, m(f.val));
  if (f.has_test) j.add("test_loss", f.test.loss).add(std::string("test_") + metric, m(f.test));
  metrics_ << j.add("samples_per_second", f.samples_per_s)
                  .add("elapsed_s", f.elapsed_s)
                  .add("epoch_s", f.epoch_s)
                  .add("lr", f.lr)
                  .add("ranks", static_cast<std::uint64_t>(comm_.size()))
                  .add("compute_ms_per_step", t.compute)
                  .add("comm_wait_ms_per_step", t.comm)
                  .add("optimizer_ms_per_step", t.optim)
                  .add("data_ms_per_step", t.data)
                  .add("skipped_steps", f.skipped)
                  .raw("layers", f.layers)
                  .raw("partial", f.partial ? "true" : "false")
                  .str()
           << '\n';
  metrics_.flush();
}

void Reporter::step_times(std::uint64_t epoch, std::uint64_t step, const StepTimes& ms) {
  if (cfg_.profile.empty()) return;
  const double row[] = {double(epoch), double(step), ms.compute, ms.comm, ms.optim, ms.data, ms.forward};
  profile_.insert(profile_.end(), std::begin(row), std::end(row));
}

void Reporter::write_profile() {
  if (cfg_.profile.empty()) return;
  // Every rank ran the same steps, so the per-rank tables have the same length: one gather.
  const std::vector<double> all = comm_.gather(profile_, 0);
  profile_.clear();
  if (!root_) return;
  std::ofstream out(cfg_.profile);
  if (!out) throw Error(cfg_.profile + ": cannot open the profile file for writing");
  // compute_ms = forward_ms + backward_ms (backward with the sums that overlap it).
  out << "rank,epoch,step,compute_ms,comm_wait_ms,optimizer_ms,data_ms,forward_ms,backward_ms\n";
  const auto ranks = static_cast<std::size_t>(comm_.size());
  const std::size_t per = all.size() / ranks;
  std::vector<double> total(ranks, 0.0);
  char line[160];
  for (std::size_t r = 0; r < ranks; ++r)
    for (std::size_t i = r * per; i < (r + 1) * per; i += 7) {
      std::snprintf(line, sizeof line, "%zu,%.0f,%.0f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f\n", r, all[i] + 1, all[i + 1],
                    all[i + 2], all[i + 3], all[i + 4], all[i + 5], all[i + 6], all[i + 2] - all[i + 6]);
      out << line;
      total[r] += all[i + 2] + all[i + 4] + all[i + 5];  // the rank's own work
    }
  const auto slow = std::max_element(total.begin(), total.end()) - total.begin();
  std::printf("bptrain: profile written to %s; slowest rank: %ld (%.1f ms of compute, optimizer and data; fastest %.1f ms)\n",
              cfg_.profile.c_str(), static_cast<long>(slow), total[static_cast<std::size_t>(slow)],
              *std::min_element(total.begin(), total.end()));
}

// The one line a batch log must always have, --quiet or not (stderr).
void Reporter::signalled(std::uint64_t step) {
  if (!root_) return;
  std::fflush(stdout);
  if (cfg_.checkpoint.empty())
    std::fprintf(stderr, "bptrain: signal received: stopped at step %llu; nothing saved (no --checkpoint)\n",
                 static_cast<unsigned long long>(step));
  else
    std::fprintf(stderr, "bptrain: signal received: checkpoint written at step %llu to %s, exiting (75: resume with "
                 "--resume %s)\n", static_cast<unsigned long long>(step), cfg_.checkpoint.c_str(), cfg_.checkpoint.c_str());
  std::fflush(stderr);
}

void Reporter::done(std::size_t epochs, std::uint64_t steps, const EvalResult& held, const char* which, bool regression,
                    double seconds, const std::string& stop_reason, double peak_rss_mb) {
  if (!root_) return;
#ifdef BPT_SIMULATED
  // Every simulated rank is the one simulator process, whose RSS counts a shared block once per mapping.
  (void)peak_rss_mb;
  const std::string rss = "no peak RSS (simulated ranks share one process)";
#else
  const std::string rss = "peak RSS " + std::to_string(std::lround(peak_rss_mb)) + " MB (largest rank)";
#endif
  std::printf("done: %zu epochs, %llu steps, %s_%s %.4f, %.1fs (stopped: %s), %s\n", epochs,
              static_cast<unsigned long long>(steps), which, regression ? "rmse" : "accuracy",
              regression ? held.rmse : held.accuracy, seconds, stop_reason.c_str(), rss.c_str());
}

}  // namespace bpt
