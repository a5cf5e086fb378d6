// The configuration as text: what ranks must agree on (canonical), what a resume must match
// (resume_key), and the differences between two such texts, named as flags.
#include "bpt/train/config.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "bpt/core/text.hpp"

namespace bpt {
namespace {

using Settings = std::vector<std::pair<std::string, std::string>>;

// Settings that decide the trajectory of the weights: a resume must match them.
Settings trajectory_settings(const Config& c) {
  auto g = [](double v) { return format_number("%.9g", v); };
  // An MLP's layers as --hidden gives them, so that checkpoints from before --layers still resume.
  Settings s = {{dense_only(c.layers) ? "hidden" : "layers", layers_text(c.layers)},
                {"activation", to_string(c.activation)},
                {"loss", to_string(c.loss)},
                {"init", to_string(c.init)},
                {"dropout", g(c.dropout)},
                {"optimizer", to_string(c.optim.kind)},
                {"momentum", g(c.optim.momentum)},
                {"beta1", g(c.optim.beta1)},
                {"beta2", g(c.optim.beta2)},
                {"eps", g(c.optim.eps)},
                {"weight-decay", g(c.optim.weight_decay)},
                {"lr", g(c.lr)},
                {"lr-schedule", to_string(c.lr_schedule)},
                {"lr-warmup-epochs", g(c.warmup_epochs_lr)},
                {"lr-step-epochs", std::to_string(c.lr_step_epochs)},
                {"lr-gamma", g(c.lr_gamma)},
                {"clip-grad-norm", g(c.clip_grad_norm)},
                {"batch-size", std::to_string(c.batch_size)},
                {"seed", std::to_string(c.seed)},
                {"normalize", to_string(c.normalize)},
                {"val-fraction", g(c.val_fraction)},
                // as the user gave it (auto when --loss mse chose regression): older checkpoints resume
                {"task", to_string(c.task_from_loss ? Task::Auto : c.load.task)},
                {"scale-lr", c.scale_lr_linear ? "linear" : "none"},
                {"warmup-epochs", g(c.warmup_epochs)},
                {"deterministic", c.deterministic ? "on" : "off"},
                {"micro-shards", std::to_string(c.micro_shards)}};
  if (c.optim.kind == OptKind::Lars) s.emplace_back("trust-coef", g(c.optim.trust_coef));
  // Only when used, so that checkpoints from before the flag still resume.
  if (c.input_dropout > 0) s.emplace_back("input-dropout", g(c.input_dropout));
  if (c.label_smoothing > 0) s.emplace_back("label-smoothing", g(c.label_smoothing));
  if (c.augment_shift > 0) s.emplace_back("augment-shift", std::to_string(c.augment_shift));
  if (c.augment_flip) s.emplace_back("augment-flip", "on");
  if (c.grad_bf16) s.emplace_back("grad-compression", "bf16");
  if (c.targets_scaled) s.emplace_back("normalize-targets", "standard");
  if (c.input_shape.size() > 0)
    s.emplace_back("input-shape", std::to_string(c.input_shape.c) + "," + std::to_string(c.input_shape.h) + "," +
                                      std::to_string(c.input_shape.w));
  // The cosine schedule decays over all epochs, so there they shape the trajectory too.
  if (c.lr_schedule == LrKind::Cosine) s.emplace_back("epochs", std::to_string(c.epochs));
  return s;
}

std::string join(const Settings& s) {
  std::string out;
  for (auto& [k, v] : s) out += k + "=" + v + ";";
  return out;
}

Settings parse(const std::string& text) {
  Settings s;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t semi = text.find(';', at), eq = text.find('=', at);
    if (semi == std::string::npos || eq == std::string::npos || eq > semi) break;
    s.emplace_back(text.substr(at, eq - at), text.substr(eq + 1, semi - eq - 1));
    at = semi + 1;
  }
  return s;
}

}  // namespace

std::string Config::best_checkpoint() const {
  const std::string ext = ".h5";
  const bool h5 = checkpoint.size() > ext.size() && checkpoint.compare(checkpoint.size() - ext.size(), ext.size(), ext) == 0;
  return (h5 ? checkpoint.substr(0, checkpoint.size() - ext.size()) : checkpoint) + ".best.h5";
}

std::string Config::resume_key() const { return join(trajectory_settings(*this)); }

std::string upgrade_resume_key(std::string key) {
  // Before 2026-12-05 the task was written as its number.
  static const char* const names[] = {"auto", "classification", "regression"};
  for (int t = 0; t < 3; ++t) {
    const std::string old = ";task=" + std::to_string(t) + ";";
    if (const std::size_t at = key.find(old); at != std::string::npos)
      key.replace(at, old.size(), std::string(";task=") + names[t] + ";");
  }
  return key;
}

std::string Config::canonical() const {
  Settings s = trajectory_settings(*this);
  s.insert(s.end(), {{"train", train},
                     {"test", test},
                     {"format", to_string(load.format)},
                     {"label-column", load.label_column},
                     {"stream", load.stream ? "on" : "off"},
                     {"csv-delimiter", delimiter_name(load.delimiter)},
                     {"csv-header", to_string(load.header)},
                     {"reducer", to_string(reducer)},
                     {"accumulate", std::to_string(accumulate)},
                     {"epochs", std::to_string(epochs)},
                     {"patience", std::to_string(patience)},
                     {"min-delta", format_number("%.9g", min_delta)},
                     {"tol", format_number("%.9g", tol)},
                     {"max-steps", std::to_string(max_steps)},
                     {"checkpoint", checkpoint},
                     {"checkpoint-every", std::to_string(checkpoint_every)},
                     {"checkpoint-every-epochs", std::to_string(checkpoint_every_epochs)},
                     {"keep-best", keep_best ? "on" : "off"},
                     {"stall-timeout", format_number("%.9g", stall_timeout)}});
  return join(s);
}

std::optional<std::string> setting_of(const std::string& text, const std::string& key) {
  for (auto& [k, v] : parse(text))
    if (k == key) return v;
  return std::nullopt;
}

std::string diff_settings(const std::string& then, const std::string& now) {
  Settings a = parse(then), b = parse(now);
  auto value = [](const Settings& s, const std::string& k) {
    auto it = std::find_if(s.begin(), s.end(), [&](auto& p) { return p.first == k; });
    return it == s.end() ? std::string("(absent)") : it->second;
  };
  std::string out;
  auto name = [&](const std::string& k, const std::string& old, const std::string& v) {
    if (!out.empty()) out += ", ";
    out += "--" + k + " " + old + " in the checkpoint, " + v + " now";
  };
  for (auto& [k, v] : b)
    if (const std::string old = value(a, k); old != v) name(k, old, v);
  for (auto& [k, v] : a)  // a setting written only when used (e.g. --input-dropout), not used now
    if (value(b, k) == "(absent)") name(k, v, "(absent)");
  return out.empty() ? "(none found)" : out;
}

bool dense_only(const std::vector<LayerSpec>& layers) {
  return std::all_of(layers.begin(), layers.end(), [](const LayerSpec& l) { return l.kind == LayerKind::Dense; });
}

std::string layers_text(const std::vector<LayerSpec>& layers) {
  const bool mlp = dense_only(layers);
  std::string out;
  for (const LayerSpec& l : layers) {
    if (!out.empty()) out += ',';
    out += mlp ? std::to_string(l.units) : to_string(l);
  }
  return out;
}

ModelSpec model_spec(const Config& c, Shape data_shape, std::size_t features, std::size_t outputs) {
  ModelSpec s;
  s.input = {features, 1, 1};
  if (!dense_only(c.layers)) {
    if (c.input_shape.size() > 0) s.input = c.input_shape;
    else if (data_shape.size() > 0) s.input = data_shape;
  }
  s.layers = c.layers;
  s.layers.push_back({LayerKind::Dense, outputs});
  s.hidden = c.activation;
  s.loss = c.loss;
  return s;
}

std::string describe(const ModelSpec& spec) {
  return describe_layers(spec) + " " + to_string(spec.hidden) + " " + to_string(spec.loss);
}

}  // namespace bpt
