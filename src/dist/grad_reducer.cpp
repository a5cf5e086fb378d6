#include "bpt/dist/grad_reducer.hpp"

#include <mpi.h>

#include "handle.hpp"

#include <algorithm>
#include <chrono>
#include <climits>

#include "bpt/core/error.hpp"

namespace bpt {

struct GradReducer::Requests {
  std::vector<MPI_Request> active;
};

GradReducer::GradReducer(const Comm& comm, std::span<float> grads, std::vector<std::size_t> off,
                         std::size_t bucket_bytes, bool overlap, std::size_t max_count)
    : comm_(comm), grads_(grads), overlap_(overlap), reqs_(std::make_unique<Requests>()) {
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
}

GradReducer::~GradReducer() {
  // A step abandoned by an exception still owns live requests; let them finish before the buffer goes.
  if (!reqs_->active.empty()) MPI_Waitall(static_cast<int>(reqs_->active.size()), reqs_->active.data(), MPI_STATUSES_IGNORE);
}

void GradReducer::begin_step() {
  require(reqs_->active.empty(), "grad reducer: begin_step() before the previous step's finish()");
  next_ = 0;
}

void GradReducer::start(std::size_t b) {
  const Bucket& k = buckets_[b];
  MPI_Request r;
  int rc = MPI_Iallreduce(MPI_IN_PLACE, grads_.data() + k.lo, static_cast<int>(k.hi - k.lo), MPI_FLOAT, MPI_SUM,
                          to_comm(comm_.handle()), &r);
  if (rc != MPI_SUCCESS) throw Error("MPI_Iallreduce failed on a gradient bucket");
  reqs_->active.push_back(r);
}

void GradReducer::poll() {
  if (reqs_->active.empty()) return;
  int done = 0;
  MPI_Testall(static_cast<int>(reqs_->active.size()), reqs_->active.data(), &done, MPI_STATUSES_IGNORE);
  if (done) reqs_->active.clear();
}

void GradReducer::layer_ready(std::size_t l) {
  if (!overlap_ || comm_.size() == 1) return;
  while (next_ < buckets_.size() && buckets_[next_].first_layer >= l) start(next_++);
  poll();
}

double GradReducer::finish() {
  auto t0 = std::chrono::steady_clock::now();
  if (comm_.size() > 1) {
    if (overlap_) {
      while (next_ < buckets_.size()) start(next_++);
      if (!reqs_->active.empty()) {
        int rc = MPI_Waitall(static_cast<int>(reqs_->active.size()), reqs_->active.data(), MPI_STATUSES_IGNORE);
        reqs_->active.clear();
        if (rc != MPI_SUCCESS) throw Error("MPI_Waitall failed on gradient buckets");
      }
    } else {
      for (const Bucket& k : buckets_) comm_.allreduce_sum(grads_.subspan(k.lo, k.hi - k.lo));
    }
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace bpt
