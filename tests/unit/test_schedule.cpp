// Every rank's schedule run in one process, message by message (no MPI): the sums, the ownership and
// the matching of sends and receives of each algorithm, at rank counts 1-9 and odd bucket sizes.
#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "bpt/comm/schedule.hpp"

using namespace bpt;

namespace {

using Maker = std::function<Schedule(std::size_t n, int rank, int p)>;

// Rank r's value of element i: distinct per rank, integer-valued, so every sum is exact in float.
float value(int r, std::size_t i) { return static_cast<float>((r + 1) * static_cast<int>(1 + i % 7)); }

// Runs steps [first, end of the phase) of every rank's schedule. Sends are buffered when a step
// starts (MPI may read the send buffer any time before completion, so a step's send and in-place
// receive must not overlap); a step completes once its message from the peer has arrived.
void run_phase(std::vector<Schedule>& s, std::vector<std::vector<float>>& buf, bool reduce) {
  const int p = static_cast<int>(s.size());
  std::vector<std::size_t> pc(p), end(p);
  for (int r = 0; r < p; ++r) {
    pc[r] = reduce ? 0 : s[r].reduce_steps;
    end[r] = reduce ? s[r].reduce_steps : s[r].steps.size();
  }
  std::map<std::pair<int, int>, std::deque<std::vector<float>>> wire;  // (from, to) -> messages in order
  std::vector<bool> sent(p, false);
  for (bool moved = true; moved;) {
    moved = false;
    for (int r = 0; r < p; ++r) {
      if (pc[r] == end[r]) continue;
      const Exchange& e = s[r].steps[pc[r]];
      if (!sent[r]) {
        if (e.send_to >= 0) {
          ASSERT_LE(e.send.end, buf[r].size());
          if (!e.add && e.recv_from >= 0) {
            ASSERT_TRUE(e.send.end <= e.recv.begin || e.recv.end <= e.send.begin) << "rank " << r << " step " << pc[r];
          }
          wire[{r, e.send_to}].emplace_back(buf[r].begin() + static_cast<long>(e.send.begin),
                                            buf[r].begin() + static_cast<long>(e.send.end));
        }
        sent[r] = true;
        moved = true;
      }
      if (e.recv_from >= 0) {
        // Every reduce-scatter message is added by its receiver, every allgather message copied: what
        // --grad-compression bf16 relies on to send the reduce-scatter alone as bfloat16.
        ASSERT_EQ(e.add, reduce) << "rank " << r << " step " << pc[r];
        auto& q = wire[{e.recv_from, r}];
        if (q.empty()) continue;
        std::vector<float> m = std::move(q.front());
        q.pop_front();
        ASSERT_EQ(m.size(), e.recv.size()) << "rank " << r << " step " << pc[r] << ": size of the message from " << e.recv_from;
        for (std::size_t j = 0; j < m.size(); ++j) buf[r][e.recv.begin + j] = e.add ? buf[r][e.recv.begin + j] + m[j] : m[j];
      }
      ++pc[r];
      sent[r] = false;
      moved = true;
    }
  }
  for (int r = 0; r < p; ++r) ASSERT_EQ(pc[r], end[r]) << "rank " << r << " is stuck: the schedules deadlock";
  for (auto& [k, q] : wire) ASSERT_TRUE(q.empty()) << "a message from " << k.first << " to " << k.second << " was never received";
}

void check(const Maker& make, const std::string& name) {
  for (int p = 1; p <= 9; ++p)
    for (std::size_t n : {1u, 2u, 7u, 64u, 1001u}) {
      SCOPED_TRACE(name + " p=" + std::to_string(p) + " n=" + std::to_string(n));
      std::vector<Schedule> s;
      std::vector<std::vector<float>> buf(p, std::vector<float>(n));
      for (int r = 0; r < p; ++r) {
        s.push_back(make(n, r, p));
        for (std::size_t i = 0; i < n; ++i) buf[r][i] = value(r, i);
      }
      run_phase(s, buf, true);
      if (testing::Test::HasFatalFailure()) return;
      std::vector<int> owners(n, 0);
      for (int r = 0; r < p; ++r)
        for (std::size_t i = s[r].owned.begin; i < s[r].owned.end; ++i) {
          ++owners[i];
          ASSERT_EQ(buf[r][i], static_cast<float>(p * (p + 1) / 2 * static_cast<int>(1 + i % 7))) << "owner " << r << " element " << i;
        }
      for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(owners[i], 1) << "element " << i << " must have exactly one owner";
      run_phase(s, buf, false);
      if (testing::Test::HasFatalFailure()) return;
      for (int r = 0; r < p; ++r) {
        ASSERT_EQ(buf[r], buf[0]) << "rank " << r << " ends with other bits than rank 0";
        for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(buf[r][i], static_cast<float>(p * (p + 1) / 2 * static_cast<int>(1 + i % 7)));
        std::size_t most = 0;
        for (const Exchange& e : s[r].steps)
          if (e.add && e.recv_from >= 0) most = std::max(most, e.recv.size());
        EXPECT_EQ(s[r].scratch, most);
      }
    }
}

}  // namespace

TEST(Schedule, RingSumsOwnsOnceAndGathers) { check(ring_schedule, "ring"); }

TEST(Schedule, RhdSumsOwnsOnceAndGathersAtAnyRankCount) { check(rhd_schedule, "rhd"); }

TEST(Schedule, HierSumsOwnsOnceAndGathersForSeveralRanksPerNode) {
  for (int per_node : {1, 2, 3, 4}) {
    // Ranks placed node by node (block layout), as smpirun.sh and mpirun --map-by core place them.
    const Maker hier = [per_node](std::size_t n, int rank, int p) {
      if (p % per_node != 0) return ring_schedule(n, rank, p);  // not a layout this test covers
      std::vector<int> node, cross;
      for (int i = 0; i < per_node; ++i) node.push_back(rank / per_node * per_node + i);
      for (int i = rank % per_node; i < p; i += per_node) cross.push_back(i);
      return hier_schedule(n, node, rank % per_node, cross, rank / per_node);
    };
    check(hier, "hier, " + std::to_string(per_node) + " per node");
  }
}

TEST(Schedule, RhdTakesTwoLogPStepsPlusTheFold) {
  EXPECT_EQ(rhd_schedule(100, 0, 1024).steps.size(), 20u);
  EXPECT_EQ(rhd_schedule(100, 5, 1024).reduce_steps, 10u);
  EXPECT_EQ(rhd_schedule(100, 3, 1000).steps.size(), 2u + 18u);  // an odd rank of a folded pair
  const Schedule out = rhd_schedule(100, 2, 1000);                // an even one: hand over, get back
  EXPECT_EQ(out.steps.size(), 2u);
  EXPECT_TRUE(out.owned.empty());
}

TEST(Schedule, RhdSendsTheLargestHalfToTheNearestRank) {
  // 1,024 ranks, 32 to a leaf switch: the reduce-scatter pairs r with r ^ 1, r ^ 2, ... in that order,
  // each level moving half of the one before, so a step leaving the 32 (partner r ^ 32 and beyond)
  // moves at most 1/64 of the bucket; the allgather retraces the levels in reverse.
  const std::size_t n = 1 << 20;
  for (int rank : {0, 5, 777, 1023}) {
    const Schedule s = rhd_schedule(n, rank, 1024);
    ASSERT_EQ(s.reduce_steps, 10u);
    for (std::size_t i = 0; i < 10; ++i) {
      const Exchange& e = s.steps[i];
      EXPECT_EQ(e.send_to, rank ^ (1 << i)) << rank << " step " << i;
      EXPECT_EQ(e.send.size(), n >> (i + 1)) << rank << " step " << i;
      const Exchange& back = s.steps[19 - i];
      EXPECT_EQ(back.send_to, e.send_to);
      EXPECT_EQ(back.send, e.recv);  // the half this rank kept, now summed everywhere in it
      EXPECT_EQ(back.recv, e.send);
    }
  }
}

TEST(Schedule, AutoPicksByTheModel) {
  const std::size_t mb2 = 2u << 20, mb24 = 24u << 20;
  EXPECT_EQ(choose_algorithm(mb2, 2, 1), Algorithm::Ring);  // a tie at p = 2: the ring, as before
  for (int p : {4, 16, 64, 256, 1024}) EXPECT_EQ(choose_algorithm(mb2, p, 1), Algorithm::Rhd) << p;
  EXPECT_EQ(choose_algorithm(mb24, 6, 1), Algorithm::Ring);   // the fold's extra copy costs more
  EXPECT_EQ(choose_algorithm(mb2, 1000, 1), Algorithm::Rhd);  // than the ring's latencies, until p grows
  EXPECT_EQ(choose_algorithm(mb2, 1024, 16), Algorithm::Hier);
  EXPECT_EQ(choose_algorithm(mb2, 16, 16), Algorithm::Rhd);   // one node: flat
  EXPECT_LT(model_seconds(Algorithm::Hier, mb2, 1024, 16), model_seconds(Algorithm::Rhd, mb2, 1024, 16));
  EXPECT_LT(model_seconds(Algorithm::Rhd, mb2, 1024, 1), model_seconds(Algorithm::Ring, mb2, 1024, 1) / 10);
}

TEST(Schedule, RingTakesTwoPMinusTwoSteps) {
  for (int p : {2, 5, 8}) EXPECT_EQ(ring_schedule(100, 0, p).steps.size(), static_cast<std::size_t>(2 * (p - 1)));
}
