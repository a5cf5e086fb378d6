#pragma once
// 2-D convolution and pooling on a batch of images stored as rows: each row is one sample's
// [channels, height, width] values in that order (PyTorch's NCHW flattened), so a dense layer after
// them reads a row exactly as PyTorch's nn.Flatten does.
//
// Convolution by im2col + the one GEMM (core/gemm), a chunk of S samples at a time, so that the GEMM's
// inner dimensions are S times a sample's output positions P = H_out·W_out rather than P alone (a
// first layer's per-sample GEMM, 32 x 25 x 784 for LeNet, runs at half the machine's GEMM rate):
//   col   [C_in·K·K, S·P]  = each sample's K×K patches side by side (zero outside the padded image)
//   stage [C_out, S·P]     = W [C_out, C_in·K·K] · col, then copied into each sample's row with the
//                            bias and the activation (rows stay [C_out, H_out, W_out])
// W is laid out as PyTorch's Conv2d.weight [C_out, C_in, K, K]. Backward per chunk, with δ gathered
// into stage: dW += δ · colᵀ, db += δ's row sums, dcol = Wᵀ · δ scattered back into dx (col2im).
#include <cstddef>
#include <algorithm>
#include <cstdint>

#include "bpt/core/matrix.hpp"
#include "bpt/nn/activation.hpp"

namespace bpt {

struct ConvGeom {
  std::size_t cin = 1, h = 1, w = 1;  // the input image
  std::size_t cout = 1, k = 1;        // output channels, kernel size
  std::size_t stride = 1, pad = 0;    // zero padding on every side
  std::size_t oh() const { return (h + 2 * pad - k) / stride + 1; }
  std::size_t ow() const { return (w + 2 * pad - k) / stride + 1; }
  std::size_t in_size() const { return cin * h * w; }
  std::size_t out_size() const { return cout * oh() * ow(); }
  std::size_t col_rows() const { return cin * k * k; }
  std::size_t col_cols() const { return oh() * ow(); }
  std::size_t col_size() const { return col_rows() * col_cols(); }  // one sample's patches
  std::size_t weights() const { return cout * cin * k * k; }
  // Samples per GEMM for a batch of `batch`: as many as keep a chunk's patches and staged outputs
  // within kScratchFloats (8 MiB), at least one.
  static constexpr std::size_t kScratchFloats = std::size_t{1} << 21;
  std::size_t chunk(std::size_t batch) const {
    const std::size_t per = col_size() + out_size();
    return std::max<std::size_t>(1, std::min(batch, kScratchFloats / per));
  }
  std::size_t scratch_size(std::size_t batch) const { return chunk(batch) * (col_size() + out_size()); }
};

// x: [B, in_size]  w: [cout, cin·k·k]  b: [cout]  z: [B, out_size] (pre-activation)  a: [B, out_size],
// a = f(z) (a may alias z for Identity). scratch: g.scratch_size(B) elements.
template <class T>
void conv_forward(const ConvGeom& g, ConstMatView<T> x, const T* w, const T* b, Activation f, MatView<T> z,
                  MatView<T> a, T* scratch);

// Requires conv_forward on the same batch (x, z, a as it left them). delta: [B, out_size], on entry
// dL/da, on exit dL/dz. dw [cout, cin·k·k] and db [cout] accumulate (accumulate = false: overwritten).
// dx: [B, in_size] overwritten; an empty view (data == nullptr) skips it. scratch: as for forward.
template <class T>
void conv_backward(const ConvGeom& g, ConstMatView<T> x, const T* w, ConstMatView<T> z, ConstMatView<T> a,
                   Activation f, MatView<T> delta, T* dw, T* db, MatView<T> dx, bool accumulate, T* scratch);

// Pooling over K×K windows with stride K (the floor of the size: a remainder row or column is dropped,
// as PyTorch's MaxPool2d(K) and AvgPool2d(K) do).
struct PoolGeom {
  std::size_t c = 1, h = 1, w = 1, k = 1;
  std::size_t oh() const { return h / k; }
  std::size_t ow() const { return w / k; }
  std::size_t in_size() const { return c * h * w; }
  std::size_t out_size() const { return c * oh() * ow(); }
};

// y: [B, out_size] = each window's maximum; argmax [B, out_size]: the index within the sample's input
// row of the element chosen (the first maximum in row-major window order; a NaN wins, as in PyTorch).
template <class T>
void maxpool_forward(const PoolGeom& g, ConstMatView<T> x, MatView<T> y, std::int32_t* argmax);
// dx: [B, in_size] overwritten: each dy to the element its window chose.
template <class T>
void maxpool_backward(const PoolGeom& g, ConstMatView<T> dy, const std::int32_t* argmax, MatView<T> dx);
// y = each window's mean; dx (overwritten) = dy / K² spread over its window.
template <class T>
void avgpool_forward(const PoolGeom& g, ConstMatView<T> x, MatView<T> y);
template <class T>
void avgpool_backward(const PoolGeom& g, ConstMatView<T> dy, MatView<T> dx);

// Naive loops with the same contracts (double accumulation, no im2col): the references the fast
// versions are tested against.
template <class T>
void conv_forward_naive(const ConvGeom& g, ConstMatView<T> x, const T* w, const T* b, Activation f, MatView<T> z,
                        MatView<T> a);
template <class T>
void conv_backward_naive(const ConvGeom& g, ConstMatView<T> x, const T* w, ConstMatView<T> z, ConstMatView<T> a,
                         Activation f, MatView<T> delta, T* dw, T* db, MatView<T> dx);

}  // namespace bpt
