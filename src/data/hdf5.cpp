#include <cmath>
#include <thread>
#include <unistd.h>

#include "bpt/core/error.hpp"
#include "bpt/data/dataset.hpp"
#include "h5.hpp"

namespace bpt {
namespace {

// Feature rows of /X read on demand.
class H5Rows final : public RowSource {
 public:
  // A 64 MiB chunk cache: random rows revisit chunks, and decompressing a chunk is what costs.
  H5Rows(const std::string& path, std::size_t d) : f_(h5::File::open(path)), x_(f_.open_dataset("/X", 64u << 20)), d_(d) {}
  void read(const std::vector<std::uint32_t>& rows, float* out) const override {
    f_.read_rows<float>(x_, rows, d_, out);
  }

 private:
  h5::File f_;
  h5::Id x_;
  std::size_t d_;
};

std::uint64_t physical_memory() {
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(size) : (64ULL << 30);
}

}  // namespace

Dataset load_hdf5(const std::string& path, const LoadOptions& opt) {
  h5::File f = h5::File::open(path);
  Dataset ds;
  ds.source = path;
  h5::Info xi = f.info("/X");
  if (xi.dims.size() != 2) throw Error(path + ": /X must be 2-dimensional [samples, features]");
  if (xi.kind != h5::Kind::Int && xi.kind != h5::Kind::Float) throw Error(path + ": /X must be numeric");
  ds.n = xi.dims[0];
  ds.d = xi.dims[1];
  if (ds.n == 0 || ds.d == 0) throw Error(path + ": empty dataset (/X is " + std::to_string(ds.n) + " x " +
                                          std::to_string(ds.d) + ")");
  if (ds.n > 0xFFFFFFFFULL) throw Error(path + ": more than 2^32 samples are not supported");
  h5::Info yi = f.info("/y");
  if (yi.dims.empty() || yi.dims.size() > 2 || yi.dims[0] != ds.n)
    throw Error(path + ": /X holds " + std::to_string(ds.n) + " samples but /y holds " +
                (yi.dims.empty() ? std::string("a scalar") : std::to_string(yi.dims[0])));
  ds.raw_bytes = xi.kind == h5::Kind::Int && xi.elem_size == 1 && xi.is_unsigned;
  // The shape is only a claim until data backs it: HDF5 reads past the stored chunks as fill values,
  // so a tiny file can claim terabytes. Refuse what could not fit in memory before allocating it.
  const std::uint64_t bytes = std::uint64_t(ds.n) * ds.d * (ds.raw_bytes ? 1 : sizeof(float));
  const std::uint64_t stored = f.storage_bytes("/X");
  // Deflate cannot compress beyond ~1032:1; a smaller store than that cannot hold the claimed rows.
  if (stored == 0 || stored * 1100 < bytes)
    throw Error(path + ": /X claims " + std::to_string(ds.n) + " x " + std::to_string(ds.d) + " values but the file stores only " +
                std::to_string(stored) + " bytes of them");
  if (opt.stream) {
    ds.stream = std::make_shared<H5Rows>(path, ds.d);
  } else {
    if (bytes > physical_memory())
      throw Error(path + ": /X claims " + std::to_string(bytes >> 20) + " MiB, more than this machine's memory; "
                  "use --stream");
    if (ds.raw_bytes) {
      ds.x.resize(ds.n * ds.d);
      f.read<std::uint8_t>("/X", ds.x.data(), ds.x.size());
    } else {
      ds.xf.resize(ds.n * ds.d);
      f.read<float>("/X", ds.xf.data(), ds.xf.size());
      for (float v : ds.xf)
        if (!std::isfinite(v)) throw Error(path + ": /X holds a NaN or infinite value");
    }
  }
  const std::size_t k = yi.dims.size() == 2 ? static_cast<std::size_t>(yi.dims[1]) : 1;
  if (k == 0 || k > 65536) throw Error(path + ": /y has " + std::to_string(k) + " columns");
  const std::uint64_t ystored = f.storage_bytes("/y");
  if (ystored == 0 || ystored * 1100 < std::uint64_t(ds.n) * k * yi.elem_size)
    throw Error(path + ": /y claims " + std::to_string(ds.n) + " x " + std::to_string(k) +
                " values but the file stores only " + std::to_string(ystored) + " bytes of them");
  if (yi.kind == h5::Kind::Int && k == 1 && opt.task != Task::Regression) {
    std::vector<std::int64_t> y = f.read<std::int64_t>("/y");
    for (std::size_t i = 0; i < y.size(); ++i)
      if (y[i] < 0 || y[i] >= 65536)
        throw Error(path + ": /y[" + std::to_string(i) + "] = " + std::to_string(y[i]) +
                    " is not a class label in [0, 65536)");
    ds.labels.assign(y.begin(), y.end());
    ds.classes = 1 + static_cast<std::size_t>(*std::max_element(ds.labels.begin(), ds.labels.end()));
  } else {
    std::vector<float> y = f.read<float>("/y");
    for (float v : y)
      if (!std::isfinite(v)) throw Error(path + ": /y holds a NaN or infinite value");
    bool integral = k == 1;
    for (float v : y) integral = integral && v >= 0 && v == std::floor(v) && v < 65536;
    if (opt.task == Task::Classification && !integral)
      throw Error(path + ": --task classification needs /y to be integer class labels");
    if (integral && opt.task != Task::Regression) {
      ds.labels.assign(y.begin(), y.end());
      ds.classes = 1 + static_cast<std::size_t>(*std::max_element(ds.labels.begin(), ds.labels.end()));
    } else {
      ds.target_dim = k;
      ds.targets = std::move(y);
    }
  }
  ds.set_default_transform();
  return ds;
}

void write_hdf5(const Dataset& ds, const std::string& path, int deflate) {
  require(!ds.streamed(), "write_hdf5: the dataset must be in memory");
  h5::File f = h5::File::create(path);
  // Small chunks (~64 KiB): --stream reads rows at random, and every row read decompresses its chunk.
  const hsize_t chunk_rows = std::max<hsize_t>(1, (64u << 10) / std::max<std::size_t>(1, ds.d));
  if (!ds.xf.empty())
    f.write<float>("/X", ds.xf.data(), {ds.n, ds.d}, chunk_rows, false, deflate);
  else
    f.write<std::uint8_t>("/X", ds.x.data(), {ds.n, ds.d}, chunk_rows, false, deflate);
  if (ds.regression())
    f.write<float>("/y", ds.targets.data(), {ds.n, ds.target_dim}, 65536);
  else
    f.write<std::int32_t>("/y", ds.labels.data(), {ds.n}, 65536);
  f.group("/meta");
  f.attr("/meta", "source", ds.source);
  f.attr("/meta", "samples", static_cast<std::int64_t>(ds.n));
  f.attr("/meta", "features", static_cast<std::int64_t>(ds.d));
  f.attr("/meta", "classes", static_cast<std::int64_t>(ds.classes));
  f.attr("/meta", "targets", static_cast<std::int64_t>(ds.target_dim));
  f.attr("/meta", "format_version", static_cast<std::int64_t>(1));
  f.flush();
}

}  // namespace bpt
