#include "bpt/model/model.hpp"

#include <algorithm>
#include <charconv>

#include "bpt/core/error.hpp"
#include "bpt/core/sim_cost.hpp"
#include "bpt/nn/dense.hpp"
#include "bpt/nn/dropout.hpp"

namespace bpt {

const char* to_string(LayerKind k) {
  switch (k) {
    case LayerKind::Dense: return "dense";
    case LayerKind::Conv: return "conv";
    case LayerKind::MaxPool: return "maxpool";
    case LayerKind::AvgPool: return "avgpool";
  }
  return "?";
}

std::string to_string(const LayerSpec& l) {
  switch (l.kind) {
    case LayerKind::Dense: return "dense:" + std::to_string(l.units);
    case LayerKind::Conv:
      return "conv" + std::to_string(l.k) + ":" + std::to_string(l.units) +
             (l.stride != 1 ? ":s" + std::to_string(l.stride) : "") + (l.valid ? ":valid" : "");
    case LayerKind::MaxPool: return "maxpool" + std::to_string(l.k);
    case LayerKind::AvgPool: return "avgpool" + std::to_string(l.k);
  }
  return "?";
}

namespace {

// A whole number of at least 1 (and at most 2^24: no layer is wider), or nothing.
bool positive(std::string_view s, std::size_t& v) {
  std::uint64_t x = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || x == 0 || x > ModelLimits::width) return false;
  v = static_cast<std::size_t>(x);
  return true;
}

LayerSpec parse_layer(const std::string& item) {
  std::vector<std::string> parts;
  for (std::size_t at = 0;;) {
    const std::size_t colon = item.find(':', at);
    parts.push_back(item.substr(at, colon == std::string::npos ? std::string::npos : colon - at));
    if (colon == std::string::npos) break;
    at = colon + 1;
  }
  const auto bad = [&](const std::string& why) -> LayerSpec {
    throw Error("'" + item + "': " + why +
                " (layers: conv<K>:<C>[:s<S>][:valid], maxpool<K>, avgpool<K>, dense:<N>)");
  };
  LayerSpec l;
  const std::string& head = parts[0];
  if (head == "dense") {
    l.kind = LayerKind::Dense;
    if (parts.size() != 2 || !positive(parts[1], l.units)) return bad("dense:<N> with N a whole number of units");
    return l;
  }
  for (auto [name, kind] : {std::pair{"maxpool", LayerKind::MaxPool}, {"avgpool", LayerKind::AvgPool}})
    if (head.rfind(name, 0) == 0) {
      l.kind = kind;
      if (parts.size() != 1 || !positive(std::string_view(head).substr(std::char_traits<char>::length(name)), l.k))
        return bad(std::string(name) + "<K> with K a whole window size");
      return l;
    }
  if (head.rfind("conv", 0) == 0) {
    l.kind = LayerKind::Conv;
    if (!positive(std::string_view(head).substr(4), l.k)) return bad("conv<K> with K a whole kernel size");
    if (parts.size() < 2 || !positive(parts[1], l.units)) return bad("conv<K>:<C> with C a whole number of channels");
    for (std::size_t i = 2; i < parts.size(); ++i) {
      if (parts[i] == "valid" && !l.valid) l.valid = true;
      else if (parts[i].size() > 1 && parts[i][0] == 's' && l.stride == 1 && positive(std::string_view(parts[i]).substr(1), l.stride)) continue;
      else return bad("'" + parts[i] + "' is not :s<S> (a stride) or :valid");
    }
    return l;
  }
  return bad("not a layer");
}

}  // namespace

std::vector<LayerSpec> parse_layers(const std::string& text) {
  std::vector<LayerSpec> out;
  for (std::size_t at = 0; at <= text.size();) {
    const std::size_t comma = std::min(text.find(',', at), text.size());
    const std::string item = text.substr(at, comma - at);
    if (item.empty()) throw Error("an empty layer in '" + text + "'");
    out.push_back(parse_layer(item));
    at = comma + 1;
  }
  return out;
}

ModelSpec mlp_spec(const std::vector<std::size_t>& sizes, Activation hidden, Loss loss) {
  ModelSpec s;
  s.hidden = hidden;
  s.loss = loss;
  if (sizes.empty()) return s;
  s.input = {sizes.front(), 1, 1};
  for (std::size_t i = 1; i < sizes.size(); ++i) s.layers.push_back({LayerKind::Dense, sizes[i]});
  return s;
}

std::string describe_layers(const ModelSpec& spec) {
  const bool mlp = !spec.input.image() &&
                   std::all_of(spec.layers.begin(), spec.layers.end(), [](const LayerSpec& l) { return l.kind == LayerKind::Dense; });
  std::string s = mlp ? std::to_string(spec.input.size())
                      : std::to_string(spec.input.c) + "x" + std::to_string(spec.input.h) + "x" + std::to_string(spec.input.w);
  for (std::size_t i = 0; i < spec.layers.size(); ++i) {
    s += '-';
    s += mlp || i + 1 == spec.layers.size() ? std::to_string(spec.layers[i].units) : to_string(spec.layers[i]);
  }
  return s;
}

std::vector<LayerPlan> plan_layers(const ModelSpec& spec) {
  if (spec.layers.empty()) throw Error("a model needs at least an output layer");
  if (spec.input.size() == 0) throw Error("a model needs at least one input feature");
  if (spec.layers.back().kind != LayerKind::Dense) throw Error("the output layer must be dense");
  std::vector<LayerPlan> plan;
  Shape cur = spec.input;
  // Why a convolution or pooling cannot run here, if it cannot: rows with no image shape.
  std::string flat = spec.input.image() ? "" : "on rows without an image shape (--input-shape C,H,W)";
  for (std::size_t l = 0; l < spec.layers.size(); ++l) {
    LayerPlan p;
    p.spec = spec.layers[l];
    p.in = cur;
    const auto bad = [&](const std::string& why) {
      throw Error("layer " + std::to_string(l) + " (" + to_string(p.spec) + "): " + why);
    };
    const std::string in_text = std::to_string(cur.c) + "x" + std::to_string(cur.h) + "x" + std::to_string(cur.w);
    switch (p.spec.kind) {
      case LayerKind::Dense:
        if (p.spec.units == 0) bad("0 units");
        p.out = {p.spec.units, 1, 1};
        p.weight_rows = p.spec.units;
        p.weight_cols = cur.size();
        p.biases = p.spec.units;
        flat = "after a dense layer (whose output has no image shape)";
        break;
      case LayerKind::Conv: {
        if (!flat.empty()) bad("a convolution " + flat);
        if (p.spec.units == 0 || p.spec.k == 0 || p.spec.stride == 0) bad("zero channels, kernel or stride");
        const std::size_t pad = p.spec.valid ? 0 : (p.spec.k - 1) / 2;
        if (p.spec.k > cur.h + 2 * pad || p.spec.k > cur.w + 2 * pad)
          bad("a " + std::to_string(p.spec.k) + "x" + std::to_string(p.spec.k) + " kernel on a " + in_text + " input" +
              (pad ? " padded by " + std::to_string(pad) : ""));
        p.conv = {cur.c, cur.h, cur.w, p.spec.units, p.spec.k, p.spec.stride, pad};
        p.out = {p.spec.units, p.conv.oh(), p.conv.ow()};
        p.weight_rows = p.spec.units;
        p.weight_cols = p.conv.col_rows();
        p.biases = p.spec.units;
        break;
      }
      case LayerKind::MaxPool:
      case LayerKind::AvgPool:
        if (!flat.empty()) bad("pooling " + flat);
        if (p.spec.k == 0) bad("a window of 0");
        if (p.spec.k > cur.h || p.spec.k > cur.w)
          bad("a " + std::to_string(p.spec.k) + "x" + std::to_string(p.spec.k) + " window on a " + in_text +
              " input leaves nothing");
        p.pool = {cur.c, cur.h, cur.w, p.spec.k};
        p.out = {cur.c, p.pool.oh(), p.pool.ow()};
        break;
    }
    if (p.in.size() > ModelLimits::width || p.out.size() > ModelLimits::width)
      bad("more than " + std::to_string(ModelLimits::width) + " values per sample");
    cur = p.out;
    plan.push_back(p);
  }
  return plan;
}

std::uint64_t count_params(const std::vector<std::size_t>& sizes) {
  std::uint64_t n = 0;
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l)
    n += std::uint64_t(sizes[l + 1]) * (std::uint64_t(sizes[l]) + 1);
  return n;
}

std::uint64_t count_params(const std::vector<LayerPlan>& plan) {
  std::uint64_t n = 0;
  for (const LayerPlan& p : plan) n += std::uint64_t(p.weight_rows) * p.weight_cols + p.biases;
  return n;
}

void check_limits(const ModelSpec& spec) {
  if (spec.layers.size() > ModelLimits::layers)
    throw Error("a model of " + std::to_string(spec.layers.size()) + " layers: at most " +
                std::to_string(ModelLimits::layers) + " (the output layer included)");
  if (spec.input.size() > ModelLimits::width)
    throw Error("an input of " + std::to_string(spec.input.size()) + " values: at most " + std::to_string(ModelLimits::width));
  const std::vector<LayerPlan> plan = plan_layers(spec);
  if (const std::uint64_t n = count_params(plan); n > ModelLimits::params)
    throw Error("a model of " + std::to_string(n) + " parameters: at most " + std::to_string(ModelLimits::params));
}

template <class T>
BasicModel<T>::BasicModel(ModelSpec spec) : spec_(std::move(spec)) {
  check_limits(spec_);
  plan_ = plan_layers(spec_);
  offsets_.push_back(0);
  for (const LayerPlan& p : plan_) offsets_.push_back(offsets_.back() + p.params());
  params_.resize(offsets_.back());
  grads_.resize(offsets_.back());
  const std::size_t n = num_layers();
  z_.resize(n);
  a_.resize(n);
  mask_.resize(n);
  drop_.resize(n);
  argmax_.resize(n);
}

template <class T>
void BasicModel<T>::init(Init kind, std::uint64_t seed) {
  for (std::size_t l = 0; l < num_layers(); ++l) {
    const LayerPlan& p = plan_[l];
    if (p.spec.kind == LayerKind::Dense) {
      init_dense(weight(l), bias(l), out(l), in(l), kind, seed, l);
    } else if (p.spec.kind == LayerKind::Conv) {  // PyTorch's fans: C_in·K·K in, C_out·K·K out
      const std::size_t kk = p.spec.k * p.spec.k;
      init_weights(weight(l), p.weights(), bias(l), p.biases, p.conv.cin * kk, p.conv.cout * kk, kind, seed, l);
    }
  }
}

template <class T>
void BasicModel<T>::reserve(std::size_t batch) {
  if (batch <= cap_) return;
  std::size_t widest = 0;
  for (std::size_t l = 0; l < num_layers(); ++l) {
    widest = std::max(widest, out(l));  // the error signals: into layer l (l >= 1) is out(l - 1)
    // z: the pre-activation (dense, conv: kept for backward); a: what the layer hands on (pooling
    // writes only a; an identity layer's a is its z).
    if (kind(l) == LayerKind::Dense || kind(l) == LayerKind::Conv) z_[l].resize(batch * out(l));
    if (activation(l) != Activation::Identity || kind(l) == LayerKind::MaxPool || kind(l) == LayerKind::AvgPool)
      a_[l].resize(batch * out(l));
    // (none in model mode, where pooling is billed, not run: an index buffer is not shared memory)
    if (kind(l) == LayerKind::MaxPool) argmax_[l].resize(sim::values_meaningless() ? 0 : batch * out(l));
  }
  delta_[0].resize(batch * widest);
  delta_[1].resize(batch * widest);
  std::size_t scratch = 0;  // the convolutions' patches and staged outputs, one chunk of samples
  for (const LayerPlan& p : plan_)
    if (p.spec.kind == LayerKind::Conv) scratch = std::max(scratch, p.conv.scratch_size(batch));
  col_.resize(scratch);
  cap_ = batch;
}

template <class T>
ConstMatView<T> BasicModel<T>::input_of(std::size_t l) const {
  if (l == 0) return x_;
  const std::size_t p = l - 1, b = rows_;
  if (dropout_after(p)) return ConstMatView<T>(drop_[p].data(), b, out(p));
  const bool own_a = activation(p) != Activation::Identity || kind(p) == LayerKind::MaxPool || kind(p) == LayerKind::AvgPool;
  return ConstMatView<T>(own_a ? a_[p].data() : z_[p].data(), b, out(p));
}

template <class T>
ConstMatView<T> BasicModel<T>::forward(ConstMatView<T> x, const DropoutCtx* drop,
                                       const std::function<void(std::size_t)>* layer_done) {
  require(x.cols == in(0), "model: input has " + std::to_string(x.cols) + " features, the model expects " +
                               std::to_string(in(0)));
  reserve(x.rows);
  rows_ = x.rows;
  dropped_ = drop && drop->p > 0;
  ConstMatView<T> cur = x;
  if (drop && drop->p_input > 0) {  // layer 0 then sees, and its weight gradient uses, the dropped input
    if (in_drop_.size() < cap_ * in(0)) in_drop_.resize(cap_ * in(0));
    MatView<T> d(in_drop_.data(), x.rows, in(0));
    dropout_forward<T>(x, drop->p_input, drop->seed, drop->step, drop->sample_ids, kInputDropoutKey, MatView<T>(), d);
    cur = d;
  }
  x_ = cur;
  for (std::size_t l = 0; l < num_layers(); ++l) {
    const LayerPlan& p = plan_[l];
    const std::size_t b = x.rows, n = out(l);
    MatView<T> z(z_[l].data(), b, n);
    MatView<T> a = activation(l) == Activation::Identity && (p.spec.kind == LayerKind::Dense || p.spec.kind == LayerKind::Conv)
                       ? z  // for Identity a aliases z: no copy
                       : MatView<T>(a_[l].data(), b, n);
    switch (p.spec.kind) {
      case LayerKind::Dense: dense_forward(cur, weight(l), bias(l), activation(l), z, a); break;
      case LayerKind::Conv: conv_forward(p.conv, cur, weight(l), bias(l), activation(l), z, a, col_.data()); break;
      case LayerKind::MaxPool: maxpool_forward(p.pool, cur, a, argmax_[l].data()); break;
      case LayerKind::AvgPool: avgpool_forward(p.pool, cur, a); break;
    }
    cur = a;
    if (dropout_after(l)) {
      if (drop_[l].size() < cap_ * n) {
        drop_[l].resize(cap_ * n);
        mask_[l].resize(cap_ * n);
      }
      MatView<T> m(mask_[l].data(), b, n), d(drop_[l].data(), b, n);
      dropout_forward<T>(a, drop->p, drop->seed, drop->step, drop->sample_ids, l, m, d);
      cur = d;
    }
    if (layer_done) (*layer_done)(l);
  }
  return cur;
}

template <class T>
double BasicModel<T>::loss_of_last(Targets<T> t) const {
  const std::size_t last = num_layers() - 1;
  ConstMatView<T> y(z_[last].data(), rows_, out(last));
  if (spec_.loss == Loss::Mse) return mse<T>(y, t.values, t.labels, MatView<T>(), T(1));
  return softmax_cross_entropy<T>(y, t.labels, MatView<T>(), T(1), t.smoothing);
}

template <class T>
double BasicModel<T>::backward(Targets<T> t, T scale, const std::function<void(std::size_t)>& layer_ready,
                               bool accumulate) {
  const std::size_t last = num_layers() - 1, b = rows_;
  ConstMatView<T> y(z_[last].data(), b, out(last));
  int cur = 0;
  MatView<T> delta(delta_[cur].data(), b, out(last));
  double loss = spec_.loss == Loss::Mse ? mse<T>(y, t.values, t.labels, delta, scale)
                                        : softmax_cross_entropy<T>(y, t.labels, delta, scale, t.smoothing);
  for (std::size_t l = last + 1; l-- > 0;) {
    const LayerPlan& p = plan_[l];
    ConstMatView<T> x = input_of(l);
    // The first layer's error signal is not needed: no dx (a pooling layer first has nothing to do).
    MatView<T> dx = l == 0 ? MatView<T>() : MatView<T>(delta_[1 - cur].data(), b, in(l));
    if (p.spec.kind == LayerKind::Dense || p.spec.kind == LayerKind::Conv) {
      ConstMatView<T> z(z_[l].data(), b, out(l));
      ConstMatView<T> a = activation(l) == Activation::Identity ? z : ConstMatView<T>(a_[l].data(), b, out(l));
      if (p.spec.kind == LayerKind::Dense)
        dense_backward<T>(x, weight(l), z, a, activation(l), delta, grad_weight(l), grad_bias(l), dx, accumulate);
      else
        conv_backward<T>(p.conv, x, weight(l), z, a, activation(l), delta, grad_weight(l), grad_bias(l), dx, accumulate,
                         col_.data());
    } else if (dx.data) {
      if (p.spec.kind == LayerKind::MaxPool) maxpool_backward<T>(p.pool, delta, argmax_[l].data(), dx);
      else avgpool_backward<T>(p.pool, delta, dx);
    }
    if (layer_ready) layer_ready(l);
    if (l == 0) break;
    if (dropout_after(l - 1)) {  // through the dropout that fed layer l
      const T* m = mask_[l - 1].data();
      for (std::size_t i = 0; i < b * in(l); ++i) dx.data[i] *= m[i];
    }
    cur = 1 - cur;
    delta = dx;
  }
  return loss;
}

template class BasicModel<float>;
template class BasicModel<double>;

}  // namespace bpt
