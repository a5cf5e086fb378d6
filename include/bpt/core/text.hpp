#pragma once
// One number printed with a printf format ("%.4f", "%.9g"), as a string.
#include <cstdio>
#include <string>

namespace bpt {

inline std::string format_number(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

}  // namespace bpt
