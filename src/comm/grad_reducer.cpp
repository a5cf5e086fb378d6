#include "bpt/comm/grad_reducer.hpp"

#include <mpi.h>

#include "add.hpp"
#include "handle.hpp"
#include "tags.hpp"
#include "watch.hpp"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <utility>

#include "bpt/core/buffer.hpp"
#include "bpt/core/error.hpp"

namespace bpt {

// Each started bucket runs its schedule (comm/schedule.hpp) over point-to-point messages, one step at
// a time. Open MPI's point-to-point path is much faster here than its non-blocking collectives
// (libnbc). Progress: between layers, progress(false) tests every outstanding request once (MPI_Test)
// and moves each finished bucket on; finish() and gather() block in MPI_Waitany rather than spin, which
// costs nothing on a real network and lets a simulator (SMPI) advance time to the next message (with
// a stall watch, comm/watch.hpp's wait_any polls MPI_Testany instead, and gives up when it must).
// Not MPI_Testsome/MPI_Waitsome: in SimGrid 3.32 each call leaves work behind, so a simulation's real
// time grew faster than linearly with the number of calls (16 simulated ranks, 2-message rounds: 1,000
// rounds 1.9 s, 5,000 over 120 s with MPI_Waitsome; 0.8 s and 2.6 s for 1,000 and 4,000 with MPI_Test
// then MPI_Waitany). On Open MPI and MPICH both forms cost the same.
struct GradReducer::Requests {
  struct Active {
    std::size_t bucket = 0;
    float* base = nullptr;  // the buffer the bucket's range lives in
    std::size_t step = 0;   // the step in flight
    std::size_t end = 0;    // the step at which it is done
    double started = 0;     // for the timeline
  };
  std::vector<Active> active;
  std::vector<MPI_Request> req;  // two per active bucket, in the same order: the receive, the send
  Buffer<float> scratch;                // receive space for reductions, per bucket (shared in model mode)
  std::vector<std::size_t> scratch_at;  // offset of each bucket's space
  Buffer<float> packed;                 // bf16: each bucket's packed send space (bfloat16s in float storage)
  std::vector<std::size_t> packed_at;   // offset of each bucket's space, in floats
};

GradReducer::GradReducer(const Comm& comm, std::span<float> grads, std::vector<std::size_t> off,
                         const ReducerOptions& o)
    : comm_(comm),
      grads_(grads),
      overlap_(o.overlap),
      shard_(o.shard),
      bf16_(o.bf16),
      scheduled_(o.overlap || o.shard || o.bf16),
      reqs_(std::make_unique<Requests>()) {
  const Algorithm algorithm = o.algorithm;
  const NodeLayout* layout = o.layout;
  std::size_t max_count = o.max_count;
  require(off.size() >= 2 && off.front() == 0 && off.back() == grads.size(),
          "grad reducer: layer offsets must run from 0 to the gradient size");
  std::size_t cap = std::max<std::size_t>(1, o.bucket_bytes / sizeof(float));
  if (max_count == 0) max_count = static_cast<std::size_t>(INT_MAX);
  cap = std::min(cap, max_count);
  // Whole layers, last to first, fill a bucket until the next layer would overflow it; a layer larger
  // than a bucket is cut into bucket-sized pieces of its own. So a bucket never waits for a layer it
  // does not hold, and the last layers' sums start while the first layers are still in backward.
  std::size_t lo = grads.size(), hi = grads.size();  // the open bucket is [lo, hi)
  for (std::size_t l = off.size() - 1; l-- > 0;) {
    const std::size_t size = off[l + 1] - off[l];
    if (hi - lo + size > cap && hi > lo) {
      buckets_.push_back({lo, hi, l + 1, Algorithm::Ring, {}});
      hi = lo;
    }
    lo = off[l];
    while (hi - lo > cap) {  // a layer too big for one bucket
      buckets_.push_back({hi - cap, hi, l, Algorithm::Ring, {}});
      hi -= cap;
    }
  }
  if (hi > lo) buckets_.push_back({lo, hi, 0, Algorithm::Ring, {}});
  const int p = comm_.size();
  NodeLayout found;
  if (p > 1 && scheduled_ && !layout) {
    found = node_layout(comm_);  // collective: every rank builds its reducer at the same point
    layout = &found;
  }
  if (layout) nodes_ = layout->nodes;
  if (algorithm == Algorithm::Hier && layout && !layout->uniform)
    throw CollectiveError("--reducer hier needs the same number of ranks on every node")
        .agreed_by_all(comm_.rank(), comm_.size());  // every rank holds the same layout
  std::size_t at = 0, packed_at = 0;
  for (Bucket& k : buckets_) {
    const std::size_t n = k.hi - k.lo;
    k.algorithm = algorithm != Algorithm::Auto ? algorithm
                  : layout && layout->uniform
                      ? choose_algorithm(n * sizeof(float), p, layout->per_node)
                      : choose_algorithm(n * sizeof(float), p, 1);
    if (p == 1 || !layout) {
      k.plan = ring_schedule(n, comm_.rank(), p);  // one rank, or the blocking path: nothing runs
    } else if (k.algorithm == Algorithm::Hier) {
      k.plan = hier_schedule(n, layout->node_group, layout->local, layout->cross_group, layout->node);
    } else {
      k.plan = k.algorithm == Algorithm::Rhd ? rhd_schedule(n, comm_.rank(), p) : ring_schedule(n, comm_.rank(), p);
    }
    reqs_->scratch_at.push_back(at);
    at += k.plan.scratch;
    reqs_->packed_at.push_back(packed_at);
    if (bf16_) {  // room for the largest reduce-scatter send, packed before it goes
      std::size_t most = 0;
      for (std::size_t s = 0; s < k.plan.reduce_steps; ++s)
        if (k.plan.steps[s].send_to >= 0) most = std::max(most, k.plan.steps[s].send.size());
      packed_at += (most + 1) / 2;
    }
    const Range c = shard_ ? k.plan.owned : Range{0, k.hi - k.lo};
    owned_.push_back({k.lo + c.begin, k.lo + c.end});
  }
  if (comm_.size() > 1 && scheduled_) reqs_->scratch.resize(at);
  if (comm_.size() > 1 && bf16_) reqs_->packed.resize(packed_at);
}

std::string GradReducer::describe() const {
  std::string out;
  for (Algorithm a : {Algorithm::Ring, Algorithm::Rhd, Algorithm::Hier}) {
    const auto n = std::count_if(buckets_.begin(), buckets_.end(), [a](const Bucket& b) { return b.algorithm == a; });
    if (n == 0) continue;
    if (!out.empty()) out += ", ";
    out += std::string(to_string(a)) + " x " + std::to_string(n) + (n == 1 ? " bucket" : " buckets");
  }
  return out;
}

GradReducer::~GradReducer() {
  // A step abandoned by an exception still owns live messages; let the posted ones finish before the
  // buffers go (the job is being aborted, so no further step is posted).
  if (!reqs_->req.empty()) MPI_Waitall(static_cast<int>(reqs_->req.size()), reqs_->req.data(), MPI_STATUSES_IGNORE);
}

void GradReducer::begin_step(std::int64_t step) {
  require(reqs_->active.empty() && !gathering_, "grad reducer: begin_step() before the previous step's finish() or gather_end()");
  next_ = 0;
  step_ = step;
}

void GradReducer::post(std::size_t i) {
  const Requests::Active& a = reqs_->active[i];
  const Bucket& k = buckets_[a.bucket];
  const Exchange& e = k.plan.steps[a.step];
  MPI_Request* rq = &reqs_->req[2 * i];
  const MPI_Comm c = to_comm(comm_.handle());
  const int tag = bucket_tag(a.bucket);
  float* data = a.base + k.lo;
  const bool packed = on_wire_bf16(a.bucket, a.step);
  const MPI_Datatype type = packed ? MPI_UINT16_T : MPI_FLOAT;
  int rc = MPI_SUCCESS;
  if (e.recv_from >= 0) {
    void* into = e.add ? reqs_->scratch.data() + reqs_->scratch_at[a.bucket] : data + e.recv.begin;
    rc = MPI_Irecv(into, static_cast<int>(e.recv.size()), type, e.recv_from, tag, c, &rq[0]);
  }
  if (rc == MPI_SUCCESS && e.send_to >= 0) {
    const void* from = data + e.send.begin;
    if (packed) {
      auto* out = reinterpret_cast<std::uint16_t*>(reqs_->packed.data() + reqs_->packed_at[a.bucket]);
      pack_for_wire(out, data + e.send.begin, e.send.size());
      from = out;
    }
    rc = MPI_Isend(from, static_cast<int>(e.send.size()), type, e.send_to, tag, c, &rq[1]);
  }
  if (rc != MPI_SUCCESS) throw Error("gradient sum: MPI_Isend/MPI_Irecv failed");
}

void GradReducer::start(std::size_t b, float* base, std::size_t first, std::size_t end) {
  if (first == end) return;
  reqs_->active.push_back({b, base, first, end, timeline_ ? wall_time() : 0.0});
  reqs_->req.push_back(MPI_REQUEST_NULL);
  reqs_->req.push_back(MPI_REQUEST_NULL);
  post(reqs_->active.size() - 1);
}

bool GradReducer::advance() {
  auto& act = reqs_->active;
  auto& rq = reqs_->req;
  bool moved = false;
  for (std::size_t i = 0; i < act.size();) {
    if (rq[2 * i] != MPI_REQUEST_NULL || rq[2 * i + 1] != MPI_REQUEST_NULL) {
      ++i;
      continue;
    }
    moved = true;
    Requests::Active& a = act[i];
    const Bucket& k = buckets_[a.bucket];
    const Exchange& e = k.plan.steps[a.step];
    if (e.add && e.recv_from >= 0) {  // add what arrived into ours
      const float* in = reqs_->scratch.data() + reqs_->scratch_at[a.bucket];
      if (on_wire_bf16(a.bucket, a.step))
        add_from_wire(a.base + k.lo + e.recv.begin, reinterpret_cast<const std::uint16_t*>(in), e.recv.size());
      else
        add_into(a.base + k.lo + e.recv.begin, in, e.recv.size());
    }
    if (++a.step < a.end) {
      post(i);
      ++i;
      continue;
    }
    if (timeline_ && !gathering_)
      timeline_->add("sum bucket", Timeline::kBucket + static_cast<int>(a.bucket), a.started, wall_time(), step_,
                     static_cast<int>(a.bucket));
    act[i] = act.back();  // done: the last one takes its place (its requests too)
    act.pop_back();
    rq[2 * i] = rq[rq.size() - 2];
    rq[2 * i + 1] = rq[rq.size() - 1];
    rq.resize(rq.size() - 2);
  }
  return moved;
}

void GradReducer::progress(bool block) {
  auto& rq = reqs_->req;
  while (!reqs_->active.empty()) {
    if (block) {
      if (!gathering_) comm_.phase(Phase::Sum, static_cast<int>(reqs_->active.front().bucket));
      wait_any(comm_, static_cast<int>(rq.size()), rq.data(), "gradient sum: MPI_Waitany");
    } else {
      for (MPI_Request& r : rq) {
        int flag = 0;
        if (r != MPI_REQUEST_NULL && MPI_Test(&r, &flag, MPI_STATUS_IGNORE) != MPI_SUCCESS)
          throw Error("gradient sum: MPI_Test failed");
      }
    }
    // Completed requests are now MPI_REQUEST_NULL. Polling, stop once a pass moves nothing.
    if (!advance() && !block) return;
  }
}

void GradReducer::layer_ready(std::size_t l) {
  if (!overlap_ || comm_.size() == 1) return;
  while (next_ < buckets_.size() && buckets_[next_].first_layer >= l) {
    start(next_, grads_.data(), 0, shard_ ? buckets_[next_].plan.reduce_steps : buckets_[next_].plan.steps.size());
    ++next_;
  }
  progress(false);
}

double GradReducer::finish() {
  const double t0 = wall_time();
  if (comm_.size() > 1) {
    if (scheduled_) {
      for (; next_ < buckets_.size(); ++next_)
        start(next_, grads_.data(), 0, shard_ ? buckets_[next_].plan.reduce_steps : buckets_[next_].plan.steps.size());
      progress(true);
    } else {
      for (std::size_t b = 0; b < buckets_.size(); ++b) {
        const double t = timeline_ ? wall_time() : 0.0;
        comm_.allreduce_sum(grads_.subspan(buckets_[b].lo, buckets_[b].hi - buckets_[b].lo));
        if (timeline_)
          timeline_->add("sum bucket", Timeline::kBucket + static_cast<int>(b), t, wall_time(), step_, static_cast<int>(b));
      }
    }
  }
  return wall_time() - t0;
}

double GradReducer::gather(std::span<float> buf) {
  const double t0 = wall_time();
  gather_begin(buf);
  gather_end();
  return wall_time() - t0;
}

void GradReducer::gather_begin(std::span<float> buf) {
  require(shard_, "grad reducer: gather() needs the sharded mode");
  require(buf.size() == grads_.size(), "grad reducer: gather() of a buffer laid out unlike the gradients");
  require(reqs_->active.empty() && !gathering_, "grad reducer: gather() while sums or a gather are still outstanding");
  if (comm_.size() == 1) return;
  gathering_ = true;
  for (std::size_t b = 0; b < buckets_.size(); ++b)
    start(b, buf.data(), buckets_[b].plan.reduce_steps, buckets_[b].plan.steps.size());
  progress(false);
}

double GradReducer::gather_end() {
  const double t0 = wall_time();
  if (gathering_) {
    progress(true);
    gathering_ = false;
  }
  return wall_time() - t0;
}

}  // namespace bpt
