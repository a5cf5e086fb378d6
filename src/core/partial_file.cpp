#include "bpt/core/partial_file.hpp"

#include <unistd.h>

#include <csignal>
#include <cstring>

namespace bpt {
namespace {
char g_path[4096];
volatile std::sig_atomic_t g_set = 0;
}  // namespace

void set_partial_file(const std::string& path) {
  g_set = 0;
  if (path.size() >= sizeof g_path) return;
  std::memcpy(g_path, path.c_str(), path.size() + 1);
  g_set = 1;
}

void clear_partial_file() { g_set = 0; }

void remove_partial_file() noexcept {
  if (g_set) ::unlink(g_path);
}

}  // namespace bpt
