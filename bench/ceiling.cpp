// What a data-parallel step could reach on one node, at best: the floor's forward and backward GEMMs
// (the same shapes and per-rank batch as bench_floor), plus the least a synchronous data-parallel
// step must add, in one of three forms:
//   floor      nothing else (bench_floor's loop);
//   allreduce  one MPI_Allreduce of all gradients, then every rank's momentum step on all weights;
//   shm        no copies at all: the gradients live in one MPI shared-memory window per node, the
//              weights in another (one copy per node); after a barrier each rank sums its 1/N of the
//              gradients straight from every rank's segment, applies momentum to its 1/N of the
//              weights in place, and a second barrier ends the step.
// The shm form is a ceiling, not a trainer: no loss, no bias, no activations, no checks. It bounds
// what removing the messages (the copies) from bptrain's sharded step could gain.
// Usage: mpirun -np N bench_ceiling SIZES PER_RANK_BATCH SECONDS floor|allreduce|shm
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bpt/core/gemm.hpp"
#include "mlp_gemms.hpp"

using namespace bpt;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, world = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  if (argc != 5) {
    if (rank == 0) std::fprintf(stderr, "usage: bench_ceiling SIZES PER_RANK_BATCH SECONDS floor|allreduce|shm\n");
    MPI_Finalize();
    return 2;
  }
  set_blas_threads(1);
  const std::size_t b = std::stoul(argv[2]);
  const double secs = std::atof(argv[3]);
  const std::string mode = argv[4];
  if (mode != "floor" && mode != "allreduce" && mode != "shm") {
    if (rank == 0) std::fprintf(stderr, "bench_ceiling: unknown mode '%s'\n", mode.c_str());
    MPI_Finalize();
    return 2;
  }
  MPI_Comm node;  // the shm form needs every rank on one node
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int node_size = 0;
  MPI_Comm_size(node, &node_size);
  if (mode == "shm" && node_size != world) {
    if (rank == 0) std::fprintf(stderr, "bench_ceiling: shm needs all ranks on one node\n");
    MPI_Finalize();
    return 2;
  }
  bench::MlpGemms mlp(bench::parse_sizes(argv[1]), b);
  const std::size_t n = mlp.num_weights();
  std::vector<float> own_w, own_g, mom(n, 0.0f);
  float *w = nullptr, *g = nullptr;
  std::vector<float*> g_of(static_cast<std::size_t>(world));
  MPI_Win ww = MPI_WIN_NULL, wg = MPI_WIN_NULL;
  if (mode == "shm") {
    MPI_Aint bytes = 0;
    int unit = 0;
    MPI_Win_allocate_shared(rank == 0 ? static_cast<MPI_Aint>(n * sizeof(float)) : 0, sizeof(float), MPI_INFO_NULL, node,
                            &w, &ww);
    MPI_Win_shared_query(ww, 0, &bytes, &unit, &w);
    MPI_Win_allocate_shared(static_cast<MPI_Aint>(n * sizeof(float)), sizeof(float), MPI_INFO_NULL, node, &g, &wg);
    for (int r = 0; r < world; ++r) MPI_Win_shared_query(wg, r, &bytes, &unit, &g_of[static_cast<std::size_t>(r)]);
    if (rank == 0)
      for (std::size_t i = 0; i < n; ++i) w[i] = 0.01f;
    for (std::size_t i = 0; i < n; ++i) g[i] = 0.0f;
    MPI_Win_lock_all(MPI_MODE_NOCHECK, ww);
    MPI_Win_lock_all(MPI_MODE_NOCHECK, wg);
    MPI_Win_sync(ww);
    MPI_Win_sync(wg);
    MPI_Barrier(node);
  } else {
    own_w.assign(n, 0.01f);
    own_g.assign(n, 0.0f);
    w = own_w.data();
    g = own_g.data();
  }
  const std::size_t lo = n * static_cast<std::size_t>(rank) / static_cast<std::size_t>(world);
  const std::size_t hi = n * (static_cast<std::size_t>(rank) + 1) / static_cast<std::size_t>(world);
  const float lr = 1e-9f, mu = 0.9f;  // tiny: the weights stay put, the work is the same
  auto iteration = [&] {
    mlp.run(w, g);
    float* m = mom.data();
    if (mode == "allreduce") {
      MPI_Allreduce(MPI_IN_PLACE, g, static_cast<int>(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      for (std::size_t i = 0; i < n; ++i) {
        m[i] = mu * m[i] + g[i];
        w[i] -= lr * m[i];
      }
    } else if (mode == "shm") {
      MPI_Win_sync(wg);
      MPI_Barrier(node);  // every rank's gradients are written
      MPI_Win_sync(wg);
      for (std::size_t i = lo; i < hi; ++i) {
        float s = g_of[0][i];
        for (std::size_t r = 1; r < g_of.size(); ++r) s += g_of[r][i];
        m[i] = mu * m[i] + s;
        w[i] -= lr * m[i];
      }
      MPI_Win_sync(ww);
      MPI_Barrier(node);  // every rank's part of the weights is written
      MPI_Win_sync(ww);
    }
  };
  // Warm-up, which also sizes the run: every rank must run the same number of steps (the synchronous
  // forms have collectives in every step), so rank 0 picks the count and tells the others.
  auto w0 = Clock::now();
  for (int i = 0; i < 5; ++i) iteration();
  long iters = std::max(1L, static_cast<long>(secs / (std::chrono::duration<double>(Clock::now() - w0).count() / 5)));
  MPI_Bcast(&iters, 1, MPI_LONG, 0, MPI_COMM_WORLD);
  MPI_Barrier(MPI_COMM_WORLD);
  auto t0 = Clock::now();
  for (long i = 0; i < iters; ++i) iteration();
  const double el = std::chrono::duration<double>(Clock::now() - t0).count();
  // The synchronous forms run in step; the floor's ranks do not, so each reports its own rate.
  double rate = double(iters * static_cast<long>(b)) / el, total = 0;
  MPI_Reduce(&rate, &total, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
  if (rank == 0) std::printf("ceiling ranks=%d per_rank_batch=%zu mode=%s samples_per_s=%.1f\n", world, b, mode.c_str(), total);
  if (mode == "shm") {
    MPI_Win_unlock_all(ww);
    MPI_Win_unlock_all(wg);
    MPI_Win_free(&ww);
    MPI_Win_free(&wg);
  }
  MPI_Comm_free(&node);
  MPI_Finalize();
  return 0;
}
