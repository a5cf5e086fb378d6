#include "bpt/nn/dense.hpp"

#include "bpt/core/error.hpp"
#include "bpt/core/gemm.hpp"
#include "bpt/core/sim_cost.hpp"

namespace bpt {

template <class T>
void bias_activation(MatView<T> z, const T* b, Activation f, MatView<T> a) {
  const std::size_t n = z.cols;
  sim::Kernel kernel("bias_act", z.rows, n, 1 + static_cast<std::size_t>(f));
  if (kernel.skip()) return;
  for (std::size_t r = 0; r < z.rows; ++r) {
    T* zr = z.row(r);
    T* ar = a.row(r);
    switch (f) {  // the switch outside the inner loop lets each loop vectorise
      case Activation::Identity:
        for (std::size_t c = 0; c < n; ++c) ar[c] = zr[c] += b[c];
        break;
      case Activation::Relu:
        for (std::size_t c = 0; c < n; ++c) {
          T v = zr[c] + b[c];
          zr[c] = v;
          ar[c] = v > T(0) ? v : T(0);
        }
        break;
      default:
        for (std::size_t c = 0; c < n; ++c) {
          T v = zr[c] + b[c];
          zr[c] = v;
          ar[c] = activate(f, v);
        }
    }
  }
}

template <class T>
void dense_forward(ConstMatView<T> x, const T* w, const T* b, Activation f, MatView<T> z, MatView<T> a) {
  ConstMatView<T> wv(w, z.cols, x.cols);
  gemm(Trans::No, Trans::Yes, T(1), x, wv, T(0), z);
  bias_activation(z, b, f, a);
}

template <class T>
void dense_backward(ConstMatView<T> x, const T* w, ConstMatView<T> z, ConstMatView<T> a, Activation f,
                    MatView<T> delta, T* dw, T* db, MatView<T> dx, bool accumulate) {
  const std::size_t out = delta.cols, in = x.cols;
  activation_backward(f, z, a, delta);
  gemm(Trans::Yes, Trans::No, T(1), ConstMatView<T>(delta), x, accumulate ? T(1) : T(0), MatView<T>(dw, out, in));
  {
    sim::Kernel kernel("bias_grad", delta.rows, out);
    if (!accumulate && !kernel.skip())
      for (std::size_t c = 0; c < out; ++c) db[c] = T(0);
    for (std::size_t r = 0; r < delta.rows && !kernel.skip(); ++r) {
      const T* dr = delta.row(r);
      for (std::size_t c = 0; c < out; ++c) db[c] += dr[c];
    }
  }
  if (dx.data) gemm(Trans::No, Trans::No, T(1), ConstMatView<T>(delta), ConstMatView<T>(w, out, in), T(0), dx);
}

template <class T>
void dense_forward_naive(ConstMatView<T> x, const T* w, const T* b, Activation f, MatView<T> z, MatView<T> a) {
  for (std::size_t r = 0; r < x.rows; ++r)
    for (std::size_t o = 0; o < z.cols; ++o) {
      double acc = static_cast<double>(b[o]);
      for (std::size_t i = 0; i < x.cols; ++i)
        acc += static_cast<double>(x(r, i)) * static_cast<double>(w[o * x.cols + i]);
      z(r, o) = static_cast<T>(acc);
      a(r, o) = activate(f, z(r, o));
    }
}

template <class T>
void dense_backward_naive(ConstMatView<T> x, const T* w, ConstMatView<T> z, ConstMatView<T> a, Activation f,
                          MatView<T> delta, T* dw, T* db, MatView<T> dx) {
  const std::size_t out = delta.cols, in = x.cols;
  for (std::size_t r = 0; r < delta.rows; ++r)
    for (std::size_t o = 0; o < out; ++o) delta(r, o) *= activate_grad(f, z(r, o), a(r, o));
  for (std::size_t o = 0; o < out; ++o) {
    for (std::size_t i = 0; i < in; ++i) {
      double acc = 0;
      for (std::size_t r = 0; r < delta.rows; ++r) acc += static_cast<double>(delta(r, o)) * x(r, i);
      dw[o * in + i] += static_cast<T>(acc);
    }
    double acc = 0;
    for (std::size_t r = 0; r < delta.rows; ++r) acc += static_cast<double>(delta(r, o));
    db[o] += static_cast<T>(acc);
  }
  if (!dx.data) return;
  for (std::size_t r = 0; r < delta.rows; ++r)
    for (std::size_t i = 0; i < in; ++i) {
      double acc = 0;
      for (std::size_t o = 0; o < out; ++o) acc += static_cast<double>(delta(r, o)) * w[o * in + i];
      dx(r, i) = static_cast<T>(acc);
    }
}

#define BPT_INSTANTIATE(T)                                                                                   \
  template void bias_activation<T>(MatView<T>, const T*, Activation, MatView<T>);                           \
  template void dense_forward<T>(ConstMatView<T>, const T*, const T*, Activation, MatView<T>, MatView<T>);   \
  template void dense_backward<T>(ConstMatView<T>, const T*, ConstMatView<T>, ConstMatView<T>, Activation,   \
                                  MatView<T>, T*, T*, MatView<T>, bool);                                     \
  template void dense_forward_naive<T>(ConstMatView<T>, const T*, const T*, Activation, MatView<T>,          \
                                       MatView<T>);                                                          \
  template void dense_backward_naive<T>(ConstMatView<T>, const T*, ConstMatView<T>, ConstMatView<T>,         \
                                        Activation, MatView<T>, T*, T*, MatView<T>);
BPT_INSTANTIATE(float)
BPT_INSTANTIATE(double)
#undef BPT_INSTANTIATE

}  // namespace bpt
