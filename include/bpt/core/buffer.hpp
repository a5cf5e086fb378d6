#pragma once
// Owning, 64-byte aligned, zero-initialised buffer of trivially copyable T. On simulated clusters in
// model mode (bpt/core/sim_cost.hpp) a floating-point one is SMPI shared memory, neither private nor zeroed.
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <type_traits>

#include "bpt/core/sim_cost.hpp"

namespace bpt {

template <class T>
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(std::size_t n) { resize(n); }

  // Discards the contents; the new buffer is zeroed (a simulated rank's shared one, in model mode: not).
  void resize(std::size_t n) {
    if (n == n_) {
      zero();
      return;
    }
    ptr_.reset();
    n_ = 0;
    if (n == 0) return;
    std::size_t bytes = (n * sizeof(T) + 63) / 64 * 64;
    void* p = nullptr;
    bool shared = false;
    if constexpr (std::is_floating_point_v<T>) shared = (p = sim::shared_alloc(bytes)) != nullptr;
    if (!p) p = std::aligned_alloc(64, bytes);
    if (!p) throw std::bad_alloc();
    ptr_ = std::unique_ptr<T, Free>(static_cast<T*>(p), Free{shared});
    n_ = n;
    zero();
  }
  void zero() {
    if (n_ && !ptr_.get_deleter().shared) std::memset(static_cast<void*>(ptr_.get()), 0, n_ * sizeof(T));
  }

  T* data() { return ptr_.get(); }
  const T* data() const { return ptr_.get(); }
  std::size_t size() const { return n_; }
  T& operator[](std::size_t i) { return ptr_.get()[i]; }
  const T& operator[](std::size_t i) const { return ptr_.get()[i]; }
  std::span<T> span() { return {ptr_.get(), n_}; }
  std::span<const T> span() const { return {ptr_.get(), n_}; }

 private:
  struct Free {
    bool shared = false;  // SMPI's shared malloc (bpt/core/sim_cost.hpp: model mode on simulated clusters)
    void operator()(T* p) const {
      if (shared)
        sim::shared_free(p);
      else
        std::free(p);
    }
  };
  std::unique_ptr<T, Free> ptr_;
  std::size_t n_ = 0;
};

}  // namespace bpt
