#include <gtest/gtest.h>

#include <tuple>
#include <vector>

#include "bpt/core/error.hpp"
#include "bpt/core/gemm.hpp"
#include "bpt/core/rng.hpp"

using namespace bpt;

namespace {

template <class T>
std::vector<T> gemm_operand(std::size_t n, std::uint64_t seed) {
  CounterRng r(seed);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(r.uniform() * 2 - 1);
  return v;
}

// m, n, k, transA, transB, extra leading-dimension padding
using Case = std::tuple<std::size_t, std::size_t, std::size_t, bool, bool, std::size_t>;

template <class T>
void check_case(const Case& c, double tol) {
  auto [m, n, k, ta, tb, pad] = c;
  const std::size_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
  auto a = gemm_operand<T>(ar * (ac + pad), 1);
  auto b = gemm_operand<T>(br * (bc + pad), 2);
  auto c1 = gemm_operand<T>(m * (n + pad), 3);
  auto c2 = c1;
  ConstMatView<T> av(a.data(), ar, ac, ac + pad), bv(b.data(), br, bc, bc + pad);
  const Trans tA = ta ? Trans::Yes : Trans::No, tB = tb ? Trans::Yes : Trans::No;
  gemm(tA, tB, T(0.7), av, bv, T(0.3), MatView<T>(c1.data(), m, n, n + pad));
  gemm_naive<T>(tA, tB, T(0.7), av, bv, T(0.3), MatView<T>(c2.data(), m, n, n + pad));
  for (std::size_t i = 0; i < c1.size(); ++i) ASSERT_NEAR(c1[i], c2[i], tol) << "element " << i;
}

const std::vector<Case> kCases = {
    {1, 1, 1, false, false, 0}, {1, 1, 1, true, true, 0},    {3, 5, 7, false, false, 0},
    {3, 5, 7, true, false, 2},  {3, 5, 7, false, true, 1},   {3, 5, 7, true, true, 3},
    {17, 1, 33, false, true, 0}, {1, 19, 5, true, false, 4}, {65, 31, 129, false, true, 1},
    {31, 65, 2, true, true, 0},
};

}  // namespace

TEST(Gemm, FloatMatchesNaiveOnAwkwardShapes) {
  for (const auto& c : kCases) check_case<float>(c, 1e-4);
}

TEST(Gemm, DoubleMatchesNaiveOnAwkwardShapes) {
  for (const auto& c : kCases) check_case<double>(c, 1e-12);
}

TEST(Gemm, BetaZeroIgnoresGarbageInC) {
  std::vector<float> a = {1, 2}, b = {3, 4}, c = {std::nanf("")};
  gemm(Trans::No, Trans::Yes, 1.0f, ConstMatView<float>(a.data(), 1, 2), ConstMatView<float>(b.data(), 1, 2), 0.0f,
       MatView<float>(c.data(), 1, 1));
  EXPECT_EQ(c[0], 11.0f);
}

TEST(Gemm, ShapeMismatchThrows) {
  std::vector<float> a(6), b(6), c(4);
  EXPECT_THROW(gemm(Trans::No, Trans::No, 1.0f, ConstMatView<float>(a.data(), 2, 3), ConstMatView<float>(b.data(), 2, 3),
                    0.0f, MatView<float>(c.data(), 2, 2)),
               Error);
}

// OpenBLAS's fallback kernels on a CPU it did not recognise: warned about, with the OPENBLAS_CORETYPE
// that fits; nothing when the kernels fit the CPU or the user chose them.
TEST(Gemm, WarnsOfKernelsOlderThanTheCpu) {
  const std::string w = blas_kernel_warning("Prescott", true, true, false);
  EXPECT_NE(w.find("OPENBLAS_CORETYPE=SkylakeX"), std::string::npos) << w;
  EXPECT_NE(w.find("Prescott"), std::string::npos) << w;
  EXPECT_NE(blas_kernel_warning("Nehalem", true, false, false).find("OPENBLAS_CORETYPE=Haswell"), std::string::npos);
  EXPECT_EQ(blas_kernel_warning("Prescott", true, true, true), "");   // OPENBLAS_CORETYPE already set
  EXPECT_EQ(blas_kernel_warning("Prescott", false, false, false), "");  // an old CPU: the kernels fit
  EXPECT_EQ(blas_kernel_warning("SkylakeX", true, true, false), "");
  EXPECT_EQ(blas_kernel_warning("Haswell", true, true, false), "");  // (AMD's Zen 4 runs these too)
  EXPECT_EQ(blas_kernel_warning("Zen", true, false, false), "");
}
