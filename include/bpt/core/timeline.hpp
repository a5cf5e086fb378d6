#pragma once
// A per-rank record of where time went (--timeline): events with a start, an end, a track and a
// step, kept in memory and written as Chrome trace-event JSON (Perfetto, chrome://tracing). No MPI
// and no clock here: callers pass times (the comm module's wall_time(), simulated under SMPI).
//
// Tracks of one rank (Chrome's "threads" of the rank's "process"): kCompute holds data, forward and
// backward per layer, the optimizer, evaluation and the checkpoint write, one after another; kComm the
// waits for collectives (the sums' finish, the vote, the weight gather, the replica check); each
// bucket's sum, from its start to the moment it was seen finished, has a track of its own
// (kBucket + k), since sums overlap backward and each other.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bpt {

class Timeline {
 public:
  static constexpr int kCompute = 0, kComm = 1, kBucket = 2;
  struct Event {
    const char* name;  // a string literal
    double t0, t1;     // seconds
    std::int64_t step;
    int track, layer;  // layer (or bucket) -1: none
  };
  // Keeps at most max_events; later ones are counted, not kept.
  explicit Timeline(std::size_t max_events = 2'000'000) : max_(max_events) {}
  void add(const char* name, int track, double t0, double t1, std::int64_t step, int layer = -1) {
    if (events_.size() < max_)
      events_.push_back({name, t0, t1, step, track, layer});
    else
      ++dropped_;
  }
  std::size_t size() const { return events_.size(); }
  std::size_t dropped() const { return dropped_; }
  const std::vector<Event>& events() const { return events_; }
  // This rank's events and its track names as JSON objects separated by commas (no brackets), in
  // microseconds from `origin` (seconds), under pid = rank: a piece of a "traceEvents" array.
  std::string json(int rank, const std::string& host, double origin, int buckets) const;

 private:
  std::vector<Event> events_;
  std::size_t max_;
  std::size_t dropped_ = 0;
};

}  // namespace bpt
