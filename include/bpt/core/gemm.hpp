#pragma once
// The one GEMM wrapper over CBLAS, and the naive loop it is tested against.
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

}  // namespace bpt
