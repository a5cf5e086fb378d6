// The simulated-compute model's lookups (bpt/core/sim_cost.hpp): a recorded shape as recorded, a shape
// between two recorded ones linear between them, beyond them along the line of the nearest two (below
// the smallest never under proportional scaling), a shape unlike any other the kind's median rate, a kind the file lacks
// an error that names it; what the file held of what was billed, and the run's line that says so. One
// test: the model is read once per process.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "bpt/core/error.hpp"
#include "bpt/core/sim_cost.hpp"

TEST(SimCost, LooksUpInterpolatesExtrapolatesAndRefuses) {
  const std::string file = (std::filesystem::temp_directory_path() / "bpt_sim_cost_test_model.txt").string();
  {
    std::ofstream out(file);
    out << "# a comment\n"
           "sgemm_NT 64 512 784 1.0e-3\n"   // batch 64
           "sgemm_NT 256 512 784 3.0e-3\n"  // batch 256: 1 ms + 1/96 ms a row
           "sgemm_NT 256 10 256 4.0e-5 40\n"  // a record line's call count is ignored
           "add 1000 0 0 1.0e-6\n"
           "add 1000 0 0 3.0e-6\n";  // a second rank's line of the same shape: the mean counts
  }
  ASSERT_EQ(setenv("BPT_SIM_MODEL", file.c_str(), 1), 0);
  EXPECT_EQ(bpt::sim::model_file(), file);
  EXPECT_DOUBLE_EQ(bpt::sim::modelled_seconds("sgemm_NT", 256, 512, 784), 3.0e-3);
  EXPECT_NEAR(bpt::sim::modelled_seconds("sgemm_NT", 160, 512, 784), 2.0e-3, 1e-12);  // halfway
  EXPECT_NEAR(bpt::sim::modelled_seconds("sgemm_NT", 448, 512, 784), 5.0e-3, 1e-12);  // on the line beyond
  // Below the smallest: the line gives 1e-3 - 48/96 ms = 0.5 ms at batch 16; proportional scaling from
  // batch 64 gives 0.25 ms: the larger (the fixed cost is kept).
  EXPECT_NEAR(bpt::sim::modelled_seconds("sgemm_NT", 16, 512, 784), 0.5e-3, 1e-12);
  EXPECT_NEAR(bpt::sim::modelled_seconds("add", 1000), 2.0e-6, 1e-15);
  EXPECT_NEAR(bpt::sim::modelled_seconds("add", 3000), 6.0e-6, 1e-15);  // one point: proportional
  // bfloat16 packing and adding, absent from this model: billed as additions (sim_cost.cpp's multiples).
  EXPECT_NEAR(bpt::sim::modelled_seconds("bf16_pack", 3000), 2.0e-9 * 7320, 1e-15);  // as add 7,320
  EXPECT_NEAR(bpt::sim::modelled_seconds("bf16_add", 3000), 2.0e-9 * 2820, 1e-15);   // as add 2,820
  // Unlike any recorded shape (two dimensions differ): the kind's median seconds per m*n*k.
  const double rate = 1.0e-3 / (64.0 * 512 * 784);  // the median of the three sgemm_NT entries' rates
  EXPECT_NEAR(bpt::sim::modelled_seconds("sgemm_NT", 32, 64, 128), rate * 32 * 64 * 128, 1e-15);
  // What was billed: 9 shapes, of which the file held 2 (sgemm_NT 256x512x784 and add 1000); a shape
  // billed again counts its seconds again, not a shape more.
  EXPECT_DOUBLE_EQ(bpt::sim::modelled_seconds("sgemm_NT", 256, 512, 784), 3.0e-3);
  const bpt::sim::Coverage c = bpt::sim::coverage();
  EXPECT_EQ(c.shapes, 9u);
  EXPECT_EQ(c.estimated_shapes, 7u);
  const double held = 2 * 3.0e-3 + 2.0e-6;
  const double estimated = 2.0e-3 + 5.0e-3 + 0.5e-3 + 6.0e-6 + 2.0e-9 * 7320 + 2.0e-9 * 2820 + rate * 32 * 64 * 128;
  EXPECT_NEAR(c.seconds, held + estimated, 1e-12);
  EXPECT_NEAR(c.estimated_seconds, estimated, 1e-12);
  const std::string note = bpt::sim::coverage_note(c);
  EXPECT_NE(note.find("held 2 of the 9 kernel shapes this run billed; the other 7, 55.7 % of the billed time"),
            std::string::npos) << note;
  EXPECT_NE(note.find("calibrate the model with this network"), std::string::npos) << note;
  const std::string few = bpt::sim::coverage_note({100, 1, 1.0, 0.04});  // 4 %: said, without the advice
  EXPECT_NE(few.find("held 99 of the 100 kernel shapes this run billed; the other 1, 4.0 %"), std::string::npos) << few;
  EXPECT_EQ(few.find("calibrate"), std::string::npos) << few;
  EXPECT_NE(bpt::sim::coverage_note({5, 0, 1.0, 0}).find("held all 5 kernel shapes"), std::string::npos);
  try {
    bpt::sim::modelled_seconds("conv_bias_act", 4, 6272, 64);
    FAIL() << "a kind the model lacks was accepted";
  } catch (const bpt::Error& e) {
    EXPECT_NE(std::string(e.what()).find("has no 'conv_bias_act' kernels"), std::string::npos) << e.what();
  }
  std::filesystem::remove(file);
}
