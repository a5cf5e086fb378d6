#include "bpt/data/augment.hpp"

#include "bpt/core/rng.hpp"

namespace bpt {

AugmentDraw augment_draw(const ImageAugment& a, std::uint64_t seed, std::uint64_t step, std::uint64_t sample) {
  CounterRng rng(hash_key(seed, step, sample, 0xa7a7a7a7ULL));  // a key no other draw uses
  AugmentDraw d;
  const auto span = static_cast<std::uint64_t>(2 * a.shift + 1);
  d.dy = static_cast<int>(rng.below(span)) - a.shift;
  d.dx = static_cast<int>(rng.below(span)) - a.shift;
  d.flip = a.flip && (rng.next() >> 63) != 0;
  return d;
}

void augment_rows(const ImageAugment& a, const Transform& tf, const float* in, std::size_t rows,
                  const std::uint64_t* ids, std::uint64_t seed, std::uint64_t step, float* out) {
  const auto h = static_cast<long>(a.height), w = static_cast<long>(a.width);
  const std::size_t plane = a.height * a.width, d = a.channels * plane;
  for (std::size_t r = 0; r < rows; ++r) {
    const AugmentDraw t = augment_draw(a, seed, step, ids[r]);
    for (std::size_t c = 0; c < a.channels; ++c) {
      const float* src = in + r * d + c * plane;
      float* dst = out + r * d + c * plane;
      const float* offset = tf.offset.data() + c * plane;
      const float* scale = tf.scale.data() + c * plane;
      for (long y = 0; y < h; ++y) {
        const long sy = y + t.dy;
        for (long x = 0; x < w; ++x) {
          const long sx = (t.flip ? w - 1 - x : x) + t.dx;
          const std::size_t at = static_cast<std::size_t>(y * w + x);
          const bool inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
          dst[at] = inside ? src[sy * w + sx] : (0.0f - offset[at]) * scale[at];
        }
      }
    }
  }
}

}  // namespace bpt
