#include "bpt/core/sim_cost.hpp"

#ifdef BPT_SIMULATED
#include <simgrid/host.h>
#include <smpi/smpi.h>
#endif

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "bpt/core/error.hpp"

namespace bpt::sim {
namespace {

using Dims = std::array<std::size_t, 3>;
using Key = std::pair<std::string, Dims>;

struct Entry {
  Dims d;
  double seconds;
};

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// Under SMPI every simulated rank is an actor of one process, run one at a time: the model is shared,
// read once. Record mode runs under a real MPI (a process per rank, each its own recorder) or SMPI
// (one recorder for all ranks; their calls of one shape pooled).
struct Model {
  std::string file;
  std::map<std::string, std::vector<Entry>> by_kind;
  std::map<Key, std::pair<double, bool>> cache;  // seconds, and whether the file held the shape
  Coverage billed;
};

Model& model() {
  static Model m = [] {
    Model out;
    out.file = env_or("BPT_SIM_MODEL", "scripts/smpi/compute-model.txt");
    std::ifstream in(out.file);
    if (!in)
      throw Error("BPT_SIM_COMPUTE=model: cannot read the compute model " + out.file +
                  " (BPT_SIM_MODEL; scripts/smpi/calibrate.sh writes one)");
    std::string line;
    int n = 0;
    std::map<Key, std::vector<double>> sums;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream ls(line);
      std::string kind;
      Entry e{};
      if (!(ls >> kind >> e.d[0] >> e.d[1] >> e.d[2] >> e.seconds) || !(e.seconds >= 0))
        throw Error("compute model " + out.file + ": a line is not 'kind d0 d1 d2 seconds': " + line);
      sums[{kind, e.d}].push_back(e.seconds);
      ++n;
    }
    if (n == 0) throw Error("compute model " + out.file + " has no entries");
    // Several lines of one shape (a record of several ranks, one line each): their mean.
    for (const auto& [key, ts] : sums) {
      double sum = 0;
      for (double t : ts) sum += t;
      out.by_kind[key.first].push_back({key.second, sum / static_cast<double>(ts.size())});
    }
    return out;
  }();
  return m;
}

double work(const Dims& d) {
  double w = 1;
  for (std::size_t v : d)
    if (v) w *= static_cast<double>(v);
  return w;
}

// Along dimension j, from the recorded points (x, t) of shapes equal to the query elsewhere: linear
// between the two neighbours, else through the two nearest on one side: below the smallest never
// less than proportional scaling from it (a fixed cost is not extrapolated away), above the largest
// never less than its time. A single point: proportional.
double along(std::vector<std::pair<double, double>> pts, double q) {
  std::sort(pts.begin(), pts.end());  // one point per x: the model holds one entry per shape
  if (pts.size() == 1) return pts[0].second * q / pts[0].first;
  auto hi = std::lower_bound(pts.begin(), pts.end(), std::make_pair(q, -1.0));
  std::size_t i = hi == pts.begin() ? 0 : hi == pts.end() ? pts.size() - 2 : static_cast<std::size_t>(hi - pts.begin()) - 1;
  const auto [x0, t0] = pts[i];
  const auto [x1, t1] = pts[i + 1];
  const double lin = t0 + (t1 - t0) * (q - x0) / (x1 - x0);
  if (q > x0 && q < x1) return lin;
  if (q <= x0) return std::max(lin, t0 * q / x0);  // below: a fixed cost is not extrapolated away
  return std::max(lin, t1);                         // above: never less than the largest recorded shape
}

// Kernels a model calibrated before they existed lacks: billed as a calibrated kind at a multiple of
// the element count, until a calibration records them (record mode writes them under their own names).
// The multiples are bench_kernels' BM_WireKernels (CPU time per element against the reducer's float
// additions, warm cache, medians of 5; 2026-12-06 on a 2-core Xeon VM): adding a received bfloat16
// 0.94, packing for the wire 2.44 (SSE2 rounding, compute-bound: bpt/core/bf16.hpp).
struct Proxy {
  const char* kind;
  const char* as;
  double elements;  // the stand-in's elements per element
};
constexpr Proxy kProxies[] = {{"bf16_pack", "add", 2.44}, {"bf16_add", "add", 0.94}};

// held: whether the file has this very kind and shape (else the time is estimated from other shapes).
double lookup(const std::string& kind, const Dims& q, bool& held) {
  held = false;
  Model& m = model();
  auto it = m.by_kind.find(kind);
  if (it == m.by_kind.end())
    for (const Proxy& p : kProxies)
      if (kind == p.kind && m.by_kind.count(p.as)) {
        bool stand_in_held;  // a stand-in kind's time is an estimate whatever the stand-in holds
        return lookup(p.as, Dims{static_cast<std::size_t>(std::llround(static_cast<double>(q[0]) * p.elements)), q[1], q[2]},
                      stand_in_held);
      }
  if (it == m.by_kind.end())
    throw Error("compute model " + m.file + " has no '" + kind +
                "' kernels: recalibrate it for this model (scripts/smpi/calibrate.sh)");
  const std::vector<Entry>& es = it->second;
  for (const Entry& e : es)
    if (e.d == q) {
      held = true;
      return e.seconds;
    }
  std::size_t best_j = 3, best_n = 0;
  std::vector<std::pair<double, double>> best;
  for (std::size_t j = 0; j < 3; ++j) {
    std::vector<std::pair<double, double>> pts;
    for (const Entry& e : es) {
      bool same = true;
      for (std::size_t o = 0; o < 3; ++o) same = same && (o == j || e.d[o] == q[o]);
      if (same && e.d[j] > 0) pts.emplace_back(static_cast<double>(e.d[j]), e.seconds);
    }
    if (pts.size() > best_n) best_j = j, best_n = pts.size(), best = std::move(pts);
  }
  if (best_j < 3) return along(std::move(best), static_cast<double>(q[best_j]));
  std::vector<double> rates;
  for (const Entry& e : es) rates.push_back(e.seconds / work(e.d));
  std::nth_element(rates.begin(), rates.begin() + static_cast<std::ptrdiff_t>(rates.size() / 2), rates.end());
  return rates[rates.size() / 2] * work(q);
}

// Record mode: every kernel call's host time by shape, written at exit (BPT_SIM_RECORD, default
// sim-record.txt: "kind d0 d1 d2 seconds calls", the median of the calls past the first).
struct Recorder {
  std::map<Key, std::vector<double>> times;
  ~Recorder() {
    if (times.empty()) return;
    const std::string file = env_or("BPT_SIM_RECORD", "sim-record.txt");
    std::string text;
    for (auto& [key, ts] : times) {
      // The median of the calls past the first (a first call pays for cold caches and page faults).
      std::vector<double> v(ts.size() > 1 ? ts.begin() + 1 : ts.begin(), ts.end());
      std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
      char line[256];
      std::snprintf(line, sizeof line, "%s %zu %zu %zu %.6e %zu\n", key.first.c_str(), key.second[0], key.second[1],
                    key.second[2], v[v.size() / 2], ts.size());
      text += line;
    }
    // One append per rank, so ranks writing the same file do not interleave their lines.
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
      std::fprintf(stderr, "bptrain: BPT_SIM_COMPUTE=record: cannot write %s\n", file.c_str());
    if (fd >= 0) ::close(fd);
  }
};
Recorder& recorder() {
  static Recorder r;
  return r;
}

double host_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

Mode mode() {
  static const Mode m = [] {
    const std::string v = env_or("BPT_SIM_COMPUTE", "measured");
    if (v == "measured") return Mode::Measured;
    if (v == "model") {
#ifndef BPT_SIMULATED
      throw Error("BPT_SIM_COMPUTE=model is for the SMPI build (build-smpi/, scripts/smpi/smpirun.sh); this build "
                  "runs on real processors (BPT_SIM_COMPUTE=record times its kernels for the model)");
#endif
      return Mode::Model;
    }
    if (v == "record") return Mode::Record;
    throw Error("BPT_SIM_COMPUTE=" + v + ": expected model, measured or record");
  }();
  return m;
}

const std::string& model_file() { return model().file; }

double modelled_seconds(const char* kind, std::size_t d0, std::size_t d1, std::size_t d2) {
  Key key{kind, Dims{d0, d1, d2}};
  Model& m = model();
  auto it = m.cache.find(key);
  if (it == m.cache.end()) {
    bool held = false;
    const double s = lookup(key.first, key.second, held);
    ++m.billed.shapes;
    if (!held) ++m.billed.estimated_shapes;
    it = m.cache.emplace(std::move(key), std::make_pair(s, held)).first;
  }
  const auto [s, held] = it->second;
  m.billed.seconds += s;
  if (!held) m.billed.estimated_seconds += s;
  return s;
}

std::string coverage_note(const Coverage& c) {
  char line[512];
  if (c.estimated_shapes == 0) {
    std::snprintf(line, sizeof line, "bptrain: the compute model %s held all %zu kernel shapes this run billed",
                  model_file().c_str(), c.shapes);
    return line;
  }
  const double share = c.seconds > 0 ? 100 * c.estimated_seconds / c.seconds : 0;
  std::snprintf(line, sizeof line,
                "bptrain: the compute model %s held %zu of the %zu kernel shapes this run billed; the other %zu, "
                "%.1f %% of the billed time, were estimated from other shapes",
                model_file().c_str(), c.shapes - c.estimated_shapes, c.shapes, c.estimated_shapes, share);
  std::string out = line;
  if (share > 5)
    out += ": the simulated times rest on those estimates (calibrate the model with this network: "
           "scripts/smpi/calibrate.sh, MODELS)";
  return out;
}

Coverage coverage() { return model().billed; }

void Kernel::begin() {
  if (mode() == Mode::Record) {
    start_ = host_now();
    return;
  }
#ifdef BPT_SIMULATED  // (mode() refuses model mode elsewhere)
  // Exactly the modelled seconds on this rank's simulated host, whatever its speed (no threshold applies).
  const double s = modelled_seconds(kind_, d_[0], d_[1], d_[2]);
  if (s > 0) smpi_execute_flops(s * sg_host_get_speed(sg_host_self()));
#endif
  skip_ = true;
}

void* shared_alloc(std::size_t bytes) {
#ifdef BPT_SIMULATED
  if (mode() == Mode::Model) return smpi_shared_malloc(bytes, "bptrain-buffer", 0);
#endif
  (void)bytes;
  return nullptr;
}

void shared_free(void* p) {
#ifdef BPT_SIMULATED
  smpi_shared_free(p);
#else
  (void)p;
#endif
}

void Kernel::end() { recorder().times[Key{kind_, Dims{d_[0], d_[1], d_[2]}}].push_back(host_now() - start_); }

}  // namespace bpt::sim
