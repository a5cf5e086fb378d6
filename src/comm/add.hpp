#pragma once
// d[j] += in[j] for j < n: the additions of a reduction step, the one loop the reducer runs on what
// arrives. On a real cluster it costs what it costs. In the SMPI build (BPT_SIMULATED) a rank's
// computation is timed on the machine running the simulation, where a thousand simulated ranks pass
// their buffers through one cache, so memory-bound loops like this one are billed at a cold cache's
// cost while SMPI's own collectives bill their additions not at all. With BPT_SIM_ADD_NS set (seconds
// x 1e9 per element, e.g. bench_kernels' BM_ReducerAdds with a warm cache), the loop is not timed and
// each element is billed that instead, as bench_comm bills SMPI's MPI_Allreduce for its additions:
// both sides of a comparison then pay the same for them.
#include <cstddef>
#include <cstdlib>

#include "bpt/core/bf16.hpp"
#include "bpt/core/sim_cost.hpp"

#ifdef BPT_SIMULATED
#include <mpi.h>  // SMPI's smpi_bench_end, smpi_execute, smpi_bench_begin
#endif

namespace bpt {

#ifdef BPT_SIMULATED
// The per-element seconds of BPT_SIM_ADD_NS, or 0 (time the loop as any computation) when unset.
inline double simulated_add_seconds() {
  static const double s = [] {
    const char* v = std::getenv("BPT_SIM_ADD_NS");
    return v && *v ? std::atof(v) * 1e-9 : 0.0;
  }();
  return s;
}

// The loop, and under BPT_SIM_ADD_NS its bill. For callers whose time SMPI is not measuring: inside an
// MPI call (a user-defined MPI_Op), or between smpi_bench_end() and smpi_bench_begin().
inline void add_and_bill(float* d, const float* in, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) d[j] += in[j];
  if (const double s = simulated_add_seconds(); s > 0) smpi_execute(s * static_cast<double>(n));
}
#endif

inline void add_into(float* d, const float* in, std::size_t n) {
  // Simulated compute (bpt/core/sim_cost.hpp): billed by the model and skipped, or timed for the model.
  sim::Kernel kernel("add", n);
  if (kernel.skip()) return;
#ifdef BPT_SIMULATED
  if (simulated_add_seconds() > 0) {
    smpi_bench_end();  // what ran before is billed as measured; the loop is not
    add_and_bill(d, in, n);
    smpi_bench_begin();
    return;
  }
#endif
  for (std::size_t j = 0; j < n; ++j) d[j] += in[j];
}

// --grad-compression bf16: a reduce-scatter message packed before it is sent, and one received added.
inline void pack_for_wire(std::uint16_t* out, const float* in, std::size_t n) {
  sim::Kernel kernel("bf16_pack", n);
  if (!kernel.skip()) pack_bf16(out, in, n);
}

inline void add_from_wire(float* d, const std::uint16_t* in, std::size_t n) {
  sim::Kernel kernel("bf16_add", n);
  if (!kernel.skip()) add_bf16(d, in, n);
}

}  // namespace bpt
