// Time to sum a gradient buffer over all ranks: bptrain's GradReducer (buckets, non-blocking) and a
// plain MPI_Allreduce (whichever algorithm Open MPI is told to use: --mca coll_tuned_... on the
// command line). Prints the median of many repetitions for each size.
// Usage: mpirun -np 2 [--mca ...] bench_comm MB[,MB...] [BUCKET_MB] [REPS]
// (under SMPI: scripts/smpi/smpirun.sh -n P bench_comm ..., with SMPI_EXTRA=--cfg=smpi/allreduce:NAME)
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "bpt/comm/comm.hpp"
#include "bpt/comm/grad_reducer.hpp"
#ifdef BPT_SIMULATED
#include "add.hpp"  // src/comm: the reducer's additions and their bill under BPT_SIM_ADD_NS
#endif

using namespace bpt;

namespace {
// MPI_SUM on floats, except under SMPI with BPT_SIM_ADD_NS: there SMPI's collectives, which never
// bill their additions, pay for each element what the reducer pays (src/comm/add.hpp).
MPI_Op sum_op() {
#ifdef BPT_SIMULATED
  if (simulated_add_seconds() > 0) {
    static MPI_Op op = [] {
      MPI_Op o;
      MPI_Op_create([](void* in, void* inout, int* len, MPI_Datatype*) {
        add_and_bill(static_cast<float*>(inout), static_cast<const float*>(in), static_cast<std::size_t>(*len));
      }, 1, &o);
      return o;
    }();
    return op;
  }
#endif
  return MPI_SUM;
}
}  // namespace

template <class F>
double median_ms(F&& f, int reps) {
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    MPI_Barrier(MPI_COMM_WORLD);
    const double t0 = wall_time();  // MPI_Wtime: simulated time under SMPI
    f();
    double mine = (wall_time() - t0) * 1e3, worst = 0;
    MPI_Allreduce(&mine, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    t.push_back(worst);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

int main(int argc, char** argv) {
  MpiEnv env(&argc, &argv);
  const Comm world = Comm::world();
  std::stringstream ss(argc > 1 ? argv[1] : "2,24");
  const double bucket_mb = argc > 2 ? std::atof(argv[2]) : 2.0;
  const int reps_asked = argc > 3 ? std::atoi(argv[3]) : 0;
  for (std::string t; std::getline(ss, t, ',');) {
    const auto n = static_cast<std::size_t>(std::atof(t.c_str()) * 1048576.0 / 4.0);
    std::vector<float> g(n, 1.0f);
    const int reps = reps_asked > 0 ? reps_asked : n > (4u << 20) ? 30 : 100;
    const double plain = median_ms([&] { MPI_Allreduce(MPI_IN_PLACE, g.data(), static_cast<int>(n), MPI_FLOAT, sum_op(), MPI_COMM_WORLD); }, reps);
    // Four equal "layers", as backward would hand them over.
    std::vector<std::size_t> off = {0, n / 4, n / 2, 3 * n / 4, n};
    GradReducer red(world, g, off, {.bucket_bytes = static_cast<std::size_t>(bucket_mb * 1048576.0)});
    const double ours = median_ms([&] {
      red.begin_step();
      for (std::size_t l = 4; l-- > 0;) red.layer_ready(l);
      red.finish();
    }, reps);
    if (world.rank() == 0)
      std::printf("comm ranks=%d mb=%s allreduce_ms=%.4f reducer_ms=%.4f buckets=%zu reducer=%s\n", world.size(),
                  t.c_str(), plain, ours, red.num_buckets(), to_string(red.bucket(0).algorithm));
  }
  return 0;
}
