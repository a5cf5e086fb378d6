#pragma once
// The comm module's waits. Without a stall watch they block (MPI_Waitall, MPI_Waitany); with one
// (Comm::watch_stalls) they poll, keep the heartbeat going, and end a job that has waited too long.
#include <mpi.h>

#include "bpt/comm/comm.hpp"

namespace bpt {

// Waits for all n requests.
void wait_all(const Comm& comm, int n, MPI_Request* r, const char* what);
// Waits for one of the n requests; returns its index (MPI_UNDEFINED: all were null).
int wait_any(const Comm& comm, int n, MPI_Request* r, const char* what);

}  // namespace bpt
