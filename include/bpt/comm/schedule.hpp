#pragma once
// A bucket's sum over p ranks written down as a schedule: the exchanges one rank makes, in order.
// The reducer runs a schedule per bucket (many buckets at once, each one step at a time); the
// schedules themselves are plain data, MPI-free, so each algorithm is tested on its own by running
// every rank's schedule in one process (tests/unit/test_schedule.cpp).
//
// Every schedule keeps two promises: after its reduce-scatter steps each element's complete sum is
// held by exactly one rank (its owned range; some ranks may own nothing), computed there in a fixed
// order; the allgather steps then only copy those sums. So every rank ends with the same bits.
#include <cstddef>
#include <vector>

#include "bpt/core/range.hpp"

namespace bpt {

struct Exchange {
  int send_to = -1, recv_from = -1;  // ranks; -1: this step sends (or receives) nothing
  Range send, recv;                  // element ranges of the bucket
  bool add = false;                  // received values are added into recv (reduction), else they land in place
};

struct Schedule {
  std::vector<Exchange> steps;
  std::size_t reduce_steps = 0;  // [0, reduce_steps): the reduce-scatter; the rest: the allgather
  Range owned;                   // the complete sum this rank holds after the reduce-scatter
  std::size_t scratch = 0;       // the largest reduction receive: the receive space a bucket needs
};

// The ring (Patarasuk and Yuan 2009): p - 1 reduce-scatter steps passing one chunk (1/p of the
// bucket) to the right neighbour, then p - 1 allgather steps. Bandwidth-optimal; 2 (p - 1) latencies.
Schedule ring_schedule(std::size_t n, int rank, int p);

}  // namespace bpt
