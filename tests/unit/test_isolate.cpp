// The crash guard (core/isolate.hpp): a crash while a guard is alive is its line and exit 2; guards
// nest; with none left, the handlers from before are back. And a streamed dataset's reads run under one.
#include <gtest/gtest.h>

#include <csignal>
#include <memory>

#include "bpt/core/isolate.hpp"
#include "bpt/data/dataset.hpp"

namespace {

using bpt::CrashGuard;

TEST(CrashGuardDeath, ACrashUnderAGuardIsItsLineAndExit2) {
  EXPECT_EXIT(
      {
        CrashGuard g("bptrain: error: f.h5: guarded");
        std::raise(SIGSEGV);
      },
      ::testing::ExitedWithCode(2), "f.h5: guarded");
}

TEST(CrashGuardDeath, TheOuterGuardSpeaksAgainOnceTheInnerOneGoes) {
  EXPECT_EXIT(
      {
        CrashGuard outer("bptrain: error: outer");
        { CrashGuard inner("bptrain: error: inner"); }
        std::raise(SIGBUS);
      },
      ::testing::ExitedWithCode(2), "error: outer");
}

// With no guard left, the handlers are the ones from before any guard (the default, or a sanitizer's).
TEST(CrashGuard, WithNoGuardLeftTheHandlersAreTheOnesBefore) {
  struct sigaction before[2] {}, after[2] {};
  const int sigs[2] = {SIGSEGV, SIGBUS};
  for (int i = 0; i < 2; ++i) sigaction(sigs[i], nullptr, &before[i]);
  {
    CrashGuard outer("bptrain: error: outer");
    CrashGuard inner("bptrain: error: inner");
    struct sigaction during {};
    sigaction(SIGSEGV, nullptr, &during);
    EXPECT_NE(reinterpret_cast<void*>(during.sa_handler), reinterpret_cast<void*>(before[0].sa_handler));
  }
  for (int i = 0; i < 2; ++i) {
    sigaction(sigs[i], nullptr, &after[i]);
    EXPECT_EQ(reinterpret_cast<void*>(after[i].sa_handler), reinterpret_cast<void*>(before[i].sa_handler)) << sigs[i];
  }
}

// A row source that crashes like a damaged file's read inside libhdf5.
class CrashingSource : public bpt::RowSource {
 public:
  void read(const std::vector<std::uint32_t>&, float*) const override { std::raise(SIGSEGV); }
  std::int32_t label(std::size_t) const override { return 0; }
};

TEST(CrashGuardDeath, AStreamedReadThatCrashesNamesTheFile) {
  bpt::Dataset ds;
  ds.source = "stream.h5";
  ds.n = 4;
  ds.d = 2;
  ds.classes = 2;
  ds.stream = std::make_shared<CrashingSource>();
  ds.set_default_transform();
  std::vector<std::uint32_t> idx{0, 1};
  std::vector<float> out(4);
  EXPECT_EXIT(ds.gather(idx.data(), idx.size(), out.data()), ::testing::ExitedWithCode(2),
              "stream.h5: the HDF5 library crashed reading rows of it \\(--stream\\)");
}

}  // namespace
