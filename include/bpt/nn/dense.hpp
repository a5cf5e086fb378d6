#pragma once
// Dense layer y = f(x Wᵀ + b) on views. W: [out, in] row-major (as PyTorch's nn.Linear.weight).
#include "bpt/core/matrix.hpp"
#include "bpt/nn/activation.hpp"

namespace bpt {

// x: [B, in]  W: [out, in]  b: [out]  z: [B, out] (pre-activation)  a: [B, out] (may alias z for Identity)
template <class T>
void dense_forward(ConstMatView<T> x, const T* w, const T* b, Activation f, MatView<T> z, MatView<T> a);

// z += b and a = f(z) in one pass. z, a: [B, out]; a may alias z only for Identity.
template <class T>
void bias_activation(MatView<T> z, const T* b, Activation f, MatView<T> a);

// Requires dense_forward on the same batch first (x, z, a as it left them).
// delta: [B, out], on entry dL/da, on exit dL/dz.  Accumulates dW [out, in] += deltaᵀ x and db += Σ_rows delta
// (accumulate = false: overwrites them instead, which saves zeroing and reading the gradient buffer).
// dx: [B, in] = delta W (overwritten); pass an empty view (data == nullptr) to skip it (first layer).
template <class T>
void dense_backward(ConstMatView<T> x, const T* w, ConstMatView<T> z, ConstMatView<T> a, Activation f,
                    MatView<T> delta, T* dw, T* db, MatView<T> dx, bool accumulate = true);

// Naive loops with the same contracts: the reference the fast versions are tested against.
template <class T>
void dense_forward_naive(ConstMatView<T> x, const T* w, const T* b, Activation f, MatView<T> z, MatView<T> a);
template <class T>
void dense_backward_naive(ConstMatView<T> x, const T* w, ConstMatView<T> z, ConstMatView<T> a, Activation f,
                          MatView<T> delta, T* dw, T* db, MatView<T> dx);

}  // namespace bpt
