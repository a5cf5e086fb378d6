// bptrain-data: dataset tools. `convert IN OUT` writes IDX, CSV or synthetic:N,D,K data as HDF5.
#include <cxxopts.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "bpt/core/error.hpp"
#include "bpt/data/dataset.hpp"
#include "bpt/data/paths.hpp"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  using namespace bpt;
  cxxopts::Options o("bptrain-data",
                     "Dataset tools.\n  bptrain-data convert IN OUT   IDX (directory or images file), CSV or "
                     "synthetic:N,D,K -> HDF5\n\nThe HDF5 file holds /X [N, D] (uint8 for bytes, else float32; "
                     "chunked, shuffled, deflated), /y ([N] int32 labels or [N, K] float32 targets) and /meta "
                     "(source, samples, features, classes, targets, format_version).");
  // clang-format off
  o.add_options()
    ("command", "convert", cxxopts::value<std::string>())
    ("in", "input", cxxopts::value<std::string>())
    ("out", "output HDF5 file", cxxopts::value<std::string>())
    ("format", "input format: auto, idx, csv", cxxopts::value<std::string>()->default_value("auto"))
    ("task", "auto, classification, regression", cxxopts::value<std::string>()->default_value("auto"))
    ("label-column", "CSV label column (name or 0-based index; default: the last)", cxxopts::value<std::string>()->default_value(""))
    ("csv-delimiter", "CSV field separator: auto, ',', ';', tab, '|'", cxxopts::value<std::string>()->default_value("auto"))
    ("csv-header", "CSV header line: auto, yes, no", cxxopts::value<std::string>()->default_value("auto"))
    ("seed", "seed for synthetic:N,D,K", cxxopts::value<std::uint64_t>()->default_value("42"))
    ("deflate", "compression level of /X, 0 (none: fastest for --stream) to 9", cxxopts::value<int>()->default_value("4"))
    ("h,help", "print this help");
  // clang-format on
  o.parse_positional({"command", "in", "out"});
  o.positional_help("convert IN OUT");
  try {
    auto r = o.parse(argc, argv);
    if (r.count("help") || !r.count("command")) {
      std::printf("%s\n", o.help().c_str());
      return r.count("help") ? 0 : 2;
    }
    if (r["command"].as<std::string>() != "convert") throw CollectiveError("unknown command '" + r["command"].as<std::string>() + "'");
    if (!r.count("in") || !r.count("out")) throw CollectiveError("convert needs IN and OUT");
    LoadOptions opt;
    opt.format = parse_format(r["format"].as<std::string>());
    opt.task = parse_task(r["task"].as<std::string>());
    opt.label_column = r["label-column"].as<std::string>();
    opt.delimiter = parse_delimiter(r["csv-delimiter"].as<std::string>());
    opt.header = parse_header(r["csv-header"].as<std::string>());
    opt.seed = r["seed"].as<std::uint64_t>();
    opt.in_memory = true;  // synthetic sets: every row, to write them all
    const std::string in = r["in"].as<std::string>(), out = r["out"].as<std::string>();
    const int deflate = r["deflate"].as<int>();
    if (deflate < 0 || deflate > 9) throw CollectiveError("--deflate must be in 0..9");
    // Never onto the input (by file identity), and only into a folder that takes the file: before reading.
    check_outputs({{"OUT", out, ""}}, input_files(in, in, opt));
    // OUT is HDF5 whatever its name: a name that says another format would mislead the next reader.
    const std::string ext = fs::path(out).extension().string();
    for (const char* other : {".csv", ".tsv", ".txt", ".gz", ".idx", ".json", ".npy", ".npz", ".parquet"})
      if (ext == other || out.find("-ubyte") != std::string::npos)
        throw CollectiveError("OUT " + out + ": bptrain-data convert writes HDF5; name it .h5 (or .hdf5)");
    // Input that cannot be used is a usage error (exit 2), as in bptrain; a failed write is exit 1.
    Dataset ds;
    try {
      ds = load_train(in, opt);
    } catch (const CollectiveError&) {
      throw;
    } catch (const Error& e) {
      throw CollectiveError(e.what());
    }
    // Written beside OUT and renamed into place: OUT is whole or untouched, never half written.
    const std::string tmp = out + ".tmp." + std::to_string(::getpid());
    try {
      write_hdf5(ds, tmp, deflate);
      if (std::rename(tmp.c_str(), out.c_str()) != 0)
        throw Error(out + ": cannot rename " + tmp + " into place (" + std::strerror(errno) + ")");
    } catch (...) {
      std::remove(tmp.c_str());
      throw;
    }
    std::printf("%s: %zu samples, %zu features, %s -> %s\n", in.c_str(), ds.n, ds.d,
                ds.regression() ? (std::to_string(ds.target_dim) + (ds.target_dim == 1 ? " target" : " targets")).c_str()
                                : (std::to_string(ds.classes) + " classes").c_str(),
                out.c_str());
    return 0;
  } catch (const cxxopts::exceptions::exception& e) {
    std::fprintf(stderr, "bptrain-data: error: %s\n", e.what());
    return 2;
  } catch (const CollectiveError& e) {  // a usage error
    std::fprintf(stderr, "bptrain-data: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bptrain-data: error: %s\n", e.what());
    return 1;
  }
}
