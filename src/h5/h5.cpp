#include "h5.hpp"

#include <algorithm>
#include <fstream>
#include <type_traits>

#include "bpt/core/error.hpp"

namespace bpt::h5 {
namespace {

// HDF5 prints its error stack to stderr by default (per thread); we report through bpt::Error instead.
void quiet() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

template <class T>
hid_t mem_type() {
  if constexpr (std::is_same_v<T, float>) return H5T_NATIVE_FLOAT;
  if constexpr (std::is_same_v<T, double>) return H5T_NATIVE_DOUBLE;
  if constexpr (std::is_same_v<T, std::uint8_t>) return H5T_NATIVE_UINT8;
  if constexpr (std::is_same_v<T, std::int32_t>) return H5T_NATIVE_INT32;
  if constexpr (std::is_same_v<T, std::int64_t>) return H5T_NATIVE_INT64;
  if constexpr (std::is_same_v<T, std::uint64_t>) return H5T_NATIVE_UINT64;
}

}  // namespace

bool is_hdf5(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char sig[8] = {};
  f.read(sig, 8);
  return f.gcount() == 8 && std::string(sig, 8) == "\x89HDF\r\n\x1a\n";
}

void File::fail(const std::string& what) const { throw Error(path_ + ": " + what); }

File File::open(const std::string& path, bool write) {
  quiet();
  File f;
  f.path_ = path;
  if (!std::ifstream(path).good()) f.fail("file not found or not readable");
  if (!is_hdf5(path)) f.fail("not an HDF5 file");
  hid_t id = H5Fopen(path.c_str(), write ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) f.fail("cannot open as HDF5 (corrupt or truncated?)");
  f.id_ = Id(id, H5Fclose);
  return f;
}

File File::create(const std::string& path) {
  quiet();
  File f;
  f.path_ = path;
  hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (id < 0) f.fail("cannot create the file");
  f.id_ = Id(id, H5Fclose);
  return f;
}

void File::flush() const {
  if (H5Fflush(id_, H5F_SCOPE_GLOBAL) < 0) fail("flush failed");
}

bool File::exists(const std::string& obj) const {
  // Check each path component, as H5Lexists requires.
  std::size_t at = 1;
  while (true) {
    std::size_t next = obj.find('/', at);
    std::string part = obj.substr(0, next);
    if (part.empty() || part == "/") break;
    if (H5Lexists(id_, part.c_str(), H5P_DEFAULT) <= 0) return false;
    if (next == std::string::npos) break;
    at = next + 1;
  }
  return H5Oexists_by_name(id_, obj.c_str(), H5P_DEFAULT) > 0;
}

Info File::info(const std::string& dset) const {
  if (!exists(dset)) fail("no dataset " + dset);
  Id d(H5Dopen2(id_, dset.c_str(), H5P_DEFAULT), H5Dclose);
  if (d.get() < 0) fail("cannot open dataset " + dset);
  Id s(H5Dget_space(d), H5Sclose);
  Id t(H5Dget_type(d), H5Tclose);
  Info in;
  int nd = H5Sget_simple_extent_ndims(s);
  if (nd < 0 || nd > 8) fail(dset + ": unsupported dataspace");
  in.dims.resize(static_cast<std::size_t>(nd));
  H5Sget_simple_extent_dims(s, in.dims.data(), nullptr);
  switch (H5Tget_class(t)) {
    case H5T_INTEGER: in.kind = Kind::Int; break;
    case H5T_FLOAT: in.kind = Kind::Float; break;
    case H5T_STRING: in.kind = Kind::String; break;
    default: in.kind = Kind::Other;
  }
  in.elem_size = H5Tget_size(t);
  in.is_unsigned = in.kind == Kind::Int && H5Tget_sign(t) == H5T_SGN_NONE;
  return in;
}

std::uint64_t File::storage_bytes(const std::string& dset) const {
  Id d = open_dataset(dset);
  return H5Dget_storage_size(d);
}

bool File::chunked_with_checksum(const std::string& dset) const {
  Id d = open_dataset(dset);
  Id dcpl(H5Dget_create_plist(d), H5Pclose);
  if (dcpl.get() < 0 || H5Pget_layout(dcpl) != H5D_CHUNKED) return false;
  const int nf = H5Pget_nfilters(dcpl);
  for (int i = 0; i < nf; ++i) {
    unsigned flags = 0, cd[8];
    std::size_t ncd = 8;
    if (H5Pget_filter2(dcpl, static_cast<unsigned>(i), &flags, &ncd, cd, 0, nullptr, nullptr) == H5Z_FILTER_FLETCHER32)
      return true;
  }
  return false;
}

template <class T>
void File::read(const std::string& dset, T* out, std::size_t count) const {
  Info in = info(dset);
  if (in.kind != Kind::Int && in.kind != Kind::Float) fail(dset + ": not a numeric dataset");
  if (in.count() != count)
    fail(dset + ": holds " + std::to_string(in.count()) + " elements, expected " + std::to_string(count));
  Id d(H5Dopen2(id_, dset.c_str(), H5P_DEFAULT), H5Dclose);
  if (H5Dread(d, mem_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
    fail(dset + ": read failed (corrupt data or checksum mismatch)");
}

template <class T>
std::vector<T> File::read(const std::string& dset) const {
  std::vector<T> v(info(dset).count());
  read(dset, v.data(), v.size());
  return v;
}

Id File::open_dataset(const std::string& dset, std::size_t cache_bytes) const {
  if (!exists(dset)) fail("no dataset " + dset);
  Id dapl(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose);
  if (cache_bytes) H5Pset_chunk_cache(dapl, 12421, cache_bytes, 1.0);
  Id ds(H5Dopen2(id_, dset.c_str(), dapl), H5Dclose);
  if (ds.get() < 0) fail("cannot open dataset " + dset);
  return ds;
}

template <class T>
void File::read_rows(hid_t ds, const std::vector<std::uint32_t>& rows, std::size_t d, T* out) const {
  if (rows.empty()) return;
  Id space(H5Dget_space(ds), H5Sclose);
  const int nd = H5Sget_simple_extent_ndims(space);
  H5Sselect_none(space);
  // Runs of consecutive rows become one hyperslab each.
  for (std::size_t i = 0; i < rows.size();) {
    std::size_t j = i + 1;
    while (j < rows.size() && rows[j] == rows[j - 1] + 1) ++j;
    hsize_t start[2] = {rows[i], 0}, count[2] = {j - i, d};
    if (H5Sselect_hyperslab(space, H5S_SELECT_OR, start, nullptr, count, nullptr) < 0) fail("bad row selection");
    i = j;
  }
  hsize_t mdims[2] = {rows.size(), d};
  Id mem(H5Screate_simple(nd == 1 ? 1 : 2, mdims, nullptr), H5Sclose);
  if (H5Dread(ds, mem_type<T>(), mem, space, H5P_DEFAULT, out) < 0)
    fail("read failed (corrupt data or checksum mismatch)");
}

template <class T>
void File::write(const std::string& dset, const T* data, const std::vector<hsize_t>& dims, hsize_t chunk_rows,
                 bool checksum, int deflate) const {
  Id space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  Id dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  std::size_t total = 1;
  for (hsize_t v : dims) total *= static_cast<std::size_t>(v);
  if ((chunk_rows > 0 || checksum) && total > 0 && !dims.empty()) {
    std::vector<hsize_t> chunk = dims;
    chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(chunk_rows ? chunk_rows : dims[0], dims[0]));
    H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
    if (checksum) H5Pset_fletcher32(dcpl);
    if (chunk_rows > 0 && deflate > 0) {
      H5Pset_shuffle(dcpl);
      H5Pset_deflate(dcpl, static_cast<unsigned>(deflate));
    }
  }
  Id lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl, 1);
  Id d(H5Dcreate2(id_, dset.c_str(), mem_type<T>(), space, lcpl, dcpl, H5P_DEFAULT), H5Dclose);
  if (d.get() < 0) fail("cannot create dataset " + dset);
  if (total > 0 && H5Dwrite(d, mem_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    fail("cannot write dataset " + dset);
}

void File::group(const std::string& name) const {
  if (exists(name)) return;
  Id lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl, 1);
  Id g(H5Gcreate2(id_, name.c_str(), lcpl, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  if (g.get() < 0) fail("cannot create group " + name);
}

namespace {
Id open_obj(const File& f, const std::string& obj) {
  return Id(H5Oopen(f.id(), obj.c_str(), H5P_DEFAULT), H5Oclose);
}
}  // namespace

void File::attr(const std::string& obj, const std::string& name, const std::string& v) const {
  Id o = open_obj(*this, obj);
  if (o.get() < 0) fail("no object " + obj);
  Id t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t, std::max<std::size_t>(1, v.size()));
  H5Tset_strpad(t, H5T_STR_NULLPAD);
  H5Tset_cset(t, H5T_CSET_UTF8);
  Id s(H5Screate(H5S_SCALAR), H5Sclose);
  if (H5Aexists(o, name.c_str()) > 0) H5Adelete(o, name.c_str());
  Id a(H5Acreate2(o, name.c_str(), t, s, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  const std::string buf = v.empty() ? std::string(1, '\0') : v;
  if (a.get() < 0 || H5Awrite(a, t, buf.data()) < 0) fail("cannot write attribute " + obj + "@" + name);
}

namespace {
template <class T>
void write_num_attr(const File& f, const std::string& obj, const std::string& name, T v, hid_t type) {
  Id o = open_obj(f, obj);
  if (o.get() < 0) throw Error(f.path() + ": no object " + obj);
  Id s(H5Screate(H5S_SCALAR), H5Sclose);
  if (H5Aexists(o, name.c_str()) > 0) H5Adelete(o, name.c_str());
  Id a(H5Acreate2(o, name.c_str(), type, s, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (a.get() < 0 || H5Awrite(a, type, &v) < 0) throw Error(f.path() + ": cannot write attribute " + obj + "@" + name);
}
}  // namespace

void File::attr(const std::string& obj, const std::string& name, double v) const {
  write_num_attr(*this, obj, name, v, H5T_NATIVE_DOUBLE);
}
void File::attr(const std::string& obj, const std::string& name, std::int64_t v) const {
  write_num_attr(*this, obj, name, v, H5T_NATIVE_INT64);
}

bool File::has_attr(const std::string& obj, const std::string& name) const {
  if (!exists(obj)) return false;
  return H5Aexists_by_name(id_, obj.c_str(), name.c_str(), H5P_DEFAULT) > 0;
}

std::string File::attr_str(const std::string& obj, const std::string& name) const {
  if (!has_attr(obj, name)) fail("missing attribute " + obj + "@" + name);
  Id a(H5Aopen_by_name(id_, obj.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  Id ft(H5Aget_type(a), H5Tclose);
  if (H5Tget_class(ft) != H5T_STRING) fail("attribute " + obj + "@" + name + " is not a string");
  Id s(H5Aget_space(a), H5Sclose);
  if (H5Sget_simple_extent_npoints(s) != 1) fail("attribute " + obj + "@" + name + " is not a scalar");
  if (H5Tis_variable_str(ft) > 0) {
    Id mt(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5Tget_cset(ft));
    char* p = nullptr;
    if (H5Aread(a, mt, &p) < 0) fail("cannot read attribute " + obj + "@" + name);
    std::string v = p ? p : "";
    H5free_memory(p);
    return v;
  }
  const std::size_t n = H5Tget_size(ft);
  if (n > (64u << 20)) fail("attribute " + obj + "@" + name + " is implausibly large");
  std::string v(n, '\0');
  if (H5Aread(a, ft, v.data()) < 0) fail("cannot read attribute " + obj + "@" + name);
  v.resize(std::min(v.size(), v.find('\0')));
  return v;
}

namespace {
template <class T>
T read_num_attr(const File& f, const std::string& obj, const std::string& name, hid_t type) {
  if (!f.has_attr(obj, name)) throw Error(f.path() + ": missing attribute " + obj + "@" + name);
  Id a(H5Aopen_by_name(f.id(), obj.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  Id s(H5Aget_space(a), H5Sclose);
  Id ft(H5Aget_type(a), H5Tclose);
  const H5T_class_t c = H5Tget_class(ft);
  if (H5Sget_simple_extent_npoints(s) != 1 || (c != H5T_INTEGER && c != H5T_FLOAT))
    throw Error(f.path() + ": attribute " + obj + "@" + name + " is not a numeric scalar");
  T v{};
  if (H5Aread(a, type, &v) < 0) throw Error(f.path() + ": cannot read attribute " + obj + "@" + name);
  return v;
}
}  // namespace

double File::attr_f64(const std::string& obj, const std::string& name) const {
  return read_num_attr<double>(*this, obj, name, H5T_NATIVE_DOUBLE);
}
std::int64_t File::attr_i64(const std::string& obj, const std::string& name) const {
  return read_num_attr<std::int64_t>(*this, obj, name, H5T_NATIVE_INT64);
}

#define BPT_H5_TYPES(T)                                                                                  \
  template void File::read<T>(const std::string&, T*, std::size_t) const;                                \
  template std::vector<T> File::read<T>(const std::string&) const;                                       \
  template void File::read_rows<T>(hid_t, const std::vector<std::uint32_t>&, std::size_t, T*) const;     \
  template void File::write<T>(const std::string&, const T*, const std::vector<hsize_t>&, hsize_t, bool, int) const;
BPT_H5_TYPES(float)
BPT_H5_TYPES(double)
BPT_H5_TYPES(std::uint8_t)
BPT_H5_TYPES(std::int32_t)
BPT_H5_TYPES(std::int64_t)
BPT_H5_TYPES(std::uint64_t)
#undef BPT_H5_TYPES

}  // namespace bpt::h5
