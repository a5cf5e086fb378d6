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
  explicit CollectiveError(const std::string& what, int exit_code = 2) : Error(what), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// The loss or the gradients stopped being finite (a collective verdict: every rank sees it).
class NumericError : public CollectiveError {
 public:
  explicit NumericError(const std::string& what) : CollectiveError(what, 3) {}
};

}  // namespace bpt
