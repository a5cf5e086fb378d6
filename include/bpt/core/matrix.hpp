#pragma once
// Non-owning row-major matrix views: element (r, c) is data[r * ld + c].
#include <cstddef>

namespace bpt {

template <class T>
struct MatView {
  T* data = nullptr;
  std::size_t rows = 0, cols = 0, ld = 0;

  MatView() = default;
  MatView(T* d, std::size_t r, std::size_t c) : data(d), rows(r), cols(c), ld(c) {}
  MatView(T* d, std::size_t r, std::size_t c, std::size_t l) : data(d), rows(r), cols(c), ld(l) {}
  // A view of non-const T converts to a view of const T.
  template <class U>
  MatView(const MatView<U>& o) : data(o.data), rows(o.rows), cols(o.cols), ld(o.ld) {}

  T& operator()(std::size_t r, std::size_t c) const { return data[r * ld + c]; }
  T* row(std::size_t r) const { return data + r * ld; }
  // Rows [r0, r0 + n).
  MatView top_rows(std::size_t n) const { return MatView(data, n, cols, ld); }
  MatView rows_from(std::size_t r0, std::size_t n) const { return MatView(data + r0 * ld, n, cols, ld); }
};

template <class T>
using ConstMatView = MatView<const T>;

}  // namespace bpt
