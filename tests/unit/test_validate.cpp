// The checks before the first step: flag ranges, output paths against inputs, memory plans.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "bpt/core/error.hpp"
#include "bpt/data/paths.hpp"
#include "bpt/nn/conv.hpp"
#include "bpt/train/validate.hpp"

using namespace bpt;
namespace fs = std::filesystem;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const CollectiveError& e) {
    EXPECT_EQ(e.exit_code(), 2);
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Validate, EveryRangeNamesItsFlag) {
  const Config defaults;
  EXPECT_EQ(error_of([&] { validate_config(defaults, 1, 2); }), "");
  struct Case {
    std::function<void(Config&)> set;
    std::string what;
  };
  const std::vector<Case> cases = {
      {[](Config& c) { c.optim.beta2 = 2; }, "--beta2 2: must be in [0, 1)"},
      {[](Config& c) { c.optim.beta1 = 1; }, "--beta1 1: must be in [0, 1)"},
      {[](Config& c) { c.optim.eps = 0; }, "--eps 0: must be in (0, inf)"},
      {[](Config& c) { c.lr = -1; }, "--lr -1: must be in (0, inf)"},
      {[](Config& c) { c.dropout = 1; }, "--dropout 1: must be in [0, 1)"},
      {[](Config& c) { c.input_dropout = 1; }, "--input-dropout 1: must be in [0, 1)"},
      {[](Config& c) { c.input_dropout = -0.1f; }, "--input-dropout -0.1: must be in [0, 1)"},
      {[](Config& c) { c.label_smoothing = 1; }, "--label-smoothing 1: must be in [0, 1)"},
      {[](Config& c) {
         c.label_smoothing = 0.1f;
         c.loss = Loss::Mse;
       },
       "--label-smoothing: only with --loss cross_entropy"},
      {[](Config& c) { c.warmup_epochs_lr = -1; }, "--lr-warmup-epochs -1"},
      {[](Config& c) { c.lr_step_epochs = 0; }, "--lr-step-epochs must be at least 1"},
      {[](Config& c) { c.lr_gamma = 2; }, "--lr-gamma 2: must be in (0, 1]"},
      {[](Config& c) { c.blas_threads = 3; }, "--blas-threads 3: must be in [1, 2] (this machine has 2 cores)"},
      {[](Config& c) { c.keep = 0; }, "--keep 0"},
      {[](Config& c) { c.checkpoint_every = 5; }, "--checkpoint-every needs --checkpoint FILE"},
      {[](Config& c) { c.grad_warn_high = 1e-9; }, "--grad-warn-high 1e-09: must be in (1e-07, inf)"},
      {[](Config& c) { c.fail_rank = 1; }, "--fail-rank 1: must be -1 (off) or a rank in [0, 1)"},
      {[](Config& c) { c.deterministic = true, c.micro_shards = 3; }, "--micro-shards must be a power of two"},
      {[](Config& c) { c.accumulate = 0; }, "--accumulate 0: must be in [1, --batch-size 128]"},
      {[](Config& c) { c.accumulate = 129; }, "--accumulate 129: must be in [1, --batch-size 128]"},
      {[](Config& c) { c.accumulate = 2, c.deterministic = true; }, "--accumulate with --deterministic"},
      {[](Config& c) { c.grad_bf16 = true, c.deterministic = true; }, "--grad-compression bf16 with --deterministic"},
      {[](Config& c) { c.stall_timeout = 0.5; }, "--stall-timeout 0.5: must be 0 (off) or in [1, 1000000] seconds"},
  };
  for (const Case& k : cases) {
    Config c;
    k.set(c);
    EXPECT_EQ(error_of([&] { validate_config(c, 1, 2); }).find(k.what), 0u) << k.what;
  }
}

TEST(Validate, OutputsNeverReplaceInputs) {
  const fs::path dir = fs::temp_directory_path() / ("bpt_outputs_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string in = (dir / "train.csv").string(), link = (dir / "link.csv").string(), hard = (dir / "hard.csv").string();
  std::ofstream(in) << "1,2,0\n";
  fs::create_symlink(in, link);
  fs::create_hard_link(in, hard);
  const std::vector<std::string> inputs = {in};
  EXPECT_EQ(error_of([&] { check_outputs({{"--metrics", (dir / "m.jsonl").string(), ""}}, inputs); }), "");
  EXPECT_NE(error_of([&] { check_outputs({{"--metrics", link, ""}}, inputs); }).find("is the input file"), std::string::npos);
  EXPECT_NE(error_of([&] { check_outputs({{"--checkpoint", hard, ""}}, inputs); }).find("is the input file"), std::string::npos);
  EXPECT_EQ(error_of([&] { check_outputs({{"--checkpoint", hard, in}}, inputs); }), "");  // --resume's own file
  EXPECT_NE(error_of([&] { check_outputs({{"--metrics", (dir / "none" / "m").string(), ""}}, inputs); }).find("does not exist"),
            std::string::npos);
  EXPECT_NE(error_of([&] { check_outputs({{"--checkpoint", dir.string(), ""}}, inputs); }).find("is a folder"), std::string::npos);
  const std::string x = (dir / "x").string();
  EXPECT_NE(error_of([&] { check_outputs({{"--checkpoint", x, ""}, {"--metrics", x, ""}}, inputs); }).find("is also --checkpoint's"),
            std::string::npos);
  for (const auto& e : fs::directory_iterator(dir))  // the probes are gone
    EXPECT_EQ(e.path().filename().string().find(".bptrain-probe"), std::string::npos);
  fs::remove_all(dir);
}

TEST(Validate, MemoryPlanCountsWeightsStateAndActivations) {
  Config c;  // 784-512-256-10, Adam: weights, gradients and two state vectors
  const double params = 512.0 * 785 + 256.0 * 513 + 10.0 * 257;
  MemoryPlan p = plan_memory(c, {0, 0, 0}, 784, 10, 1024, 1);
  EXPECT_DOUBLE_EQ(p.weights, 4 * params * 4);
  EXPECT_DOUBLE_EQ(p.activations, 128 * 4.0 * ((512 + 256 + 10) * 2 + 2 * 512 + 2 * 784));
  EXPECT_GT(p.evaluation, 0);
  c.optim.kind = OptKind::Sgd;
  EXPECT_DOUBLE_EQ(plan_memory(c, {0, 0, 0}, 784, 10, 1024, 1).weights, 4 * params * 2);
  EXPECT_EQ(error_of([&] { check_memory(p, "m", 1e12, 1); }), "");
  const std::string e = error_of([&] { check_memory(p, "784-512-256-10", p.total() * 1.5, 2); });
  EXPECT_NE(e.find("the model 784-512-256-10 needs"), std::string::npos) << e;
  EXPECT_NE(e.find("each of the 2 ranks"), std::string::npos) << e;
  // A CNN: every layer's z and a (max-pooling: a and its source index), two error signals, the input
  // copies, and one chunk of the convolution's patches and staged outputs.
  Config k;
  k.layers = parse_layers("conv3:4,maxpool2,dense:8");
  k.optim.kind = OptKind::Sgd;
  k.batch_size = 10;
  const MemoryPlan q = plan_memory(k, {1, 6, 6}, 36, 3, 10, 1);
  const double kp = 4.0 * 9 + 4 + 8.0 * 36 + 8 + 3.0 * 8 + 3;
  EXPECT_DOUBLE_EQ(q.weights, 4 * kp * 2);
  ConvGeom g{1, 6, 6, 4, 3, 1, 1};
  EXPECT_DOUBLE_EQ(q.activations, 10 * 4.0 * (2 * (144 + 36 + 8 + 3) + 2 * 144 + 2 * 36) + 4.0 * double(g.scratch_size(1024)));
  // Before the data (no image shape yet): its dense layers only, a lower bound.
  EXPECT_GT(plan_memory(k, {0, 0, 0}, 1, 1, 1, 1).weights, 0);
  c.layers = {{LayerKind::Dense, 10000000}, {LayerKind::Dense, 10000000}};
  EXPECT_NE(error_of([&] { check_memory(plan_memory(c, {0, 0, 0}, 1, 1, 1, 1), "?", 1e11, 1); }).find("lower --"), std::string::npos);
}

// The checkpoint's config in the flags' own words, and resume keys written before that still match.
TEST(ConfigText, ReadableValues) {
  Config c;
  c.load.delimiter = '\t';
  c.load.task = Task::Regression;
  const std::string t = c.canonical();
  EXPECT_NE(t.find(";csv-delimiter=tab;"), std::string::npos) << t;
  EXPECT_NE(t.find(";task=regression;"), std::string::npos) << t;
  EXPECT_NE(t.find(";format=auto;"), std::string::npos) << t;
  EXPECT_NE(t.find(";csv-header=auto;"), std::string::npos) << t;
  c.load.delimiter = 0;
  EXPECT_NE(c.canonical().find(";csv-delimiter=auto;"), std::string::npos);
  EXPECT_EQ(t.find('\0'), std::string::npos);
}

TEST(ConfigText, OlderResumeKeysUpgrade) {
  Config c;
  std::string old = c.resume_key();
  const std::size_t at = old.find(";task=auto;");
  ASSERT_NE(at, std::string::npos) << old;
  old.replace(at, 11, ";task=0;");
  EXPECT_NE(old, c.resume_key());
  EXPECT_EQ(upgrade_resume_key(old), c.resume_key());
  c.load.task = Task::Classification;
  old = c.resume_key();
  old.replace(old.find(";task=classification;"), 21, ";task=1;");
  EXPECT_EQ(upgrade_resume_key(old), c.resume_key());
}
