// The model test's file-storage backend: every host opens the real file
// storage (detail::make_file_storage without the flock, as two hosts on a
// shared filesystem) on one fresh directory per seed, through a FileIo of
// its own that a crash turns into EIO and that injects the seed's faults.
//
// A crash here is a process crash (the page cache keeps every write), never
// a power loss; the journal is synced anyway (on /dev/shm when it exists,
// where that is cheap) so sync faults are injected. To model power loss,
// pass the SimFileSystem's FileIo as `base_io` and drop its unsynced bytes
// in `on_crash` (see docs/model_test.md).
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <vector>

#include "file/file_io.hpp"
#include "model/backend.hpp"

namespace prevayler::model {

// Fault probabilities per FileIo call.
struct FileFaults {
  double pwrite_enospc = 0;  // nothing written, ENOSPC
  double pwrite_torn = 0;    // half the bytes written, then EIO
  double fdatasync_eio = 0;  // the sync fails
};

// Shared by every host's FileIo of one seed: one RNG, one tally.
class FileFaultSource {
 public:
  FileFaultSource(std::uint64_t seed, FileFaults faults) : rng_(seed), faults_(faults) {}
  // True with probability p; counts the fault under `kind`.
  bool roll(double p, const char* kind);
  FaultTally tally() const;

 private:
  mutable std::mutex mutex_;
  std::mt19937_64 rng_;
  FileFaults faults_;
  FaultTally tally_;
  friend class CrashableFileIo;
};

// One instance's filesystem seam: forwards to `inner` until crashed.
class CrashableFileIo : public detail::FileIo {
 public:
  CrashableFileIo(std::shared_ptr<detail::FileIo> inner, std::shared_ptr<FileFaultSource> faults)
      : inner_(std::move(inner)), faults_(std::move(faults)) {}
  void crash() { crashed_.store(true); }
  ssize_t pwrite(int fd, const void* data, std::size_t size, off_t offset) override;
  int fdatasync(int fd) override;
  int fsync(int fd) override;
  int ftruncate(int fd, off_t size) override;

 private:
  std::shared_ptr<detail::FileIo> inner_;
  std::shared_ptr<FileFaultSource> faults_;
  std::atomic<bool> crashed_{false};
};

class FileBackend : public Backend {
 public:
  // `base_io`: the filesystem under every host (POSIX by default).
  // `on_crash`: called after a host's I/O was cut (e.g. drop unsynced data).
  FileBackend(std::uint64_t seed, FileFaults faults,
              std::shared_ptr<detail::FileIo> base_io = nullptr,
              std::function<void(int host)> on_crash = nullptr);
  ~FileBackend() override;
  std::string name() const override { return "file"; }
  std::unique_ptr<Storage> open(int host, const Knobs& knobs) override;
  void crash(int host) override;
  std::uint64_t prune(std::uint32_t keep) override;
  std::unique_ptr<Storage> open_for_check() override;
  FaultTally faults() const override { return faults_->tally(); }
  std::string describe() const override { return "directory " + directory_.string(); }
  void keep() override { keep_ = true; }

 private:
  std::filesystem::path directory_;
  std::shared_ptr<detail::FileIo> base_io_;
  std::function<void(int)> on_crash_;
  std::shared_ptr<FileFaultSource> faults_;
  std::mutex mutex_;
  std::vector<std::pair<int, std::shared_ptr<CrashableFileIo>>> ios_;  // (host, io)
  std::uint64_t seed_;
  bool keep_ = false;
};

}  // namespace prevayler::model
