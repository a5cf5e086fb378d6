// Output paths checked before a run: their folders take a file, and none of them is an input.
#include "bpt/data/paths.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include <filesystem>
#include <random>

#include "bpt/core/error.hpp"

namespace bpt {
namespace fs = std::filesystem;
namespace {

[[noreturn]] void fail(const std::string& what) { throw CollectiveError(what); }

}  // namespace

void check_outputs(const std::vector<OutputPath>& outputs, const std::vector<std::string>& inputs) {
  std::error_code ec;
  auto same = [&](const std::string& a, const std::string& b) {
    std::error_code e;
    if (fs::exists(a, e) && fs::exists(b, e)) return fs::equivalent(a, b, e);
    return fs::weakly_canonical(a, e) == fs::weakly_canonical(b, e);  // neither exists yet: by name
  };
  std::vector<std::string> probed;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const auto& [flag, path, may_replace] = outputs[i];
    const std::string what = flag + " " + path;
    if (fs::is_directory(path, ec)) fail(what + ": is a folder; give a file name");
    for (const std::string& in : inputs) {
      if (!may_replace.empty() && same(in, may_replace)) continue;
      if (fs::exists(path, ec) && fs::exists(in, ec) && fs::equivalent(path, in, ec))
        fail(what + ": is the input file " + in + "; writing it would destroy it");
    }
    for (std::size_t j = 0; j < i; ++j)
      if (same(path, outputs[j].path)) fail(what + ": is also " + outputs[j].flag + "'s file; give each output its own");
    if (fs::exists(path, ec) && ::access(path.c_str(), W_OK) != 0)
      fail(what + ": cannot be overwritten (" + std::strerror(errno) + ")");
    // The folder takes a new file: a probe created and removed, once per folder.
    fs::path dir = fs::path(path).parent_path();
    if (dir.empty()) dir = ".";
    if (!fs::exists(dir, ec)) fail(what + ": the folder " + dir.string() + " does not exist");
    if (!fs::is_directory(dir, ec)) fail(what + ": " + dir.string() + " is not a folder");
    const std::string key = fs::weakly_canonical(dir, ec).string();
    if (std::find(probed.begin(), probed.end(), key) != probed.end()) continue;
    probed.push_back(key);
    const std::string probe =
        (dir / (".bptrain-probe-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()))).string();
    const int fd = ::open(probe.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
    if (fd < 0) fail(what + ": cannot create a file in " + dir.string() + " (" + std::strerror(errno) + ")");
    ::close(fd);
    ::unlink(probe.c_str());
  }
}

namespace {
// The lock files this process holds, removed when it exits normally (a crash leaves one behind,
// which blocks nothing: the kernel dropped its lock).
std::vector<std::string>& held_locks() {
  static std::vector<std::string> paths;
  return paths;
}
void remove_held_locks() { remove_output_locks(); }
}  // namespace

void remove_output_locks() {
  for (const std::string& p : held_locks()) ::unlink(p.c_str());
  held_locks().clear();
}

void lock_outputs(const std::vector<OutputPath>& outputs, const std::string& host) {
  for (const OutputPath& o : outputs) {
    if (o.flag == "--keep") continue;  // the older checkpoints go with --checkpoint's lock
    const std::string lock = o.path + ".lock";
    for (int attempt = 0;; ++attempt) {
      const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0)
        throw CollectiveError(o.flag + " " + o.path + ": cannot create its lock file " + lock + " (" + std::strerror(errno) + ")");
      if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        char who[256] = {0};
        const ssize_t got = ::pread(fd, who, sizeof who - 1, 0);
        ::close(fd);
        std::string holder = got > 0 ? std::string(who, static_cast<std::size_t>(got)) : "";
        while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
        if (err != EWOULDBLOCK)
          throw CollectiveError(o.flag + " " + o.path + ": cannot lock " + lock + " (" + std::strerror(err) + ")");
        throw CollectiveError(o.flag + " " + o.path + ": another job is writing it (" +
                              (holder.empty() ? std::string("its host and pid unknown") : holder) + "; lock " + lock +
                              "): give this run another path");
      }
      // Locked, but the file may have been removed by its previous holder on its way out (then a third
      // job could lock a new file of that name): only the file the name still names counts.
      struct stat mine{}, named{};
      if (::fstat(fd, &mine) != 0 || ::stat(lock.c_str(), &named) != 0 || mine.st_ino != named.st_ino ||
          mine.st_dev != named.st_dev) {
        ::close(fd);
        if (attempt < 100) continue;
        throw CollectiveError(o.flag + " " + o.path + ": cannot lock " + lock + " (it keeps being replaced)");
      }
      const std::string me = "host " + host + ", pid " + std::to_string(::getpid()) + "\n";
      if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size())) {
        // The lock holds without the note; only the message to a second job loses the host and pid.
      }
      if (held_locks().empty()) std::atexit(remove_held_locks);
      held_locks().push_back(lock);  // fd stays open: the lock lasts as long as this process
      break;
    }
  }
}

}  // namespace bpt
