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
  // Set by agree_on_errors() (comm module) once every rank has compared its outcome: where() names
  // the ranks the message concerns ("on ranks 3, 5 (2 of 8)"), and only the rank that speaks for
  // them prints it. Not agreed: every rank saw it, and rank 0 speaks for all.
  bool agreed() const { return agreed_; }
  bool speaks() const { return speaks_; }
  const std::string& where() const { return where_; }
  CollectiveError agreed_as(bool speaks, std::string where) const {
    CollectiveError e(*this);
    e.mark_agreed(speaks, std::move(where));
    return e;
  }
  // Raised by every rank at the same point from figures they all share (the result of a collective
  // every rank took part in): agreed without another collective, rank 0 speaking, so that main ends
  // the job through MPI_Finalize, not an MPI_Abort that can lose the line (MPICH's Hydra did).
  CollectiveError agreed_by_all(int rank, int ranks) const {
    CollectiveError e(*this);
    e.mark_agreed(rank == 0, all_ranks(ranks));
    return e;
  }
  // How an error every rank saw is placed: "(all N ranks)", nothing in a one-rank job.
  static std::string all_ranks(int ranks) { return ranks > 1 ? "(all " + std::to_string(ranks) + " ranks)" : ""; }

 protected:
  void mark_agreed(bool speaks, std::string where) {
    agreed_ = true;
    speaks_ = speaks;
    where_ = std::move(where);
  }

 private:
  int exit_code_;
  bool agreed_ = false, speaks_ = false;
  std::string where_;
};

// The loss or the gradients stopped being finite (a collective verdict: every rank sees it).
class NumericError : public CollectiveError {
 public:
  explicit NumericError(const std::string& what) : CollectiveError(what, 3) {}
  // As CollectiveError::agreed_by_all (from the step's vote; MPICH lost the line 4 times in 30).
  NumericError agreed_by_all(int rank, int ranks) const {
    NumericError e(*this);
    e.mark_agreed(rank == 0, all_ranks(ranks));
    return e;
  }
};

}  // namespace bpt
