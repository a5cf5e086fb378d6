#include <algorithm>
#include <cmath>

#include "bpt/core/error.hpp"
#include "bpt/core/rng.hpp"
#include "bpt/data/dataset.hpp"

namespace bpt {
namespace {

constexpr std::string_view kSynthetic = "synthetic:";

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
  if (v[0] * v[1] > (64ULL << 30)) throw Error(path + ": synthetic set larger than 64 GiB");
  return {v[0], v[1], v[2]};
}

bool is_synthetic(const std::string& p) { return p.rfind(kSynthetic, 0) == 0; }

}  // namespace

Dataset make_synthetic(std::size_t n, std::size_t d, std::size_t k, std::uint64_t seed) {
  Dataset ds;
  ds.source = "synthetic:" + std::to_string(n) + "," + std::to_string(d) + "," + std::to_string(k);
  ds.n = n;
  ds.d = d;
  ds.classes = k;
  ds.x.resize(n * d);
  ds.labels.resize(n);
  // Prototypes depend on the class only (seed 0x5e7), so train and test draws share them.
  std::vector<float> proto(k * d);
  CounterRng prng(hash_key(0x5e7, d, k));
  for (float& p : proto) p = static_cast<float>(prng.uniform() * 255.0);
  CounterRng rng(hash_key(seed, 0xda7a));
  for (std::size_t i = 0; i < n; ++i) {
    const auto y = static_cast<std::size_t>(rng.below(k));
    ds.labels[i] = static_cast<std::int32_t>(y);
    for (std::size_t c = 0; c < d; ++c) {
      double v = proto[y * d + c] + 90.0 * (rng.uniform() - 0.5) * 2.0;
      ds.x[i * d + c] = static_cast<std::uint8_t>(std::clamp(v, 0.0, 255.0));
    }
  }
  return ds;
}

Dataset load_train(const std::string& path, std::uint64_t seed) {
  if (is_synthetic(path)) {
    SyntheticSpec s = parse_synthetic(path);
    return make_synthetic(s.n, s.d, s.k, hash_key(seed, 1));
  }
  IdxPaths p = resolve_idx(path, "train");
  return load_idx_dataset(p.images, p.labels);
}

Dataset load_test(const std::string& test_path, const std::string& train_path, std::uint64_t seed) {
  if (test_path.empty() && is_synthetic(train_path)) {
    SyntheticSpec s = parse_synthetic(train_path);
    Dataset t = make_synthetic(std::max<std::size_t>(1, s.n / 6), s.d, s.k, hash_key(seed, 2));
    t.classes = s.k;
    return t;
  }
  if (is_synthetic(test_path)) {
    SyntheticSpec s = parse_synthetic(test_path);
    return make_synthetic(s.n, s.d, s.k, hash_key(seed, 2));
  }
  const std::string path = test_path.empty() ? default_test_path(train_path) : test_path;
  IdxPaths p = resolve_idx(path, "t10k");
  return load_idx_dataset(p.images, p.labels);
}

}  // namespace bpt
