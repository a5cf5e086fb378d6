#include <charconv>
#include <cmath>
#include <fstream>

#include "bpt/core/error.hpp"
#include "bpt/data/dataset.hpp"

namespace bpt {
namespace {

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> f;
  std::size_t at = 0;
  while (true) {
    std::size_t c = line.find(',', at);
    std::string_view s = line.substr(at, c == std::string_view::npos ? std::string_view::npos : c - at);
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    f.push_back(s);
    if (c == std::string_view::npos) break;
    at = c + 1;
  }
  return f;
}

// Parses a finite number; false if the field is not one.
bool parse_number(std::string_view s, double& v) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

Dataset load_csv(const std::string& path, const LoadOptions& opt) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": file not found or not readable");
  Dataset ds;
  ds.source = path;
  ds.raw_bytes = false;
  std::vector<std::string> header;
  std::vector<double> labels;
  std::string line;
  std::size_t lineno = 0, cols = 0, label_col = 0;
  bool first = true;
  while (std::getline(in, line)) {
    ++lineno;
    auto f = split(line);
    if (f.size() == 1 && f[0].empty()) continue;  // blank line
    if (first) {
      first = false;
      cols = f.size();
      if (cols < 2) throw Error(path + ": line " + std::to_string(lineno) + ": need at least one feature and a label");
      bool numeric = true;
      double v;
      for (auto s : f) numeric = numeric && parse_number(s, v);
      if (!numeric) {  // a header: names the columns
        for (auto s : f) header.emplace_back(s);
      }
      if (opt.label_column.empty()) {
        label_col = cols - 1;
      } else {
        auto it = std::find(header.begin(), header.end(), opt.label_column);
        if (it != header.end()) {
          label_col = static_cast<std::size_t>(it - header.begin());
        } else {
          double idx;
          if (!parse_number(opt.label_column, idx) || idx < 0 || idx != std::floor(idx) || idx >= double(cols))
            throw Error(path + ": --label-column '" + opt.label_column + "' is neither a column name nor an index in [0, " +
                        std::to_string(cols) + ")");
          label_col = static_cast<std::size_t>(idx);
        }
      }
      ds.d = cols - 1;
      if (!header.empty()) continue;
    }
    if (f.size() != cols)
      throw Error(path + ": line " + std::to_string(lineno) + ": " + std::to_string(f.size()) + " fields, expected " +
                  std::to_string(cols));
    for (std::size_t c = 0; c < cols; ++c) {
      double v;
      if (!parse_number(f[c], v))
        throw Error(path + ": line " + std::to_string(lineno) + ", column " + std::to_string(c + 1) + ": '" +
                    std::string(f[c].substr(0, 40)) + "' is not a number");
      if (!std::isfinite(v) || std::fabs(v) > 3.4e38)
        throw Error(path + ": line " + std::to_string(lineno) + ", column " + std::to_string(c + 1) +
                    ": value is not finite in float32");
      if (c == label_col)
        labels.push_back(v);
      else
        ds.xf.push_back(static_cast<float>(v));
    }
  }
  if (in.bad()) throw Error(path + ": read error");
  if (labels.empty()) throw Error(path + ": empty dataset (no data rows)");
  ds.n = labels.size();
  bool integral = true;
  for (double v : labels) integral = integral && v >= 0 && v == std::floor(v) && v < 65536;
  if (opt.task == Task::Classification && !integral)
    throw Error(path + ": --task classification needs labels that are integers in [0, 65536)");
  if (opt.task == Task::Regression || (opt.task == Task::Auto && !integral)) {
    ds.target_dim = 1;
    ds.targets.assign(labels.begin(), labels.end());
  } else {
    ds.labels.reserve(ds.n);
    for (double v : labels) ds.labels.push_back(static_cast<std::int32_t>(v));
    ds.classes = 1 + static_cast<std::size_t>(*std::max_element(ds.labels.begin(), ds.labels.end()));
  }
  ds.set_default_transform();
  return ds;
}

}  // namespace bpt
