#pragma once
// The tags of bptrain's own point-to-point messages, in one place so that they never meet: bucket b's
// sum (grad_reducer.cpp) uses bucket_tag(b), the stall watch's heartbeat (watch.cpp) kHeartbeatTag,
// above every bucket tag and below 32767, the largest tag MPI guarantees (MPI_TAG_UB).
#include <cstddef>

namespace bpt {

// Buckets b and b + 30,000 would share a tag: 30,000 buckets of the default 2 MiB are 58 GiB of gradients.
constexpr int kBucketTagBase = 100, kBucketTags = 30000;
constexpr int kHeartbeatTag = 32001;
static_assert(kBucketTagBase + kBucketTags <= kHeartbeatTag && kHeartbeatTag <= 32767);

constexpr int bucket_tag(std::size_t bucket) { return kBucketTagBase + static_cast<int>(bucket % kBucketTags); }

}  // namespace bpt
