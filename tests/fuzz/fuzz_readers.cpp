// libFuzzer targets for the file readers. Each input is written to a file and read the way
// bptrain reads it; a bpt::Error is the expected answer to a bad file, anything else is a bug.
// Built with -DBPT_FUZZ_TARGET=1 (IDX), 2 (CSV) or 3 (HDF5 data and checkpoints).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "bpt/core/error.hpp"
#include "bpt/data/dataset.hpp"
#include "bpt/io/checkpoint.hpp"

namespace {
const std::string& scratch() {
  static const std::string p = "/tmp/bpt_fuzz_" + std::to_string(::getpid());
  return p;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = scratch();
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) return 0;
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  try {
#if BPT_FUZZ_TARGET == 1
    bpt::read_idx(path);
#elif BPT_FUZZ_TARGET == 2
    bpt::LoadOptions o;
    bpt::load_csv(path, o);
#else
    try {
      bpt::LoadOptions o;
      bpt::load_hdf5(path, o);
    } catch (const bpt::Error&) {
    }
    bpt::read_checkpoint(path);
#endif
  } catch (const bpt::Error&) {
  }
  return 0;
}
