#include "model/file_backend.hpp"

#include <cerrno>
#include <random>
#include <string>

#include "file/file_storage_impl.hpp"
#include "prevayler/file_storage.hpp"
#include "support/pipelined_storage.hpp"

namespace prevayler::model {

bool FileFaultSource::roll(double p, const char* kind) {
  if (p <= 0) return false;
  std::lock_guard lock(mutex_);
  if (std::uniform_real_distribution<double>(0, 1)(rng_) >= p) return false;
  ++tally_[kind];
  return true;
}

FaultTally FileFaultSource::tally() const {
  std::lock_guard lock(mutex_);
  return tally_;
}

ssize_t CrashableFileIo::pwrite(int fd, const void* data, std::size_t size, off_t offset) {
  if (crashed_.load()) {
    errno = EIO;
    return -1;
  }
  if (faults_->roll(faults_->faults_.pwrite_enospc, "file.pwrite_enospc")) {
    errno = ENOSPC;
    return -1;
  }
  if (size > 1 && faults_->roll(faults_->faults_.pwrite_torn, "file.pwrite_torn")) {
    inner_->pwrite(fd, data, size / 2, offset);
    errno = EIO;
    return -1;
  }
  return inner_->pwrite(fd, data, size, offset);
}

int CrashableFileIo::fdatasync(int fd) {
  if (crashed_.load()) {
    errno = EIO;
    return -1;
  }
  if (faults_->roll(faults_->faults_.fdatasync_eio, "file.fdatasync_eio")) {
    errno = EIO;
    return -1;
  }
  return inner_->fdatasync(fd);
}

int CrashableFileIo::fsync(int fd) {
  if (crashed_.load()) {
    errno = EIO;
    return -1;
  }
  return inner_->fsync(fd);
}

int CrashableFileIo::ftruncate(int fd, off_t size) {
  if (crashed_.load()) {
    errno = EIO;
    return -1;
  }
  return inner_->ftruncate(fd, size);
}

FileBackend::FileBackend(std::uint64_t seed, FileFaults faults,
                         std::shared_ptr<detail::FileIo> base_io,
                         std::function<void(int host)> on_crash)
    : base_io_(base_io ? std::move(base_io) : detail::posix_file_io()),
      on_crash_(std::move(on_crash)),
      faults_(std::make_shared<FileFaultSource>(seed * 7919 + 1, faults)),
      seed_(seed) {
  std::random_device rd;
  // tmpfs when there is one: fdatasync is then nearly free, so the journal
  // is synced (and its sync faults injected) without slowing the seeds.
  std::error_code ec;
  const std::filesystem::path shm = "/dev/shm";
  const std::filesystem::path base =
      std::filesystem::is_directory(shm, ec) ? shm : std::filesystem::temp_directory_path();
  directory_ = base / ("prevayler-model-" + std::to_string(seed) + "-" + std::to_string(rd()));
  std::filesystem::create_directories(directory_);
}

FileBackend::~FileBackend() {
  if (keep_) return;
  std::error_code ec;
  std::filesystem::remove_all(directory_, ec);
}

std::unique_ptr<Storage> FileBackend::open(int host, const Knobs& knobs) {
  auto io = std::make_shared<CrashableFileIo>(base_io_, faults_);
  {
    std::lock_guard lock(mutex_);
    ios_.emplace_back(host, io);
  }
  FileStorageOptions options;
  options.directory = directory_;
  options.sync = true;
  options.keep_snapshots = knobs.keep_snapshots;
  options.compress_journal_records_over = knobs.compress_records_over;
  options.compress_snapshots = knobs.compress_snapshots;
  options.warn = [](const std::string&) {};
  auto storage = detail::make_file_storage(options, io, /*lock_directory=*/false);
  if (knobs.pipeline_depth <= 1) return storage;
  // The file storage writes one record at a time; the pipelining wrapper
  // drives the engine's pipeline (ordering, failing later writes) over it.
  auto plan = std::make_shared<testing::PipelinePlan>();
  plan->latency_min = std::chrono::microseconds(0);
  plan->latency_max = std::chrono::microseconds(200);
  return std::make_unique<testing::PipelinedStorage>(std::move(storage), knobs.pipeline_depth,
                                                     plan);
}

void FileBackend::crash(int host) {
  {
    std::lock_guard lock(mutex_);
    for (auto& [h, io] : ios_) {
      if (h == host) io->crash();
    }
  }
  if (on_crash_) on_crash_(host);
}

std::uint64_t FileBackend::prune(std::uint32_t keep) {
  return prune_file_storage(directory_, keep);
}

std::unique_ptr<Storage> FileBackend::open_for_check() {
  FileStorageOptions options;
  options.directory = directory_;
  options.sync = false;
  options.create_directory = false;
  options.warn = [](const std::string&) {};
  return detail::make_file_storage(options, base_io_, /*lock_directory=*/false);
}

}  // namespace prevayler::model
