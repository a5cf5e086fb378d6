#pragma once
// Inverted dropout whose mask is a pure function of (seed, step, global sample index, layer, unit):
// the same sample gets the same mask whichever rank computes it.
#include <cstdint>

#include "bpt/core/matrix.hpp"

namespace bpt {

// The input's dropout draws with this layer key (hidden dropout after layer l uses l).
inline constexpr std::size_t kInputDropoutKey = ~std::size_t{0};

// out = a * mask, mask[r][c] = (keep ? 1/(1-p) : 0), row r holding global sample sample_ids[r]; the draw is keyed by
// (seed, step, sample, layer), so any rank count masks a sample alike.
// mask and out: [B, n]; out may alias a; mask may be empty (data == nullptr: not kept, as for the input).
template <class T>
void dropout_forward(ConstMatView<T> a, float p, std::uint64_t seed, std::uint64_t step, const std::uint64_t* sample_ids,
                     std::size_t layer, MatView<T> mask, MatView<T> out);

}  // namespace bpt
