#include <algorithm>
#include <cctype>
#include <cstring>
#include <string_view>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "bpt/core/error.hpp"
#include "bpt/core/isolate.hpp"
#include "bpt/core/rng.hpp"
#include "bpt/data/dataset.hpp"
#include "bpt/data/paths.hpp"
#include "h5.hpp"

namespace bpt {
namespace {

constexpr std::string_view kSynthetic = "synthetic:";

Dataset synthetic(std::size_t n, std::size_t d, std::size_t k, std::uint64_t seed, bool in_memory);

struct SyntheticSpec {
  std::size_t n, d, k;
};

SyntheticSpec parse_synthetic(const std::string& path) {
  std::size_t v[3] = {0, 0, 0};
  std::size_t i = 0, at = kSynthetic.size();
  while (i < 3 && at <= path.size()) {
    std::size_t end = path.find(',', at);
    if (end == std::string::npos) end = path.size();
    try {
      std::size_t used = 0;
      v[i] = std::stoull(path.substr(at, end - at), &used);
      if (used != end - at) throw std::invalid_argument("trailing");
    } catch (const std::exception&) {
      throw Error(path + ": expected synthetic:N,D,K with positive integers");
    }
    ++i;
    at = end + 1;
  }
  if (i != 3 || at <= path.size() || v[0] == 0 || v[1] == 0 || v[2] < 2)
    throw Error(path + ": expected synthetic:N,D,K (N, D >= 1, K >= 2)");
  if (v[0] > 0xFFFFFFFFULL || v[0] * v[1] > (64ULL << 30)) throw Error(path + ": synthetic set larger than 64 GiB");
  return {v[0], v[1], v[2]};
}

bool is_synthetic(const std::string& p) { return p.rfind(kSynthetic, 0) == 0; }

bool ends_with(const std::string& s, std::string_view tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The format a file's name says (Auto: it says none), so that a file called junk.idx fails as an IDX
// file would, on its magic number, and not as a CSV file.
Format format_of_name(const std::string& path) {
  std::string name = std::filesystem::path(path).filename().string();
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ends_with(name, ".gz")) name.resize(name.size() - 3);
  if (ends_with(name, ".idx") || ends_with(name, "-ubyte") || name.find(".idx1") != std::string::npos ||
      name.find(".idx3") != std::string::npos)
    return Format::Idx;
  if (ends_with(name, ".csv")) return Format::Csv;
  if (ends_with(name, ".h5") || ends_with(name, ".hdf5") || ends_with(name, ".he5")) return Format::Hdf5;
  return Format::Auto;
}

Format detect(const std::string& path) {
  if (is_synthetic(path)) return Format::Synthetic;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return Format::Idx;
  if (!std::filesystem::exists(path, ec)) throw Error(path + ": no such file or directory");
  if (const Format named = format_of_name(path); named != Format::Auto) return named;
  if (h5::is_hdf5(path)) return Format::Hdf5;
  std::ifstream f(path, std::ios::binary);
  unsigned char m[4] = {1, 1, 1, 1};
  f.read(reinterpret_cast<char*>(m), 4);
  if ((m[0] == 0x1f && m[1] == 0x8b) || (m[0] == 0 && m[1] == 0)) return Format::Idx;  // gzip or IDX magic
  return Format::Csv;
}

Dataset load_one(const std::string& path, const std::string& idx_prefix, const LoadOptions& opt, std::uint64_t salt) {
  Format f = is_synthetic(path) ? Format::Synthetic : opt.format == Format::Auto ? detect(path) : opt.format;
  if (opt.stream && f != Format::Hdf5)
    throw Error(path + ": --stream needs an HDF5 file (convert with bptrain-data convert)");
  switch (f) {
    case Format::Synthetic: {
      SyntheticSpec s = parse_synthetic(path);
      return synthetic(s.n, s.d, s.k, hash_key(opt.seed, salt), opt.in_memory);
    }
    case Format::Idx: {
      IdxPaths p = resolve_idx(path, idx_prefix);
      return load_idx_dataset(p.images, p.labels);
    }
    case Format::Csv: return load_csv(path, opt);
    case Format::Hdf5: return load_hdf5(path, opt);
    case Format::Auto: break;
  }
  throw Error(path + ": unknown format");
}

}  // namespace

namespace {

// A synthetic classification set: k class prototypes in [0, 255]^d (a function of the shape only, so
// train and test draws share them) plus uniform noise of +-90, stored as bytes. Row r, its label
// and its features, is a pure function of (seed, r): any rank draws any row without the others.
class SyntheticRows : public RowSource {
 public:
  SyntheticRows(std::size_t d, std::size_t k, std::uint64_t seed) : d_(d), k_(k), seed_(seed), proto_(k * d) {
    CounterRng prng(hash_key(0x5e7, d, k));
    for (std::int16_t& p : proto_) p = static_cast<std::int16_t>(prng.below(256));
  }
  // Row r's label; its d features (bytes 0-255) into out when out is not null.
  template <class T>
  std::int32_t row(std::size_t r, T* out) const {
    CounterRng rng(hash_key(seed_, 0xda7a, r));
    const auto y = static_cast<std::size_t>(rng.below(k_));
    if (out) {
      const std::int16_t* p = proto_.data() + y * d_;
      std::uint8_t noise[8];  // 8 bits of noise per feature, 8 features per draw
      for (std::size_t c = 0; c < d_; c += 8) {
        const std::uint64_t bits = rng.next();
        std::memcpy(noise, &bits, sizeof bits);
        const std::size_t m = std::min<std::size_t>(8, d_ - c);
        for (std::size_t j = 0; j < m; ++j) {  // integers only, so it vectorises: noise in [-90, 89]
          const int v = p[c + j] + ((noise[j] * 45) >> 6) - 90;
          out[c + j] = static_cast<T>(std::clamp(v, 0, 255));
        }
      }
    }
    return static_cast<std::int32_t>(y);
  }
  void read(const std::vector<std::uint32_t>& rows, float* out) const override {
    for (std::size_t i = 0; i < rows.size(); ++i) row(rows[i], out + i * d_);
  }
  bool from_file() const override { return false; }
  std::int32_t label(std::size_t r) const override { return row(r, static_cast<std::uint8_t*>(nullptr)); }

 private:
  std::size_t d_, k_;
  std::uint64_t seed_;
  std::vector<std::int16_t> proto_;
};

Dataset synthetic(std::size_t n, std::size_t d, std::size_t k, std::uint64_t seed, bool in_memory) {
  Dataset ds;
  ds.source = "synthetic:" + std::to_string(n) + "," + std::to_string(d) + "," + std::to_string(k);
  ds.n = n;
  ds.d = d;
  ds.classes = k;
  auto rows = std::make_shared<SyntheticRows>(d, k, seed);
  if (in_memory) {
    ds.x.resize(n * d);
    ds.labels.resize(n);
    for (std::size_t i = 0; i < n; ++i) ds.labels[i] = rows->row(i, ds.x.data() + i * d);
  } else {
    ds.stream = rows;  // rows and labels are drawn as batches need them: no memory per row at all
  }
  ds.set_default_transform();
  return ds;
}

}  // namespace

Dataset make_synthetic(std::size_t n, std::size_t d, std::size_t k, std::uint64_t seed) {
  return synthetic(n, d, k, seed, true);
}

Dataset load_train(const std::string& path, const LoadOptions& opt) { return load_one(path, "train", opt, 1); }

Dataset load_test(const std::string& test_path, const std::string& train_path, const LoadOptions& opt) {
  LoadOptions o = opt;
  o.stream = false;  // test sets are evaluated whole; they stay in memory
  if (test_path.empty() && is_synthetic(train_path)) {
    SyntheticSpec s = parse_synthetic(train_path);
    return synthetic(std::max<std::size_t>(1, s.n / 6), s.d, s.k, hash_key(opt.seed, 2), opt.in_memory);
  }
  if (test_path.empty()) {
    Format f = opt.format == Format::Auto ? detect(train_path) : opt.format;
    if (f != Format::Idx)
      throw Error(train_path + ": give --test, or --val-fraction for a validation set without one (only IDX training "
                               "sets have a default test set)");
  }
  const std::string path = test_path.empty() ? default_test_path(train_path) : test_path;
  return load_one(path, "t10k", o, 2);
}

bool has_default_test(const std::string& train_path, const LoadOptions& opt) {
  if (is_synthetic(train_path)) return true;
  try {
    return (opt.format == Format::Auto ? detect(train_path) : opt.format) == Format::Idx;
  } catch (const std::exception&) {
    return true;  // loading says what is wrong with the path
  }
}

std::vector<std::string> input_files(const std::string& train_path, const std::string& test_path, const LoadOptions& opt) {
  std::vector<std::string> files;
  auto add = [&](const std::string& path, const std::string& prefix) {
    if (path.empty() || is_synthetic(path)) return;
    try {
      const Format f = opt.format == Format::Auto ? detect(path) : opt.format;
      if (f == Format::Idx) {
        const IdxPaths p = resolve_idx(path, prefix);
        files.push_back(p.images);
        files.push_back(p.labels);
        return;
      }
    } catch (const std::exception&) {
    }
    files.push_back(path);
  };
  add(train_path, "train");
  if (!test_path.empty()) {
    add(test_path, "t10k");
  } else if (!is_synthetic(train_path)) {
    try {
      add(default_test_path(train_path), "t10k");
    } catch (const std::exception&) {
    }
  }
  return files;
}

void check_hdf5_inputs_in_child(const std::string& train_path, const std::string& test_path, const LoadOptions& opt) {
  auto check = [&](const std::string& path, bool stream) {
    if (path.empty() || is_synthetic(path)) return;
    Format f = Format::Auto;
    try {
      f = opt.format == Format::Auto ? detect(path) : opt.format;
    } catch (const std::exception&) {
      return;  // loading reports it
    }
    if (f != Format::Hdf5) return;
    LoadOptions o = opt;
    o.stream = stream;
    check_in_child(path, "the HDF5 library", [&] { load_hdf5(path, o); });
  };
  check(train_path, opt.stream);
  check(test_path, false);
}

}  // namespace bpt
