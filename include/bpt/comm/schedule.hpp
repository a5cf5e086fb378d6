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
#include <string>
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

// Rabenseifner (Thakur, Rabenseifner and Gropp 2005): reduce-scatter by recursive halving, allgather by
// recursive doubling, 2 log2 p latencies and the ring's bandwidth term. At a p that is not a power of
// two, the first 2 (p - p') ranks (p' the largest power of two below p) fold in pairs first: the even
// one hands its bucket to the odd one, owns nothing, and gets the result back at the end. The halving
// pairs the nearest ranks first (rank r with r ^ 1, then r ^ 2, ...): the largest exchange, half the
// bucket, stays between neighbours, and a fat-tree's oversubscribed upper links carry the small ones.
Schedule rhd_schedule(std::size_t n, int rank, int p);

// Two levels, for several ranks per node: a reduce-scatter inside the node (halving for a power of
// two ranks, else the ring) leaves each local rank a node-wide sum of 1/L of the bucket; the ranks of
// one local index, one per node, reduce-scatter that slice across the nodes (Rabenseifner); then the
// allgathers in reverse. node_group: the world ranks of this node, in local order (this rank is
// node_group[local]); cross_group: the world ranks of this local index, in node order (cross_group[node]).
// The network carries 1/L of the bucket per rank, with log2(nodes) latencies.
Schedule hier_schedule(std::size_t n, const std::vector<int>& node_group, int local, const std::vector<int>& cross_group,
                       int node);

enum class Algorithm { Auto, Ring, Rhd, Hier };
const char* to_string(Algorithm a);
Algorithm parse_algorithm(const std::string& s);  // auto | ring | rhd | hier; throws Error

// The latency-bandwidth (alpha-beta) model that --reducer auto decides by: a message of b bytes costs
// alpha + b beta. Defaults: a network of 5 us and 100 Gb/s; inside a node, 2 us and 10 GB/s (measured
// here between two ranks with bench_comm).
struct CostModel {
  double alpha = 5e-6, beta = 8.0 / 100e9;
  double alpha_node = 2e-6, beta_node = 1.0 / 10e9;
};
// Modelled seconds of one bucket's sum (reduce-scatter + allgather) over p ranks, per_node to a node
// (flat algorithms: the ranks of a node share its link, so each gets 1/per_node of its bandwidth).
double model_seconds(Algorithm a, std::size_t bytes, int p, int per_node, const CostModel& m = {});
// --reducer auto, for one bucket: hier when the ranks sit several to a node on more than one node
// (equally many on each); otherwise whichever of rhd and ring the model says is faster. In practice:
// the ring only where a fold's extra copy of the bucket costs more than the ring's extra latencies
// (large buckets at a p that is not a power of two and not large), and at p = 2, where both take two
// steps and a tie goes to the ring; at a larger power of two, rhd.
Algorithm choose_algorithm(std::size_t bytes, int p, int per_node, const CostModel& m = {});

}  // namespace bpt
