#include "bpt/core/gemm.hpp"

#include <cblas.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <iterator>
#include <string>

#include "bpt/core/error.hpp"
#include "bpt/core/sim_cost.hpp"

namespace bpt {
namespace {

struct Shape {
  std::size_t m, n, k;
};

template <class T>
Shape check_shapes(Trans ta, Trans tb, ConstMatView<T> a, ConstMatView<T> b, MatView<T> c) {
  std::size_t am = ta == Trans::No ? a.rows : a.cols, ak = ta == Trans::No ? a.cols : a.rows;
  std::size_t bk = tb == Trans::No ? b.rows : b.cols, bn = tb == Trans::No ? b.cols : b.rows;
  if (ak != bk || am != c.rows || bn != c.cols)
    throw Error("gemm: shape mismatch: op(A) " + std::to_string(am) + "x" + std::to_string(ak) + ", op(B) " +
                std::to_string(bk) + "x" + std::to_string(bn) + ", C " + std::to_string(c.rows) + "x" +
                std::to_string(c.cols));
  for (std::size_t v : {am, bn, ak, a.ld, b.ld, c.ld})
    if (v > static_cast<std::size_t>(INT_MAX)) throw Error("gemm: dimension exceeds INT_MAX");
  return {am, bn, ak};
}

// CBLAS wants ld >= max(1, cols) even for empty matrices.
int ld_of(std::size_t ld, std::size_t cols) { return static_cast<int>(ld < 1 ? (cols < 1 ? 1 : cols) : ld); }

CBLAS_TRANSPOSE cb(Trans t) { return t == Trans::No ? CblasNoTrans : CblasTrans; }

// The kernel's name in the simulated-compute model (bpt/core/sim_cost.hpp).
const char* kernel_name(bool single, Trans ta, Trans tb) {
  static const char* const names[2][2][2] = {{{"dgemm_NN", "dgemm_NT"}, {"dgemm_TN", "dgemm_TT"}},
                                             {{"sgemm_NN", "sgemm_NT"}, {"sgemm_TN", "sgemm_TT"}}};
  return names[single][ta == Trans::Yes][tb == Trans::Yes];
}

}  // namespace

void gemm(Trans ta, Trans tb, float alpha, ConstMatView<float> a, ConstMatView<float> b, float beta,
          MatView<float> c) {
  Shape s = check_shapes(ta, tb, a, b, c);
  if (s.m == 0 || s.n == 0) return;
  sim::Kernel kernel(kernel_name(true, ta, tb), s.m, s.n, s.k);
  if (kernel.skip()) return;
  cblas_sgemm(CblasRowMajor, cb(ta), cb(tb), static_cast<int>(s.m), static_cast<int>(s.n), static_cast<int>(s.k),
              alpha, a.data, ld_of(a.ld, a.cols), b.data, ld_of(b.ld, b.cols), beta, c.data, ld_of(c.ld, c.cols));
}

void gemm(Trans ta, Trans tb, double alpha, ConstMatView<double> a, ConstMatView<double> b, double beta,
          MatView<double> c) {
  Shape s = check_shapes(ta, tb, a, b, c);
  if (s.m == 0 || s.n == 0) return;
  sim::Kernel kernel(kernel_name(false, ta, tb), s.m, s.n, s.k);
  if (kernel.skip()) return;
  cblas_dgemm(CblasRowMajor, cb(ta), cb(tb), static_cast<int>(s.m), static_cast<int>(s.n), static_cast<int>(s.k),
              alpha, a.data, ld_of(a.ld, a.cols), b.data, ld_of(b.ld, b.cols), beta, c.data, ld_of(c.ld, c.cols));
}

template <class T>
void gemm_naive(Trans ta, Trans tb, T alpha, ConstMatView<T> a, ConstMatView<T> b, T beta, MatView<T> c) {
  Shape s = check_shapes(ta, tb, a, b, c);
  for (std::size_t i = 0; i < s.m; ++i)
    for (std::size_t j = 0; j < s.n; ++j) {
      double acc = 0;
      for (std::size_t p = 0; p < s.k; ++p) {
        T av = ta == Trans::No ? a(i, p) : a(p, i);
        T bv = tb == Trans::No ? b(p, j) : b(j, p);
        acc += static_cast<double>(av) * static_cast<double>(bv);
      }
      // beta == 0 overwrites C, as BLAS does (C may hold NaN garbage).
      double prev = beta == T(0) ? 0.0 : static_cast<double>(beta) * static_cast<double>(c(i, j));
      c(i, j) = static_cast<T>(static_cast<double>(alpha) * acc + prev);
    }
}

template void gemm_naive<float>(Trans, Trans, float, ConstMatView<float>, ConstMatView<float>, float,
                                MatView<float>);
template void gemm_naive<double>(Trans, Trans, double, ConstMatView<double>, ConstMatView<double>, double,
                                 MatView<double>);

void set_blas_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }

std::string blas_kernel_warning(const std::string& core, bool avx2, bool avx512, bool coretype_set) {
  if (coretype_set || !avx2) return {};
  std::string c;
  for (char ch : core) c += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  // OpenBLAS's x86-64 cores without AVX kernels (its fallbacks for a CPU it does not know).
  static const char* const pre_avx[] = {"prescott", "core2",   "penryn", "dunnington", "nehalem", "atom",
                                        "opteron",  "barcelona", "bobcat", "nano",      "unknown"};
  if (std::find(std::begin(pre_avx), std::end(pre_avx), c) == std::end(pre_avx)) return {};
  const char* fit = avx512 ? "SkylakeX" : "Haswell";
  return "warning: OpenBLAS runs its " + core + " kernels (no AVX) on this CPU, which has " +
         (avx512 ? "AVX-512" : "AVX2") + ": its GEMMs may run several times slower than they could; set "
         "OPENBLAS_CORETYPE=" + fit + " in every rank's environment (e.g. mpirun -x OPENBLAS_CORETYPE=" + fit + ")";
}

std::string blas_kernel_warning() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  const char* core = openblas_get_corename();
  return blas_kernel_warning(core ? core : "unknown", __builtin_cpu_supports("avx2"), __builtin_cpu_supports("avx512f"),
                             std::getenv("OPENBLAS_CORETYPE") != nullptr);
#else
  return {};
#endif
}

}  // namespace bpt
