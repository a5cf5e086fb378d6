#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "bpt/core/error.hpp"
#include "h5.hpp"
#include "bpt/io/checkpoint.hpp"

using namespace bpt;
namespace fs = std::filesystem;

namespace {
struct Fixture {
  // One directory per test and process: CTest may run the tests in parallel (ctest -j).
  fs::path dir = fs::temp_directory_path() /
                 ("bpt_ckpt_unit_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
                  std::to_string(::getpid()));
  Fixture() { fs::create_directories(dir); }
  ~Fixture() { fs::remove_all(dir); }
  std::string path(const std::string& n) const { return (dir / n).string(); }
};

TrainState sample_state() {
  TrainState s;
  s.epoch = 3;
  s.position = 17;
  s.step = 1234;
  s.epoch_loss_sum = 42.5;
  s.best_score = 0.875;
  s.bad_epochs = 2;
  s.prev_train_loss = 0.3125;
  s.seed = 99;
  s.world_size = 4;
  s.train_fingerprint = 0xfedcba9876543210ULL;
  s.test_fingerprint = 7;
  s.config = "a=1;b=two;";
  s.resume_key = "a=1;";
  s.elapsed_s = 12.25;
  s.lr_schedule = "cosine";
  return s;
}

// A small model and Adam state written with sample_state(): what most tests start from.
struct Small {
  Model m{mlp_spec({4, 6, 3}, Activation::Relu, Loss::SoftmaxCrossEntropy)};
  Optimizer opt{{OptKind::Adam}, m.num_params()};
  std::vector<float> off = std::vector<float>(4, 0.0f), sc = std::vector<float>(4, 1.0f);
  Small() { opt.set_steps(sample_state().step); }
  void write(const std::string& path) { write_checkpoint(path, m, opt, off, sc, sample_state()); }
};
}  // namespace

TEST(Checkpoint, RoundTripOfEveryField) {
  Fixture fx;
  for (OptKind k : {OptKind::Sgd, OptKind::Nesterov, OptKind::AdamW}) {
    Model m(mlp_spec({5, 7, 3}, Activation::Tanh, Loss::SoftmaxCrossEntropy));
    m.init(Init::XavierNormal, 3);
    OptimConfig oc{k};
    oc.momentum = 0.8f;
    oc.weight_decay = 0.01f;
    Optimizer opt(oc, m.num_params());
    std::vector<float> g(m.num_params(), 0.1f);
    for (int i = 0; i < 1234; ++i) opt.step(m.params(), g, 1e-4f);  // state and step count to save
    std::vector<float> off = {1, 2, 3, 4, 5}, sc = {0.5f, 0.25f, 1, 2, 3};
    TrainState st = sample_state();
    write_checkpoint(fx.path("c.h5"), m, opt, off, sc, st);
    Checkpoint c = read_checkpoint(fx.path("c.h5"));
    EXPECT_EQ(c.spec, m.spec());
    EXPECT_EQ(c.spec.hidden, Activation::Tanh);
    EXPECT_EQ(c.spec.loss, Loss::SoftmaxCrossEntropy);
    EXPECT_TRUE(std::equal(c.params.begin(), c.params.end(), m.params().begin()));
    EXPECT_EQ(c.optim.kind, k);
    EXPECT_FLOAT_EQ(c.optim.momentum, 0.8f);
    EXPECT_FLOAT_EQ(c.optim.weight_decay, 0.01f);
    EXPECT_EQ(c.optim_steps, 1234u);
    auto state = opt.state();
    ASSERT_EQ(c.optim_state.size(), state.size());
    for (std::size_t i = 0; i < state.size(); ++i) {
      EXPECT_EQ(c.optim_state[i].first, state[i].first);
      EXPECT_TRUE(std::equal(c.optim_state[i].second.begin(), c.optim_state[i].second.end(), state[i].second.begin()));
    }
    EXPECT_EQ(c.offset, off);
    EXPECT_EQ(c.scale, sc);
    const TrainState& r = c.train;
    EXPECT_EQ(r.epoch, st.epoch);
    EXPECT_EQ(r.position, st.position);
    EXPECT_EQ(r.step, st.step);
    EXPECT_EQ(r.epoch_loss_sum, st.epoch_loss_sum);
    EXPECT_EQ(r.best_score, st.best_score);
    EXPECT_EQ(r.bad_epochs, st.bad_epochs);
    EXPECT_EQ(r.prev_train_loss, st.prev_train_loss);
    EXPECT_EQ(r.seed, st.seed);
    EXPECT_EQ(r.world_size, st.world_size);
    EXPECT_EQ(r.train_fingerprint, st.train_fingerprint);
    EXPECT_EQ(r.test_fingerprint, st.test_fingerprint);
    EXPECT_EQ(r.config, st.config);
    EXPECT_EQ(r.resume_key, st.resume_key);
    EXPECT_EQ(r.elapsed_s, st.elapsed_s);
    EXPECT_EQ(r.lr_schedule, st.lr_schedule);
    EXPECT_EQ(c.program_version, BPT_VERSION);
  }
}

TEST(Checkpoint, KeepRotatesOlderCopies) {
  Fixture fx;
  Model m(mlp_spec({2, 3, 2}, Activation::Relu, Loss::SoftmaxCrossEntropy));
  Optimizer opt({OptKind::Sgd}, m.num_params());
  std::vector<float> off(2, 0), sc(2, 1);
  for (std::uint64_t s = 1; s <= 4; ++s) {
    TrainState st = sample_state();
    st.step = s;
    opt.set_steps(s);
    write_checkpoint(fx.path("k.h5"), m, opt, off, sc, st, 3);
  }
  EXPECT_EQ(read_checkpoint(fx.path("k.h5")).train.step, 4u);
  EXPECT_EQ(read_checkpoint(fx.path("k.h5.1")).train.step, 3u);
  EXPECT_EQ(read_checkpoint(fx.path("k.h5.2")).train.step, 2u);
  EXPECT_FALSE(fs::exists(fx.path("k.h5.3")));
}

TEST(Checkpoint, InconsistentShapesAreRejected) {
  Fixture fx;
  Small s;
  s.write(fx.path("s.h5"));
  {
    h5::File f = h5::File::open(fx.path("s.h5"), true);
    H5Ldelete(f.id(), "/model/layer_1/weight", H5P_DEFAULT);
    std::vector<float> w(3 * 5, 0.0f);
    f.write<float>("/model/layer_1/weight", w.data(), {3, 5}, 0, true);
  }
  try {
    read_checkpoint(fx.path("s.h5"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("takes 5 inputs but the layer before gives 6"), std::string::npos) << e.what();
  }
  {  // NaN weights are never written over a good checkpoint, and never loaded
    s.write(fx.path("n.h5"));
    Model n(mlp_spec({4, 6, 3}, Activation::Relu, Loss::SoftmaxCrossEntropy));
    n.params()[3] = NAN;
    EXPECT_THROW(write_checkpoint(fx.path("n.h5"), n, s.opt, s.off, s.sc, sample_state()), Error);
    EXPECT_NO_THROW(read_checkpoint(fx.path("n.h5")));
    h5::File f = h5::File::open(fx.path("n.h5"), true);
    H5Ldelete(f.id(), "/model/layer_0/bias", H5P_DEFAULT);
    std::vector<float> b(6, NAN);
    f.write<float>("/model/layer_0/bias", b.data(), {6}, 0, true);
    f.close();
    EXPECT_THROW(read_checkpoint(fx.path("n.h5")), Error);
  }
}

TEST(Checkpoint, FingerprintsMustBeWholeNumbers) {
  // A damaged /train@train_fingerprint once escaped as std::invalid_argument (the HDF5 fuzzer found it).
  Fixture fx;
  Small s;
  for (const char* v : {"", "x", "-1", " 7", "+7", "12x", "18446744073709551616"}) {
    s.write(fx.path("f.h5"));
    {
      h5::File f = h5::File::open(fx.path("f.h5"), true);
      ASSERT_GE(H5Adelete_by_name(f.id(), "/train", "train_fingerprint", H5P_DEFAULT), 0);
      f.attr("/train", "train_fingerprint", std::string(v));
    }
    try {
      read_checkpoint(fx.path("f.h5"));
      FAIL() << "accepted '" << v << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("/train@train_fingerprint is not a whole number"), std::string::npos) << e.what();
    }
  }
  s.write(fx.path("f.h5"));
  EXPECT_EQ(read_checkpoint(fx.path("f.h5")).train.train_fingerprint, sample_state().train_fingerprint);
}

TEST(Checkpoint, WrittenAtEachModelLimitAndReadBack) {
  // One set of limits (ModelLimits) for the command line, the model, the writer and the reader: a model
  // at each limit is written and read back whole; one past it is refused by the model (so never
  // written) and by the reader (a file that claims it is damaged).
  Fixture fx;
  auto round_trip = [&](const std::vector<std::size_t>& sizes) {
    Model m(mlp_spec(sizes, Activation::Tanh, Loss::SoftmaxCrossEntropy));
    for (std::size_t i = 0; i < m.num_params(); ++i) m.params()[i] = 0.001f * static_cast<float>(i % 997);
    Optimizer opt({OptKind::Sgd}, m.num_params());
    opt.set_steps(sample_state().step);
    const std::vector<float> off(sizes.front(), 0.0f), sc(sizes.front(), 1.0f);
    write_checkpoint(fx.path("lim.h5"), m, opt, off, sc, sample_state());
    const Checkpoint c = read_checkpoint(fx.path("lim.h5"));
    EXPECT_EQ(c.spec, m.spec());
    ASSERT_EQ(c.params.size(), m.num_params());
    EXPECT_TRUE(std::equal(c.params.begin(), c.params.end(), m.params().begin()));
  };
  round_trip(std::vector<std::size_t>(ModelLimits::layers + 1, 2));  // the most layers
  round_trip({ModelLimits::width, 1});                              // the widest layer
  EXPECT_THROW(Model(mlp_spec(std::vector<std::size_t>(ModelLimits::layers + 2, 2))), Error);
  EXPECT_THROW(Model(mlp_spec({ModelLimits::width + 1, 1})), Error);
  // The most parameters: 2^32 exactly passes, one layer more than that is refused (not allocated).
  EXPECT_EQ(count_params({65535, 65536}), ModelLimits::params);
  EXPECT_NO_THROW(check_limits(mlp_spec({65535, 65536})));
  EXPECT_THROW(check_limits(mlp_spec({65536, 65536})), Error);
  // The reader: a file claiming one layer more than the limit, or a layer one unit too wide.
  Small s;
  s.write(fx.path("r.h5"));
  {
    h5::File f = h5::File::open(fx.path("r.h5"), true);
    ASSERT_GE(H5Adelete_by_name(f.id(), "/model", "num_layers", H5P_DEFAULT), 0);
    f.attr("/model", "num_layers", static_cast<std::int64_t>(ModelLimits::layers + 1));
  }
  EXPECT_THROW(read_checkpoint(fx.path("r.h5")), Error);
  s.write(fx.path("w.h5"));
  {  // layer 0's weight claims [6, width + 1] (its bias still 6): a dataset of that shape, never written
    h5::File f = h5::File::open(fx.path("w.h5"), true);
    H5Ldelete(f.id(), "/model/layer_0/weight", H5P_DEFAULT);
    const hsize_t dims[2] = {6, ModelLimits::width + 1};
    const hid_t space = H5Screate_simple(2, dims, nullptr);
    const hid_t d = H5Dcreate2(f.id(), "/model/layer_0/weight", H5T_NATIVE_FLOAT, space, H5P_DEFAULT, H5P_DEFAULT,
                               H5P_DEFAULT);
    ASSERT_GE(d, 0);
    H5Dclose(d);
    H5Sclose(space);
  }
  try {
    read_checkpoint(fx.path("w.h5"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("past the model limits"), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, ConvolutionalModelRoundTripsAndOldDenseFilesStillLoad) {
  Fixture fx;
  ModelSpec cnn;
  cnn.input = {2, 9, 8};
  cnn.layers = parse_layers("conv3:4,maxpool2,conv3:3:s2:valid,avgpool1,dense:6,dense:5");
  cnn.hidden = Activation::Tanh;
  Model m(cnn);
  m.init(Init::HeNormal, 4);
  Optimizer opt({OptKind::Adam}, m.num_params());
  opt.set_steps(sample_state().step);
  const std::vector<float> off(cnn.inputs(), 0.0f), sc(cnn.inputs(), 1.0f);
  write_checkpoint(fx.path("cnn.h5"), m, opt, off, sc, sample_state());
  const Checkpoint c = read_checkpoint(fx.path("cnn.h5"));
  EXPECT_EQ(c.spec, cnn);
  EXPECT_TRUE(std::equal(c.params.begin(), c.params.end(), m.params().begin()));
  {  // the convolution's weight is PyTorch's Conv2d.weight, [C_out, C_in, K, K]
    h5::File f = h5::File::open(fx.path("cnn.h5"));
    EXPECT_EQ(f.info("/model/layer_0/weight").dims, (std::vector<hsize_t>{4, 2, 3, 3}));
    EXPECT_EQ(f.info("/model/layer_4/weight").dims, (std::vector<hsize_t>{6, 3}));  // after a 3x1x1 output
    EXPECT_FALSE(f.exists("/model/layer_1/weight"));
    EXPECT_EQ(f.attr_str("/model/layer_1", "kind"), "maxpool");
  }
  // A dense checkpoint as bptrain wrote them before layer kinds: no kind, input shape or hidden
  // activation attributes. It loads as the same multilayer perceptron.
  Small s;
  s.write(fx.path("old.h5"));
  {
    h5::File f = h5::File::open(fx.path("old.h5"), true);
    for (const char* a : {"input_channels", "input_height", "input_width", "hidden_activation"})
      ASSERT_GE(H5Adelete_by_name(f.id(), "/model", a, H5P_DEFAULT), 0) << a;
    for (int l = 0; l < 2; ++l)
      ASSERT_GE(H5Adelete_by_name(f.id(), ("/model/layer_" + std::to_string(l)).c_str(), "kind", H5P_DEFAULT), 0);
  }
  EXPECT_EQ(read_checkpoint(fx.path("old.h5")).spec, s.m.spec());
  // A convolution whose weight is not [C_out, C_in, K, K] is refused, naming the layer.
  write_checkpoint(fx.path("bad.h5"), m, opt, off, sc, sample_state());
  {
    h5::File f = h5::File::open(fx.path("bad.h5"), true);
    H5Ldelete(f.id(), "/model/layer_2/weight", H5P_DEFAULT);
    std::vector<float> w(3 * 4 * 3 * 2, 0.0f);
    f.write<float>("/model/layer_2/weight", w.data(), {3, 4, 3, 2}, 0, true);
  }
  try {
    read_checkpoint(fx.path("bad.h5"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/model/layer_2: a convolution's weight must be [C_out, C_in, K, K]"), std::string::npos)
        << e.what();
  }
}

// What the model was trained on (/data): feature names, the task, the targets' scaling; absent in
// older files (and then empty), refused when it contradicts the model.
TEST(Checkpoint, DataInfoRoundTrip) {
  Fixture fx;
  Small s;
  TrainState st = sample_state();
  st.data.feature_names = {"a", "b b", "line\nbreak", ""};
  st.data.task = "regression";
  st.data.target_offset = {250000.5f, -1, 0};
  st.data.target_scale = {1e-4f, 2, 1};
  write_checkpoint(fx.path("d.h5"), s.m, s.opt, s.off, s.sc, st);
  const Checkpoint c = read_checkpoint(fx.path("d.h5"));
  EXPECT_EQ(c.train.data.feature_names, (std::vector<std::string>{"a", "b b", "line break", ""}));
  EXPECT_EQ(c.train.data.task, "regression");
  EXPECT_EQ(c.train.data.target_offset, st.data.target_offset);
  EXPECT_EQ(c.train.data.target_scale, st.data.target_scale);
  s.write(fx.path("old.h5"));  // nothing of it given: nothing written, nothing read
  const Checkpoint o = read_checkpoint(fx.path("old.h5"));
  EXPECT_TRUE(o.train.data.feature_names.empty() && o.train.data.task.empty() && o.train.data.target_offset.empty());
  st.data.feature_names = {"a", "b"};  // the model takes 4 inputs
  write_checkpoint(fx.path("bad.h5"), s.m, s.opt, s.off, s.sc, st);
  EXPECT_THROW(read_checkpoint(fx.path("bad.h5")), Error);
}
