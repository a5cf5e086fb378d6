#pragma once
// A thin RAII layer over the HDF5 C API, shared privately by data (datasets) and io (checkpoints).
// Every failure is a bpt::Error naming the file and the object; HDF5's own error printing is off.
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace bpt::h5 {

class Id {
 public:
  Id() = default;
  Id(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Id(Id&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Id& operator=(Id&& o) noexcept {
    reset();
    id_ = o.id_;
    close_ = o.close_;
    o.id_ = -1;
    return *this;
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  ~Id() { reset(); }
  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = -1;
  }
  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

enum class Kind { Int, Float, String, Other };

struct Info {
  std::vector<hsize_t> dims;
  Kind kind = Kind::Other;
  std::size_t elem_size = 0;
  bool is_unsigned = false;
  std::size_t count() const {
    std::size_t n = 1;
    for (hsize_t d : dims) n *= static_cast<std::size_t>(d);
    return n;
  }
};

class File {
 public:
  static File open(const std::string& path, bool write = false);  // throws Error if missing or not HDF5
  static File create(const std::string& path);                     // truncates
  const std::string& path() const { return path_; }
  hid_t id() const { return id_; }
  void flush() const;
  void close() { id_.reset(); }

  bool exists(const std::string& obj) const;
  Info info(const std::string& dset) const;  // throws Error if missing
  std::uint64_t storage_bytes(const std::string& dset) const;  // bytes allocated in the file
  // Chunked with the Fletcher-32 filter, as every checkpoint dataset is written.
  bool chunked_with_checksum(const std::string& dset) const;

  // Reads a whole dataset converted to T; throws unless it holds exactly `count` elements.
  template <class T>
  void read(const std::string& dset, T* out, std::size_t count) const;
  template <class T>
  std::vector<T> read(const std::string& dset) const;
  // An open dataset with a chunk cache of cache_bytes (0: HDF5's default), for repeated row reads.
  Id open_dataset(const std::string& dset, std::size_t cache_bytes = 0) const;
  // Rows (sorted ascending, unique) of an open 2-D [N, d] (or 1-D, d = 1) dataset, converted to T.
  template <class T>
  void read_rows(hid_t dset, const std::vector<std::uint32_t>& rows, std::size_t d, T* out) const;

  // Writes a dataset of T with the given shape; chunk_rows > 0 chunks along the first dimension and,
  // with deflate > 0, compresses (shuffle + deflate at that level); checksum adds HDF5's Fletcher-32
  // filter, verified on every read.
  template <class T>
  void write(const std::string& dset, const T* data, const std::vector<hsize_t>& dims, hsize_t chunk_rows = 0,
             bool checksum = false, int deflate = 4) const;
  void group(const std::string& name) const;  // creates it, parents included

  void attr(const std::string& obj, const std::string& name, const std::string& v) const;
  void attr(const std::string& obj, const std::string& name, double v) const;
  void attr(const std::string& obj, const std::string& name, std::int64_t v) const;
  bool has_attr(const std::string& obj, const std::string& name) const;
  std::string attr_str(const std::string& obj, const std::string& name) const;
  double attr_f64(const std::string& obj, const std::string& name) const;
  std::int64_t attr_i64(const std::string& obj, const std::string& name) const;

 private:
  std::string path_;
  Id id_;
  [[noreturn]] void fail(const std::string& what) const;
};

// Whether the file starts with the HDF5 signature.
bool is_hdf5(const std::string& path);

}  // namespace bpt::h5
