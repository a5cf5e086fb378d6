#pragma once
// Bucketed gradient sum over all ranks (Horovod's fusion buffer, the simple way): the flat gradient
// buffer is cut once, at start-up, into contiguous buckets of at most bucket_bytes, in reverse layer
// order. A bucket's non-blocking sum starts as soon as backward has finished every layer it touches,
// and outstanding sums are polled between layers so they progress while backward goes on.
//
// Sharded use (ZeRO stage 1: Rajbhandari et al., 2020): with shard = true, finish() runs only the
// reduce-scatter half of each bucket's ring, so each rank holds the complete sum of its own chunk of
// every bucket (owned()); the caller updates just those elements and gather() then copies each
// owner's chunks of a buffer (the new weights) to every rank. Same traffic as an allreduce, and each
// rank's optimizer step touches 1/N of the weights.
#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "bpt/comm/comm.hpp"
#include "bpt/comm/schedule.hpp"
#include "bpt/core/range.hpp"
#include "bpt/core/timeline.hpp"

namespace bpt {

struct ReducerOptions {
  std::size_t bucket_bytes = std::size_t{2} << 20;
  // Start each bucket's sum during backward (layer_ready) and poll between layers; off: one blocking
  // MPI_Allreduce per bucket in finish().
  bool overlap = true;
  // Sharded (ZeRO stage 1): finish() runs only the reduce-scatter half; gather() the allgather half.
  bool shard = false;
  Algorithm algorithm = Algorithm::Auto;  // each bucket's sum; Auto picks per bucket (choose_algorithm)
  std::size_t max_count = 0;  // the most elements of one MPI call (0: INT_MAX; smaller in tests of the chunking)
  const NodeLayout* layout = nullptr;  // where the ranks sit (nullptr: node_layout(comm), collective)
  // --grad-compression bf16: the reduce-scatter's messages carry bfloat16 (bpt/core/bf16.hpp), half the
  // bytes; each receiver adds them into its float partial sums, so every owner's sum is a float sum of
  // rounded partial sums. The allgather (of gradients, or gather()'s weights) stays float, so every rank
  // still ends with the same bits. Runs the schedules even with overlap off.
  bool bf16 = false;
};

class GradReducer {
 public:
  // layer_offsets: L+1 ascending offsets into grads (layer l = [off[l], off[l+1])). Throws
  // CollectiveError for Hier when the nodes hold different numbers of ranks.
  GradReducer(const Comm& comm, std::span<float> grads, std::vector<std::size_t> layer_offsets,
              const ReducerOptions& options = {});
  ~GradReducer();
  GradReducer(const GradReducer&) = delete;
  GradReducer& operator=(const GradReducer&) = delete;

  // Call at the start of every step, before backward (step: for the timeline's events).
  void begin_step(std::int64_t step = 0);
  // --timeline: each bucket's sum becomes an event on track Timeline::kBucket + its index, from its
  // start to the moment a poll or wait saw it done (nullptr: off).
  void set_timeline(Timeline* t) { timeline_ = t; }
  // Layer l's gradients are final: start every bucket that is now complete; poll the others.
  void layer_ready(std::size_t l);
  // Starts what is left, waits for every sum (sharded: for every sum of an owned chunk). Returns the
  // seconds spent waiting here.
  double finish();
  // Sharded: the element ranges whose complete sum this rank holds after finish(), one per bucket (in
  // the buckets' order); over all ranks they cover the buffer exactly once. Everywhere else this rank's
  // buffer holds partial sums until the next step. Unsharded: every bucket whole.
  const Ranges& owned() const { return owned_; }
  // Sharded: gives every rank each owner's chunks of buf (laid out like the gradients). Returns the
  // seconds it took.
  double gather(std::span<float> buf);
  // The same in two halves, so that it runs while this rank does other work: gather_begin starts
  // every bucket's allgather, poll() moves them on (one exchange a bucket each time), gather_end waits
  // for the rest and returns the seconds waited. Until gather_end, buf must not be read and no step
  // may begin.
  void gather_begin(std::span<float> buf);
  double gather_end();
  void poll() { progress(false); }
  bool gathering() const { return gathering_; }

  struct Bucket {
    std::size_t lo, hi;       // element range in grads
    std::size_t first_layer;  // lowest layer touching it: the bucket is complete once it is done
    Algorithm algorithm;      // the one its sum runs
    Schedule plan;            // this rank's exchanges for the bucket's sum
  };
  // "rhd: 2 buckets" and the like, for the banner.
  std::string describe() const;
  int ranks() const { return comm_.size(); }
  int nodes() const { return nodes_; }  // the nodes the ranks sit on (1 without the overlapped or sharded sums)
  const Comm& comm() const { return comm_; }
  std::size_t num_buckets() const { return buckets_.size(); }
  const Bucket& bucket(std::size_t i) const { return buckets_[i]; }  // in the order they start

 private:
  // Runs steps [first, end) of bucket b's schedule on the buffer at base (the gradients, or gather's).
  void start(std::size_t b, float* base, std::size_t first, std::size_t end);
  void post(std::size_t active);  // posts the current step of the active bucket at that index
  bool advance();                 // completes finished steps and posts the next; false: nothing moved
  void progress(bool block);      // until nothing moves (block: until every bucket is done)
  // bf16: this step of bucket b's schedule sends and receives bfloat16: every reduce-scatter step (each
  // message of one its receiver adds: comm/schedule.hpp), never an allgather step.
  bool on_wire_bf16(std::size_t b, std::size_t step) const { return bf16_ && step < buckets_[b].plan.reduce_steps; }

  const Comm& comm_;
  std::span<float> grads_;
  std::vector<Bucket> buckets_;  // in reverse layer order
  bool overlap_, shard_, bf16_;
  bool scheduled_;  // the sums run this class's schedules (else finish() calls MPI_Allreduce per bucket)
  int nodes_ = 1;
  Ranges owned_;
  std::size_t next_ = 0;  // first bucket not yet started
  bool gathering_ = false;  // in gather(): its waits are the weight gather, not a bucket's sum
  Timeline* timeline_ = nullptr;
  std::int64_t step_ = 0;  // the step begin_step() was given, for the timeline's events
  struct Requests;
  std::unique_ptr<Requests> reqs_;
};

}  // namespace bpt
