#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

#include "bpt/core/error.hpp"
#include "bpt/data/dataset.hpp"

using namespace bpt;
namespace fs = std::filesystem;

namespace {

std::vector<std::uint8_t> idx_bytes(std::uint8_t type, std::vector<std::uint32_t> dims,
                                    const std::vector<std::uint8_t>& data) {
  std::vector<std::uint8_t> b = {0, 0, type, static_cast<std::uint8_t>(dims.size())};
  for (std::uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(d >> s));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("bpt_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
                                         "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string write(const std::string& name, const std::vector<std::uint8_t>& bytes, bool gz = false) {
    std::string p = (path_ / name).string();
    if (gz) {
      gzFile f = gzopen(p.c_str(), "wb");
      gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
      gzclose(f);
    } else {
      std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                               static_cast<std::streamsize>(bytes.size()));
    }
    return p;
  }
  fs::path path_;
};

std::vector<std::uint8_t> iota_bytes(std::size_t n) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(i * 7);
  return v;
}

// The error message names the file and contains `what`.
void expect_error(const std::string& path, const std::string& what) {
  try {
    read_idx(path);
    FAIL() << "no error for " << path;
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find(path), std::string::npos) << m;
    EXPECT_NE(m.find(what), std::string::npos) << m;
  }
}

}  // namespace

TEST(Idx, ReadsPlainAndGzip) {
  TempDir t;
  auto data = iota_bytes(3 * 2 * 4);
  for (bool gz : {false, true}) {
    IdxArray a = read_idx(t.write(gz ? "x.gz" : "x", idx_bytes(8, {3, 2, 4}, data), gz));
    EXPECT_EQ(a.dims, (std::vector<std::uint32_t>{3, 2, 4}));
    EXPECT_EQ(a.bytes, data);
  }
}

TEST(Idx, LoadsImagesAndLabelsAsBytes) {
  TempDir t;
  auto x = t.write("train-images-idx3-ubyte", idx_bytes(8, {4, 2, 3}, iota_bytes(24)));
  t.write("train-labels-idx1-ubyte.gz", idx_bytes(8, {4}, {0, 2, 1, 2}), true);
  IdxPaths p = resolve_idx(t.path_.string(), "train");
  EXPECT_EQ(p.images, x);
  Dataset ds = load_idx_dataset(p.images, p.labels);
  EXPECT_EQ(ds.n, 4u);
  EXPECT_EQ(ds.d, 6u);
  EXPECT_EQ(ds.classes, 3u);
  EXPECT_EQ(ds.height, 2u);  // [samples, rows, columns]: an image shape
  EXPECT_EQ(ds.width, 3u);
  EXPECT_EQ(ds.x, iota_bytes(24));
  std::vector<float> out(12);
  std::uint32_t idx[2] = {3, 0};
  ds.gather(idx, 2, out.data());
  EXPECT_FLOAT_EQ(out[0], static_cast<float>(ds.x[18]) / 255.0f);
  EXPECT_FLOAT_EQ(out[6], 0.0f);
  // An images file given directly finds its labels beside it.
  EXPECT_EQ(resolve_idx(x, "train").labels, (t.path_ / "train-labels-idx1-ubyte").string());
}

TEST(Idx, BadFilesGiveClearErrors) {
  TempDir t;
  expect_error((t.path_ / "missing").string(), "not found");
  expect_error(t.write("magic", {1, 2, 3, 4, 0, 0, 0, 0}), "wrong magic");
  expect_error(t.write("short", {0, 0}), "truncated");
  expect_error(t.write("type", idx_bytes(0x0D, {2}, {0, 0, 0, 0, 0, 0, 0, 0})), "not supported");
  expect_error(t.write("trunc", idx_bytes(8, {10, 10}, iota_bytes(50))), "truncated");
  expect_error(t.write("trunc.gz", idx_bytes(8, {10, 10}, iota_bytes(50)), true), "truncated");
  expect_error(t.write("extra", idx_bytes(8, {2}, iota_bytes(5))), "more data");
  expect_error(t.write("header", {0, 0, 8, 2, 0, 0, 0, 5}), "truncated IDX header");
  // A header claiming 2^32 * 2^32 bytes: rejected before any allocation.
  expect_error(t.write("huge", idx_bytes(8, {0xFFFFFFFF, 0xFFFFFFFF}, {})), "claims more than");
  // A header claiming 1 GiB with 10 bytes behind it: truncated, found without allocating the claim.
  expect_error(t.write("liar", idx_bytes(8, {1u << 15, 1u << 15}, iota_bytes(10))), "truncated");
  // Corrupt gzip stream.
  auto gz_path = t.write("bad.gz", idx_bytes(8, {100}, iota_bytes(100)), true);
  {
    std::fstream f(gz_path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(12);
    const char junk[8] = {'\x55', '\x55', '\x55', '\x55', '\x55', '\x55', '\x55', '\x55'};
    f.write(junk, 8);
  }
  EXPECT_THROW(read_idx(gz_path), Error);
}

TEST(Idx, CountsThatDisagree) {
  TempDir t;
  auto x = t.write("a-images-idx3-ubyte", idx_bytes(8, {3, 2}, iota_bytes(6)));
  auto y = t.write("a-labels-idx1-ubyte", idx_bytes(8, {2}, {0, 1}));
  try {
    load_idx_dataset(x, y);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("3 samples"), std::string::npos) << e.what();
  }
  EXPECT_THROW(resolve_idx((t.path_ / "nope").string(), "train"), Error);
  EXPECT_THROW(resolve_idx(t.path_.string(), "t10k"), Error);
}

TEST(Data, ShardsCoverExactlyOnceAndDifferByAtMostOne) {
  for (std::size_t n : {0u, 1u, 7u, 128u, 129u})
    for (std::size_t w : {1u, 2u, 3u, 4u, 7u}) {
      std::size_t next = 0, lo = n, hi = 0;
      for (std::size_t r = 0; r < w; ++r) {
        Range s = shard(n, r, w);
        EXPECT_EQ(s.begin, next);
        next = s.end;
        lo = std::min(lo, s.size());
        hi = std::max(hi, s.size());
      }
      EXPECT_EQ(next, n);
      EXPECT_LE(hi - std::min(lo, hi), 1u);
    }
}

TEST(Data, PermutationIsAPureFunctionOfSeedAndEpoch) {
  auto a = epoch_permutation(1000, 7, 3), b = epoch_permutation(1000, 7, 3), c = epoch_permutation(1000, 7, 4);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::set<std::uint32_t> s(a.begin(), a.end());
  EXPECT_EQ(s.size(), 1000u);
  EXPECT_EQ(*s.rbegin(), 999u);
}

TEST(Data, EpochOrderIsThePermutationOrInOrder) {
  const auto p = epoch_permutation(1000, 7, 3);
  const EpochOrder shuffled(1000, 7, 3), in_order(1000, 7, 3, true);
  for (std::size_t i = 0; i < 1000; ++i) {
    EXPECT_EQ(shuffled[i], p[i]);
    EXPECT_EQ(in_order[i], i);
  }
}

TEST(Data, SyntheticIsSeededAndLabelled) {
  LoadOptions o;
  o.seed = 1;
  Dataset a = load_train("synthetic:300,20,4", o), b = load_train("synthetic:300,20,4", o);
  EXPECT_EQ(a.x, b.x);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.classes, 4u);
  EXPECT_EQ(a.fingerprint(), b.fingerprint());
  Dataset t = load_test("", "synthetic:300,20,4", o);
  EXPECT_EQ(t.n, 50u);
  EXPECT_NE(t.fingerprint(), a.fingerprint());
  EXPECT_THROW(load_train("synthetic:10,x,3", o), Error);
  EXPECT_THROW(load_train("synthetic:10,3", o), Error);
}
