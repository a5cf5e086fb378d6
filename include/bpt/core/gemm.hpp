#pragma once
// The one GEMM wrapper over CBLAS, and the naive loop it is tested against.
#include <string>

#include "bpt/core/matrix.hpp"

namespace bpt {

enum class Trans { No, Yes };

// C = alpha * op(A) op(B) + beta * C, row-major. op(A): [m, k], op(B): [k, n], C: [m, n].
// Throws Error on a shape mismatch.
void gemm(Trans ta, Trans tb, float alpha, ConstMatView<float> a, ConstMatView<float> b, float beta,
          MatView<float> c);
void gemm(Trans ta, Trans tb, double alpha, ConstMatView<double> a, ConstMatView<double> b, double beta,
          MatView<double> c);

// Reference triple loop with the same contract (double accumulation).
template <class T>
void gemm_naive(Trans ta, Trans tb, T alpha, ConstMatView<T> a, ConstMatView<T> b, T beta, MatView<T> c);

// Sets the number of OpenBLAS threads for this process.
void set_blas_threads(int n);

// A warning when OpenBLAS runs kernels from before AVX on a CPU with AVX2 or AVX-512: its CPU detection
// did not know the CPU (seen: a Xeon behind a hypervisor, "Intel(R) Xeon(R) Processor", given the
// Prescott kernels), and its GEMMs run several times slower than they could. OPENBLAS_CORETYPE, read
// when the library loads, fixes it; the warning names the value. Empty when the kernels fit, when
// OPENBLAS_CORETYPE is set, and off x86-64. The second form is the rule alone (tests).
std::string blas_kernel_warning();
std::string blas_kernel_warning(const std::string& core, bool avx2, bool avx512, bool coretype_set);

}  // namespace bpt
