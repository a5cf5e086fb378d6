#include "bpt/data/dataset.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include "bpt/core/error.hpp"
#include "bpt/core/hash.hpp"
#include "bpt/core/isolate.hpp"
#include "bpt/core/names.hpp"
#include "bpt/core/rng.hpp"
#include "bpt/core/sim_cost.hpp"

namespace bpt {

namespace {
constexpr NameOf<Format> kFormats[] = {
    {Format::Auto, "auto"}, {Format::Idx, "idx"}, {Format::Csv, "csv"}, {Format::Hdf5, "hdf5"}, {Format::Hdf5, "h5"}};
constexpr NameOf<Task> kTasks[] = {
    {Task::Auto, "auto"}, {Task::Classification, "classification"}, {Task::Regression, "regression"}};
constexpr NameOf<Normalize> kNormalizations[] = {
    {Normalize::None, "none"}, {Normalize::Unit, "unit"}, {Normalize::Standard, "standard"}};
}  // namespace

Format parse_format(const std::string& s) { return parse_name(kFormats, s, "format"); }
Task parse_task(const std::string& s) { return parse_name(kTasks, s, "task"); }
std::string to_string(Format f) { return name_of(kFormats, f); }
std::string to_string(Task t) { return name_of(kTasks, t); }
std::string to_string(CsvHeader h) { return h == CsvHeader::Yes ? "yes" : h == CsvHeader::No ? "no" : "auto"; }
std::string delimiter_name(char d) { return d == 0 ? "auto" : d == '\t' ? "tab" : std::string(1, d); }

CsvHeader parse_header(const std::string& s) {
  if (s == "auto") return CsvHeader::Auto;
  if (s == "yes") return CsvHeader::Yes;
  if (s == "no") return CsvHeader::No;
  throw Error("--csv-header: expected auto, yes or no, got '" + s + "'");
}

char parse_delimiter(const std::string& s) {
  if (s == "auto") return 0;
  if (s == "tab" || s == "\\t" || s == "\t") return '\t';
  if (s == "," || s == ";" || s == "|") return s[0];
  throw Error("--csv-delimiter: expected auto, ',', ';', tab or '|', got '" + s + "'");
}

Normalize parse_normalize(const std::string& s) { return parse_name(kNormalizations, s, "normalisation"); }
std::string to_string(Normalize n) { return name_of(kNormalizations, n); }

void Dataset::target_row(std::size_t i, float* out) const {
  const float* t = targets.data() + i * target_dim;
  if (target_tf.offset.empty()) {
    std::copy_n(t, target_dim, out);
    return;
  }
  for (std::size_t k = 0; k < target_dim; ++k) out[k] = (t[k] - target_tf.offset[k]) * target_tf.scale[k];
}

void Dataset::untransform_targets(float* y) const {
  if (target_tf.offset.empty()) return;
  for (std::size_t k = 0; k < target_dim; ++k) y[k] = y[k] / target_tf.scale[k] + target_tf.offset[k];
}

Transform compute_target_transform(const Dataset& train) {
  const std::size_t k = train.target_dim;
  std::vector<double> sum(k, 0.0), sq(k, 0.0);
  for (std::size_t i = 0; i < train.n; ++i)
    for (std::size_t j = 0; j < k; ++j) sum[j] += train.targets[i * k + j];
  Transform t;
  t.offset.resize(k);
  t.scale.resize(k);
  for (std::size_t j = 0; j < k; ++j) {
    const double mean = train.n ? sum[j] / double(train.n) : 0.0;
    for (std::size_t i = 0; i < train.n; ++i) sq[j] += (train.targets[i * k + j] - mean) * (train.targets[i * k + j] - mean);
    const double sd = train.n ? std::sqrt(sq[j] / double(train.n)) : 0.0;
    t.offset[j] = static_cast<float>(mean);
    t.scale[j] = sd > 0 ? static_cast<float>(1.0 / sd) : 1.0f;
  }
  return t;
}

std::string column_mismatch(const std::vector<std::string>& train, const std::vector<std::string>& other) {
  if (train == other) return "";
  auto list = [](const std::vector<std::string>& v) {
    std::string out;
    for (std::size_t i = 0; i < v.size() && i < 6; ++i) out += (i ? ", " : "") + v[i];
    return v.size() > 6 ? out + " and " + std::to_string(v.size() - 6) + " more" : out;
  };
  std::vector<std::string> missing, extra;
  for (const auto& n : train)
    if (std::find(other.begin(), other.end(), n) == other.end()) missing.push_back(n);
  for (const auto& n : other)
    if (std::find(train.begin(), train.end(), n) == train.end()) extra.push_back(n);
  std::string out = "its feature columns are not the training data's";
  if (!missing.empty()) out += "; missing: " + list(missing);
  if (!extra.empty()) out += "; not in the training data: " + list(extra);
  if (missing.empty() && extra.empty()) {  // the same names in another order (or repeated)
    std::vector<std::string> at;
    for (std::size_t i = 0; i < std::min(train.size(), other.size()); ++i)
      if (train[i] != other[i])
        at.push_back("feature " + std::to_string(i + 1) + " is " + other[i] + " (the training data's: " + train[i] + ")");
    out += "; in another order: " + list(at);
  }
  return out;
}

std::int32_t RowSource::label(std::size_t) const { throw Error("this dataset keeps its labels in memory"); }

void Dataset::set_default_transform() {
  tf.offset.assign(d, 0.0f);
  tf.scale.assign(d, raw_bytes ? 1.0f / 255.0f : 1.0f);
}

void Dataset::gather(const std::uint32_t* idx, std::size_t count, float* out) const {
  const float* off = tf.offset.data();
  const float* sc = tf.scale.data();
  if (stream) {
    // Read the distinct rows in file order, then place them as asked. The buffers are kept from call
    // to call (one set per thread: the --stream reader has its own): a fresh one of a batch's size
    // each step costs page faults worth more than drawing synthetic rows.
    thread_local std::vector<std::uint32_t> rows;
    thread_local std::vector<float> raw;
    rows.assign(idx, idx + count);
    std::sort(rows.begin(), rows.end());
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    raw.resize(rows.size() * d);
    {
      // A read during training: check_in_child's read at the start saw this file then, not now.
      std::optional<CrashGuard> guard;
      if (stream->from_file())
        guard.emplace("bptrain: error: " + source +
                      ": the HDF5 library crashed reading rows of it (--stream): the file is damaged, or changed "
                      "during the run");
      stream->read(rows, raw.data());
    }
    for (std::size_t r = 0; r < count; ++r) {
      const std::size_t at = static_cast<std::size_t>(std::lower_bound(rows.begin(), rows.end(), idx[r]) - rows.begin());
      const float* src = raw.data() + at * d;
      float* dst = out + r * d;
      for (std::size_t c = 0; c < d; ++c) dst[c] = (src[c] - off[c]) * sc[c];
    }
    return;
  }
  // Rows are scattered over the whole set: ask for row r + 4 while row r is converted, so the
  // memory latency of one row overlaps the work on the ones before it.
  const std::size_t row_bytes = d * (xf.empty() ? sizeof(std::uint8_t) : sizeof(float));
  const auto* base = xf.empty() ? static_cast<const char*>(static_cast<const void*>(x.data()))
                                : static_cast<const char*>(static_cast<const void*>(xf.data()));
  auto prefetch = [&](std::size_t r) {
    const char* p = base + static_cast<std::size_t>(idx[r]) * row_bytes;
    for (std::size_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(p + b);
  };
  constexpr std::size_t ahead = 4;
  for (std::size_t r = 0; r < std::min(count, ahead); ++r) prefetch(r);
  for (std::size_t r = 0; r < count; ++r) {
    if (r + ahead < count) prefetch(r + ahead);
    float* dst = out + r * d;
    if (!xf.empty()) {
      const float* src = xf.data() + static_cast<std::size_t>(idx[r]) * d;
      for (std::size_t c = 0; c < d; ++c) dst[c] = (src[c] - off[c]) * sc[c];
    } else {
      const std::uint8_t* src = x.data() + static_cast<std::size_t>(idx[r]) * d;
      for (std::size_t c = 0; c < d; ++c) dst[c] = (static_cast<float>(src[c]) - off[c]) * sc[c];
    }
  }
}

std::uint64_t Dataset::fingerprint() const {
  std::uint64_t h = fnv1a_word(n);
  auto add = [&h](std::uint64_t v) { h = fnv1a_word(v, h); };
  add(d);
  add(classes);
  add(target_dim);
  if (stream && sim::values_meaningless()) return h;  // (dataset.hpp: the simulator's model mode)
  // Up to 64 rows spread over the set, read the same way in memory or streamed.
  const std::size_t step = std::max<std::size_t>(1, n / 64);
  std::vector<std::uint32_t> rows;
  for (std::size_t i = 0; i < n; i += step) rows.push_back(static_cast<std::uint32_t>(i));
  std::vector<float> buf(rows.size() * d);
  if (stream) {
    stream->read(rows, buf.data());
  } else {
    for (std::size_t r = 0; r < rows.size(); ++r)
      for (std::size_t c = 0; c < d; ++c)
        buf[r * d + c] = xf.empty() ? static_cast<float>(x[rows[r] * d + c]) : xf[rows[r] * d + c];
  }
  h = fnv1a_bytes(buf.data(), buf.size() * sizeof(float), h);
  if (!regression())
    for (std::size_t i = 0; i < n; ++i) add(static_cast<std::uint64_t>(label(i)));
  h = fnv1a_bytes(targets.data(), targets.size() * sizeof(float), h);
  return h;
}

std::uint64_t Dataset::content_hash() const {
  if (stream) return 0;
  const std::uint64_t h = fnv1a_word(xf.empty() ? 1 : 2, fingerprint());
  return xf.empty() ? hash_words(x.data(), x.size(), h) : hash_words(xf.data(), xf.size() * sizeof(float), h);
}

Transform compute_transform(const Dataset& ds, Normalize how) {
  Transform t;
  const std::size_t d = ds.d;
  t.offset.assign(d, 0.0f);
  t.scale.assign(d, 1.0f);
  // (model mode: no pass over the set, a thousand ranks' worth of it; the values mean nothing there)
  if (how == Normalize::None || sim::values_meaningless()) return t;
  if (how == Normalize::Unit && ds.raw_bytes) {
    t.scale.assign(d, 1.0f / 255.0f);
    return t;
  }
  std::vector<double> a(d, 0.0), b(d, 0.0);
  if (how == Normalize::Unit) {
    a.assign(d, INFINITY);
    b.assign(d, -INFINITY);
  }
  ds.for_each_raw_block([&](const float* rows, std::size_t m) {
    for (std::size_t r = 0; r < m; ++r)
      for (std::size_t c = 0; c < d; ++c) {
        const double v = rows[r * d + c];
        if (how == Normalize::Unit) {
          a[c] = std::min(a[c], v);
          b[c] = std::max(b[c], v);
        } else {
          a[c] += v;
          b[c] += v * v;
        }
      }
  });
  const double n = static_cast<double>(ds.n);
  for (std::size_t c = 0; c < d; ++c) {
    if (how == Normalize::Unit) {
      const double span = b[c] - a[c];
      t.offset[c] = static_cast<float>(a[c]);
      t.scale[c] = span > 0 ? static_cast<float>(1.0 / span) : 1.0f;
    } else {
      const double mean = a[c] / n, var = std::max(0.0, b[c] / n - mean * mean);
      t.offset[c] = static_cast<float>(mean);
      t.scale[c] = var > 1e-12 ? static_cast<float>(1.0 / std::sqrt(var)) : 1.0f;
    }
  }
  return t;
}

std::vector<std::uint32_t> epoch_permutation(std::size_t n, std::uint64_t seed, std::uint64_t epoch) {
  std::vector<std::uint32_t> p(n);
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::uint32_t>(i);
  CounterRng rng(hash_key(seed, 0x9e12, epoch));
  for (std::size_t i = n; i > 1; --i) std::swap(p[i - 1], p[rng.below(i)]);
  return p;
}

void split_rows(std::size_t n, double fraction, std::uint64_t seed, std::vector<std::uint32_t>& train,
                std::vector<std::uint32_t>& val) {
  require(fraction >= 0 && fraction < 1, "--val-fraction must be in [0, 1)");
  const auto nval = static_cast<std::size_t>(std::llround(fraction * static_cast<double>(n)));
  // A permutation from a key no epoch uses.
  std::vector<std::uint32_t> p = epoch_permutation(n, hash_key(seed, 0x7a1), ~0ULL);
  val.assign(p.end() - static_cast<std::ptrdiff_t>(nval), p.end());
  train.assign(p.begin(), p.end() - static_cast<std::ptrdiff_t>(nval));
  std::sort(val.begin(), val.end());
  std::sort(train.begin(), train.end());
}

}  // namespace bpt
