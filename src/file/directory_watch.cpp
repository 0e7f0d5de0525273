#include "file/directory_watch.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <thread>

namespace prevayler::detail {
namespace {

// Enough for a burst of events; more are drained by the next wait.
constexpr std::size_t inotify_buffer_bytes = 4096;
// Reads of queued events per wait, so a flood cannot keep it busy.
constexpr int inotify_drains_max = 16;

}  // namespace

DirectoryWatch::DirectoryWatch(const std::string& directory) {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0) return;
  const std::uint32_t events = IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_CLOSE_WRITE;
  if (::inotify_add_watch(fd_, directory.c_str(), events) < 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

DirectoryWatch::~DirectoryWatch() {
  if (fd_ >= 0) ::close(fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void DirectoryWatch::wake() {
  if (wake_fd_ < 0) return;
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

bool DirectoryWatch::wait(std::uint64_t timeout_ms) {
  if (fd_ < 0 && wake_fd_ < 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
    return false;
  }
  // An fd of -1 is ignored by poll().
  pollfd p[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  const int timeout = static_cast<int>(std::min<std::uint64_t>(timeout_ms, INT_MAX));
  const int ready = ::poll(p, 2, timeout);
  if (ready < 0) return true;  // interrupted: looking once more costs little
  if (ready == 0) return false;
  if (p[1].revents & POLLIN) {
    std::uint64_t count = 0;
    (void)!::read(wake_fd_, &count, sizeof count);
  }
  if (p[0].revents & POLLIN) {
    char buffer[inotify_buffer_bytes];
    for (int i = 0; i < inotify_drains_max; ++i) {
      if (::read(fd_, buffer, sizeof buffer) <= 0) break;
    }
  }
  return true;
}

}  // namespace prevayler::detail
