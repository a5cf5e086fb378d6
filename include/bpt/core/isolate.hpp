#pragma once
// Runs a read of an untrusted file in a child process first, so that a crash inside a library that
// parses it (libhdf5 1.10.8 reads out of bounds on some damaged files: tests/fuzz/known-libhdf5)
// becomes one clear error instead of a segmentation fault.
#include <functional>
#include <memory>
#include <string>

namespace bpt {

// Forks; the child runs f and leaves with _exit (0, or 1 if f threw: the parent's own read then
// reports the problem with its usual message). If the child dies by a signal, throws
// CollectiveError (exit 2) "FILE: <what> crashed reading it (signal): the file is damaged".
// Requires: no other thread holds a lock f needs (call it before reading threads start), and f
// calls no MPI. Does nothing but run f where fork is unavailable (the SMPI build: every rank is a
// thread of one simulator process).
void check_in_child(const std::string& file, const std::string& what, const std::function<void()>& f);

// While alive, a crash (SIGSEGV, SIGBUS) ends the process at once with `line` on stderr and exit 2:
// the fallback where a damaged file's out-of-bounds read did not crash check_in_child's child but
// crashes this read. Guards nest (the innermost speaks; the one outside it again once it goes), but
// belong to one thread at a time: the handlers and the line are the process's.
class CrashGuard {
 public:
  explicit CrashGuard(const std::string& line);
  ~CrashGuard();
  CrashGuard(const CrashGuard&) = delete;
  CrashGuard& operator=(const CrashGuard&) = delete;

 private:
  struct Saved;  // the handlers and the line this guard replaced
  std::unique_ptr<Saved> saved_;
};

}  // namespace bpt
