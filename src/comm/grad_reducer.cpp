#include "bpt/comm/grad_reducer.hpp"

#include <mpi.h>

#include "handle.hpp"

#include <algorithm>
#include <climits>
#include <utility>

#include "bpt/core/error.hpp"

namespace bpt {

// Each started bucket runs a ring allreduce (reduce-scatter, then allgather) over point-to-point
// messages, one stage at a time; poll() moves every bucket on as far as its messages allow. Open
// MPI's point-to-point path is much faster here than its non-blocking collective (libnbc), and each
// chunk is summed on one rank and copied to the others, so every rank gets the same bits.
struct GradReducer::Requests {
  struct Ring {
    std::size_t bucket = 0;
    float* base = nullptr;  // the buffer the bucket's range lives in
    int stage = 0;          // [0, p-1): reduce-scatter; [p-1, 2(p-1)): allgather
    int end = 0;            // the stage at which it is done
    MPI_Request req[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
  };
  std::vector<Ring> active;
  std::vector<float> scratch;           // receive space for reduce-scatter, per bucket
  std::vector<std::size_t> scratch_at;  // offset of each bucket's space
};

GradReducer::GradReducer(const Comm& comm, std::span<float> grads, std::vector<std::size_t> off,
                         std::size_t bucket_bytes, bool overlap, std::size_t max_count, bool shard)
    : comm_(comm), grads_(grads), overlap_(overlap), shard_(shard), reqs_(std::make_unique<Requests>()) {
  require(off.size() >= 2 && off.front() == 0 && off.back() == grads.size(),
          "grad reducer: layer offsets must run from 0 to the gradient size");
  std::size_t cap = std::max<std::size_t>(1, bucket_bytes / sizeof(float));
  if (max_count == 0) max_count = static_cast<std::size_t>(INT_MAX);
  cap = std::min(cap, max_count);
  // Whole layers, last to first, fill a bucket until the next layer would overflow it; a layer larger
  // than a bucket is cut into bucket-sized pieces of its own. So a bucket never waits for a layer it
  // does not hold, and the last layers' sums start while the first layers are still in backward.
  std::size_t lo = grads.size(), hi = grads.size();  // the open bucket is [lo, hi)
  for (std::size_t l = off.size() - 1; l-- > 0;) {
    const std::size_t size = off[l + 1] - off[l];
    if (hi - lo + size > cap && hi > lo) {
      buckets_.push_back({lo, hi, l + 1});
      hi = lo;
    }
    lo = off[l];
    while (hi - lo > cap) {  // a layer too big for one bucket
      buckets_.push_back({hi - cap, hi, l});
      hi -= cap;
    }
  }
  if (hi > lo) buckets_.push_back({lo, hi, 0});
  const auto p = static_cast<std::size_t>(comm_.size());
  std::size_t at = 0;
  for (const Bucket& k : buckets_) {
    reqs_->scratch_at.push_back(at);
    at += (k.hi - k.lo + p - 1) / p;
  }
  if (p > 1 && (overlap_ || shard_)) reqs_->scratch.resize(at);
  // After the reduce-scatter stages of the ring, rank r holds the sum of chunk (r + 1) mod p.
  const auto mine = (static_cast<std::size_t>(comm_.rank()) + 1) % p;
  for (const Bucket& k : buckets_) {
    const Range c = shard_ ? bpt::shard(k.hi - k.lo, mine, p) : Range{0, k.hi - k.lo};
    owned_.push_back({k.lo + c.begin, k.lo + c.end});
  }
}

GradReducer::~GradReducer() {
  // A step abandoned by an exception still owns live messages; let the posted ones finish before the
  // buffers go (the job is being aborted, so no further stage is posted).
  for (auto& r : reqs_->active) MPI_Waitall(2, r.req, MPI_STATUSES_IGNORE);
}

void GradReducer::begin_step() {
  require(reqs_->active.empty(), "grad reducer: begin_step() before the previous step's finish()");
  next_ = 0;
}

namespace {

// Posts stage `stage` of bucket [lo, hi)'s ring: send one chunk to the right, receive one from the left.
void post(float* data, std::size_t n, float* scratch, int stage, int rank, int p, int tag, MPI_Comm comm,
          MPI_Request req[2]) {
  const int right = (rank + 1) % p, left = (rank + p - 1) % p;
  const bool rs = stage < p - 1;
  const int s = rs ? stage : stage - (p - 1);
  const auto send = static_cast<std::size_t>(((rs ? rank - s : rank + 1 - s) % p + p) % p);
  const auto recv = static_cast<std::size_t>(((rs ? rank - s - 1 : rank - s) % p + p) % p);
  const auto up = static_cast<std::size_t>(p);
  auto [slo, shi] = shard(n, send, up);
  auto [rlo, rhi] = shard(n, recv, up);
  float* into = rs ? scratch : data + rlo;  // reduce-scatter adds what arrives; allgather keeps it
  int rc = MPI_Irecv(into, static_cast<int>(rhi - rlo), MPI_FLOAT, left, tag, comm, &req[0]);
  if (rc == MPI_SUCCESS) rc = MPI_Isend(data + slo, static_cast<int>(shi - slo), MPI_FLOAT, right, tag, comm, &req[1]);
  if (rc != MPI_SUCCESS) throw Error("gradient ring: MPI_Isend/MPI_Irecv failed");
}

}  // namespace

void GradReducer::start(std::size_t b, float* base, int first_stage) {
  const int p = comm_.size();
  Requests::Ring r;
  r.bucket = b;
  r.base = base;
  r.stage = first_stage;
  r.end = first_stage == 0 && shard_ ? p - 1 : 2 * (p - 1);
  const Bucket& k = buckets_[b];
  post(base + k.lo, k.hi - k.lo, reqs_->scratch.data() + reqs_->scratch_at[b], first_stage, comm_.rank(), p,
       100 + static_cast<int>(b % 30000), to_comm(comm_.handle()), r.req);
  reqs_->active.push_back(r);
}

void GradReducer::poll() {
  const int p = comm_.size();
  auto& act = reqs_->active;
  for (std::size_t i = 0; i < act.size();) {
    Requests::Ring& r = act[i];
    bool finished = false;
    while (true) {
      int done = 0;
      if (MPI_Testall(2, r.req, &done, MPI_STATUSES_IGNORE) != MPI_SUCCESS)
        throw Error("gradient ring: MPI_Testall failed");
      if (!done) break;
      const Bucket& k = buckets_[r.bucket];
      const std::size_t n = k.hi - k.lo;
      float* scratch = reqs_->scratch.data() + reqs_->scratch_at[r.bucket];
      if (r.stage < p - 1) {  // add the chunk that arrived into ours
        const int rank = comm_.rank();
        auto [lo, hi] = shard(n, static_cast<std::size_t>(((rank - r.stage - 1) % p + p) % p), static_cast<std::size_t>(p));
        float* d = r.base + k.lo + lo;
        for (std::size_t j = 0; j < hi - lo; ++j) d[j] += scratch[j];
      }
      if (++r.stage == r.end) {
        finished = true;
        break;
      }
      post(r.base + k.lo, n, scratch, r.stage, comm_.rank(), p, 100 + static_cast<int>(r.bucket % 30000),
           to_comm(comm_.handle()), r.req);
    }
    if (finished) {
      act[i] = act.back();
      act.pop_back();
    } else {
      ++i;
    }
  }
}

void GradReducer::layer_ready(std::size_t l) {
  if (!overlap_ || comm_.size() == 1) return;
  while (next_ < buckets_.size() && buckets_[next_].first_layer >= l) start(next_++, grads_.data(), 0);
  poll();
}

double GradReducer::finish() {
  const double t0 = wall_time();
  if (comm_.size() > 1) {
    if (overlap_ || shard_) {
      while (next_ < buckets_.size()) start(next_++, grads_.data(), 0);
      while (!reqs_->active.empty()) poll();
    } else {
      for (const Bucket& k : buckets_) comm_.allreduce_sum(grads_.subspan(k.lo, k.hi - k.lo));
    }
  }
  return wall_time() - t0;
}

double GradReducer::gather(std::span<float> buf) {
  require(shard_, "grad reducer: gather() needs the sharded mode");
  require(buf.size() == grads_.size(), "grad reducer: gather() of a buffer laid out unlike the gradients");
  require(reqs_->active.empty(), "grad reducer: gather() while sums are still outstanding");
  const double t0 = wall_time();
  const int p = comm_.size();
  if (p > 1) {
    for (std::size_t b = 0; b < buckets_.size(); ++b) start(b, buf.data(), p - 1);
    while (!reqs_->active.empty()) poll();
  }
  return wall_time() - t0;
}

}  // namespace bpt
