// Waiting for a change in a directory without busy polling: inotify on
// Linux. Not part of the FileSystem seam (it reads nothing): on a path the
// kernel cannot watch (the simulated filesystem, some network filesystems,
// where another host's writes raise no event) it degrades to a sleep of
// the timeout, so callers always get a poll interval as the fallback.
#pragma once

#include <cstdint>
#include <string>

namespace prevayler::detail {

class DirectoryWatch {
 public:
  // Watches `directory` when it can; never throws.
  explicit DirectoryWatch(const std::string& directory);
  ~DirectoryWatch();
  DirectoryWatch(const DirectoryWatch&) = delete;
  DirectoryWatch& operator=(const DirectoryWatch&) = delete;

  // Returns after at most `timeout_ms` (false), or true as soon as a file
  // in the directory was created, written, renamed or deleted since the
  // last call.
  bool wait(std::uint64_t timeout_ms);
  // Makes a wait() in progress (or the next one) return at once.
  // Thread-safe.
  void wake();
  // Whether the kernel watches the directory (false: wait() only sleeps).
  bool watching() const { return fd_ >= 0; }

 private:
  int fd_ = -1;       // inotify
  int wake_fd_ = -1;  // eventfd written by wake()
};

}  // namespace prevayler::detail
