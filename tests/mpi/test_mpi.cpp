// Run under mpirun -np 1/2/3/4 by CTest. Every rank runs every test; a failure on any rank fails the job.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>
#include <vector>

#include "bpt/core/error.hpp"
#include "bpt/core/hash.hpp"
#include "bpt/data/dataset.hpp"
#include "bpt/comm/comm.hpp"
#include "bpt/comm/grad_reducer.hpp"
#include "bpt/train/sharded_optimizer.hpp"
#include "bpt/train/trainer.hpp"

using namespace bpt;

namespace {

const Comm& world() {
  static const Comm c = Comm::world();
  return c;
}

// Fills a rank-dependent pattern whose sum over ranks is exact in float.
void fill(std::span<float> g, int rank) {
  for (std::size_t i = 0; i < g.size(); ++i) g[i] = static_cast<float>((rank + 1) * static_cast<int>(i % 13));
}
float expected_sum(std::size_t i, int n) { return static_cast<float>(n * (n + 1) / 2 * static_cast<int>(i % 13)); }
// For bf16 on the wire: values 0-2, so every partial sum of up to 128 ranks is an integer up to 256,
// exact in bfloat16 (8 significant bits).
void fill_small(std::span<float> g, int rank) {
  for (std::size_t i = 0; i < g.size(); ++i) g[i] = static_cast<float>((static_cast<std::size_t>(rank) + i) % 3);
}
float expected_small_sum(std::size_t i, int n) {
  int sum = 0;
  for (int r = 0; r < n; ++r) sum += static_cast<int>((static_cast<std::size_t>(r) + i) % 3);
  return static_cast<float>(sum);
}

// Every algorithm, each under the layouts it is for: hier with 2 or 3 ranks to a "node" (a block layout
// on this one machine) wherever that divides the ranks, else 1.
struct Variant {
  Algorithm algorithm;
  int per_node;
};
std::vector<Variant> variants() {
  const int n = world().size();
  std::vector<Variant> v = {{Algorithm::Ring, 1}, {Algorithm::Rhd, 1}, {Algorithm::Auto, 1}, {Algorithm::Hier, 1}};
  for (int per : {2, 3})
    if (n % per == 0 && n > per) v.push_back({Algorithm::Hier, per});
  return v;
}
std::string name(const Variant& v) { return std::string(to_string(v.algorithm)) + "/" + std::to_string(v.per_node); }

// bf16: with fill_small's pattern the compressed sum must equal the plain one too.
void run_reducer(std::size_t n, std::vector<std::size_t> off, std::size_t bucket_bytes, bool overlap,
                 std::size_t max_count, bool bf16 = false) {
  for (const Variant& v : variants()) {
    SCOPED_TRACE(name(v) + (bf16 ? " bf16" : ""));
    std::vector<float> g(n);
    const NodeLayout layout = block_layout(world().rank(), world().size(), v.per_node);
    GradReducer red(world(), g, off, {bucket_bytes, overlap, false, v.algorithm, max_count, &layout, bf16});
    for (int rep = 0; rep < 3; ++rep) {  // the same reducer serves step after step
      if (bf16)
        fill_small(g, world().rank());
      else
        fill(g, world().rank());
      red.begin_step();
      for (std::size_t l = off.size() - 1; l-- > 0;) red.layer_ready(l);
      red.finish();
      for (std::size_t i = 0; i < n; ++i)
        ASSERT_EQ(g[i], bf16 ? expected_small_sum(i, world().size()) : expected_sum(i, world().size())) << "element " << i;
      // Identical bits on every rank, not only equal values.
      const std::vector<std::uint64_t> sums = world().allgather(checksum(g));
      for (std::uint64_t h : sums) ASSERT_EQ(h, sums[0]);
    }
  }
}

}  // namespace

TEST(GradReducer, OddLengthsManyBucketsEqualPlainSum) {
  run_reducer(1001, {0, 3, 500, 1001}, 100 * sizeof(float), true, 0);
  run_reducer(1, {0, 1}, 4 << 20, true, 0);
  run_reducer(7, {0, 2, 7}, 3 * sizeof(float), true, 0);
}

TEST(GradReducer, BufferLargerThanOneBucket) {
  std::vector<float> g(3 << 20);
  GradReducer red(world(), g, {0, 1 << 20, 3 << 20}, {.bucket_bytes = 1 << 20});
  EXPECT_EQ(red.num_buckets(), 12u);
  run_reducer(3 << 20, {0, 1 << 20, 3 << 20}, 1 << 20, true, 0);
}

TEST(GradReducer, BucketsHoldWholeLayersAndSplitOnlyLargeOnes) {
  std::vector<float> g(135);
  GradReducer red(world(), g, {0, 100, 130, 135}, {.bucket_bytes = 50 * sizeof(float)});
  ASSERT_EQ(red.num_buckets(), 3u);
  // Layers 2 and 1 share the first bucket, ready once layer 1 is done; layer 0 is cut in two.
  EXPECT_EQ(red.bucket(0).lo, 100u);
  EXPECT_EQ(red.bucket(0).hi, 135u);
  EXPECT_EQ(red.bucket(0).first_layer, 1u);
  EXPECT_EQ(red.bucket(1).lo, 50u);
  EXPECT_EQ(red.bucket(1).first_layer, 0u);
  EXPECT_EQ(red.bucket(2).lo, 0u);
  EXPECT_EQ(red.bucket(2).hi, 50u);
  run_reducer(135, {0, 100, 130, 135}, 50 * sizeof(float), true, 0);
}

TEST(GradReducer, ChunksAboveTheCountLimit) {
  // max_count stands in for INT_MAX: every bucket is cut to at most 7 elements, so no MPI call of its
  // sum carries more; whole layers are never merged past the limit and the buckets tile the buffer.
  std::vector<float> g(100);
  GradReducer red(world(), g, {0, 40, 100}, {.bucket_bytes = 1 << 20, .max_count = 7});
  ASSERT_EQ(red.num_buckets(), 6u + 9u);  // layer 1: 60 = 8 x 7 + 4; layer 0: 40 = 5 x 7 + 5
  std::size_t hi = 100;
  for (std::size_t b = 0; b < red.num_buckets(); ++b) {  // last layer first, contiguous
    EXPECT_EQ(red.bucket(b).hi, hi) << "bucket " << b;
    EXPECT_LE(red.bucket(b).hi - red.bucket(b).lo, 7u) << "bucket " << b;
    EXPECT_GT(red.bucket(b).hi, red.bucket(b).lo) << "bucket " << b;
    EXPECT_FALSE(red.bucket(b).lo < 40 && red.bucket(b).hi > 40) << "bucket " << b << " spans two layers";
    hi = red.bucket(b).lo;
  }
  EXPECT_EQ(hi, 0u);
  run_reducer(100, {0, 40, 100}, 1 << 20, true, 7);
}

TEST(GradReducer, BlockingPathEqualsPlainSum) { run_reducer(1001, {0, 3, 500, 1001}, 400, false, 0); }

TEST(GradReducer, Bf16OnTheWireSumsExactlyWhatBf16HoldsExactly) {
  run_reducer(1001, {0, 3, 500, 1001}, 100 * sizeof(float), true, 0, true);
  run_reducer(7, {0, 2, 7}, 3 * sizeof(float), true, 0, true);
  run_reducer(1001, {0, 3, 500, 1001}, 400, false, 0, true);  // overlap off: the schedules still run
}

TEST(GradReducer, Bf16OnTheWireRoundsPartialSumsAndEveryRankEndsWithTheSameBits) {
  // Values bfloat16 cannot hold: each sum is off the float sum by at most a rounding of each partial
  // sum sent (2^-9 relative, at most p - 1 of them), and the allgather (float) leaves identical bits.
  const int p = world().size();
  for (const Variant& v : variants())
    for (bool shard : {false, true}) {
      SCOPED_TRACE(name(v) + (shard ? " sharded" : ""));
      const std::size_t n = 1001;
      const std::vector<std::size_t> off = {0, 300, n};
      std::vector<float> g(n), w(n);
      const NodeLayout layout = block_layout(world().rank(), p, v.per_node);
      GradReducer red(world(), g, off,
                      {.bucket_bytes = 128 * sizeof(float), .shard = shard, .algorithm = v.algorithm, .layout = &layout,
                       .bf16 = true});
      auto value = [](int r, std::size_t i) { return 1.0f + 0.0123f * static_cast<float>(r) + 1e-4f * static_cast<float>(i); };
      for (std::size_t i = 0; i < n; ++i) g[i] = value(world().rank(), i);
      red.begin_step();
      for (std::size_t l = off.size() - 1; l-- > 0;) red.layer_ready(l);
      red.finish();
      bool any_rounded = false;
      auto check = [&](std::size_t i, float got) {
        double exact = 0;
        for (int r = 0; r < p; ++r) exact += value(r, i);
        ASSERT_NEAR(got, exact, exact * (p - 1) * std::ldexp(1.0, -8)) << "element " << i;
        any_rounded = any_rounded || static_cast<double>(got) != static_cast<double>(static_cast<float>(exact));
      };
      if (shard) {
        for (std::size_t i = 0; i < n; ++i) w[i] = -1;
        for (auto [lo, hi] : red.owned())
          for (std::size_t i = lo; i < hi; ++i) check(i, w[i] = g[i]);
        red.gather(w);
      } else {
        w = g;
      }
      for (std::size_t i = 0; i < n; ++i) check(i, w[i]);
      if (p > 1) {
        EXPECT_TRUE(any_rounded) << "no sum differs from float's: the messages were not bfloat16";
      }
      const std::vector<std::uint64_t> sums = world().allgather(checksum(w));
      for (std::uint64_t h : sums) ASSERT_EQ(h, sums[0]);
    }
}

TEST(GradReducer, ShardedOwnersHoldTheSumAndGatherCopiesTheirChunksToAll) {
  // Odd sizes and more buckets than elements per rank, so some ranks own empty chunks.
  for (const Variant& v : variants())
  for (auto [n, bucket] : {std::pair<std::size_t, std::size_t>{1001, 100}, {7, 3}, {3, 2}}) {
    SCOPED_TRACE(name(v));
    std::vector<float> g(n), w(n);
    const std::vector<std::size_t> off = {0, n / 3, n};
    const NodeLayout layout = block_layout(world().rank(), world().size(), v.per_node);
    GradReducer red(world(), g, off,
                    {.bucket_bytes = bucket * sizeof(float), .shard = true, .algorithm = v.algorithm, .layout = &layout});
    // Every element is owned by exactly one rank.
    std::vector<double> owners(n, 0.0);
    for (auto [lo, hi] : red.owned())
      for (std::size_t i = lo; i < hi; ++i) owners[i] += 1;
    world().allreduce_sum(std::span<double>(owners));
    for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(owners[i], 1.0) << "element " << i << " of " << n;
    for (int rep = 0; rep < 3; ++rep) {  // step after step
      fill(g, world().rank());
      red.begin_step();
      for (std::size_t l = off.size() - 1; l-- > 0;) red.layer_ready(l);
      red.finish();
      for (auto [lo, hi] : red.owned())
        for (std::size_t i = lo; i < hi; ++i) ASSERT_EQ(g[i], expected_sum(i, world().size())) << "element " << i;
      // The owner writes its elements (from the sum it holds); everything else is stale until gather().
      std::fill(w.begin(), w.end(), -1.0f);
      for (auto [lo, hi] : red.owned())
        for (std::size_t i = lo; i < hi; ++i) w[i] = g[i] + static_cast<float>(rep);
      red.gather(w);
      for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(w[i], expected_sum(i, world().size()) + static_cast<float>(rep)) << "element " << i;
    }
  }
}

TEST(GradReducer, NoLayerReadyStillReducesEverything) {
  // A rank with no samples in the last, partial batch never runs backward.
  std::vector<float> g(50);
  GradReducer red(world(), g, {0, 20, 50}, {.bucket_bytes = 40});
  fill(g, world().rank());
  red.begin_step();
  if (world().rank() == 0) red.layer_ready(1);
  red.finish();
  for (std::size_t i = 0; i < g.size(); ++i) ASSERT_EQ(g[i], expected_sum(i, world().size()));
}

TEST(ShardedOptimizer, SameWeightsAndWholeStateAsReplicatedAndStateRoundTrips) {
  // Many buckets of odd sizes, so every rank owns several ranges (some empty at np 4).
  const std::size_t n = 1001;
  const std::vector<std::size_t> off = {0, 300, 1001};
  for (OptKind k : {OptKind::Momentum, OptKind::Adam}) {
    OptimConfig oc{k};
    oc.weight_decay = 0.01f;
    std::vector<float> g(n), gref(n), p(n), pref(n);
    GradReducer red(world(), g, off, {.bucket_bytes = 97 * sizeof(float), .shard = true}),
        solo(Comm::self(), gref, off, {.bucket_bytes = 97 * sizeof(float)});
    ShardedOptimizer sh(oc, red, off, true), rep(oc, solo, off, false);
    EXPECT_EQ(sh.split(), world().size() > 1);
    for (std::size_t i = 0; i < n; ++i) p[i] = pref[i] = 0.01f * static_cast<float>(i % 17) - 0.05f;
    for (int step = 0; step < 3; ++step) {
      for (std::size_t i = 0; i < n; ++i) g[i] = gref[i] = std::sin(static_cast<float>(i + 7 * step));
      sh.step(p, g, 0.01f, 0.5f);
      sh.gather(p);
      rep.step(pref, gref, 0.01f, 0.5f);
    }
    ASSERT_EQ(p, pref) << to_string(k);
    std::vector<std::pair<std::string, std::vector<float>>> whole, want;
    sh.with_whole_state([&](Optimizer& o) {
      for (auto& [name, v] : o.state()) whole.emplace_back(name, std::vector<float>(v.begin(), v.end()));
    });
    rep.with_whole_state([&](Optimizer& o) {
      for (auto& [name, v] : o.state()) want.emplace_back(name, std::vector<float>(v.begin(), v.end()));
    });
    ASSERT_EQ(whole, want) << to_string(k);
    // A checkpoint's whole state, loaded by a fresh sharded optimizer, assembles to the same whole state.
    ShardedOptimizer again(oc, red, off, true);
    again.load_whole_state(whole, sh.steps());
    EXPECT_EQ(again.steps(), 3u);
    std::vector<std::pair<std::string, std::vector<float>>> back;
    again.with_whole_state([&](Optimizer& o) {
      for (auto& [name, v] : o.state()) back.emplace_back(name, std::vector<float>(v.begin(), v.end()));
    });
    EXPECT_EQ(back, want) << to_string(k);
  }
}

namespace {

Config small_config() {
  Config c;
  c.train = "synthetic:700,30,5";
  c.layers = {{LayerKind::Dense, 16}, {LayerKind::Dense, 12}};
  c.batch_size = 50;  // not divisible by 3 or 4: slices differ by one
  c.epochs = 2;
  c.lr = 0.01f;
  c.quiet = true;
  c.check_every = 3;
  c.eval_batch = 64;
  return c;
}

std::vector<float> train_weights(const Config& c, const Comm& comm) {
  Trainer t(c, comm, load_train(c.train, c.load), load_test(c.test, c.train, c.load));
  t.run();
  return {t.model().params().begin(), t.model().params().end()};
}

double rel(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0, n = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    d += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    n += double(b[i]) * b[i];
  }
  return std::sqrt(d / n);
}

}  // namespace

class Equivalence : public ::testing::TestWithParam<OptKind> {};

TEST_P(Equivalence, WeightsMatchSingleProcessAfterKSteps) {
  Config c = small_config();
  c.optim.kind = GetParam();
  c.max_steps = 20;  // crosses the epoch boundary (14 steps per epoch, the last one partial)
  c.dropout = 0.1f;
  c.clip_grad_norm = 1.0;
  c.optim.weight_decay = 1e-3f;
  if (GetParam() == OptKind::Lars) c.lr = 1.0f, c.optim.trust_coef = 0.01f;  // LARS's lr is scaled by eta |w|/|g|
  c.bucket_mb = 0.0005;  // several buckets: a rank's part cuts across layers (LARS and LAMB complete their norms)
  auto dist = train_weights(c, world());
  auto ref = train_weights(c, Comm::self());
  EXPECT_LE(rel(dist, ref), 1e-5);
  for (std::size_t i = 0; i < ref.size(); ++i) ASSERT_NEAR(dist[i], ref[i], 1e-5 * (1 + std::fabs(ref[i])));
  Config still = c;
  still.max_steps = 1;  // barely moved: the comparison above is not between two untrained models
  EXPECT_GT(rel(train_weights(still, Comm::self()), ref), 1e-3);
}

INSTANTIATE_TEST_SUITE_P(Optimizers, Equivalence,
                         ::testing::Values(OptKind::Sgd, OptKind::Momentum, OptKind::Nesterov, OptKind::Adam,
                                           OptKind::AdamW, OptKind::Lars, OptKind::Lamb),
                         [](const auto& info) { return to_string(info.param); });

TEST(Equivalence, EveryReducerMatchesSingleProcessAfter20Steps) {
  for (Algorithm a : {Algorithm::Ring, Algorithm::Rhd, Algorithm::Hier}) {
    Config c = small_config();
    c.optim.kind = OptKind::Momentum;
    c.max_steps = 20;
    c.bucket_mb = 0.0005;  // several buckets
    c.reducer = a;
    EXPECT_LE(rel(train_weights(c, world()), train_weights(c, Comm::self())), 1e-5) << to_string(a);
  }
}

// A small CNN on 1x6x6 "images" (synthetic rows given a shape): convolutions ("same", strided, "valid"),
// both poolings and dense layers, with dropout, for optimizers with and without state; and bitwise
// with --deterministic.
Config cnn_config() {
  Config c = small_config();
  c.train = "synthetic:700,36,5";
  c.input_shape = {1, 6, 6};
  c.layers = parse_layers("conv3:4,maxpool2,conv2:3:valid,dense:8");
  c.dropout = 0.1f;
  c.bucket_mb = 0.0002;  // several buckets: ranks own parts of the conv layers
  return c;
}

TEST(Equivalence, ConvolutionalNetworkMatchesSingleProcess) {
  for (OptKind k : {OptKind::Momentum, OptKind::Adam, OptKind::Lamb}) {
    Config c = cnn_config();
    c.optim.kind = k;
    c.max_steps = 20;
    if (k == OptKind::Lamb) c.optim.weight_decay = 0.01f;
    auto dist = train_weights(c, world());
    auto ref = train_weights(c, Comm::self());
    EXPECT_LE(rel(dist, ref), 1e-5) << to_string(k);
    Config still = c;
    still.max_steps = 1;
    EXPECT_GT(rel(train_weights(still, Comm::self()), ref), 1e-3) << to_string(k);  // it trained
  }
  Config a = cnn_config();
  a.layers = parse_layers("conv3:4:s2,avgpool3,dense:6");
  a.max_steps = 12;
  EXPECT_LE(rel(train_weights(a, world()), train_weights(a, Comm::self())), 1e-5) << "strided, average-pooled";
}

TEST(Deterministic, ConvolutionalNetworkBitwiseEqualToSingleProcess) {
  const int n = world().size();
  if ((n & (n - 1)) != 0 || 8 % n != 0) GTEST_SKIP() << "--deterministic needs a power-of-two rank count dividing 8";
  Config c = cnn_config();
  c.deterministic = true;
  c.micro_shards = 8;
  c.max_steps = 12;
  EXPECT_EQ(train_weights(c, world()), train_weights(c, Comm::self()));
}

// --gather-overlap on (the default across nodes) leaves each step's weight gather running into the next step's data:
// the same bits as completing it at the step's end, for an MLP over several buckets and the CNN, with
// the replica check and evaluation (which complete it early) in between.
TEST(Equivalence, GatherOverlapGivesTheSameBits) {
  for (Config c : {small_config(), cnn_config()}) {
    c.optim.kind = OptKind::Adam;
    c.max_steps = 15;
    c.bucket_mb = 0.0005;
    c.check_every = 4;
    c.gather_overlap = Config::GatherOverlap::On;
    Config off = c;
    off.gather_overlap = Config::GatherOverlap::Off;
    EXPECT_EQ(train_weights(c, world()), train_weights(off, world()));
  }
}

TEST(GradReducer, GatherInHalvesEqualsGatherAndRefusesANewStepMeanwhile) {
  const std::size_t n = 1001;
  const std::vector<std::size_t> off = {0, 300, n};
  std::vector<float> g(n), w(n), v(n);
  GradReducer red(world(), g, off, {.bucket_bytes = 128 * sizeof(float), .shard = true});
  fill(g, world().rank());
  red.begin_step();
  red.finish();
  std::fill(w.begin(), w.end(), -1.0f);
  for (auto [lo, hi] : red.owned())
    for (std::size_t i = lo; i < hi; ++i) w[i] = g[i];
  v = w;
  red.gather(w);
  red.gather_begin(v);
  for (int i = 0; i < 3; ++i) red.poll();
  if (world().size() > 1) {
    EXPECT_TRUE(red.gathering());
    EXPECT_THROW(red.begin_step(), Error);  // its messages still use the reducer
  }
  red.gather_end();
  EXPECT_FALSE(red.gathering());
  EXPECT_EQ(v, w);
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(w[i], expected_sum(i, world().size())) << "element " << i;
}

TEST(Equivalence, BlockingPathMatchesToo) {
  Config c = small_config();
  c.overlap = false;
  c.max_steps = 10;
  EXPECT_LE(rel(train_weights(c, world()), train_weights(c, Comm::self())), 1e-5);
}

// --accumulate K: K micro-batches of backward per rank, summed before the sum over ranks, equal one
// step on the whole batch (single process, K = 1) to 1e-5, with dropout and a partial last batch; K
// larger than a rank's rows leaves some micro-batches empty.
TEST(Accumulate, MicroBatchesEqualOneStepOnTheWholeBatch) {
  for (std::size_t k : {2, 3, 7, 40}) {
    Config c = small_config();
    c.optim.kind = OptKind::Adam;
    c.max_steps = 20;
    c.dropout = 0.1f;
    c.bucket_mb = 0.0005;  // several buckets, started during the last micro-batch's backward
    Config whole = c;
    c.accumulate = k;
    auto acc = train_weights(c, world());
    auto ref = train_weights(whole, Comm::self());
    EXPECT_LE(rel(acc, ref), 1e-5) << "K=" << k;
    EXPECT_GT(rel(acc, std::vector<float>(ref.size(), 0.0f)), 0.5) << "K=" << k;  // they trained
  }
}

TEST(Deterministic, BitwiseEqualToSingleProcessOrClearError) {
  Config c = small_config();
  c.deterministic = true;
  c.micro_shards = 8;
  c.dropout = 0.2f;
  c.max_steps = 16;
  const int n = world().size();
  if ((n & (n - 1)) != 0 || 8 % n != 0) {  // needs a power-of-two rank count that divides the micro-shards
    EXPECT_THROW(train_weights(c, world()), CollectiveError);
    return;
  }
  auto dist = train_weights(c, world());
  auto ref = train_weights(c, Comm::self());
  ASSERT_EQ(dist.size(), ref.size());
  for (std::size_t i = 0; i < ref.size(); ++i) ASSERT_EQ(dist[i], ref[i]) << "parameter " << i << " differs";
  // And run to run.
  EXPECT_EQ(train_weights(c, world()), dist);
}

TEST(Deterministic, EveryReportedMetricIsBitwiseEqualToSingleProcess) {
  // The issue this guards: the weights were equal at np 1, 2 and 4 but test_loss was not (the
  // evaluation and loss sums depended on the rank count).
  const int n = world().size();
  if ((n & (n - 1)) != 0 || 8 % n != 0) GTEST_SKIP() << "--deterministic needs a power-of-two rank count dividing 8";
  Config c = small_config();
  c.deterministic = true;
  c.micro_shards = 8;
  c.val_fraction = 0.15;
  c.eval_batch = 37;  // blocks that do not divide the sets
  auto run = [&](const Comm& comm) {
    Trainer t(c, comm, load_train(c.train, c.load), load_test(c.test, c.train, c.load));
    return t.run();
  };
  const TrainResult a = run(world()), b = run(Comm::self());
  EXPECT_EQ(a.train_loss, b.train_loss);
  EXPECT_EQ(a.test.loss, b.test.loss);
  EXPECT_EQ(a.test.accuracy, b.test.accuracy);
  EXPECT_EQ(a.val.loss, b.val.loss);
  EXPECT_EQ(a.val.accuracy, b.val.accuracy);
  EXPECT_EQ(a.test.samples, b.test.samples);
}

TEST(Replicas, PerturbedRankIsCaughtByChecksum) {
  Config c = small_config();
  c.max_steps = 3;
  Trainer t(c, world(), load_train(c.train, c.load), load_test(c.test, c.train, c.load));
  t.run();
  EXPECT_NO_THROW(t.verify_replicas(3));
  const int victim = world().size() - 1;
  if (world().rank() == victim) t.model().params()[5] += 1e-7f;
  if (world().size() == 1) return;  // nothing to disagree with
  try {
    t.verify_replicas(3);
    FAIL() << "perturbed weights not detected";
  } catch (const CollectiveError& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(victim)), std::string::npos) << e.what();
  }
}

TEST(Agreement, DifferentConfigOnOneRankIsNamed) {
  if (world().size() == 1) GTEST_SKIP() << "needs two ranks";
  Config c = small_config();
  if (world().rank() == 1) c.layers = {{LayerKind::Dense, 16}, {LayerKind::Dense, 13}};
  try {
    Trainer t(c, world(), load_train(c.train, c.load), load_test(c.test, c.train, c.load));
    FAIL() << "disagreement not detected";
  } catch (const CollectiveError& e) {
    EXPECT_NE(std::string(e.what()).find("ranks 1 disagree"), std::string::npos) << e.what();
  }
}

TEST(Agreement, DifferentDataOnOneRankIsNamed) {
  if (world().size() == 1) GTEST_SKIP() << "needs two ranks";
  Config c = small_config();
  LoadOptions other = c.load;
  if (world().rank() == world().size() - 1) other.seed = 7;  // another synthetic draw: other data, same shape
  try {
    Trainer t(c, world(), load_train(c.train, other), load_test(c.test, c.train, c.load));
    FAIL() << "disagreement not detected";
  } catch (const CollectiveError& e) {
    EXPECT_NE(std::string(e.what()).find("ranks " + std::to_string(world().size() - 1) + " disagree"), std::string::npos)
        << e.what();
  }
}

TEST(Numeric, InjectedNanOnOneRankStopsEveryRankNamingStepAndLayer) {
  Config c = small_config();
  c.nan_rank = world().size() - 1;
  c.nan_at_step = 4;
  try {
    train_weights(c, world());
    FAIL() << "NaN gradient not detected";
  } catch (const NumericError& e) {
    EXPECT_NE(std::string(e.what()).find("step 4: the gradients of layer 2 are not finite"), std::string::npos) << e.what();
  }
  c.on_nonfinite_skip = true;  // skipped instead: training goes on with finite weights
  auto w = train_weights(c, world());
  for (float v : w) ASSERT_TRUE(std::isfinite(v));
}

TEST(Stream, SameWeightsAsInMemory) {
  // Rank 0 writes the file; every rank streams it with a window of two local batches.
  const std::string path = "/tmp/bpt_stream_test_np" + std::to_string(world().size()) + ".h5";
  if (world().rank() == 0) write_hdf5(make_synthetic(900, 40, 6, 3), path);
  world().barrier();
  Config c = small_config();
  c.train = path;
  c.test = path;
  c.max_steps = 25;
  c.val_fraction = 0.1;
  c.normalize = Normalize::Standard;
  auto mem = train_weights(c, world());
  c.load.stream = true;
  auto st = train_weights(c, world());
  EXPECT_EQ(mem, st);
  world().barrier();
  if (world().rank() == 0) std::remove(path.c_str());
}

TEST(Regression, WeightsMatchSingleProcess) {
  // Targets: a fixed linear function of the features.
  const std::string path = "/tmp/bpt_regression_np" + std::to_string(world().size()) + ".h5";
  if (world().rank() == 0) {
    Dataset ds = make_synthetic(300, 10, 2, 4);
    ds.labels.clear();
    ds.classes = 0;
    ds.target_dim = 2;
    for (std::size_t i = 0; i < ds.n; ++i) {
      float s = 0;
      for (std::size_t c = 0; c < ds.d; ++c) s += static_cast<float>(ds.x[i * ds.d + c]) * (c % 2 ? 0.01f : -0.02f);
      ds.targets.push_back(s);
      ds.targets.push_back(0.5f * s + 1);
    }
    write_hdf5(ds, path);
  }
  world().barrier();
  Config c = small_config();
  c.train = path;
  c.test = path;
  c.loss = Loss::Mse;
  c.max_steps = 12;
  EXPECT_LE(rel(train_weights(c, world()), train_weights(c, Comm::self())), 1e-5);
  c.loss = Loss::SoftmaxCrossEntropy;
  EXPECT_THROW(train_weights(c, world()), Error);
  world().barrier();
  if (world().rank() == 0) std::remove(path.c_str());
}

TEST(Errors, AgreedErrorsAreGroupedByMessageAndSpokenOnce) {
  const int n = world().size(), r = world().rank();
  EXPECT_NO_THROW(agree_on_errors(world(), [] {}));
  try {  // every rank alike: rank 0 speaks for all
    agree_on_errors(world(), [] { throw Error("bad file"); });
    FAIL() << "no error";
  } catch (const CollectiveError& e) {
    EXPECT_TRUE(e.agreed());
    EXPECT_EQ(e.speaks(), r == 0);
    EXPECT_EQ(e.exit_code(), 1);
    EXPECT_EQ(std::string(e.what()), "bad file");
    EXPECT_EQ(e.where(), n > 1 ? "(all " + std::to_string(n) + " ranks)" : "");
  }
  if (n == 1) return;
  try {  // odd ranks one message (a usage error), rank 0 another, the other even ranks none
    agree_on_errors(world(), [r] {
      if (r % 2) throw CollectiveError("odd");
      if (r == 0) throw Error("zero");
    });
    FAIL() << "no error";
  } catch (const CollectiveError& e) {
    EXPECT_EQ(e.exit_code(), 2) << "the largest code of any rank";
    EXPECT_EQ(e.speaks(), r == 0 || r == 1) << "the first rank of each group speaks";
    std::vector<int> odd;
    for (int k = 1; k < n; k += 2) odd.push_back(k);
    const std::string of = " of " + std::to_string(n) + ")";
    if (r == 1) {
      EXPECT_EQ(e.where(), odd.size() == 1 ? "on rank 1 (" + of.substr(1)
                                           : "on ranks " + rank_list(odd) + " (" + std::to_string(odd.size()) + of);
    }
    if (r == 0) {
      EXPECT_EQ(e.where(), "on rank 0 (" + of.substr(1));
    }
  }
}

TEST(Errors, RankListsCompressRuns) {
  EXPECT_EQ(rank_list({0, 1, 2, 3, 7, 9, 10}), "0-3, 7, 9, 10");
  EXPECT_EQ(rank_list({5}), "5");
  EXPECT_EQ(rank_list({}), "");
}

// Run only by tests/mpi/assert_aborts.sh (--gtest_also_run_disabled_tests): an assertion that fails on
// rank 1 alone, while the other ranks go on to a collective.
TEST(Harness, DISABLED_FailsOnRankOneAlone) {
  if (world().size() > 1) {
    ASSERT_NE(world().rank(), 1) << "the planted failure";
  }
  world().barrier();
}

namespace {
// A failed assertion on one rank would leave the others waiting in their next collective until CTest's
// timeout: the rank that failed prints where and why, and aborts the job (a non-zero exit).
class AbortOnFailure : public ::testing::EmptyTestEventListener {
  std::string test_ = "?";  // not current_test_info() in OnTestPartResult: gtest holds its lock there
  void OnTestStart(const ::testing::TestInfo& t) override { test_ = std::string(t.test_suite_name()) + "." + t.name(); }
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (!r.failed()) return;
    std::fprintf(stderr, "mpi_tests: rank %d of %d failed in %s at %s:%d:\n%s\n", world().rank(), world().size(),
                 test_.c_str(), r.file_name() ? r.file_name() : "?", r.line_number(), r.message());
    std::fflush(stderr);
    std::fflush(stdout);
    if (world().size() > 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));  // for the launcher to forward the lines
      world().abort(1);
    }
  }
};
}  // namespace

int main(int argc, char** argv) {
  MpiEnv env(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
  if (world().rank() != 0)  // one report, from rank 0; the exit status still counts every rank
    delete listeners.Release(listeners.default_result_printer());
  listeners.Append(new AbortOnFailure);
  return RUN_ALL_TESTS();
}
