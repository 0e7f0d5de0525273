// A simulated filesystem for the file storage's protocol tests: one shared
// disk seen by several "hosts" (each a FileSystem handle), power loss per
// host, and seeded fault injection.
//
// The failure model (what is lost, precisely):
//  - SimDisk::crash(host): that host loses power. Lost: its file writes
//    (pwrite, ftruncate) not yet made durable by an fsync or fdatasync of
//    the file (by any host; a sync makes the file's whole current content
//    durable). Kept: its creations, renames and unlinks, which the shared
//    directory's server already executed (as NFS does them synchronously).
//    Its descriptors close, its locks go, and every later call through its
//    handle fails with EIO; a new host() plays its reboot.
//  - SimDisk::power_loss(): the disk itself (or the one machine all hosts
//    run on) loses power. Lost: every unsynced write of every host, and
//    every creation, rename and unlink in a directory not followed by an
//    fsync of that directory (a directory sync makes all its current
//    entries durable); by default all of them, so what survives is the
//    state at the last syncs. A `keep` filter, or crash_keeps_some_names
//    (a random subset), lets some unsynced name operations survive, in any
//    order, as a reordering filesystem may persist them. Every host dies.
//  - SimDisk::kill(host): the process dies; nothing is lost.
//  - preallocate() is a write of zeros, lost like any other unsynced
//    write; it fails (targeted, or at the pwrite_enospc rate) with part of
//    the zeros landed, as a disk filling up does.
//  - pwrite_direct() is a pwrite (O_DIRECT writes are not durable before a
//    sync either), checked for alignment.
//  - mkdir is durable at once (the storage's directory is made before use).
// Writes of different hosts to the same bytes are assumed not to overlap
// while unsynced (the protocol never does that). The lock is flock-like per
// host: it excludes the same host's other descriptors, never another
// host's.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "file/file_system.hpp"

namespace prevayler::testing {

enum class SimOp {
  open,
  pread,
  pwrite,
  fsync,
  fdatasync,
  ftruncate,
  preallocate,
  stat,
  rename,
  unlink,
  list
};

// Probabilities per call, drawn from the disk's seed.
struct SimFaultRates {
  double pwrite_eio = 0;
  double pwrite_enospc = 0;
  double torn_write = 0;    // a prefix lands, then EIO
  double sync_failure = 0;  // the data may still have become durable (half the time)
  double rename_failure = 0;
  double pread_failure = 0;
};

struct SimFaultCounts {
  int pwrite_eio = 0;
  int pwrite_enospc = 0;
  int torn_write = 0;
  int sync_failure = 0;
  int rename_failure = 0;
  int pread_failure = 0;
  int targeted = 0;       // from fail_next()
  int direct_writes = 0;  // not a fault: pwrite_direct calls, for coverage
  int total() const {
    return pwrite_eio + pwrite_enospc + torn_write + sync_failure + rename_failure + pread_failure +
           targeted;
  }
};

class SimFileSystem;

class SimDisk : public std::enable_shared_from_this<SimDisk> {
 public:
  explicit SimDisk(std::uint64_t seed = 1) : rng_(seed) {}

  // A new host (or the reboot of a crashed one) seeing this disk.
  std::shared_ptr<SimFileSystem> host();
  // Power loss of `host`, of the disk, a killed process: see the model above.
  void crash(int host);
  enum class NameOpKind { create, rename, unlink };
  using KeepNameOp = std::function<bool(NameOpKind kind, const std::string& path)>;
  void power_loss(const KeepNameOp& keep = nullptr);
  // The host's process is killed: later calls fail, nothing is dropped
  // (the kernel still holds its writes).
  void kill(int host);

  // The next `count` calls of `op` on a path containing `path_part` fail
  // with `error` (a pwrite first lands `torn_bytes` bytes when nonzero; a
  // failing sync with `torn_bytes` nonzero still makes the data durable,
  // like a disk that reports an error after writing).
  void fail_next(SimOp op, int error, std::string path_part = "", int count = 1,
                 std::size_t torn_bytes = 0);
  // Runs before every call of every host (outside the disk's lock), so a
  // test can interleave another host's actions at an exact point.
  std::function<void(int host, SimOp op, const std::string& path)> before;

  // power_loss() keeps a random subset of the unsynced creations, renames
  // and unlinks (a filesystem that reorders them) instead of none.
  bool crash_keeps_some_names = false;

  SimFaultRates rates;
  SimFaultCounts counts;

  // The disk's clock, in ms since the Unix epoch: each write stamps its
  // file's modification time with it (retention by age dates snapshot
  // files so). It moves only when the test moves it.
  void advance_clock_ms(std::int64_t ms) { clock_ms_ += ms; }
  std::int64_t clock_ms() const { return clock_ms_; }

  // Test inspection and damage, outside the model.
  std::optional<std::string> content(const std::string& path);
  bool exists(const std::string& path);
  void remove(const std::string& path);  // durable at once
  std::vector<std::string> names(const std::string& directory);

 private:
  friend class SimFileSystem;
  struct Write {
    int host;
    std::uint64_t offset;
    std::string bytes;
    std::optional<std::uint64_t> truncate_to;
  };
  struct Inode {
    std::string data, durable;
    std::vector<Write> unsynced;
    std::int64_t modified_ms = 0;
  };
  struct NameOp {
    int host;
    std::string directory;
    std::string from, to;  // create: to; unlink: from; rename: both
    std::uint64_t inode = 0;
  };
  struct Handle {
    int host;
    std::uint64_t inode;  // 0 for a directory
    std::string path;
  };
  struct Targeted {
    SimOp op;
    int error;
    std::string path_part;
    int count;
    std::size_t torn_bytes;
  };

  int call(int host, SimOp op, const std::string& path, const std::function<int()>& body);
  std::optional<Targeted> take_targeted(SimOp op, const std::string& path);
  bool roll(double probability);
  void drop_unsynced_writes(int host);  // 0: every host's
  void kill_host(int host);
  void apply_name_op(std::map<std::string, std::uint64_t>& names, const NameOp& op);
  static void apply_write(std::string& data, const Write& write);

  std::recursive_mutex mutex_;
  std::atomic<std::int64_t> clock_ms_{0};
  std::mt19937_64 rng_;
  int next_host_ = 1;
  int next_fd_ = 3;
  std::uint64_t next_inode_ = 1;
  std::set<int> crashed_;
  std::set<std::string> directories_{"/"};
  std::map<std::string, std::uint64_t> names_, durable_names_;
  std::vector<NameOp> unsynced_names_;
  std::map<std::uint64_t, Inode> inodes_;
  std::map<int, Handle> handles_;
  std::map<std::uint64_t, int> locks_;  // inode -> fd
  std::vector<Targeted> targeted_;
};

class SimFileSystem : public detail::FileSystem {
 public:
  SimFileSystem(std::shared_ptr<SimDisk> disk, int host) : disk_(std::move(disk)), host_(host) {}
  int host_id() const { return host_; }
  void crash() { disk_->crash(host_); }

  int open(const std::string& path, detail::OpenMode mode, int& fd) override;
  void close(int fd) override;
  int pread(int fd, char* data, std::size_t size, std::uint64_t offset, std::size_t& done) override;
  int pwrite(int fd, const char* data, std::size_t size, std::uint64_t offset,
             std::size_t& done) override;
  // One write of the pieces' bytes, as the kernel's pwritev: it fails,
  // tears at any byte (across pieces) and is lost unsynced as a pwrite is.
  int pwritev(int fd, const std::string_view* pieces, std::size_t count, std::uint64_t offset,
              std::size_t& done) override;
  // A pwrite (failing, tearing and lost unsynced as one) that first checks
  // what O_DIRECT requires: a misaligned address, size or offset aborts the
  // test, since a real disk would refuse it (EINVAL) and the storage would
  // quietly fall back to the page cache.
  int pwrite_direct(int fd, const char* data, std::size_t size, std::uint64_t offset,
                    std::size_t& done) override;
  int fsync(int fd) override;
  int fdatasync(int fd) override;
  int ftruncate(int fd, std::uint64_t size) override;
  int preallocate(int fd, std::uint64_t offset, std::uint64_t size) override;
  int fstat(int fd, detail::FileStat& stat) override;
  int stat(const std::string& path, detail::FileStat& stat) override;
  int rename(const std::string& from, const std::string& to) override;
  int unlink(const std::string& path) override;
  int mkdir(const std::string& path) override;
  int list(const std::string& directory, std::vector<std::string>& names) override;
  int lock(int fd) override;

 private:
  int sync(int fd, SimOp op);
  // REQUIRES: the disk's lock held.
  SimDisk::Handle* handle(int fd);
  // The path `fd` was opened with ("" when not open), under the disk's lock.
  std::string path_of(int fd);
  std::shared_ptr<SimDisk> disk_;
  int host_;
};

}  // namespace prevayler::testing
