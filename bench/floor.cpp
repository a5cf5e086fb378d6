// The floor no trainer can beat: only the forward and backward GEMMs of an MLP, nothing else, at a
// per-rank batch, on every rank at once. Prints the aggregate samples/s over all ranks, the training
// FLOP rate, and a single-thread sgemm rate for reference.
// Usage: mpirun -np N bench_floor SIZES(784,512,256,10) PER_RANK_BATCH SECONDS
#include <mpi.h>

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
  set_blas_threads(1);
  const std::size_t b = argc > 2 ? std::stoul(argv[2]) : 256;
  const double secs = argc > 3 ? std::atof(argv[3]) : 3.0;
  bench::MlpGemms mlp(bench::parse_sizes(argc > 1 ? argv[1] : "784,512,256,10"), b);
  std::vector<float> w(mlp.num_weights(), 0.01f), dw(mlp.num_weights(), 0.0f);
  const double flop = mlp.flop();
  auto iteration = [&] { mlp.run(w.data(), dw.data()); };
  for (int i = 0; i < 5; ++i) iteration();  // warm-up
  MPI_Barrier(MPI_COMM_WORLD);
  long iters = 0;
  auto t0 = Clock::now();
  double el = 0;
  while (el < secs) {
    iteration();
    ++iters;
    el = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  double rate = double(iters * static_cast<long>(b)) / el, total = 0;
  MPI_Reduce(&rate, &total, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
  // Single-thread sgemm reference (rank 0 alone, after the others are done).
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) {
    const std::size_t n = 1024;
    std::vector<float> a(n * n, 0.5f), bb(n * n, 0.5f), c(n * n);
    gemm(Trans::No, Trans::No, 1.0f, ConstMatView<float>(a.data(), n, n), ConstMatView<float>(bb.data(), n, n), 0.0f,
         MatView<float>(c.data(), n, n));
    int reps = 0;
    auto s0 = Clock::now();
    double se = 0;
    while (se < 1.0) {
      gemm(Trans::No, Trans::No, 1.0f, ConstMatView<float>(a.data(), n, n), ConstMatView<float>(bb.data(), n, n), 0.0f,
           MatView<float>(c.data(), n, n));
      ++reps;
      se = std::chrono::duration<double>(Clock::now() - s0).count();
    }
    const double sgemm = 2.0 * double(n * n * n) * reps / se / 1e9;
    std::printf("floor ranks=%d per_rank_batch=%zu samples_per_s=%.1f train_gflops_per_rank=%.2f sgemm_1t_gflops=%.2f\n",
                world, b, total, flop * rate / double(b) / 1e9, sgemm);
  }
  MPI_Finalize();
  return 0;
}
