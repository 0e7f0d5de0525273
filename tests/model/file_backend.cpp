#include "model/file_backend.hpp"

#include "file/file_storage_impl.hpp"
#include "file/naming.hpp"
#include "ops/file_journal.hpp"
#include "prevayler/file_storage.hpp"
#include "support/pipelined_storage.hpp"

namespace prevayler::model {
namespace {

constexpr const char* model_directory = "/model-journal";
// Where the disk's clock starts: 2026-01-01T00:00:00Z.
constexpr std::int64_t clock_start_ms = 1'767'225'600'000;
// Longer than any run: the follower's thread never looks by itself.
constexpr std::uint64_t follower_poll_interval_ms = 24 * 3600 * 1000;

FileStorageOptions storage_options() {
  FileStorageOptions options;
  options.directory = model_directory;
  options.sync = true;
  // The checker and the operator write no records; the instances draw
  // theirs (Knobs), the followers theirs by seed (a promotion writes).
  options.direct_write_bytes_min = 0;
  options.common.warn = [](const std::string&) {};
  return options;
}

}  // namespace

FileBackend::FileBackend(std::uint64_t seed, FileFaults faults)
    : seed_(seed), disk_(std::make_shared<testing::SimDisk>(seed * 7919 + 1)) {
  disk_->rates.pwrite_enospc = faults.pwrite_enospc;
  disk_->rates.torn_write = faults.pwrite_torn;
  disk_->rates.sync_failure = faults.sync_failure;
  disk_->rates.rename_failure = faults.rename_failure;
  disk_->rates.pread_failure = faults.pread_failure;
  disk_->advance_clock_ms(clock_start_ms);
}

std::unique_ptr<Storage> FileBackend::open(int host, const Knobs& knobs) {
  auto fs = disk_->host();
  {
    std::lock_guard lock(mutex_);
    hosts_.emplace_back(host, fs);
  }
  FileStorageOptions options = storage_options();
  options.common.keep_snapshots = knobs.keep_snapshots;
  options.common.keep_monthly_snapshots = knobs.keep_monthly_snapshots;
  options.common.compress_journal_records_over = knobs.compress_records_over;
  options.common.compress_snapshots = knobs.compress_snapshots;
  options.direct_write_bytes_min = knobs.direct_write_bytes_min;
  auto storage = detail::make_file_storage(options, fs, /*lock_directory=*/false);
  if (knobs.writes_in_flight_max <= 1) return storage;
  // The file storage writes one record at a time; the pipelining wrapper
  // drives the engine's pipeline (ordering, failing later writes) over it.
  auto plan = std::make_shared<testing::PipelinePlan>();
  plan->latency_min = std::chrono::microseconds(0);
  plan->latency_max = std::chrono::microseconds(200);
  return std::make_unique<testing::PipelinedStorage>(std::move(storage), knobs.writes_in_flight_max,
                                                     plan);
}

std::unique_ptr<Storage> FileBackend::follower_storage() {
  FileStorageOptions options = storage_options();
  options.create_directory = false;
  // No look of its own (the simulated disk has no inotify): only the
  // driver's catch_up() reads, in the seed's order.
  options.follow_poll_interval_ms = follower_poll_interval_ms;
  // Once promoted it appends: with direct writes in a third of the seeds
  // for every record, in another third for batches over 300 bytes.
  options.direct_write_bytes_min = direct_write_thresholds_bytes[seed_ % 3];
  return detail::make_file_storage(options, disk_->host(), /*lock_directory=*/false);
}

void FileBackend::crash(int host) {
  std::lock_guard lock(mutex_);
  for (auto& [h, fs] : hosts_) {
    if (h == host) fs->crash();
  }
}

std::unique_ptr<ops::JournalStore> FileBackend::operator_store() {
  // The operator runs from a machine of its own.
  return ops::make_file_journal_store(model_directory, disk_->host());
}

std::unique_ptr<Storage> FileBackend::open_for_check() {
  // The check reads what the run left, on a disk that no longer fails.
  disk_->rates = testing::SimFaultRates{};
  FileStorageOptions options = storage_options();
  options.create_directory = false;
  return detail::make_file_storage(options, disk_->host(), /*lock_directory=*/false);
}

std::optional<JournalFiles> FileBackend::files() {
  // Listing and stat take no injected faults.
  auto fs = disk_->host();
  const detail::Listing listing = detail::list_storage_files(*fs, model_directory);
  JournalFiles files;
  for (const auto& [id, path] : listing.snapshots) {
    detail::FileStat st;
    if (fs->stat(path, st) == 0) files.snapshots[id] = st.modified_ms;
  }
  for (const auto& [id, path] : listing.segments) files.segments.insert(id);
  return files;
}

FaultTally FileBackend::faults() const {
  FaultTally tally;
  const testing::SimFaultCounts& c = disk_->counts;
  tally["file.pwrite_enospc"] = c.pwrite_enospc;
  tally["file.pwrite_torn"] = c.torn_write;
  tally["file.sync_failure"] = c.sync_failure;
  tally["file.rename_failure"] = c.rename_failure;
  tally["file.pread_failure"] = c.pread_failure;
  tally["file.direct_writes"] = c.direct_writes;
  return tally;
}

}  // namespace prevayler::model
