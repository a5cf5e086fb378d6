#pragma once
// Typed errors: library code throws bpt::Error; only main catches it.
#include <stdexcept>
#include <string>

namespace bpt {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Throws Error(msg) when cond is false. A function, not a macro: msg is built eagerly,
// so keep it to hot-path-free call sites.
inline void require(bool cond, const std::string& msg) {
  if (!cond) throw Error(msg);
}

}  // namespace bpt

namespace bpt {

// An error every rank detects at once (from data they all share, e.g. after an allgather):
// main prints it once, on rank 0, instead of once per rank.
class CollectiveError : public Error {
 public:
  explicit CollectiveError(const std::string& what) : Error(what) {}
};

}  // namespace bpt
