#pragma once
// In-memory datasets. Features stay in their stored type (bytes for IDX) and are converted to
// float only when a batch is assembled.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace bpt {

struct Dataset {
  std::string source;             // file the features came from (for messages)
  std::size_t n = 0, d = 0;       // samples, features
  std::size_t classes = 0;        // 1 + largest label
  std::vector<std::uint8_t> x;    // [n, d] raw bytes
  std::vector<std::int32_t> labels;  // [n]
  float scale = 1.0f / 255.0f;    // model input = raw * scale

  // out: [count, d] floats for samples idx[0..count).
  void gather(const std::uint32_t* idx, std::size_t count, float* out) const;
  // A cheap fingerprint of sizes and contents (FNV-1a over a strided sample of bytes and all labels).
  std::uint64_t fingerprint() const;
};

// One IDX array (unsigned-byte type only). Throws Error naming the file on anything malformed;
// memory grows with the bytes actually read, never from the header's claim alone.
struct IdxArray {
  std::vector<std::uint32_t> dims;
  std::vector<std::uint8_t> bytes;
};
IdxArray read_idx(const std::string& path);  // plain or gzip (detected from the content)

// Images [n, rows, cols] (or [n, d]) and labels [n]; the counts must agree.
Dataset load_idx_dataset(const std::string& images, const std::string& labels);

struct IdxPaths {
  std::string images, labels;
};
// --train PATH: a directory holding train-images-idx3-ubyte[.gz] / train-labels-idx1-ubyte[.gz], or an
// images file whose labels file is named with "labels-idx1" in place of "images-idx3".
IdxPaths resolve_idx(const std::string& path, const std::string& prefix);
// --test default: the t10k files beside the training files.
std::string default_test_path(const std::string& train_path);

struct Range {
  std::size_t begin = 0, end = 0;
  std::size_t size() const { return end - begin; }
};
// Rank r's contiguous slice of n items over w ranks; slice sizes differ by at most one.
Range shard(std::size_t n, int rank, int world);

// The same permutation of [0, n) on every rank: a pure function of (seed, epoch).
std::vector<std::uint32_t> epoch_permutation(std::size_t n, std::uint64_t seed, std::uint64_t epoch);

}  // namespace bpt

namespace bpt {

// Seeded synthetic classification set: k class prototypes in [0,255]^d plus noise, stored as bytes.
Dataset make_synthetic(std::size_t n, std::size_t d, std::size_t k, std::uint64_t seed);

// --train / --test values: an IDX directory or file, or "synthetic:N,D,K".
Dataset load_train(const std::string& path, std::uint64_t seed);
// test_path empty: beside the training files (IDX), or a fresh synthetic draw of N/6 samples.
Dataset load_test(const std::string& test_path, const std::string& train_path, std::uint64_t seed);

}  // namespace bpt
