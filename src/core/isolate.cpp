#include "bpt/core/isolate.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "bpt/core/error.hpp"

namespace bpt {

void check_in_child(const std::string& file, const std::string& what, const std::function<void()>& f) {
#ifdef BPT_NO_FORK
  (void)file;
  (void)what;
  (void)f;
  return;
#else
  const pid_t pid = ::fork();
  if (pid < 0) return;  // no child to spare: the parent's read goes ahead unguarded
  if (pid == 0) {
    // The default action for a crash: no inherited handler (MPI's prints a backtrace) speaks for it.
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) std::signal(sig, SIG_DFL);
    int code = 0;
    try {
      f();
    } catch (...) {
      code = 1;
    }
    ::_exit(code);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    throw CollectiveError(file + ": " + what + " crashed reading it (" + ::strsignal(WTERMSIG(status)) +
                          "): the file is damaged");
#endif
}

namespace {

// What the crash handler may touch: a line prepared beforehand.
char g_line[2048];
std::size_t g_len = 0;
constexpr int kSignals[2] = {SIGSEGV, SIGBUS};

extern "C" void on_crash(int) {
  if (::write(2, g_line, g_len) < 0) {
  }
  ::_exit(2);
}

}  // namespace

struct CrashGuard::Saved {
  struct sigaction old[2];
  std::string line;
};

CrashGuard::CrashGuard(const std::string& line) : saved_(std::make_unique<Saved>()) {
  saved_->line.assign(g_line, g_len);
  g_len = std::min(line.size(), sizeof g_line - 1);
  std::memcpy(g_line, line.data(), g_len);
  if (g_len == 0 || g_line[g_len - 1] != '\n') g_line[g_len++] = '\n';
  struct sigaction sa {};
  sa.sa_handler = on_crash;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < 2; ++i) ::sigaction(kSignals[i], &sa, &saved_->old[i]);
}

CrashGuard::~CrashGuard() {
  // The outer guard's line first, then its handlers (or whatever was there before any guard).
  std::memcpy(g_line, saved_->line.data(), saved_->line.size());
  g_len = saved_->line.size();
  for (int i = 0; i < 2; ++i) ::sigaction(kSignals[i], &saved_->old[i], nullptr);
}

}  // namespace bpt
