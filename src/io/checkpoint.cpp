#include "bpt/io/checkpoint.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "bpt/core/error.hpp"
#include "bpt/core/partial_file.hpp"
#include "h5.hpp"

namespace bpt {
namespace {

namespace fs = std::filesystem;

std::string layer(std::size_t i) { return "/model/layer_" + std::to_string(i); }

// False (errno set) if the data could not be made durable: a full or failing file system can report
// it only here (NFS, quotas).
bool fsync_path(const std::string& p, bool dir) {
  int fd = ::open(p.c_str(), dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return !dir;  // a directory that cannot be opened for fsync is not an error
  const bool ok = ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  errno = err;
  return ok || dir;
}

// Why a write failed, as the OS says it: the errno the failing call left, and the space left where the
// file was going when that is less than the file needs.
std::string os_reason(int err, const std::string& dir, double need_bytes) {
  std::string r = err ? std::strerror(err) : "";
  struct statvfs v {};
  if (::statvfs(dir.c_str(), &v) == 0) {
    const double left = double(v.f_bavail) * double(v.f_frsize);
    if (left < need_bytes) {
      char b[160];
      std::snprintf(b, sizeof b, "%.1f MB left on its file system, the checkpoint needs about %.1f MB", left / 1e6,
                    need_bytes / 1e6);
      r += (r.empty() ? "" : "; ") + std::string(b);
    }
  }
  return r.empty() ? "" : r + ": ";
}

// Every dataset is chunked with Fletcher-32, so a flipped bit fails the read.
template <class T>
void put(const h5::File& f, const std::string& name, const T* data, std::vector<hsize_t> dims) {
  f.write<T>(name, data, dims, 0, true);
}

std::string now_utc() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// The whole checkpoint into a new file at `file` (throws on any failure; the file may be partial).
void write_to(const std::string& file, const Model& model, Optimizer& opt, const std::vector<float>& offset,
              const std::vector<float>& scale, const TrainState& st) {
  h5::File f = h5::File::create(file);
  const ModelSpec& spec = model.spec();
  f.group("/model");
  auto n64 = [](std::size_t v) { return static_cast<std::int64_t>(v); };
  f.attr("/model", "input_size", n64(spec.inputs()));
  f.attr("/model", "input_channels", n64(spec.input.c));
  f.attr("/model", "input_height", n64(spec.input.h));
  f.attr("/model", "input_width", n64(spec.input.w));
  f.attr("/model", "output_size", n64(spec.outputs()));
  f.attr("/model", "loss", to_string(spec.loss));
  f.attr("/model", "hidden_activation", to_string(spec.hidden));
  f.attr("/model", "num_layers", n64(model.num_layers()));
  for (std::size_t l = 0; l < model.num_layers(); ++l) {
    const LayerPlan& p = model.layer(l);
    f.group(layer(l));
    f.attr(layer(l), "kind", std::string(to_string(p.spec.kind)));
    f.attr(layer(l), "activation", to_string(model.activation(l)));
    switch (p.spec.kind) {
      case LayerKind::Dense:  // PyTorch's nn.Linear.weight
        put<float>(f, layer(l) + "/weight", model.weight(l), {p.weight_rows, p.weight_cols});
        break;
      case LayerKind::Conv:  // PyTorch's nn.Conv2d.weight
        f.attr(layer(l), "kernel", n64(p.spec.k));
        f.attr(layer(l), "stride", n64(p.spec.stride));
        f.attr(layer(l), "padding", n64(p.conv.pad));
        put<float>(f, layer(l) + "/weight", model.weight(l), {p.conv.cout, p.conv.cin, p.spec.k, p.spec.k});
        break;
      case LayerKind::MaxPool:
      case LayerKind::AvgPool:
        f.attr(layer(l), "kernel", n64(p.spec.k));
        break;
    }
    if (p.biases) put<float>(f, layer(l) + "/bias", model.bias(l), {p.biases});
  }
  put<float>(f, "/data/offset", offset.data(), {offset.size()});
  put<float>(f, "/data/scale", scale.data(), {scale.size()});
  if (!st.data.feature_names.empty()) {  // one name per line
    std::string names;
    for (std::string n : st.data.feature_names) {  // a line break inside a quoted name becomes a space
      std::replace(n.begin(), n.end(), '\n', ' ');
      names += (names.empty() ? "" : "\n") + n;
    }
    f.attr("/data", "feature_names", names);
  }
  if (!st.data.task.empty()) f.attr("/data", "task", st.data.task);
  if (!st.data.target_offset.empty()) {
    put<float>(f, "/data/target_offset", st.data.target_offset.data(), {st.data.target_offset.size()});
    put<float>(f, "/data/target_scale", st.data.target_scale.data(), {st.data.target_scale.size()});
  }
  const OptimConfig& oc = opt.config();
  f.group("/optimizer");
  f.attr("/optimizer", "name", to_string(oc.kind));
  f.attr("/optimizer", "momentum", static_cast<double>(oc.momentum));
  f.attr("/optimizer", "beta1", static_cast<double>(oc.beta1));
  f.attr("/optimizer", "beta2", static_cast<double>(oc.beta2));
  f.attr("/optimizer", "eps", static_cast<double>(oc.eps));
  f.attr("/optimizer", "weight_decay", static_cast<double>(oc.weight_decay));
  f.attr("/optimizer", "step", static_cast<std::int64_t>(opt.steps()));
  for (auto& [name, span] : opt.state()) put<float>(f, "/optimizer/" + name, span.data(), {span.size()});
  f.group("/train");
  auto i64 = [&](const char* k, std::uint64_t v) { f.attr("/train", k, static_cast<std::int64_t>(v)); };
  i64("epoch", st.epoch);
  i64("position", st.position);
  i64("step", st.step);
  i64("bad_epochs", st.bad_epochs);
  i64("seed", st.seed);
  i64("world_size", st.world_size);
  f.attr("/train", "train_fingerprint", std::to_string(st.train_fingerprint));
  f.attr("/train", "test_fingerprint", std::to_string(st.test_fingerprint));
  f.attr("/train", "train_content_hash", std::to_string(st.train_content_hash));
  f.attr("/train", "epoch_loss_sum", st.epoch_loss_sum);
  f.attr("/train", "best_score", st.best_score);
  f.attr("/train", "prev_train_loss", st.prev_train_loss);
  f.attr("/train", "elapsed_s", st.elapsed_s);
  f.attr("/train", "config", st.config);
  f.attr("/train", "resume_key", st.resume_key);
  f.attr("/train", "lr_schedule", st.lr_schedule);
  f.attr("/train", "rng", std::string("counter-based: every draw is a function of (seed, epoch, step, sample)"));
  f.group("/meta");
  f.attr("/meta", "format_version", kCheckpointFormat);
  f.attr("/meta", "program", std::string("bptrain"));
  f.attr("/meta", "program_version", std::string(BPT_VERSION));
  f.attr("/meta", "created", now_utc());
  f.flush();
}

}  // namespace

void write_checkpoint(const std::string& path, const Model& model, Optimizer& opt, const std::vector<float>& offset,
                      const std::vector<float>& scale, const TrainState& st, std::size_t keep) {
  // Never replace a good checkpoint with weights that blew up.
  for (std::size_t i = 0; i < model.num_params(); ++i)
    if (!std::isfinite(model.params()[i]))
      throw NumericError(path + ": not written: the weights hold a NaN or infinite value (parameter " + std::to_string(i) + ")");
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::error_code ec;
  const fs::path dir = fs::absolute(path).parent_path();
  // On any failure the temporary file goes (it would hold the space that was missing), the message
  // says why as the OS says it, and `path` is not touched.
  errno = 0;
  const PartialFile partial(tmp);  // removed by a second Ctrl-C's handler if it ends the rank mid-write
  try {
    write_to(tmp, model, opt, offset, scale, st);
    if (!fsync_path(tmp, false)) throw Error(tmp + ": fsync failed");
  } catch (const std::exception& e) {
    const int err = errno;
    fs::remove(tmp, ec);
    double need = 4.0 * double(model.num_params());
    for (auto& [name, span] : opt.state()) need += 4.0 * double(span.size());
    throw Error(path + ": not written: " + os_reason(err, dir.string(), need) + e.what() +
                " (the previous checkpoint, if any, is untouched)");
  }
  // Keep older ones: path.(k-1) <- ... <- path.1 <- path, by hard links, so `path` never goes missing.
  if (keep > 1 && fs::exists(path, ec)) {
    for (std::size_t k = keep - 1; k > 1; --k) {
      const std::string from = path + "." + std::to_string(k - 1), to = path + "." + std::to_string(k);
      if (fs::exists(from, ec)) fs::rename(from, to, ec);
    }
    fs::remove(path + ".1", ec);
    fs::create_hard_link(path, path + ".1", ec);
    if (ec) fs::copy_file(path, path + ".1", fs::copy_options::overwrite_existing, ec);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    fs::remove(tmp, ec);
    throw Error(path + ": cannot rename the new checkpoint into place (" + std::strerror(err) + ")");
  }
  fsync_path(dir.string(), true);
  // Temporary files left by writers that were killed mid-write (their pid is gone) are garbage.
  const std::string stem = fs::path(path).filename().string() + ".tmp.";
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(stem, 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + stem.size(), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove(e.path(), ec);
  }
}

namespace {

// Reads one checkpoint file, part by part; every check that fails names the file (bad()).
struct Reader {
  std::string path;
  h5::File f;
  [[noreturn]] void bad(const std::string& what) const {
    throw Error(path + ": not a valid bptrain checkpoint: " + what);
  }

  // /meta and the layers' shapes: c.spec (within ModelLimits) and c's version fields.
  void header(Checkpoint& c) const;
  // The arrays: weights and biases, the input scaling, the optimizer and its state.
  void arrays(Checkpoint& c) const;
  // /train: where the run stood.
  void train_state(Checkpoint& c) const;
  // A dataset written as checkpoints are (chunked with Fletcher-32) and holding the count floats its
  // shape claims, so no allocation comes from an unbacked claim.
  void stored(const std::string& name, std::size_t count) const {
    if (!f.chunked_with_checksum(name)) bad(name + " is not stored chunked with a Fletcher-32 checksum");
    if (f.storage_bytes(name) < count * sizeof(float)) bad(name + " claims more data than the file stores");
  }
};

void Reader::header(Checkpoint& c) const {
  if (!f.has_attr("/meta", "program") || f.attr_str("/meta", "program") != "bptrain" || !f.exists("/model"))
    bad("no /model group, or /meta@program is not \"bptrain\"");
  if (!f.has_attr("/meta", "format_version")) bad("no /meta@format_version");
  const std::int64_t version = f.attr_i64("/meta", "format_version");
  if (version != kCheckpointFormat)
    bad("format version " + std::to_string(version) + ", this bptrain reads version " + std::to_string(kCheckpointFormat));
  c.program_version = f.attr_str("/meta", "program_version");
  c.created = f.attr_str("/meta", "created");
  const std::int64_t nl = f.attr_i64("/model", "num_layers");
  if (nl < 1 || static_cast<std::uint64_t>(nl) > ModelLimits::layers) bad("num_layers = " + std::to_string(nl));
  c.spec.loss = parse_loss(f.attr_str("/model", "loss"));
  // A whole number within the model limits, or the file is damaged.
  auto size_attr = [&](const std::string& obj, const char* name) {
    const std::int64_t v = f.attr_i64(obj, name);
    if (v < 1 || static_cast<std::uint64_t>(v) > ModelLimits::width) bad(obj + "@" + name + " = " + std::to_string(v));
    return static_cast<std::size_t>(v);
  };
  const std::size_t input_size = size_attr("/model", "input_size");
  // Written since convolutions came; a dense model's input is [input_size, 1, 1] before that.
  c.spec.input = f.has_attr("/model", "input_channels")
                     ? Shape{size_attr("/model", "input_channels"), size_attr("/model", "input_height"),
                             size_attr("/model", "input_width")}
                     : Shape{input_size, 1, 1};
  if (c.spec.input.size() != input_size) bad("/model input_size disagrees with its input shape");
  std::vector<Activation> acts;
  std::size_t features = input_size;  // into the layer being read
  for (std::size_t l = 0; l < static_cast<std::size_t>(nl); ++l) {
    LayerSpec ls;
    const std::string kind = f.has_attr(layer(l), "kind") ? f.attr_str(layer(l), "kind") : "dense";  // dense before kinds
    const h5::Info w = f.exists(layer(l) + "/weight") ? f.info(layer(l) + "/weight") : h5::Info{};
    const h5::Info b = f.exists(layer(l) + "/bias") ? f.info(layer(l) + "/bias") : h5::Info{};
    for (std::size_t d : w.dims)
      if (d == 0 || d > ModelLimits::width) bad(layer(l) + ": a shape past the model limits (model.hpp)");
    if (kind == "dense") {
      if (w.dims.size() != 2 || b.dims.size() != 1 || b.dims[0] != w.dims[0])
        bad(layer(l) + ": weight and bias shapes disagree");
      if (w.dims[1] != features)
        bad(layer(l) + " takes " + std::to_string(w.dims[1]) + " inputs but the layer before gives " + std::to_string(features));
      ls = {LayerKind::Dense, w.dims[0]};
    } else if (kind == "conv") {
      if (w.dims.size() != 4 || b.dims.size() != 1 || b.dims[0] != w.dims[0] || w.dims[2] != w.dims[3])
        bad(layer(l) + ": a convolution's weight must be [C_out, C_in, K, K] and its bias [C_out]");
      ls = {LayerKind::Conv, w.dims[0], w.dims[2], size_attr(layer(l), "stride")};
      const std::size_t pad = static_cast<std::size_t>(f.attr_i64(layer(l), "padding"));
      if (size_attr(layer(l), "kernel") != ls.k || (pad != 0 && pad != (ls.k - 1) / 2))
        bad(layer(l) + ": kernel or padding disagrees with the weight (padding is 0 or (K - 1) / 2)");
      ls.valid = pad == 0 && ls.k > 1;
    } else if (kind == "maxpool" || kind == "avgpool") {
      if (!w.dims.empty() || !b.dims.empty()) bad(layer(l) + ": pooling holds no weights");
      ls = {kind == "maxpool" ? LayerKind::MaxPool : LayerKind::AvgPool, 0, size_attr(layer(l), "kernel")};
    } else {
      bad(layer(l) + ": unknown kind '" + kind + "'");
    }
    c.spec.layers.push_back(ls);
    acts.push_back(parse_activation(f.attr_str(layer(l), "activation")));
    try {  // the shapes so far, as the model will plan them (a conv's C_in against what reaches it)
      ModelSpec partial = c.spec;
      partial.layers.push_back({LayerKind::Dense, 1});
      const std::vector<LayerPlan> plan = plan_layers(partial);
      const LayerPlan& p = plan[l];
      if (ls.kind == LayerKind::Conv && p.conv.cin != w.dims[1])
        bad(layer(l) + " takes " + std::to_string(w.dims[1]) + " channels but the layer before gives " +
            std::to_string(p.conv.cin));
      features = p.out.size();
    } catch (const Error& e) {
      if (std::string(e.what()).rfind(path, 0) == 0) throw;
      bad(e.what());
    }
  }
  try {
    check_limits(c.spec);
  } catch (const Error& e) {
    bad(e.what());
  }
  if (f.attr_i64("/model", "output_size") != static_cast<std::int64_t>(c.spec.outputs()))
    bad("/model output_size disagrees with the layers");
  if (acts.back() != Activation::Identity) bad("the output layer's activation must be identity");
  // One activation for every hidden dense or conv layer (pooling has none: identity). Files from
  // before /model@hidden_activation take it from the layers.
  bool given = f.has_attr("/model", "hidden_activation");
  if (given) c.spec.hidden = parse_activation(f.attr_str("/model", "hidden_activation"));
  for (std::size_t l = 0; l + 1 < acts.size(); ++l) {
    const LayerKind k = c.spec.layers[l].kind;
    if (k == LayerKind::MaxPool || k == LayerKind::AvgPool) continue;
    if (!given) c.spec.hidden = acts[l];
    else if (acts[l] != c.spec.hidden) bad("hidden layers with different activations");
    given = true;
  }
}

void Reader::arrays(Checkpoint& c) const {
  const std::vector<LayerPlan> plan = plan_layers(c.spec);  // header() checked it
  const std::size_t total = count_params(plan);
  for (std::size_t l = 0; l < plan.size(); ++l)
    if (plan[l].has_params()) {
      stored(layer(l) + "/weight", plan[l].weights());
      stored(layer(l) + "/bias", plan[l].biases);
    }
  c.params.resize(total);
  std::size_t at = 0;
  for (std::size_t l = 0; l < plan.size(); ++l) {
    if (!plan[l].has_params()) continue;
    const std::size_t nw = plan[l].weights(), nb = plan[l].biases;
    f.read<float>(layer(l) + "/weight", c.params.data() + at, nw);
    f.read<float>(layer(l) + "/bias", c.params.data() + at + nw, nb);
    at += nw + nb;
  }
  for (float v : c.params)
    if (!std::isfinite(v)) bad("the weights hold a NaN or infinite value");
  const std::size_t in = c.spec.inputs();
  auto floats = [&](const std::string& name, std::size_t n) {
    stored(name, n);
    std::vector<float> v(n);
    f.read<float>(name, v.data(), n);
    return v;
  };
  c.offset = floats("/data/offset", in);
  c.scale = floats("/data/scale", in);
  DataInfo& d = c.train.data;
  if (f.has_attr("/data", "feature_names")) {
    const std::string names = f.attr_str("/data", "feature_names");
    for (std::size_t at = 0; at <= names.size();) {
      const std::size_t nl = std::min(names.find('\n', at), names.size());
      d.feature_names.push_back(names.substr(at, nl - at));
      at = nl + 1;
    }
    if (d.feature_names.size() != in)
      bad("/data@feature_names names " + std::to_string(d.feature_names.size()) + " features, the model takes " +
          std::to_string(in));
  }
  if (f.has_attr("/data", "task")) {
    d.task = f.attr_str("/data", "task");
    if (d.task != "classification" && d.task != "regression") bad("/data@task is '" + d.task + "'");
  }
  if (f.exists("/data/target_offset")) {
    const std::size_t k = c.spec.outputs();
    d.target_offset = floats("/data/target_offset", k);
    d.target_scale = floats("/data/target_scale", k);
    for (std::size_t j = 0; j < k; ++j)
      if (!std::isfinite(d.target_offset[j]) || !std::isfinite(d.target_scale[j]) || d.target_scale[j] == 0)
        bad("/data/target_scale or target_offset holds a zero, NaN or infinite value");
  }
  c.optim.kind = parse_optimizer(f.attr_str("/optimizer", "name"));
  c.optim.momentum = static_cast<float>(f.attr_f64("/optimizer", "momentum"));
  c.optim.beta1 = static_cast<float>(f.attr_f64("/optimizer", "beta1"));
  c.optim.beta2 = static_cast<float>(f.attr_f64("/optimizer", "beta2"));
  c.optim.eps = static_cast<float>(f.attr_f64("/optimizer", "eps"));
  c.optim.weight_decay = static_cast<float>(f.attr_f64("/optimizer", "weight_decay"));
  c.optim_steps = static_cast<std::uint64_t>(f.attr_i64("/optimizer", "step"));
  Optimizer probe(c.optim, 0);  // which state tensors this optimizer has
  for (auto& [name, span] : probe.state()) {
    stored("/optimizer/" + name, total);
    std::vector<float> v(total);
    f.read<float>("/optimizer/" + name, v.data(), total);
    c.optim_state.emplace_back(name, std::move(v));
  }
}

void Reader::train_state(Checkpoint& c) const {
  TrainState& s = c.train;
  auto u64 = [&](const char* k) {
    std::int64_t v = f.attr_i64("/train", k);
    if (v < 0) bad(std::string("/train@") + k + " is negative");
    return static_cast<std::uint64_t>(v);
  };
  s.epoch = u64("epoch");
  s.position = u64("position");
  s.step = u64("step");
  s.bad_epochs = u64("bad_epochs");
  s.seed = u64("seed");
  s.world_size = u64("world_size");
  auto hash = [&](const char* k) {  // decimal digits only (std::stoull took "-1", spaces, and threw its own type)
    const std::string t = f.attr_str("/train", k);
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || ec != std::errc() || end != t.data() + t.size())
      bad(std::string("/train@") + k + " is not a whole number below 2^64");
    return v;
  };
  s.train_fingerprint = hash("train_fingerprint");
  s.test_fingerprint = hash("test_fingerprint");
  if (f.has_attr("/train", "train_content_hash")) s.train_content_hash = hash("train_content_hash");
  s.epoch_loss_sum = f.attr_f64("/train", "epoch_loss_sum");
  s.best_score = f.attr_f64("/train", "best_score");
  s.prev_train_loss = f.attr_f64("/train", "prev_train_loss");
  s.elapsed_s = f.attr_f64("/train", "elapsed_s");
  s.config = f.attr_str("/train", "config");
  s.resume_key = f.attr_str("/train", "resume_key");
  s.lr_schedule = f.attr_str("/train", "lr_schedule");
  if (c.optim_steps != s.step) bad("optimizer step " + std::to_string(c.optim_steps) + " != training step " + std::to_string(s.step));
}

Checkpoint read_checkpoint_unnamed(const std::string& path) {
  const Reader r{path, h5::File::open(path)};
  Checkpoint c;
  r.header(c);
  r.arrays(c);
  r.train_state(c);
  return c;
}

}  // namespace

Checkpoint read_checkpoint(const std::string& path) {
  try {
    return read_checkpoint_unnamed(path);
  } catch (const Error& e) {  // every message names the file (a parser's "unknown loss ''" does not)
    if (std::string(e.what()).rfind(path, 0) == 0) throw;
    throw Error(path + ": not a valid bptrain checkpoint: " + e.what());
  }
}

}  // namespace bpt
