#!/usr/bin/env bash
# A failed assertion on one rank of the MPI tests ends the whole job at once with that rank's message,
# instead of leaving the other ranks in a collective until CTest's timeout.
# Usage: assert_aborts.sh MPIEXEC MPI_TESTS
set -u
mpiexec=$1 tests=$2
start=$(date +%s)
out=$(timeout 60 "$mpiexec" -n 3 "$tests" --gtest_also_run_disabled_tests --gtest_filter=Harness.DISABLED_FailsOnRankOneAlone 2>&1)
rc=$?
took=$(( $(date +%s) - start ))
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$took" -lt 30 ] \
   && grep -q "mpi_tests: rank 1 of 3 failed in Harness.DISABLED_FailsOnRankOneAlone" <<<"$out" \
   && grep -q "the planted failure" <<<"$out"; then
  echo "ok   a failure on rank 1 ended the job in ${took} s (exit $rc) with its message"
else
  echo "FAIL exit $rc after ${took} s (want a non-zero exit, not 124, within 30 s, rank 1's message):"
  tail -20 <<<"$out"
  exit 1
fi
