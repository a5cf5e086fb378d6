// What polling costs: one MPI_Test on a receive that has not arrived yet, and one MPI_Testsome over 8
// such receives, as the gradient reducer polls between layers. Rank 0 times many calls while rank 1
// holds its messages back; the simulated clusters (scripts/simulate.sh) bill each test this time
// (SMPI's smpi/test). Usage: mpirun -np 2 bench_mpi_test [CALLS]
#include <mpi.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size < 2) {
    std::fprintf(stderr, "bench_mpi_test: run with 2 ranks\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  const long calls = argc > 1 ? std::atol(argv[1]) : 200000;
  float in[8] = {}, out[8] = {};
  MPI_Request req[8];
  if (rank == 0) {
    for (int k = 0; k < 8; ++k) MPI_Irecv(&in[k], 1, MPI_FLOAT, 1, k, MPI_COMM_WORLD, &req[k]);
    int flag = 0, count = 0, idx[8];
    double t0 = MPI_Wtime();
    for (long i = 0; i < calls; ++i) MPI_Test(&req[0], &flag, MPI_STATUS_IGNORE);
    const double test_us = (MPI_Wtime() - t0) / double(calls) * 1e6;
    t0 = MPI_Wtime();
    for (long i = 0; i < calls; ++i) MPI_Testsome(8, req, &count, idx, MPI_STATUSES_IGNORE);
    const double some_us = (MPI_Wtime() - t0) / double(calls) * 1e6;
    const int go = 1;
    MPI_Send(&go, 1, MPI_INT, 1, 99, MPI_COMM_WORLD);  // now rank 1 may answer
    MPI_Waitall(8, req, MPI_STATUSES_IGNORE);
    std::printf("mpi_test us_per_test=%.4f us_per_testsome8=%.4f pending=%d\n", test_us, some_us, flag ? 0 : 1);
  } else if (rank == 1) {
    int go = 0;
    MPI_Recv(&go, 1, MPI_INT, 0, 99, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    for (int k = 0; k < 8; ++k) MPI_Send(&out[k], 1, MPI_FLOAT, 0, k, MPI_COMM_WORLD);
  }
  MPI_Finalize();
  return 0;
}
