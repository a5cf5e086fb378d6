#pragma once
// One sample's shape: [channels, height, width] (an image, in PyTorch's NCHW order); flat rows of D
// features are [D, 1, 1]. Shared by the data (what an image is) and the model (what a layer takes).
#include <cstddef>

namespace bpt {

struct Shape {
  std::size_t c = 1, h = 1, w = 1;
  std::size_t size() const { return c * h * w; }
  bool image() const { return h > 1 || w > 1; }
  bool operator==(const Shape&) const = default;
};

}  // namespace bpt
