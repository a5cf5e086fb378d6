// The GEMM floor of a CNN: only the GEMMs bptrain's layers run, with the same shapes, and nothing else
// (no im2col, no staging copies, no pooling, no bias, activation, loss or optimizer), on one process.
// A convolution is, per chunk of S samples (ConvGeom::chunk, as bptrain cuts the batch), W [C_out,
// C_in·K·K] · col [C_in·K·K, S·P] forward, δ · colᵀ for its weight gradient and Wᵀ · δ for its input
// gradient (none for the first layer); a dense layer is as in bench_floor. Prints samples/s of the
// GEMMs alone.
// Usage: bench_cnn_floor LAYERS C,H,W CLASSES BATCH SECONDS   (LAYERS in bptrain's --layers grammar)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bpt/core/gemm.hpp"
#include "bpt/model/model.hpp"

using namespace bpt;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: bench_cnn_floor LAYERS C,H,W CLASSES BATCH SECONDS\n");
    return 2;
  }
  set_blas_threads(1);
  ModelSpec spec;
  unsigned long c = 0, h = 0, w = 0;
  if (std::sscanf(argv[2], "%lu,%lu,%lu", &c, &h, &w) != 3) return 2;
  spec.input = {c, h, w};
  spec.layers = parse_layers(argv[1]);
  spec.layers.push_back({LayerKind::Dense, std::stoul(argv[3])});
  const std::vector<LayerPlan> plan = plan_layers(spec);
  const std::size_t b = std::stoul(argv[4]);
  const double secs = std::atof(argv[5]);
  // One buffer per role, as large as the largest layer needs; the values do not matter.
  std::size_t wmax = 1, amax = 1, cmax = 1;
  for (const LayerPlan& p : plan) {
    wmax = std::max(wmax, p.weights());
    amax = std::max({amax, b * p.in.size(), b * p.out.size()});
    if (p.spec.kind == LayerKind::Conv) cmax = std::max(cmax, p.conv.scratch_size(b));
  }
  std::vector<float> wt(wmax, 0.01f), dw(wmax), in(amax, 0.01f), out(amax), col(cmax, 0.01f), dcol(cmax);
  double flop = 0;
  for (std::size_t l = 0; l < plan.size(); ++l) {
    const LayerPlan& p = plan[l];
    const double mults = double(p.weights()) * (p.spec.kind == LayerKind::Conv ? double(p.conv.col_cols()) : 1.0);
    if (p.has_params()) flop += (l == 0 ? 4.0 : 6.0) * double(b) * mults;
  }
  auto iteration = [&] {
    for (std::size_t l = 0; l < plan.size(); ++l) {  // forward
      const LayerPlan& p = plan[l];
      if (p.spec.kind == LayerKind::Dense)
        gemm(Trans::No, Trans::Yes, 1.0f, ConstMatView<float>(in.data(), b, p.weight_cols),
             ConstMatView<float>(wt.data(), p.weight_rows, p.weight_cols), 0.0f, MatView<float>(out.data(), b, p.weight_rows));
      else if (p.spec.kind == LayerKind::Conv)
        for (std::size_t n0 = 0, per = p.conv.chunk(b); n0 < b; n0 += per) {
          const std::size_t ld = std::min(per, b - n0) * p.conv.col_cols();
          gemm(Trans::No, Trans::No, 1.0f, ConstMatView<float>(wt.data(), p.weight_rows, p.weight_cols),
               ConstMatView<float>(col.data(), p.conv.col_rows(), ld), 0.0f, MatView<float>(out.data(), p.weight_rows, ld));
        }
    }
    for (std::size_t l = plan.size(); l-- > 0;) {  // backward
      const LayerPlan& p = plan[l];
      if (p.spec.kind == LayerKind::Dense) {
        gemm(Trans::Yes, Trans::No, 1.0f, ConstMatView<float>(out.data(), b, p.weight_rows),
             ConstMatView<float>(in.data(), b, p.weight_cols), 0.0f, MatView<float>(dw.data(), p.weight_rows, p.weight_cols));
        if (l > 0)
          gemm(Trans::No, Trans::No, 1.0f, ConstMatView<float>(out.data(), b, p.weight_rows),
               ConstMatView<float>(wt.data(), p.weight_rows, p.weight_cols), 0.0f, MatView<float>(in.data(), b, p.weight_cols));
      } else if (p.spec.kind == LayerKind::Conv) {
        for (std::size_t n0 = 0, per = p.conv.chunk(b); n0 < b; n0 += per) {
          const std::size_t ld = std::min(per, b - n0) * p.conv.col_cols();
          ConstMatView<float> d(out.data(), p.weight_rows, ld);
          gemm(Trans::No, Trans::Yes, 1.0f, d, ConstMatView<float>(col.data(), p.conv.col_rows(), ld), 1.0f,
               MatView<float>(dw.data(), p.weight_rows, p.weight_cols));
          if (l > 0)
            gemm(Trans::Yes, Trans::No, 1.0f, ConstMatView<float>(wt.data(), p.weight_rows, p.weight_cols), d, 0.0f,
                 MatView<float>(dcol.data(), p.conv.col_rows(), ld));
        }
      }
    }
  };
  for (int i = 0; i < 3; ++i) iteration();
  long iters = 0;
  const auto t0 = Clock::now();
  double el = 0;
  while (el < secs) {
    iteration();
    ++iters;
    el = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  const double rate = double(iters) * double(b) / el;
  std::printf("cnn_floor layers=%s batch=%zu samples_per_s=%.1f train_gflops=%.2f\n", argv[1], b, rate,
              flop * rate / double(b) / 1e9);
  return 0;
}
