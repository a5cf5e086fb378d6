// CSV: RFC 4180 records (quoted fields, "" for a quote, line breaks inside quotes), a UTF-8 byte-order
// mark skipped, the separator given or detected from the first line, errors by line and column.
#include <charconv>
#include <cmath>
#include <fstream>

#include "bpt/core/error.hpp"
#include "bpt/data/dataset.hpp"

namespace bpt {
namespace {

std::string name_of(char delim) {
  if (delim == '\t') return "tab";
  return std::string("'") + delim + "'";
}

// Reads records one at a time. A field's surrounding blanks are dropped (outside quotes), and so is a
// trailing '\r' (CRLF files).
class CsvReader {
 public:
  CsvReader(std::istream& in, const std::string& path) : in_(in), path_(path) {}
  // The separator: given, or the candidate that occurs most often outside quotes on the first line
  // that is not blank (a comma when none does). Call before the first next().
  void set_delimiter(char d) {
    if (d) {
      delim_ = d;
      return;
    }
    const std::streampos at = in_.tellg();
    std::string line;
    while (std::getline(in_, line)) {
      strip_bom(line);
      if (line.find_first_not_of(" \t\r") != std::string::npos) break;
    }
    std::size_t best = 0;
    for (char c : {',', ';', '\t', '|'}) {
      std::size_t k = 0;
      bool quoted = false;
      for (char ch : line) {
        if (ch == '"') quoted = !quoted;
        else if (ch == c && !quoted) ++k;
      }
      if (k > best) best = k, delim_ = c;
    }
    in_.clear();
    in_.seekg(at);
    first_ = true;
  }
  char delimiter() const { return delim_; }
  // The next record's fields (false at the end). line(): the line it starts on.
  bool next(std::vector<std::string>& f) {
    std::string line;
    f.clear();
    while (true) {  // skip blank lines
      if (!std::getline(in_, line)) return false;
      ++lineno_;
      if (first_) strip_bom(line), first_ = false;
      if (line.find_first_not_of(" \t\r") != std::string::npos) break;
    }
    start_ = lineno_;
    std::string cur;
    bool quoted = false, was_quoted = false;
    std::size_t i = 0;
    while (true) {
      if (i == line.size()) {
        if (!quoted) break;
        // A line break inside quotes belongs to the field.
        if (!std::getline(in_, line)) throw Error(where(start_) + ": a quoted field is not closed before the end of the file");
        ++lineno_;
        cur += '\n';
        i = 0;
        continue;
      }
      const char ch = line[i++];
      if (quoted) {
        if (ch != '"') {
          cur += ch;
        } else if (i < line.size() && line[i] == '"') {
          cur += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else if (ch == '"' && trim(cur).empty() && !was_quoted) {
        cur.clear();
        quoted = was_quoted = true;
      } else if (ch == delim_) {
        f.push_back(was_quoted ? cur : std::string(trim(cur)));
        cur.clear();
        was_quoted = false;
      } else if (was_quoted && ch != ' ' && ch != '\t' && ch != '\r') {
        throw Error(where(lineno_) + ", column " + std::to_string(f.size() + 1) + ": text after a closing quote");
      } else if (!was_quoted) {
        cur += ch;
      }
    }
    f.push_back(was_quoted ? cur : std::string(trim(cur)));
    return true;
  }
  std::size_t line() const { return start_; }
  std::string where(std::size_t line) const { return path_ + ": line " + std::to_string(line); }

 private:
  static void strip_bom(std::string& s) {
    if (s.rfind("\xEF\xBB\xBF", 0) == 0) s.erase(0, 3);
  }
  static std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
  }

  std::istream& in_;
  const std::string& path_;
  char delim_ = ',';
  bool first_ = true;
  std::size_t lineno_ = 0, start_ = 0;
};

// Parses a finite number; false if the field is not one.
bool parse_number(std::string_view s, double& v) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// A first line of numbers that counts the columns, 0, 1, 2, ... or 1, 2, 3, ... (pandas' and numpy's
// default column names): a header, not a sample.
bool counts_columns(const std::vector<std::string>& f) {
  for (int base : {0, 1}) {
    bool all = true;
    for (std::size_t c = 0; c < f.size() && all; ++c) all = f[c] == std::to_string(c + static_cast<std::size_t>(base));
    if (all) return true;
  }
  return false;
}

}  // namespace

Dataset load_csv(const std::string& path, const LoadOptions& opt) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": file not found or not readable");
  CsvReader rd(in, path);
  rd.set_delimiter(opt.delimiter);
  const char delim = rd.delimiter();
  Dataset ds;
  ds.source = path;
  ds.raw_bytes = false;
  std::vector<std::string> header, f;
  std::vector<double> labels;
  std::size_t cols = 0, label_col = 0;
  bool first = true, unlabeled = false;
  while (rd.next(f)) {
    const std::size_t lineno = rd.line();
    if (first) {
      first = false;
      cols = f.size();
      unlabeled = opt.unlabeled_columns && cols == opt.unlabeled_columns;
      if (cols < 2 && !unlabeled)
        throw Error(rd.where(lineno) + ": one field with the separator " + name_of(delim) +
                    "; need at least one feature and a label (--csv-delimiter sets the separator)");
      bool numeric = true;
      double v;
      for (const auto& s : f) numeric = numeric && parse_number(s, v);
      const bool is_header = opt.header == CsvHeader::Yes || (opt.header == CsvHeader::Auto && (!numeric || counts_columns(f)));
      if (is_header) header = f;
      if (opt.header == CsvHeader::Auto) {
        std::string line;
        for (const auto& name : f) line += (line.empty() ? "" : std::string(1, delim)) + name;
        if (line.size() > 60) line = line.substr(0, 57) + "...";
        ds.header_note = path + (is_header ? ": first line taken as a header: " + line + " (--csv-header no if it is data)"
                                           : ": no header line (--csv-header yes if the first line, " + line +
                                                 ", names the columns)");
      }
      if (unlabeled) {
        label_col = cols;  // none: every column is a feature
      } else if (opt.label_column.empty()) {
        label_col = cols - 1;
      } else {
        auto it = std::find(header.begin(), header.end(), opt.label_column);
        if (it != header.end()) {
          label_col = static_cast<std::size_t>(it - header.begin());
        } else {
          double idx;
          if (!parse_number(opt.label_column, idx) || idx < 0 || idx != std::floor(idx) || idx >= double(cols))
            throw Error(path + ": --label-column '" + opt.label_column + "' is neither a column name nor an index in [0, " +
                        std::to_string(cols) + ")" + (header.empty() ? " (the file has no header line)" : ""));
          label_col = static_cast<std::size_t>(idx);
        }
      }
      ds.d = unlabeled ? cols : cols - 1;
      for (std::size_t c = 0; c < header.size(); ++c)
        if (c != label_col) ds.feature_names.push_back(header[c]);
      if (is_header) continue;
    }
    if (f.size() != cols)
      throw Error(rd.where(lineno) + ": " + std::to_string(f.size()) + " fields, expected " + std::to_string(cols) +
                  " (separator " + name_of(delim) + ")");
    for (std::size_t c = 0; c < cols; ++c) {
      double v;
      if (!parse_number(f[c], v)) {
        std::string what = rd.where(lineno) + ", column " + std::to_string(c + 1) + ": '" + f[c].substr(0, 40) + "' is not a number";
        if (c == label_col && opt.task != Task::Regression)
          what += " (class labels must be the integers 0, 1, ..., K-1: map class names to them first)";
        else if (delim != ',' && f[c].find(',') != std::string::npos)
          what += " (bptrain reads '.' as the decimal point)";
        else if (opt.header == CsvHeader::No && labels.empty())
          what += " (--csv-header auto or yes if this line names the columns)";
        throw Error(what);
      }
      if (!std::isfinite(v) || std::fabs(v) > 3.4e38)
        throw Error(rd.where(lineno) + ", column " + std::to_string(c + 1) + ": value is not finite in float32");
      if (c == label_col)
        labels.push_back(v);
      else
        ds.xf.push_back(static_cast<float>(v));
    }
  }
  if (in.bad()) throw Error(path + ": read error");
  if (unlabeled) {  // the model's inputs only: predictions, no scores
    if (ds.xf.empty()) throw Error(path + ": empty dataset (no data rows)");
    ds.unlabeled = true;
    ds.n = ds.xf.size() / ds.d;
    ds.set_default_transform();
    return ds;
  }
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
