// Image augmentation: hand-checked shifts and mirrors, the draws' range and keys.
#include <gtest/gtest.h>

#include <set>
#include <utility>
#include <vector>

#include "bpt/data/augment.hpp"

using namespace bpt;

namespace {

// The first sample id (from 0) whose draw at (seed 5, step 3) is t.
std::uint64_t id_drawing(const ImageAugment& a, AugmentDraw t) {
  for (std::uint64_t id = 0; id < 100000; ++id) {
    const AugmentDraw d = augment_draw(a, 5, 3, id);
    if (d.dy == t.dy && d.dx == t.dx && d.flip == t.flip) return id;
  }
  ADD_FAILURE() << "no sample draws (" << t.dy << ", " << t.dx << ", " << t.flip << ")";
  return 0;
}

}  // namespace

TEST(Augment, ShiftsAndMirrorsByHand) {
  // A 3 x 4 image with pixel (y, x) = 10 y + x, and a scaling that maps a raw 0 at (y, x) to
  // -(100 + 10 y + x), to tell the fill from the image.
  ImageAugment a{3, 4, 1, true};
  Transform tf;
  std::vector<float> img(12);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x) {
      img[y * 4 + x] = static_cast<float>(10 * y + x);
      tf.offset.push_back(static_cast<float>(100 + 10 * y + x));
      tf.scale.push_back(1.0f);
    }
  auto run = [&](AugmentDraw t) {
    std::vector<float> out(12);
    const std::uint64_t id = id_drawing(a, t);
    augment_rows(a, tf, img.data(), 1, &id, 5, 3, out.data());
    return out;
  };
  EXPECT_EQ(run({0, 0, false}), img);
  // dy = +1: row y shows row y + 1; the last row comes from outside.
  EXPECT_EQ(run({1, 0, false}), (std::vector<float>{10, 11, 12, 13, 20, 21, 22, 23, -120, -121, -122, -123}));
  // dx = -1: column x shows column x - 1; the first column comes from outside.
  EXPECT_EQ(run({0, -1, false}), (std::vector<float>{-100, 0, 1, 2, -110, 10, 11, 12, -120, 20, 21, 22}));
  // Mirrored: column x shows column 3 - x.
  EXPECT_EQ(run({0, 0, true}), (std::vector<float>{3, 2, 1, 0, 13, 12, 11, 10, 23, 22, 21, 20}));
  // Mirrored, then dy = -1 and dx = +1: out(y, x) = in(y - 1, 3 - x + 1).
  EXPECT_EQ(run({-1, 1, true}), (std::vector<float>{-100, -101, -102, -103, -110, 3, 2, 1, -120, 13, 12, 11}));
}

TEST(Augment, DrawsCoverTheRangeAndFollowTheSample) {
  ImageAugment a{28, 28, 2, false};
  std::set<std::pair<int, int>> seen;
  for (std::uint64_t id = 0; id < 2000; ++id) {
    const AugmentDraw d = augment_draw(a, 42, 7, id);
    ASSERT_GE(d.dy, -2);
    ASSERT_LE(d.dy, 2);
    ASSERT_GE(d.dx, -2);
    ASSERT_LE(d.dx, 2);
    ASSERT_FALSE(d.flip) << "mirrored without --augment-flip";
    seen.insert({d.dy, d.dx});
  }
  EXPECT_EQ(seen.size(), 25u);
  a.flip = true;
  int flips = 0, moved = 0;
  for (std::uint64_t id = 0; id < 2000; ++id) {
    const AugmentDraw d = augment_draw(a, 42, 7, id), again = augment_draw(a, 42, 7, id),
                      next = augment_draw(a, 42, 8, id);
    ASSERT_TRUE(d.dy == again.dy && d.dx == again.dx && d.flip == again.flip) << "not a function of the sample";
    flips += d.flip;
    moved += d.dy != next.dy || d.dx != next.dx || d.flip != next.flip;
  }
  EXPECT_NEAR(flips, 1000, 120);
  EXPECT_GT(moved, 1500) << "the next step draws anew";
}
