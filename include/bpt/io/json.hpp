#pragma once
// One JSON object on one line (metrics files, --evaluate output). Numbers that are not finite
// are written as null, since JSON has no NaN.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace bpt {

class JsonLine {
 public:
  JsonLine& add(std::string_view key, double v) {
    char buf[32];
    if (std::isfinite(v))
      std::snprintf(buf, sizeof buf, "%.9g", v);
    else
      std::snprintf(buf, sizeof buf, "null");
    return raw(key, buf);
  }
  JsonLine& add(std::string_view key, std::int64_t v) { return raw(key, std::to_string(v)); }
  JsonLine& add(std::string_view key, std::uint64_t v) { return raw(key, std::to_string(v)); }
  JsonLine& add(std::string_view key, int v) { return raw(key, std::to_string(v)); }
  JsonLine& add(std::string_view key, bool v) { return raw(key, v ? "true" : "false"); }
  JsonLine& add(std::string_view key, std::string_view v) { return raw(key, quote(v)); }
  JsonLine& add(std::string_view key, const char* v) { return add(key, std::string_view(v)); }
  // v is already JSON (an array, a nested object).
  JsonLine& raw(std::string_view key, std::string_view v) {
    body_ += body_.empty() ? "{" : ",";
    body_ += quote(key);
    body_ += ':';
    body_ += v;
    return *this;
  }
  std::string str() const { return body_.empty() ? "{}" : body_ + "}"; }

  static std::string quote(std::string_view s) {
    std::string q = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') {
        q += '\\';
        q += c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        q += buf;
      } else {
        q += c;
      }
    }
    return q + "\"";
  }

 private:
  std::string body_;
};

}  // namespace bpt
