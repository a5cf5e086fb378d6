// Agreement with an independent implementation: tests/data/torch_reference.h5 was written by
// scripts/make_torch_reference.py (PyTorch). Loss, logits, gradients and optimizer trajectories
// must agree to 1e-5 relative.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <string>
#include <vector>

#include "bpt/model/model.hpp"
#include "bpt/optim/optim.hpp"

using namespace bpt;

namespace {

const std::string kFile = std::string(BPT_TEST_DATA) + "/torch_reference.h5";

class H5 {
 public:
  H5() : f_(H5Fopen(kFile.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)) {}
  ~H5() {
    if (f_ >= 0) H5Fclose(f_);
  }
  bool ok() const { return f_ >= 0; }
  template <class T>
  std::vector<T> read(const std::string& path) {
    hid_t d = H5Dopen2(f_, path.c_str(), H5P_DEFAULT);
    EXPECT_GE(d, 0) << path;
    hid_t s = H5Dget_space(d);
    std::vector<T> v(static_cast<std::size_t>(H5Sget_simple_extent_npoints(s)));
    hid_t mt = std::is_same_v<T, float>    ? H5T_NATIVE_FLOAT
               : std::is_same_v<T, double> ? H5T_NATIVE_DOUBLE
               : std::is_same_v<T, std::int32_t> ? H5T_NATIVE_INT32
                                                 : H5T_NATIVE_INT64;
    EXPECT_GE(H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), 0) << path;
    H5Sclose(s);
    H5Dclose(d);
    return v;
  }
  std::string attr_str(const std::string& obj, const std::string& name) {
    hid_t a = H5Aopen_by_name(f_, obj.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);  // h5py writes UTF-8 strings
    char* s = nullptr;
    H5Aread(a, t, &s);
    std::string out = s ? s : "";
    H5free_memory(s);
    H5Tclose(t);
    H5Aclose(a);
    return out;
  }
  double attr_f64(const std::string& obj, const std::string& name) {
    hid_t a = H5Aopen_by_name(f_, obj.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
    double v = std::nan("");
    H5Aread(a, H5T_NATIVE_DOUBLE, &v);
    H5Aclose(a);
    return v;
  }

 private:
  hid_t f_;
};

template <class A, class B>
double rel_err(const A& a, const B& ref) {
  double d = 0, n = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    d += (double(a[i]) - double(ref[i])) * (double(a[i]) - double(ref[i]));
    n += double(ref[i]) * double(ref[i]);
  }
  return std::sqrt(d) / std::sqrt(n);
}

struct Case {
  Model model;
  std::vector<float> init, x, targets;
  std::vector<std::int32_t> labels;
  std::size_t batch;
  Targets<float> tg() const { return {labels.data(), model.spec().loss == Loss::Mse ? targets.data() : nullptr}; }
};

Case load_case(H5& f, const std::string& g) {
  const Activation act = parse_activation(f.attr_str(g, "activation"));
  const Loss loss = parse_loss(f.attr_str(g, "loss"));
  ModelSpec spec;
  if (g.rfind("cnn", 0) == 0) {  // a convolutional stack: its input shape and layers (the output last)
    const auto shape = f.read<std::int64_t>(g + "/input_shape");
    spec.input = {static_cast<std::size_t>(shape[0]), static_cast<std::size_t>(shape[1]), static_cast<std::size_t>(shape[2])};
    spec.layers = parse_layers(f.attr_str(g, "layers"));
    spec.hidden = act;
    spec.loss = loss;
  } else {
    std::vector<std::size_t> sizes;
    for (auto s : f.read<std::int64_t>(g + "/sizes")) sizes.push_back(static_cast<std::size_t>(s));
    spec = mlp_spec(sizes, act, loss);
  }
  Case c{Model(spec), {}, f.read<float>(g + "/x"), f.read<float>(g + "/targets"), f.read<std::int32_t>(g + "/labels"), 0};
  c.batch = c.labels.size();
  for (std::size_t l = 0; l < c.model.num_layers(); ++l) {
    if (!c.model.layer(l).has_params()) continue;  // pooling
    auto w = f.read<float>(g + "/layer_" + std::to_string(l) + "/weight");
    auto b = f.read<float>(g + "/layer_" + std::to_string(l) + "/bias");
    std::copy(w.begin(), w.end(), c.model.weight(l));
    std::copy(b.begin(), b.end(), c.model.bias(l));
  }
  c.init.assign(c.model.params().begin(), c.model.params().end());
  return c;
}

const char* kCases[] = {"ce_relu", "ce_tanh", "mse_sigmoid", "ce_leaky_relu", "cnn_ce_relu", "cnn_mse_tanh"};

}  // namespace

TEST(TorchReference, LossLogitsAndGradients) {
  H5 f;
  ASSERT_TRUE(f.ok()) << "cannot open " << kFile;
  for (const std::string g : kCases) {
    SCOPED_TRACE(g);
    Case c = load_case(f, g);
    c.model.zero_grad();
    auto logits = c.model.forward(ConstMatView<float>(c.x.data(), c.batch, c.model.in(0)));
    std::vector<float> mine(logits.data, logits.data + c.batch * logits.cols);
    EXPECT_LE(rel_err(mine, f.read<float>(g + "/logits")), 1e-5);
    const double loss = c.model.backward(c.tg(), 1.0f / static_cast<float>(c.batch)) / double(c.batch);
    const double ref = f.attr_f64(g, "loss_value");
    EXPECT_LE(std::fabs(loss - ref) / std::fabs(ref), 1e-5) << loss << " vs " << ref;
    for (std::size_t l = 0; l < c.model.num_layers(); ++l) {
      if (!c.model.layer(l).has_params()) continue;
      const std::string p = g + "/grad/layer_" + std::to_string(l);
      auto rw = f.read<float>(p + "/weight");
      auto rb = f.read<float>(p + "/bias");
      EXPECT_LE(rel_err(c.model.grad_weight(l), rw), 1e-5) << "layer " << l << " weight";
      EXPECT_LE(rel_err(c.model.grad_bias(l), rb), 1e-5) << "layer " << l << " bias";
    }
  }
}

TEST(TorchReference, OptimizerTrajectories) {
  H5 f;
  ASSERT_TRUE(f.ok()) << "cannot open " << kFile;
  for (const std::string g : kCases) {
    for (const std::string o : {"sgd", "momentum", "nesterov", "adam", "adamw"}) {
      SCOPED_TRACE(g + "/" + o);
      Case c = load_case(f, g);
      const std::string og = g + "/steps/" + o;
      OptimConfig oc;
      oc.kind = parse_optimizer(f.attr_str(og, "kind"));
      oc.momentum = static_cast<float>(f.attr_f64(og, "momentum"));
      oc.weight_decay = static_cast<float>(f.attr_f64(og, "weight_decay"));
      const auto lr = static_cast<float>(f.attr_f64(og, "lr"));
      Optimizer opt(oc, c.model.num_params());
      auto ref_losses = f.read<double>(og + "/losses");
      std::vector<double> losses;
      for (std::size_t s = 0; s < ref_losses.size(); ++s) {
        c.model.zero_grad();
        c.model.forward(ConstMatView<float>(c.x.data(), c.batch, c.model.in(0)));
        losses.push_back(c.model.backward(c.tg(), 1.0f / static_cast<float>(c.batch)) / double(c.batch));
        opt.step(c.model.params(), c.model.grads(), lr);
      }
      for (std::size_t s = 0; s < losses.size(); ++s)
        EXPECT_LE(std::fabs(losses[s] - ref_losses[s]) / std::fabs(ref_losses[s]), 1e-5) << "step " << s;
      EXPECT_LE(rel_err(c.model.params(), f.read<float>(og + "/final_params")), 1e-5);
    }
  }
}
