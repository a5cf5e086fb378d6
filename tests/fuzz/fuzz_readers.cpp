// libFuzzer targets for the file readers. Each input is written to a file and read the way
// bptrain reads it; a bpt::Error is the expected answer to a bad file, anything else is a bug.
// Built with -DBPT_FUZZ_TARGET=1 (IDX), 2 (CSV), 3 (HDF5 data and checkpoints) or 4 (the --layers
// grammar: the input is a layer spec and an input shape, parsed and planned as --layers and
// --input-shape are).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "bpt/core/error.hpp"
#include "bpt/data/dataset.hpp"
#include "bpt/io/checkpoint.hpp"
#include "bpt/model/model.hpp"

namespace {
const std::string& scratch() {
  static const std::string p = "/tmp/bpt_fuzz_" + std::to_string(::getpid());
  return p;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
#if BPT_FUZZ_TARGET == 4
  // Three bytes of shape (each 1-64), then the spec's text: every accepted stack is planned and its
  // parameters counted; nothing is allocated.
  if (size < 3) return 0;
  try {
    bpt::ModelSpec s;
    s.input = {std::size_t(data[0] % 64) + 1, std::size_t(data[1] % 64) + 1, std::size_t(data[2] % 64) + 1};
    s.layers = bpt::parse_layers(std::string(reinterpret_cast<const char*>(data + 3), size - 3));
    s.layers.push_back({bpt::LayerKind::Dense, 10});
    bpt::check_limits(s);
    (void)bpt::count_params(bpt::plan_layers(s));
    (void)bpt::describe_layers(s);
  } catch (const bpt::Error&) {
  }
  return 0;
#endif
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
