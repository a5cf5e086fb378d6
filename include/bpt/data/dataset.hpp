#pragma once
// Datasets: features stay in their stored type (bytes for IDX, floats for CSV) in memory, or in the
// file with --stream, and become float model inputs only when a batch is assembled:
//   input = (raw - offset) * scale, per feature.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "bpt/core/range.hpp"
#include "bpt/core/shape.hpp"

namespace bpt {

enum class Format { Auto, Idx, Csv, Hdf5, Synthetic };
Format parse_format(const std::string& s);  // auto | idx | csv | hdf5
enum class Task { Auto, Classification, Regression };
Task parse_task(const std::string& s);  // auto | classification | regression
enum class Normalize { None, Unit, Standard };
Normalize parse_normalize(const std::string& s);  // none | unit | standard
std::string to_string(Normalize n);
enum class CsvHeader { Auto, Yes, No };
CsvHeader parse_header(const std::string& s);  // auto | yes | no
char parse_delimiter(const std::string& s);    // auto (0) | , | ; | tab (or \t) | "|"
// The names the flags take (readable in a checkpoint's config: "tab", not a control character).
std::string to_string(Format f);
std::string to_string(Task t);
std::string to_string(CsvHeader h);
std::string delimiter_name(char d);  // parse_delimiter's inverse

struct LoadOptions {
  Format format = Format::Auto;
  Task task = Task::Auto;
  std::string label_column;  // CSV: a header name or a 0-based index; empty: the last column
  bool stream = false;       // HDF5 only: read feature rows from the file on demand
  char delimiter = 0;        // CSV: the field separator; 0: detected from the first line
  CsvHeader header = CsvHeader::Auto;  // CSV: Auto: a first line that is not all numbers is a header
  bool in_memory = false;    // synthetic sets: draw every row at load (else each row as a batch needs it)
  // --evaluate: a CSV with exactly this many columns (the model's inputs) holds no labels (0: always labels)
  std::size_t unlabeled_columns = 0;
  std::uint64_t seed = 42;   // synthetic sets
};

// Produces feature rows on demand: from a file (HDF5 --stream) or by drawing them (synthetic sets).
// Thread-safe (HDF5 is built thread-safe).
class RowSource {
 public:
  virtual ~RowSource() = default;
  // rows: ascending, unique. out: [rows.size(), d] raw values as float.
  virtual void read(const std::vector<std::uint32_t>& rows, float* out) const = 0;
  // Reading is slow enough to be worth doing a batch ahead, on another thread.
  virtual bool from_file() const { return true; }
  // Row r's class label, for sources that keep none in memory (synthetic sets).
  virtual std::int32_t label(std::size_t r) const;
};

struct Transform {
  std::vector<float> offset, scale;  // [d] each
};

struct Dataset {
  std::string source;                  // file (for messages)
  std::size_t n = 0, d = 0;            // samples, features
  std::size_t classes = 0;             // classification: 1 + largest label (0 for regression)
  std::size_t target_dim = 0;          // regression: targets per sample (0 for classification)
  std::size_t height = 0, width = 0;   // images (IDX [samples, rows, columns], or --input-shape): their shape; else 0
  std::size_t channels = 1;            // with height and width: channels * height * width = d
  // [channels, height, width] for images, else [0, 0, 0].
  Shape shape() const { return height ? Shape{channels, height, width} : Shape{0, 0, 0}; }
  std::vector<std::uint8_t> x;         // [n, d] raw bytes (IDX, uint8 HDF5), or
  std::vector<float> xf;               // [n, d] raw floats (CSV, float HDF5), or neither when streamed
  std::shared_ptr<const RowSource> stream;
  bool raw_bytes = true;               // raw values are bytes 0-255 (for --normalize unit)
  std::vector<std::int32_t> labels;    // [n] classification (empty when the row source draws them)
  std::vector<float> targets;          // [n, target_dim] regression
  Transform tf;                        // set by set_transform(); default: bytes / 255, floats as they are
  Transform target_tf;                 // regression: the targets as the model learns them, (target - offset) * scale
                                       // (--normalize-targets standard); empty: as they are
  std::string header_note;             // CSV with --csv-header auto: which the first line was taken as
  std::vector<std::string> feature_names;  // CSV with a header: the feature columns' names in order (else empty)
  bool unlabeled = false;              // features only (LoadOptions::unlabeled_columns): predictions, no scores

  bool regression() const { return target_dim > 0; }
  // Sample i's class label (classification).
  std::int32_t label(std::size_t i) const { return labels.empty() ? stream->label(i) : labels[i]; }
  std::size_t outputs() const { return regression() ? target_dim : classes; }
  bool streamed() const { return stream != nullptr; }

  // Sample i's targets as the model learns them (target_tf applied): [target_dim] into out.
  void target_row(std::size_t i, float* out) const;
  // Model outputs back in the targets' units: [target_dim] in place.
  void untransform_targets(float* y) const;
  // out: [count, d] model inputs for samples idx[0..count) (any order, repeats allowed).
  void gather(const std::uint32_t* idx, std::size_t count, float* out) const;
  // Visits the raw rows in order, in blocks (for statistics over a streamed set too).
  template <class F>
  void for_each_raw_block(F&& f) const;
  // A cheap fingerprint: the sizes, every label or target, and 64 feature rows spread over the set,
  // read alike in memory or streamed (so a run checkpointed with --stream resumes without it). In the
  // simulator's model mode (bpt/core/sim_cost.hpp) a streamed set's is its sizes alone: every simulated
  // rank would draw its labels and rows one rank after another on one host, ranks x rows in all (1,024
  // ranks of a 786,432-row set: 48 s of a run's 90), for figures no label or value enters.
  std::uint64_t fingerprint() const;
  // Every feature value as stored (0 when streamed: the rows are not in memory to hash).
  std::uint64_t content_hash() const;
  void set_default_transform();
};

// Regression: the per-target mean and standard deviation of the training set's targets (a constant
// target: scale 1), as offset and scale.
Transform compute_target_transform(const Dataset& train);

// "" when `other` has the training data's feature names in the same order; else what differs, in words
// ("missing: x; not in the training data: y", or the first positions where the order differs).
std::string column_mismatch(const std::vector<std::string>& train, const std::vector<std::string>& other);

// Per-feature statistics of the training set: none (raw), unit (bytes / 255, or per-feature
// min-max to [0, 1] for floats), standard (per-feature mean and standard deviation).
Transform compute_transform(const Dataset& train, Normalize how);

// One IDX array (unsigned-byte type only). Throws Error naming the file on anything malformed;
// memory grows with the bytes actually read, never from the header's claim alone.
struct IdxArray {
  std::vector<std::uint32_t> dims;
  std::vector<std::uint8_t> bytes;
};
IdxArray read_idx(const std::string& path);  // plain or gzip (detected from the content)
Dataset load_idx_dataset(const std::string& images, const std::string& labels);

struct IdxPaths {
  std::string images, labels;
};
// A directory holding <prefix>-images-idx3-ubyte[.gz] / <prefix>-labels-idx1-ubyte[.gz], or an
// images file whose labels file is named with "labels-idx1" in place of "images-idx3".
IdxPaths resolve_idx(const std::string& path, const std::string& prefix);
std::string default_test_path(const std::string& train_path);

// CSV as RFC 4180 has it (fields in double quotes, "" for a quote, line breaks inside quotes), a
// UTF-8 byte-order mark skipped, the separator given or detected (comma, semicolon, tab, |).
Dataset load_csv(const std::string& path, const LoadOptions& opt);
// /X [N, D] (uint8 or float) and /y ([N] integer labels, or [N] / [N, K] float targets).
Dataset load_hdf5(const std::string& path, const LoadOptions& opt);
// Seeded synthetic classification set: k class prototypes in [0,255]^d plus noise, stored as bytes;
// row r is a pure function of (seed, r). This one holds every row in memory; "synthetic:N,D,K" as a
// path draws each row as a batch needs it (LoadOptions::in_memory to hold them).
Dataset make_synthetic(std::size_t n, std::size_t d, std::size_t k, std::uint64_t seed);

// --train / --test values: IDX directory or file, CSV, HDF5, or "synthetic:N,D,K".
Dataset load_train(const std::string& path, const LoadOptions& opt);
// test_path empty: beside the training files (IDX), or a fresh synthetic draw of N/6 samples.
Dataset load_test(const std::string& test_path, const std::string& train_path, const LoadOptions& opt);
// Whether load_test finds a test set without --test: IDX training sets (the t10k files beside them)
// and synthetic sets do.
bool has_default_test(const std::string& train_path, const LoadOptions& opt);

// Writes ds as HDF5 (/X chunked and, at deflate > 0, compressed; /y; /meta): `bptrain-data convert`.
void write_hdf5(const Dataset& ds, const std::string& path, int deflate = 4);

// The same permutation of [0, n) on every rank: a pure function of (seed, epoch).
std::vector<std::uint32_t> epoch_permutation(std::size_t n, std::uint64_t seed, std::uint64_t epoch);

// The order of an epoch's rows: epoch_permutation(n, seed, epoch), or, with in_order, [0, n) itself and no
// table: the simulator's model mode (bpt/core/sim_cost.hpp), where the rows' values do not matter and a
// table per simulated rank would take ranks x rows x 4 bytes (1,024 ranks of 3 weak-scaling steps:
// 3.2 GB; 16,384 ranks of 10 steps: 2.7 TB).
class EpochOrder {
 public:
  EpochOrder(std::size_t n, std::uint64_t seed, std::uint64_t epoch, bool in_order = false)
      : p_(in_order ? std::vector<std::uint32_t>() : epoch_permutation(n, seed, epoch)) {}
  std::uint32_t operator[](std::size_t i) const { return p_.empty() ? static_cast<std::uint32_t>(i) : p_[i]; }

 private:
  std::vector<std::uint32_t> p_;
};

// Seeded hold-out split of [0, n): `val` gets round(fraction * n) rows, `train` the rest (both ascending).
void split_rows(std::size_t n, double fraction, std::uint64_t seed, std::vector<std::uint32_t>& train,
                std::vector<std::uint32_t>& val);

template <class F>
void Dataset::for_each_raw_block(F&& f) const {
  const std::size_t block = std::max<std::size_t>(1, (4u << 20) / (d * sizeof(float) + 1));
  std::vector<float> buf;
  std::vector<std::uint32_t> rows;
  for (std::size_t at = 0; at < n; at += block) {
    const std::size_t m = std::min(block, n - at);
    buf.resize(m * d);
    if (stream) {
      rows.resize(m);
      for (std::size_t i = 0; i < m; ++i) rows[i] = static_cast<std::uint32_t>(at + i);
      stream->read(rows, buf.data());
    } else if (!xf.empty()) {
      std::copy_n(xf.data() + at * d, m * d, buf.data());
    } else {
      for (std::size_t i = 0; i < m * d; ++i) buf[i] = static_cast<float>(x[at * d + i]);
    }
    f(static_cast<const float*>(buf.data()), m);
  }
}

}  // namespace bpt

