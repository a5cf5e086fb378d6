#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "bpt/core/error.hpp"
#include "bpt/data/dataset.hpp"

namespace bpt {
namespace {

namespace fs = std::filesystem;

// Largest array we accept: 64 GiB. A header claiming more is rejected before anything is read.
constexpr std::uint64_t kMaxBytes = 64ULL << 30;

struct GzFile {
  gzFile f = nullptr;
  ~GzFile() {
    if (f) gzclose(f);
  }
};

// Reads up to n bytes; returns how many were read. Throws on a decompression error.
std::size_t read_some(gzFile f, std::uint8_t* dst, std::size_t n, const std::string& path) {
  std::size_t got = 0;
  while (got < n) {
    unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n - got, 1u << 24));
    int r = gzread(f, dst + got, chunk);
    if (r < 0) {
      int code = 0;
      const char* msg = gzerror(f, &code);
      throw Error(path + ": read error: " + (msg ? msg : "unknown zlib error"));
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return got;
}

}  // namespace

IdxArray read_idx(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path + ": file not found");
  if (fs::is_directory(path, ec)) throw Error(path + ": is a directory, expected an IDX file");
  GzFile g;
  g.f = gzopen(path.c_str(), "rb");
  if (!g.f) throw Error(path + ": cannot open for reading");
  std::uint8_t head[4];
  if (read_some(g.f, head, 4, path) != 4) throw Error(path + ": truncated: shorter than the 4-byte IDX magic");
  if (head[0] != 0 || head[1] != 0 || head[3] == 0 || head[3] > 4) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%02x%02x%02x%02x", head[0], head[1], head[2], head[3]);
    throw Error(path + ": wrong magic 0x" + buf + ", not an IDX file");
  }
  if (head[2] != 0x08)
  {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%02x", head[2]);
    throw Error(path + ": IDX element type 0x" + buf + " not supported (expected 0x08, unsigned byte)");
  }
  IdxArray out;
  const std::size_t nd = head[3];
  std::uint8_t dimb[16];
  if (read_some(g.f, dimb, 4 * nd, path) != 4 * nd) throw Error(path + ": truncated IDX header");
  std::uint64_t total = 1;
  for (std::size_t i = 0; i < nd; ++i) {
    std::uint32_t v = (std::uint32_t(dimb[4 * i]) << 24) | (std::uint32_t(dimb[4 * i + 1]) << 16) |
                      (std::uint32_t(dimb[4 * i + 2]) << 8) | std::uint32_t(dimb[4 * i + 3]);
    out.dims.push_back(v);
    total *= v;  // at most 4 factors < 2^32; the cap below is checked before overflow matters
    if (total > kMaxBytes) throw Error(path + ": header claims more than " + std::to_string(kMaxBytes >> 30) + " GiB of data");
  }
  // Grow with what arrives, in 16 MiB steps, so a lying header costs nothing.
  constexpr std::size_t step = 16u << 20;
  while (out.bytes.size() < total) {
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(step, total - out.bytes.size()));
    std::size_t at = out.bytes.size();
    out.bytes.resize(at + want);
    std::size_t got = read_some(g.f, out.bytes.data() + at, want, path);
    if (got < want) {
      throw Error(path + ": truncated: header claims " + std::to_string(total) + " bytes of data, file holds " +
                  std::to_string(at + got));
    }
  }
  std::uint8_t extra;
  if (read_some(g.f, &extra, 1, path) != 0)
    throw Error(path + ": file holds more data than its header claims (" + std::to_string(total) + " bytes)");
  return out;
}

Dataset load_idx_dataset(const std::string& images, const std::string& labels) {
  IdxArray xi = read_idx(images);
  IdxArray yi = read_idx(labels);
  if (xi.dims.size() < 2) throw Error(images + ": expected an images array of at least 2 dimensions, found 1");
  if (yi.dims.size() != 1) throw Error(labels + ": expected a 1-dimensional labels array");
  if (xi.dims[0] != yi.dims[0])
    throw Error(images + ": holds " + std::to_string(xi.dims[0]) + " samples but " + labels + " holds " +
                std::to_string(yi.dims[0]) + " labels");
  if (xi.dims[0] == 0) throw Error(images + ": empty dataset");
  Dataset ds;
  ds.source = images;
  ds.n = xi.dims[0];
  ds.d = 1;
  for (std::size_t i = 1; i < xi.dims.size(); ++i) ds.d *= xi.dims[i];
  if (xi.dims.size() == 3) {
    ds.height = xi.dims[1];
    ds.width = xi.dims[2];
  }
  ds.x = std::move(xi.bytes);
  ds.labels.assign(yi.bytes.begin(), yi.bytes.end());
  ds.classes = 1 + static_cast<std::size_t>(*std::max_element(ds.labels.begin(), ds.labels.end()));
  ds.raw_bytes = true;
  ds.set_default_transform();
  return ds;
}

namespace {
std::string first_existing(const fs::path& dir, const std::string& name) {
  for (const char* ext : {"", ".gz"}) {
    fs::path p = dir / (name + ext);
    std::error_code ec;
    if (fs::exists(p, ec)) return p.string();
  }
  throw Error(dir.string() + ": no " + name + " or " + name + ".gz in this directory");
}

std::string replace_once(std::string s, const std::string& from, const std::string& to) {
  auto pos = s.rfind(from);
  if (pos == std::string::npos) return {};
  return s.replace(pos, from.size(), to);
}
}  // namespace

IdxPaths resolve_idx(const std::string& path, const std::string& prefix) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    return {first_existing(path, prefix + "-images-idx3-ubyte"), first_existing(path, prefix + "-labels-idx1-ubyte")};
  if (!fs::exists(path, ec)) throw Error(path + ": no such file or directory");
  std::string labels = replace_once(path, "images-idx3", "labels-idx1");
  if (labels.empty()) {
    read_idx(path);  // a file that is not IDX at all fails on its magic number first
    throw Error(path + ": cannot find the labels file (expected a name containing 'images-idx3', with the labels "
                       "beside it named 'labels-idx1')");
  }
  return {path, labels};
}

std::string default_test_path(const std::string& train_path) {
  std::error_code ec;
  if (fs::is_directory(train_path, ec)) return train_path;
  fs::path p(train_path);
  std::string name = replace_once(p.filename().string(), "train", "t10k");
  if (name.empty()) throw Error(train_path + ": cannot derive the test file name; give --test");
  return (p.parent_path() / name).string();
}

}  // namespace bpt
