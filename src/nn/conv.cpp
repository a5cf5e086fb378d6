#include "bpt/nn/conv.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include "bpt/core/gemm.hpp"
#include "bpt/core/sim_cost.hpp"

namespace bpt {
namespace {

// col [cin·k·k, ld]: row (ci, ki, kj), column (oy, ox) holds x[ci][oy·s − p + ki][ox·s − p + kj], 0
// outside the image (one sample's oh·ow columns; a chunk's samples sit side by side, ld apart in total).
template <class T>
void im2col(const ConvGeom& g, const T* x, T* col, std::size_t ld) {
  const std::size_t oh = g.oh(), ow = g.ow();
  for (std::size_t ci = 0; ci < g.cin; ++ci)
    for (std::size_t ki = 0; ki < g.k; ++ki)
      for (std::size_t kj = 0; kj < g.k; ++kj) {
        T* out = col + ((ci * g.k + ki) * g.k + kj) * ld;
        for (std::size_t oy = 0; oy < oh; ++oy) {
          const std::size_t iy = oy * g.stride + ki;  // + pad: the row in padded coordinates
          T* o = out + oy * ow;
          if (iy < g.pad || iy >= g.h + g.pad) {
            for (std::size_t ox = 0; ox < ow; ++ox) o[ox] = T(0);
            continue;
          }
          const T* row = x + (ci * g.h + (iy - g.pad)) * g.w;
          if (g.stride == 1) {  // a contiguous run of the input row, zeros on either side
            const std::size_t lo = std::min(ow, g.pad > kj ? g.pad - kj : 0);
            const std::size_t hi = std::min(ow, g.w + g.pad > kj ? g.w + g.pad - kj : 0);
            for (std::size_t ox = 0; ox < lo; ++ox) o[ox] = T(0);
            for (std::size_t ox = lo; ox < hi; ++ox) o[ox] = row[ox + kj - g.pad];
            for (std::size_t ox = std::max(lo, hi); ox < ow; ++ox) o[ox] = T(0);
            continue;
          }
          for (std::size_t ox = 0; ox < ow; ++ox) {
            const std::size_t ix = ox * g.stride + kj;
            o[ox] = ix < g.pad || ix >= g.w + g.pad ? T(0) : row[ix - g.pad];
          }
        }
      }
}

// The adjoint of im2col: dx[ci][iy][ix] = the sum of every col entry that was read from it.
template <class T>
void col2im(const ConvGeom& g, const T* col, std::size_t ld, T* dx) {
  const std::size_t oh = g.oh(), ow = g.ow();
  for (std::size_t i = 0; i < g.in_size(); ++i) dx[i] = T(0);
  for (std::size_t ci = 0; ci < g.cin; ++ci)
    for (std::size_t ki = 0; ki < g.k; ++ki)
      for (std::size_t kj = 0; kj < g.k; ++kj) {
        const T* in = col + ((ci * g.k + ki) * g.k + kj) * ld;
        for (std::size_t oy = 0; oy < oh; ++oy) {
          const std::size_t iy = oy * g.stride + ki;
          if (iy < g.pad || iy >= g.h + g.pad) continue;
          T* row = dx + (ci * g.h + (iy - g.pad)) * g.w;
          const T* c = in + oy * ow;
          for (std::size_t ox = 0; ox < ow; ++ox) {
            const std::size_t ix = ox * g.stride + kj;
            if (ix >= g.pad && ix < g.w + g.pad) row[ix - g.pad] += c[ox];
          }
        }
      }
}

}  // namespace

template <class T>
void conv_forward(const ConvGeom& g, ConstMatView<T> x, const T* w, const T* b, Activation f, MatView<T> z,
                  MatView<T> a, T* scratch) {
  const std::size_t p = g.col_cols(), rows = g.col_rows(), per = g.chunk(x.rows);
  ConstMatView<T> wv(w, g.cout, rows);
  for (std::size_t n0 = 0; n0 < x.rows; n0 += per) {
    const std::size_t s = std::min(per, x.rows - n0), ld = s * p;
    T* col = scratch;
    T* stage = scratch + rows * ld;
    {
      sim::Kernel kernel("im2col", s, g.in_size(), g.cout);
      for (std::size_t i = 0; i < s && !kernel.skip(); ++i) im2col(g, x.row(n0 + i), col + i * p, ld);
    }
    gemm(Trans::No, Trans::No, T(1), wv, ConstMatView<T>(col, rows, ld), T(0), MatView<T>(stage, g.cout, ld));
    sim::Kernel kernel("conv_bias_act", s, g.in_size(), g.cout);
    for (std::size_t i = 0; i < s && !kernel.skip(); ++i)  // each sample's channels into its row, with bias and activation
      for (std::size_t c = 0; c < g.cout; ++c) {
        const T* from = stage + c * ld + i * p;
        T* zc = z.row(n0 + i) + c * p;
        T* ac = a.row(n0 + i) + c * p;
        const T bc = b[c];
        if (f == Activation::Relu) {
          for (std::size_t q = 0; q < p; ++q) {
            const T v = from[q] + bc;
            zc[q] = v;
            ac[q] = v > T(0) ? v : T(0);
          }
        } else {
          for (std::size_t q = 0; q < p; ++q) ac[q] = activate(f, zc[q] = from[q] + bc);
        }
      }
  }
}

template <class T>
void conv_backward(const ConvGeom& g, ConstMatView<T> x, const T* w, ConstMatView<T> z, ConstMatView<T> a,
                   Activation f, MatView<T> delta, T* dw, T* db, MatView<T> dx, bool accumulate, T* scratch) {
  activation_backward(f, z, a, delta);
  const std::size_t p = g.col_cols(), rows = g.col_rows(), per = g.chunk(x.rows);
  if (!accumulate) {
    for (std::size_t i = 0; i < g.weights(); ++i) dw[i] = T(0);
    for (std::size_t c = 0; c < g.cout; ++c) db[c] = T(0);
  }
  MatView<T> dwv(dw, g.cout, rows);
  ConstMatView<T> wv(w, g.cout, rows);
  for (std::size_t n0 = 0; n0 < x.rows; n0 += per) {
    const std::size_t s = std::min(per, x.rows - n0), ld = s * p;
    T* col = scratch;
    T* stage = scratch + rows * ld;
    std::optional<sim::Kernel> kernel(std::in_place, "conv_back_stage", s, g.in_size(), g.cout);
    for (std::size_t i = 0; i < s && !kernel->skip(); ++i) {  // δ of the chunk as [C_out, S·P]
      const T* d = delta.row(n0 + i);
      for (std::size_t c = 0; c < g.cout; ++c)
        for (std::size_t q = 0; q < p; ++q) stage[c * ld + i * p + q] = d[c * p + q];
      im2col(g, x.row(n0 + i), col + i * p, ld);
    }
    kernel.reset();
    ConstMatView<T> dv(stage, g.cout, ld);
    gemm(Trans::No, Trans::Yes, T(1), dv, ConstMatView<T>(col, rows, ld), T(1), dwv);
    kernel.emplace("conv_bias_grad", s, g.in_size(), g.cout);
    for (std::size_t c = 0; c < g.cout && !kernel->skip(); ++c) {
      const T* d = stage + c * ld;
      T sum = T(0);
      for (std::size_t q = 0; q < ld; ++q) sum += d[q];
      db[c] += sum;
    }
    kernel.reset();
    if (dx.data) {
      gemm(Trans::Yes, Trans::No, T(1), wv, dv, T(0), MatView<T>(col, rows, ld));
      sim::Kernel k2("col2im", s, g.in_size(), g.cout);
      for (std::size_t i = 0; i < s && !k2.skip(); ++i) col2im(g, col + i * p, ld, dx.row(n0 + i));
    }
  }
}

template <class T>
void maxpool_forward(const PoolGeom& g, ConstMatView<T> x, MatView<T> y, std::int32_t* argmax) {
  const std::size_t oh = g.oh(), ow = g.ow(), out = g.out_size();
  sim::Kernel kernel("maxpool_forward", x.rows, g.in_size(), g.c);
  if (kernel.skip()) return;
  for (std::size_t n = 0; n < x.rows; ++n) {
    const T* xn = x.row(n);
    T* yn = y.row(n);
    std::int32_t* an = argmax + n * out;
    for (std::size_t c = 0; c < g.c; ++c)
      for (std::size_t oy = 0; oy < oh; ++oy) {
        const std::size_t top = (c * g.h + oy * g.k) * g.w;  // the window row's first element
        T* yr = yn + (c * oh + oy) * ow;
        std::int32_t* ar = an + (c * oh + oy) * ow;
        for (std::size_t ox = 0; ox < ow; ++ox) {
          std::size_t best = top + ox * g.k;
          T m = xn[best];
          for (std::size_t ki = 0; ki < g.k; ++ki) {
            const std::size_t r = top + ki * g.w + ox * g.k;
            for (std::size_t kj = 0; kj < g.k; ++kj) {
              const T v = xn[r + kj];
              // v > m, or v is the first NaN (a NaN wins, as in PyTorch): !(v <= m) is true for both,
              // and for every v once m is NaN, which m != m keeps out.
              if (!(v <= m) && m == m) {
                m = v;
                best = r + kj;
              }
            }
          }
          yr[ox] = m;
          ar[ox] = static_cast<std::int32_t>(best);
        }
      }
  }
}

template <class T>
void maxpool_backward(const PoolGeom& g, ConstMatView<T> dy, const std::int32_t* argmax, MatView<T> dx) {
  const std::size_t out = g.out_size(), in = g.in_size();
  sim::Kernel kernel("maxpool_backward", dy.rows, g.in_size(), g.c);
  if (kernel.skip()) return;
  for (std::size_t n = 0; n < dy.rows; ++n) {
    T* dn = dx.row(n);
    std::fill(dn, dn + in, T(0));  // one vectorised pass, then a scatter of a quarter (K = 2) of it
    const T* d = dy.row(n);
    const std::int32_t* an = argmax + n * out;
    for (std::size_t o = 0; o < out; ++o) dn[static_cast<std::size_t>(an[o])] += d[o];
  }
}

template <class T>
void avgpool_forward(const PoolGeom& g, ConstMatView<T> x, MatView<T> y) {
  const std::size_t oh = g.oh(), ow = g.ow();
  const T inv = T(1) / static_cast<T>(g.k * g.k);
  sim::Kernel kernel("avgpool_forward", x.rows, g.in_size(), g.c);
  if (kernel.skip()) return;
  for (std::size_t n = 0; n < x.rows; ++n) {
    const T* xn = x.row(n);
    T* yn = y.row(n);
    for (std::size_t c = 0; c < g.c; ++c)
      for (std::size_t oy = 0; oy < oh; ++oy)
        for (std::size_t ox = 0; ox < ow; ++ox) {
          T s = T(0);
          for (std::size_t ki = 0; ki < g.k; ++ki)
            for (std::size_t kj = 0; kj < g.k; ++kj) s += xn[(c * g.h + oy * g.k + ki) * g.w + ox * g.k + kj];
          yn[(c * oh + oy) * ow + ox] = s * inv;
        }
  }
}

template <class T>
void avgpool_backward(const PoolGeom& g, ConstMatView<T> dy, MatView<T> dx) {
  const std::size_t oh = g.oh(), ow = g.ow(), in = g.in_size();
  const T inv = T(1) / static_cast<T>(g.k * g.k);
  sim::Kernel kernel("avgpool_backward", dy.rows, g.in_size(), g.c);
  if (kernel.skip()) return;
  for (std::size_t n = 0; n < dy.rows; ++n) {
    T* dn = dx.row(n);
    for (std::size_t i = 0; i < in; ++i) dn[i] = T(0);  // the cut-off remainder gets no gradient
    const T* d = dy.row(n);
    for (std::size_t c = 0; c < g.c; ++c)
      for (std::size_t oy = 0; oy < oh; ++oy)
        for (std::size_t ox = 0; ox < ow; ++ox) {
          const T v = d[(c * oh + oy) * ow + ox] * inv;
          for (std::size_t ki = 0; ki < g.k; ++ki)
            for (std::size_t kj = 0; kj < g.k; ++kj) dn[(c * g.h + oy * g.k + ki) * g.w + ox * g.k + kj] = v;
        }
  }
}

template <class T>
void conv_forward_naive(const ConvGeom& g, ConstMatView<T> x, const T* w, const T* b, Activation f, MatView<T> z,
                        MatView<T> a) {
  const std::size_t oh = g.oh(), ow = g.ow();
  for (std::size_t n = 0; n < x.rows; ++n)
    for (std::size_t co = 0; co < g.cout; ++co)
      for (std::size_t oy = 0; oy < oh; ++oy)
        for (std::size_t ox = 0; ox < ow; ++ox) {
          double acc = static_cast<double>(b[co]);
          for (std::size_t ci = 0; ci < g.cin; ++ci)
            for (std::size_t ki = 0; ki < g.k; ++ki)
              for (std::size_t kj = 0; kj < g.k; ++kj) {
                const long iy = static_cast<long>(oy * g.stride + ki) - static_cast<long>(g.pad);
                const long ix = static_cast<long>(ox * g.stride + kj) - static_cast<long>(g.pad);
                if (iy < 0 || ix < 0 || iy >= static_cast<long>(g.h) || ix >= static_cast<long>(g.w)) continue;
                acc += static_cast<double>(w[((co * g.cin + ci) * g.k + ki) * g.k + kj]) *
                       static_cast<double>(x(n, (ci * g.h + static_cast<std::size_t>(iy)) * g.w + static_cast<std::size_t>(ix)));
              }
          const std::size_t o = (co * oh + oy) * ow + ox;
          z(n, o) = static_cast<T>(acc);
          a(n, o) = activate(f, z(n, o));
        }
}

template <class T>
void conv_backward_naive(const ConvGeom& g, ConstMatView<T> x, const T* w, ConstMatView<T> z, ConstMatView<T> a,
                         Activation f, MatView<T> delta, T* dw, T* db, MatView<T> dx) {
  const std::size_t oh = g.oh(), ow = g.ow();
  for (std::size_t n = 0; n < delta.rows; ++n)
    for (std::size_t o = 0; o < g.out_size(); ++o) delta(n, o) *= activate_grad(f, z(n, o), a(n, o));
  if (dx.data)
    for (std::size_t n = 0; n < dx.rows; ++n)
      for (std::size_t i = 0; i < g.in_size(); ++i) dx(n, i) = T(0);
  for (std::size_t n = 0; n < delta.rows; ++n)
    for (std::size_t co = 0; co < g.cout; ++co)
      for (std::size_t oy = 0; oy < oh; ++oy)
        for (std::size_t ox = 0; ox < ow; ++ox) {
          const T d = delta(n, (co * oh + oy) * ow + ox);
          db[co] += d;
          for (std::size_t ci = 0; ci < g.cin; ++ci)
            for (std::size_t ki = 0; ki < g.k; ++ki)
              for (std::size_t kj = 0; kj < g.k; ++kj) {
                const long iy = static_cast<long>(oy * g.stride + ki) - static_cast<long>(g.pad);
                const long ix = static_cast<long>(ox * g.stride + kj) - static_cast<long>(g.pad);
                if (iy < 0 || ix < 0 || iy >= static_cast<long>(g.h) || ix >= static_cast<long>(g.w)) continue;
                const std::size_t xi = (ci * g.h + static_cast<std::size_t>(iy)) * g.w + static_cast<std::size_t>(ix);
                const std::size_t wi = ((co * g.cin + ci) * g.k + ki) * g.k + kj;
                dw[wi] += d * x(n, xi);
                if (dx.data) dx(n, xi) += d * w[wi];
              }
        }
}

#define BPT_INSTANTIATE(T)                                                                                        \
  template void conv_forward<T>(const ConvGeom&, ConstMatView<T>, const T*, const T*, Activation, MatView<T>,     \
                                MatView<T>, T*);                                                                  \
  template void conv_backward<T>(const ConvGeom&, ConstMatView<T>, const T*, ConstMatView<T>, ConstMatView<T>,    \
                                 Activation, MatView<T>, T*, T*, MatView<T>, bool, T*);                           \
  template void maxpool_forward<T>(const PoolGeom&, ConstMatView<T>, MatView<T>, std::int32_t*);                  \
  template void maxpool_backward<T>(const PoolGeom&, ConstMatView<T>, const std::int32_t*, MatView<T>);           \
  template void avgpool_forward<T>(const PoolGeom&, ConstMatView<T>, MatView<T>);                                 \
  template void avgpool_backward<T>(const PoolGeom&, ConstMatView<T>, MatView<T>);                                \
  template void conv_forward_naive<T>(const ConvGeom&, ConstMatView<T>, const T*, const T*, Activation,           \
                                      MatView<T>, MatView<T>);                                                    \
  template void conv_backward_naive<T>(const ConvGeom&, ConstMatView<T>, const T*, ConstMatView<T>,               \
                                       ConstMatView<T>, Activation, MatView<T>, T*, T*, MatView<T>);
BPT_INSTANTIATE(float)
BPT_INSTANTIATE(double)
#undef BPT_INSTANTIATE

}  // namespace bpt
