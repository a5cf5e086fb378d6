#pragma once
// MPI_Comm is a pointer in Open MPI and an int in MPICH: one way to carry it in an integer for both.
#include <mpi.h>

#include <cstdint>
#include <type_traits>

namespace bpt {

template <class C = MPI_Comm>
std::uintptr_t to_handle(C c) {
  if constexpr (std::is_pointer_v<C>)
    return reinterpret_cast<std::uintptr_t>(c);
  else
    return static_cast<std::uintptr_t>(c);
}

template <class C = MPI_Comm>
C to_comm(std::uintptr_t h) {
  if constexpr (std::is_pointer_v<C>)
    return reinterpret_cast<C>(h);
  else
    return static_cast<C>(h);
}

}  // namespace bpt
