// CSV and HDF5 readers, the converter round trip, normalisation, validation split, streaming.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "bpt/core/error.hpp"
#include "bpt/data/dataset.hpp"
#include "h5.hpp"

using namespace bpt;
namespace fs = std::filesystem;

namespace {

struct Tmp {
  fs::path dir;
  Tmp() {
    dir = fs::temp_directory_path() /
          ("bpt_fmt_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::create_directories(dir);
  }
  ~Tmp() { fs::remove_all(dir); }
  std::string file(const std::string& name, const std::string& content) const {
    std::string p = (dir / name).string();
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  std::string path(const std::string& name) const { return (dir / name).string(); }
};

void expect_error(const std::function<void()>& f, const std::string& what) {
  try {
    f();
    FAIL() << "no error, expected: " << what;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

LoadOptions opts() { return LoadOptions{}; }

}  // namespace

TEST(Csv, HeaderLabelColumnAndClasses) {
  Tmp t;
  auto p = t.file("a.csv", "x1,label,x2\n1.5,2,3\n-1,0,4e2\n\n0,1,7\n");
  LoadOptions o;
  o.label_column = "label";
  Dataset ds = load_csv(p, o);
  EXPECT_EQ(ds.n, 3u);
  EXPECT_EQ(ds.d, 2u);
  EXPECT_EQ(ds.classes, 3u);
  EXPECT_EQ(ds.labels, (std::vector<std::int32_t>{2, 0, 1}));
  EXPECT_EQ(ds.xf, (std::vector<float>{1.5f, 3, -1, 400, 0, 7}));
  o.label_column = "0";  // by index: the first column
  Dataset d2 = load_csv(t.file("b.csv", "3,1,2\n1,5,6\n"), o);
  EXPECT_EQ(d2.labels, (std::vector<std::int32_t>{3, 1}));
  EXPECT_EQ(d2.xf, (std::vector<float>{1, 2, 5, 6}));
}

TEST(Csv, RegressionTargetsWhenLabelsAreNotIntegers) {
  Tmp t;
  Dataset ds = load_csv(t.file("r.csv", "1,2,0.5\n3,4,-1.25\n"), opts());
  EXPECT_TRUE(ds.regression());
  EXPECT_EQ(ds.target_dim, 1u);
  EXPECT_EQ(ds.targets, (std::vector<float>{0.5f, -1.25f}));
  LoadOptions o;
  o.task = Task::Regression;
  EXPECT_TRUE(load_csv(t.file("i.csv", "1,2,1\n3,4,0\n"), o).regression());
}

TEST(Csv, BadInputNamesLineAndColumn) {
  Tmp t;
  expect_error([&] { load_csv(t.path("missing.csv"), opts()); }, "not found");
  expect_error([&] { load_csv(t.file("e.csv", ""), opts()); }, "empty dataset");
  expect_error([&] { load_csv(t.file("h.csv", "a,b\n"), opts()); }, "empty dataset");
  expect_error([&] { load_csv(t.file("n.csv", "1,2,0\n1,abc,1\n"), opts()); }, "line 2, column 2: 'abc' is not a number");
  expect_error([&] { load_csv(t.file("nan.csv", "1,2,0\nnan,2,1\n"), opts()); }, "line 2, column 1");
  expect_error([&] { load_csv(t.file("inf.csv", "1,inf,0\n"), opts()); }, "line 1, column 2");
  expect_error([&] { load_csv(t.file("big.csv", "1,1e39,0\n"), opts()); }, "not finite in float32");
  expect_error([&] { load_csv(t.file("rag.csv", "1,2,0\n1,2\n"), opts()); }, "line 2: 2 fields, expected 3");
  LoadOptions o;
  o.label_column = "nope";
  expect_error([&] { load_csv(t.file("l.csv", "a,b\n1,2\n"), o); }, "--label-column 'nope'");
  o.label_column = "";
  o.task = Task::Classification;
  expect_error([&] { load_csv(t.file("c.csv", "1,0.5\n"), o); }, "integers");
}

TEST(Hdf5, ConverterRoundTripFromIdxBytes) {
  Tmp t;
  Dataset src = make_synthetic(50, 12, 4, 3);
  write_hdf5(src, t.path("s.h5"));
  Dataset back = load_hdf5(t.path("s.h5"), opts());
  EXPECT_EQ(back.x, src.x);  // bytes stay bytes
  EXPECT_TRUE(back.xf.empty());
  EXPECT_EQ(back.labels, src.labels);
  EXPECT_EQ(back.classes, 4u);
  h5::File f = h5::File::open(t.path("s.h5"));
  EXPECT_EQ(f.attr_i64("/meta", "samples"), 50);
  EXPECT_EQ(f.attr_i64("/meta", "features"), 12);
  EXPECT_EQ(f.attr_str("/meta", "source"), src.source);
}

TEST(Hdf5, ConverterRoundTripFromCsv) {
  Tmp t;
  Dataset src = load_csv(t.file("r.csv", "f1,f2,y\n1,2,0.5\n3,4,-1.25\n5,6,2\n"), opts());
  write_hdf5(src, t.path("r.h5"));
  Dataset back = load_hdf5(t.path("r.h5"), opts());
  EXPECT_EQ(back.xf, src.xf);
  EXPECT_EQ(back.targets, src.targets);
  EXPECT_EQ(back.target_dim, 1u);
}

TEST(Hdf5, BadFilesGiveClearErrors) {
  Tmp t;
  expect_error([&] { load_hdf5(t.path("none.h5"), opts()); }, "not found");
  expect_error([&] { load_hdf5(t.file("txt.h5", "hello"), opts()); }, "not an HDF5 file");
  auto make = [&](const std::string& name, auto&& body) {
    h5::File f = h5::File::create(t.path(name));
    body(f);
    return t.path(name);
  };
  std::vector<std::uint8_t> x(20, 1);
  std::vector<std::int32_t> y = {0, 1, 2, 1, 0};
  expect_error([&] { load_hdf5(make("nox.h5", [&](auto& f) { f.template write<std::int32_t>("/y", y.data(), {5}); }), opts()); },
               "no dataset /X");
  expect_error([&] {
    load_hdf5(make("count.h5", [&](auto& f) {
      f.template write<std::uint8_t>("/X", x.data(), {5, 4});
      f.template write<std::int32_t>("/y", y.data(), {4});
    }), opts());
  }, "/X holds 5 samples but /y holds 4");
  std::vector<std::int32_t> neg = {0, 1, -3, 1, 0};
  expect_error([&] {
    load_hdf5(make("neg.h5", [&](auto& f) {
      f.template write<std::uint8_t>("/X", x.data(), {5, 4});
      f.template write<std::int32_t>("/y", neg.data(), {5});
    }), opts());
  }, "/y[2] = -3 is not a class label");
  std::vector<float> xn(20, 1.0f);
  xn[7] = NAN;
  expect_error([&] {
    load_hdf5(make("nan.h5", [&](auto& f) {
      f.template write<float>("/X", xn.data(), {5, 4});
      f.template write<std::int32_t>("/y", y.data(), {5});
    }), opts());
  }, "NaN");
  expect_error([&] {
    load_hdf5(make("1d.h5", [&](auto& f) {
      f.template write<std::uint8_t>("/X", x.data(), {20});
      f.template write<std::int32_t>("/y", y.data(), {5});
    }), opts());
  }, "2-dimensional");
  // /X present, /y missing.
  const std::string claim = make("claim.h5", [&](auto& f) {
    hsize_t dims[2] = {1u << 30, 1024}, chunk[2] = {64, 1024};
    h5::Id space(H5Screate_simple(2, dims, nullptr), H5Sclose);
    h5::Id dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    H5Pset_chunk(dcpl, 2, chunk);
    h5::Id d(H5Dcreate2(f.id(), "/X", H5T_NATIVE_UINT8, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose);
    std::vector<std::int32_t> yy(1, 0);
    f.template write<std::int32_t>("/y1", yy.data(), {1});
  });
  expect_error([&] { load_hdf5(claim, opts()); }, "no dataset /y");
  // Truncated file: cut a valid one in half.
  Dataset src = make_synthetic(400, 64, 3, 1);
  write_hdf5(src, t.path("full.h5"));
  fs::resize_file(t.path("full.h5"), fs::file_size(t.path("full.h5")) / 2);
  EXPECT_THROW(load_hdf5(t.path("full.h5"), opts()), Error);
}

TEST(Hdf5, UnbackedShapeIsRefused) {
  Tmp t;
  {
    h5::File f = h5::File::create(t.path("claim.h5"));
    hsize_t dims[2] = {1u << 20, 1024}, chunk[2] = {64, 1024};
    h5::Id space(H5Screate_simple(2, dims, nullptr), H5Sclose);
    h5::Id dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    H5Pset_chunk(dcpl, 2, chunk);
    h5::Id d(H5Dcreate2(f.id(), "/X", H5T_NATIVE_UINT8, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose);
    std::vector<std::int32_t> y(1u << 20, 0);
    y[1] = 1;
    f.write<std::int32_t>("/y", y.data(), {1u << 20}, 65536);
  }
  expect_error([&] { load_hdf5(t.path("claim.h5"), opts()); }, "but the file stores only");
}

TEST(Formats, DetectedFromPathAndContent) {
  Tmp t;
  Dataset src = make_synthetic(30, 5, 3, 1);
  write_hdf5(src, t.path("data.bin"));  // HDF5 by signature, whatever the name
  LoadOptions o;
  Dataset h = load_train(t.path("data.bin"), o);
  EXPECT_EQ(h.x, src.x);
  Dataset c = load_train(t.file("x.txt", "1,2,0\n3,4,1\n"), o);
  EXPECT_EQ(c.n, 2u);
  o.stream = true;
  expect_error([&] { load_train(t.path("x.txt"), o); }, "--stream needs an HDF5 file");
  expect_error([&] { load_test("", t.path("x.txt"), LoadOptions{}); }, "give --test");
}

TEST(Formats, ANameThatSaysItsFormatIsReadAsThatFormat) {
  Tmp t;
  const std::string junk = "\x7f\x13q9\n\x01z,\xff\n";  // random-looking bytes, no format's magic
  // The error is the named format's, never a CSV parser's "line 2: 1 fields".
  expect_error([&] { load_train(t.file("junk.idx", junk), opts()); }, "not an IDX file");
  expect_error([&] { load_train(t.file("train-images-idx3-ubyte", junk), opts()); }, "not an IDX file");
  expect_error([&] { load_train(t.file("junk.IDX.gz", junk), opts()); }, "not an IDX file");
  expect_error([&] { load_train(t.file("junk.h5", junk), opts()); }, "not an HDF5 file");
  expect_error([&] { load_train(t.file("junk.hdf5", junk), opts()); }, "not an HDF5 file");
  // A CSV named so is read as CSV even when its first bytes look like an IDX magic number.
  expect_error([&] { load_train(t.file("zeros.csv", std::string("\0\0\x08\x01,1\n5,x\n", 12)), opts()); }, "zeros.csv: line 2");
  // No format in the name: the content decides, as before.
  Dataset c = load_train(t.file("blob", "1,2,0\n3,4,1\n"), opts());
  EXPECT_EQ(c.n, 2u);
}

TEST(Normalize, UnitStandardNone) {
  Dataset b = make_synthetic(100, 6, 3, 5);
  Transform u = compute_transform(b, Normalize::Unit);
  EXPECT_FLOAT_EQ(u.scale[0], 1.0f / 255.0f);
  Transform n = compute_transform(b, Normalize::None);
  EXPECT_FLOAT_EQ(n.scale[3], 1.0f);
  Transform s = compute_transform(b, Normalize::Standard);
  b.tf = s;
  std::vector<std::uint32_t> idx(100);
  for (std::uint32_t i = 0; i < 100; ++i) idx[i] = i;
  std::vector<float> out(100 * 6);
  b.gather(idx.data(), 100, out.data());
  for (std::size_t c = 0; c < 6; ++c) {
    double m = 0, v = 0;
    for (std::size_t r = 0; r < 100; ++r) m += out[r * 6 + c];
    m /= 100;
    for (std::size_t r = 0; r < 100; ++r) v += (out[r * 6 + c] - m) * (out[r * 6 + c] - m);
    EXPECT_NEAR(m, 0.0, 1e-5);
    EXPECT_NEAR(v / 100, 1.0, 1e-4);
  }
  // Floats: unit is per-feature min-max to [0, 1].
  Dataset f;
  f.n = 3;
  f.d = 1;
  f.raw_bytes = false;
  f.xf = {2, 4, 6};
  Transform fu = compute_transform(f, Normalize::Unit);
  EXPECT_FLOAT_EQ(fu.offset[0], 2.0f);
  EXPECT_FLOAT_EQ(fu.scale[0], 0.25f);
}

TEST(Split, SeededDisjointAndComplete) {
  std::vector<std::uint32_t> tr, va, tr2, va2;
  split_rows(1000, 0.1, 7, tr, va);
  split_rows(1000, 0.1, 7, tr2, va2);
  EXPECT_EQ(va.size(), 100u);
  EXPECT_EQ(tr.size(), 900u);
  EXPECT_EQ(va, va2);
  std::set<std::uint32_t> all(tr.begin(), tr.end());
  for (auto v : va) EXPECT_TRUE(all.insert(v).second);
  EXPECT_EQ(all.size(), 1000u);
  split_rows(1000, 0.1, 8, tr2, va2);
  EXPECT_NE(va, va2);
}

TEST(Stream, GatherEqualsInMemory) {
  Tmp t;
  Dataset src = make_synthetic(500, 33, 5, 9);
  write_hdf5(src, t.path("s.h5"));
  LoadOptions o;
  o.stream = true;
  Dataset st = load_hdf5(t.path("s.h5"), o);
  EXPECT_TRUE(st.streamed());
  EXPECT_TRUE(st.x.empty());
  EXPECT_EQ(st.fingerprint(), src.fingerprint());
  std::vector<std::uint32_t> idx = {499, 3, 3, 250, 0, 251};
  std::vector<float> a(idx.size() * 33), b(idx.size() * 33);
  src.gather(idx.data(), idx.size(), a.data());
  st.gather(idx.data(), idx.size(), b.data());
  EXPECT_EQ(a, b);
  EXPECT_EQ(compute_transform(st, Normalize::Standard).offset, compute_transform(src, Normalize::Standard).offset);
}

TEST(Csv, Rfc4180QuotingAndLineBreaksInsideQuotes) {
  Tmp t;
  // R's write.csv: a quoted header with an empty first name, quoted row names; a quote doubled inside
  // quotes; a separator and a line break inside quotes.
  const std::string p = t.file("q.csv", "\"\",\"say \"\"hi\"\"\",\"a,b\",\"label\"\r\n\"1\",2.5,\"3\",1\r\n\"2\", 4 ,5,\"0\"\r\n");
  LoadOptions o;
  o.label_column = "label";
  Dataset ds = load_csv(p, o);
  EXPECT_EQ(ds.n, 2u);
  EXPECT_EQ(ds.d, 3u);
  EXPECT_EQ(ds.xf, (std::vector<float>{1, 2.5f, 3, 2, 4, 5}));
  EXPECT_EQ(ds.labels, (std::vector<std::int32_t>{1, 0}));
  o.label_column = "a,b";  // a quoted name with the separator in it
  EXPECT_EQ(load_csv(p, o).xf.size(), 6u);
  o.label_column = "x\ny";  // a line break inside a quoted header name: still one record
  Dataset nl = load_csv(t.file("nl.csv", "\"x\ny\",f\n1,2\n0,3\n"), o);
  EXPECT_EQ(nl.n, 2u);
  EXPECT_EQ(nl.labels, (std::vector<std::int32_t>{1, 0}));
  expect_error([&] { load_csv(t.file("open.csv", "a,b\n1,\"2\n"), opts()); }, "line 2: a quoted field is not closed");
  expect_error([&] { load_csv(t.file("after.csv", "a,b\n1,\"2\"x\n"), opts()); }, "line 2, column 2: text after a closing quote");
}

TEST(Csv, ByteOrderMarkAndSeparators) {
  Tmp t;
  LoadOptions o;
  o.label_column = "label";
  for (const char* text : {"\xEF\xBB\xBFlabel,a\n1,2\n0,3\n", "label;a\n1;2\n0;3\n", "label\ta\n1\t2\n0\t3\n", "label|a\n1|2\n0|3\n"}) {
    Dataset ds = load_csv(t.file("s.csv", text), o);
    EXPECT_EQ(ds.n, 2u) << text;
    EXPECT_EQ(ds.labels, (std::vector<std::int32_t>{1, 0})) << text;
    EXPECT_EQ(ds.xf, (std::vector<float>{2, 3})) << text;
  }
  // A headerless file with a byte-order mark: the first row is data, not lost.
  EXPECT_EQ(load_csv(t.file("bom.csv", "\xEF\xBB\xBF" "1,2,0\n3,4,1\n"), opts()).n, 2u);
  o.delimiter = ';';  // given, and wrong: the error names it
  expect_error([&] { load_csv(t.file("c.csv", "label,a\n1,2\n"), o); }, "one field with the separator ';'");
  o.delimiter = 0;
  o.label_column = "";
  expect_error([&] { load_csv(t.file("dc.csv", "a;b\n1,5;0\n"), o); }, "(bptrain reads '.' as the decimal point)");
  expect_error([&] { load_csv(t.file("names.csv", "a,b\n1,cat\n"), o); }, "'cat' is not a number (class labels must be the integers");
}

TEST(Csv, HeaderDetection) {
  Tmp t;
  const std::string counted = t.file("c.csv", "0,1,2\n5,6,1\n7,8,0\n");  // counts its columns: a header
  EXPECT_EQ(load_csv(counted, opts()).n, 2u);
  EXPECT_EQ(load_csv(t.file("c1.csv", "1,2,3\n5,6,1\n7,8,0\n"), opts()).n, 2u);
  EXPECT_EQ(load_csv(t.file("d.csv", "0,2,1\n5,6,1\n"), opts()).n, 2u);  // numbers that do not count: data
  LoadOptions o;
  o.header = CsvHeader::No;
  EXPECT_EQ(load_csv(counted, o).n, 3u);
  o.header = CsvHeader::Yes;
  EXPECT_EQ(load_csv(t.file("y.csv", "5,10,20\n5,6,1\n7,8,0\n"), o).n, 2u);
  EXPECT_EQ(parse_delimiter("tab"), '\t');
  EXPECT_EQ(parse_delimiter("auto"), 0);
  EXPECT_THROW(parse_delimiter("::"), Error);
  EXPECT_THROW(parse_header("maybe"), Error);
}
