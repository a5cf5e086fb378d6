#pragma once
// Training-time image augmentation: each sample, at each step, shifted by up to `shift` pixels each
// way and (with `flip`) mirrored left-right with probability 1/2. The draws are a pure function of
// (seed, step, global sample index), so a sample is transformed alike on whichever rank computes it.
// Pixels shifted in from outside the image take the value a raw 0 (background) has after the
// input scaling, pixel by pixel.
#include <cstddef>
#include <cstdint>

#include "bpt/data/dataset.hpp"

namespace bpt {

struct ImageAugment {
  std::size_t height = 0, width = 0;  // image shape; channels * height * width = features
  int shift = 0;                      // largest shift in pixels, each axis
  bool flip = false;                  // mirror left-right with probability 1/2
  std::size_t channels = 1;           // each channel's plane is shifted and mirrored alike
  bool active() const { return shift > 0 || flip; }
};

// The draws for one sample: shift (dy, dx) in [-shift, shift]^2 and whether it is mirrored.
struct AugmentDraw {
  int dy = 0, dx = 0;
  bool flip = false;
};
AugmentDraw augment_draw(const ImageAugment& a, std::uint64_t seed, std::uint64_t step, std::uint64_t sample);

// out[r] = the augmented in[r] for rows holding global samples ids[r]: out(y, x) = in(y + dy, x' + dx),
// x' = width - 1 - x when mirrored, else x; a source outside the image gives what tf makes of a raw 0
// at (y, x).
void augment_rows(const ImageAugment& a, const Transform& tf, const float* in, std::size_t rows,
                  const std::uint64_t* ids, std::uint64_t seed, std::uint64_t step, float* out);

}  // namespace bpt
