#pragma once
// The file a rank is writing now and would leave half-written if killed (a checkpoint's temporary),
// named so that a signal handler can remove it on the way out: a second Ctrl-C ends a rank at once
// and must not leave a checkpoint-sized ck.h5.tmp.<pid> behind. One at a time per process.
#include <string>

namespace bpt {

void set_partial_file(const std::string& path);  // paths longer than 4,095 bytes are not registered
void clear_partial_file();
// Async-signal-safe: unlinks the registered file, if any.
void remove_partial_file() noexcept;

// Clears the registration when the write finishes or throws.
struct PartialFile {
  explicit PartialFile(const std::string& path) { set_partial_file(path); }
  ~PartialFile() { clear_partial_file(); }
  PartialFile(const PartialFile&) = delete;
  PartialFile& operator=(const PartialFile&) = delete;
};

}  // namespace bpt
