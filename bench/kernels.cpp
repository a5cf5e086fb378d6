// Google Benchmark over the kernels at the main model's shapes (784-512-256-10, batch 256).
#include <benchmark/benchmark.h>

#include <vector>

#include "bpt/core/gemm.hpp"
#include "bpt/core/rng.hpp"
#include "bpt/comm/comm.hpp"
#include "bpt/comm/grad_reducer.hpp"
#include "bpt/comm/schedule.hpp"
#include "bpt/nn/dense.hpp"
#include "bpt/nn/loss.hpp"
#include "add.hpp"  // src/comm: the reducer's addition loop

using namespace bpt;

namespace {
std::vector<float> rnd(std::size_t n) {
  CounterRng r(n);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(r.uniform() - 0.5);
  return v;
}
}  // namespace

static void BM_Gemm_Forward(benchmark::State& s) {  // x [B, in] Wᵀ -> [B, out]
  const auto b = static_cast<std::size_t>(s.range(0)), in = static_cast<std::size_t>(s.range(1)),
             out = static_cast<std::size_t>(s.range(2));
  auto x = rnd(b * in), w = rnd(out * in), y = rnd(b * out);
  for (auto _ : s)
    gemm(Trans::No, Trans::Yes, 1.0f, ConstMatView<float>(x.data(), b, in), ConstMatView<float>(w.data(), out, in), 0.0f,
         MatView<float>(y.data(), b, out));
  s.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(b * in * out), benchmark::Counter::kIsIterationInvariantRate,
                                             benchmark::Counter::kIs1000);
}
BENCHMARK(BM_Gemm_Forward)->Args({256, 784, 512})->Args({256, 512, 256})->Args({256, 2048, 2048});

static void BM_BiasRelu(benchmark::State& s) {
  const std::size_t b = 256, n = static_cast<std::size_t>(s.range(0));
  auto z = rnd(b * n), a = rnd(b * n), bias = rnd(n);
  for (auto _ : s) bias_activation(MatView<float>(z.data(), b, n), bias.data(), Activation::Relu, MatView<float>(a.data(), b, n));
  s.SetBytesProcessed(static_cast<std::int64_t>(s.iterations() * b * n * 3 * sizeof(float)));
}
BENCHMARK(BM_BiasRelu)->Arg(512)->Arg(2048);

static void BM_SoftmaxCrossEntropy(benchmark::State& s) {
  const std::size_t b = 256, k = 10;
  auto x = rnd(b * k), g = rnd(b * k);
  std::vector<std::int32_t> y(b);
  for (std::size_t i = 0; i < b; ++i) y[i] = static_cast<std::int32_t>(i % k);
  for (auto _ : s)
    benchmark::DoNotOptimize(
        softmax_cross_entropy<float>(ConstMatView<float>(x.data(), b, k), y.data(), MatView<float>(g.data(), b, k), 1.0f));
}
BENCHMARK(BM_SoftmaxCrossEntropy);

static void BM_ReducerOneRank(benchmark::State& s) {  // the reducer's own bookkeeping (no peer to talk to)
  std::vector<float> g(535818);
  const Comm self = Comm::self();
  GradReducer red(self, g, {0, 401920, 533248, 535818}, {.bucket_bytes = 2u << 20});
  for (auto _ : s) {
    red.begin_step();
    for (std::size_t l = 3; l-- > 0;) red.layer_ready(l);
    red.finish();
  }
}
BENCHMARK(BM_ReducerOneRank);

// The additions one rank makes in the reduce-scatter of a 2 MiB bucket by recursive halving at p ranks
// (rhd_schedule's add steps, the reducer's add_into), with the buffers in cache (warm: a real node, whose
// bucket backward has just written) or evicted before each pass (cold: SMPI, which runs a thousand
// ranks' passes one after another through this machine's one cache). Args: p, cold.
static void BM_ReducerAdds(benchmark::State& s) {
  const std::size_t n = std::size_t(1) << 19;
  const Schedule plan = rhd_schedule(n, 0, static_cast<int>(s.range(0)));
  auto d = rnd(n), in = rnd(plan.scratch);
  std::vector<float> sweep(s.range(1) ? std::size_t(64) << 20 : 0);  // 256 MiB
  std::size_t adds = 0;
  for (std::size_t i = 0; i < plan.reduce_steps; ++i) adds += plan.steps[i].add ? plan.steps[i].recv.size() : 0;
  for (auto _ : s) {
    if (!sweep.empty()) {
      s.PauseTiming();
      for (std::size_t j = 0; j < sweep.size(); j += 16) sweep[j] += 1.0f;
      benchmark::ClobberMemory();
      s.ResumeTiming();
    }
    for (std::size_t i = 0; i < plan.reduce_steps; ++i) {
      const Exchange& e = plan.steps[i];
      if (!e.add || e.recv_from < 0) continue;
      add_into(d.data() + e.recv.begin, in.data(), e.recv.size());
    }
    benchmark::ClobberMemory();
  }
  s.counters["adds"] = static_cast<double>(adds);
}
BENCHMARK(BM_ReducerAdds)->ArgsProduct({{16, 1024}, {0, 1}})->Unit(benchmark::kMicrosecond);

// --grad-compression bf16's two loops against the float addition they stand beside, per element, warm
// cache, 200,960 elements (the small model's layer-1-and-2 bucket): arg 0 the reducer's float
// additions (add_into), 1 a received bfloat16 added (add_from_wire), 2 packing for the wire
// (pack_for_wire). The compute model bills the two bf16 kernels as this ratio of additions
// (src/core/sim_cost.cpp's proxies) until a calibration records them.
static void BM_WireKernels(benchmark::State& s) {
  const std::size_t n = 200960;
  auto d = rnd(n), in = rnd(n);
  std::vector<std::uint16_t> h(n);
  pack_bf16(h.data(), in.data(), n);
  for (auto _ : s) {
    if (s.range(0) == 0) add_into(d.data(), in.data(), n);
    if (s.range(0) == 1) add_from_wire(d.data(), h.data(), n);
    if (s.range(0) == 2) pack_for_wire(h.data(), in.data(), n);
    benchmark::ClobberMemory();
  }
  s.SetItemsProcessed(static_cast<std::int64_t>(s.iterations() * n));
}
BENCHMARK(BM_WireKernels)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond);

int main(int argc, char** argv) {
  MpiEnv env(&argc, &argv);
  set_blas_threads(1);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
