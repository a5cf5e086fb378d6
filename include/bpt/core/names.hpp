#pragma once
// An enum's names, written once as a table: the first row of a value gives its name (to_string, flags,
// checkpoints), later rows of the same value are accepted spellings. parse_name and name_of read it.
#include <cstddef>
#include <string>
#include <string_view>

#include "bpt/core/error.hpp"

namespace bpt {

template <class E>
struct NameOf {
  E value;
  const char* name;
};

// The value named s; throws Error("unknown <what> 's' (expected a, b, c)"), listing each value's name once.
template <class E, std::size_t N>
E parse_name(const NameOf<E> (&table)[N], std::string_view s, const char* what) {
  for (const NameOf<E>& row : table)
    if (s == row.name) return row.value;
  std::string names;
  for (std::size_t i = 0; i < N; ++i) {
    bool first = true;  // a value's own name, not a synonym
    for (std::size_t j = 0; j < i; ++j) first = first && table[j].value != table[i].value;
    if (first) names += (names.empty() ? "" : ", ") + std::string(table[i].name);
  }
  throw Error("unknown " + std::string(what) + " '" + std::string(s) + "' (expected " + names + ")");
}

template <class E, std::size_t N>
const char* name_of(const NameOf<E> (&table)[N], E v) {
  for (const NameOf<E>& row : table)
    if (row.value == v) return row.name;
  return "?";
}

}  // namespace bpt
