// The model test's file-storage backend: every host opens the real file
// storage (detail::make_file_storage without the flock, as hosts sharing a
// directory where flock does not hold) on one simulated disk per seed
// (tests/support/sim_fs.hpp), each through a FileSystem handle of its own.
//
// A crash of a host is its power loss: the file data it wrote but did not
// sync is lost (its creations, renames and unlinks stay: the shared
// directory's server did them), its later calls fail with EIO. The disk
// injects the seed's faults (EIO and ENOSPC on pwrite, torn writes, failed
// syncs that may or may not have made the data durable, failed renames and
// reads) into every host's calls.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "model/backend.hpp"
#include "support/sim_fs.hpp"

namespace prevayler::model {

// Fault probabilities per filesystem call (SimFaultRates, named for the
// model's tallies).
struct FileFaults {
  double pwrite_enospc = 0;   // nothing written, ENOSPC
  double pwrite_torn = 0;     // a prefix lands, then EIO
  double sync_failure = 0;    // the sync fails; the data may be durable anyway
  double rename_failure = 0;  // a snapshot's rename fails
  double pread_failure = 0;   // a read during recovery fails
};

class FileBackend : public Backend {
 public:
  FileBackend(std::uint64_t seed, FileFaults faults);
  std::string name() const override { return "file"; }
  std::unique_ptr<Storage> follower_storage() override;
  std::unique_ptr<Storage> open(int host, const Knobs& knobs) override;
  void crash(int host) override;
  std::unique_ptr<ops::JournalStore> operator_store() override;
  std::unique_ptr<Storage> open_for_check() override;
  FaultTally faults() const override;
  std::string describe() const override { return "simulated disk, seed " + std::to_string(seed_); }
  void advance_clock_ms(std::int64_t ms) override { disk_->advance_clock_ms(ms); }
  std::optional<JournalFiles> files() override;

 private:
  std::uint64_t seed_;
  std::shared_ptr<testing::SimDisk> disk_;
  std::mutex mutex_;
  std::vector<std::pair<int, std::shared_ptr<testing::SimFileSystem>>> hosts_;  // (model host, fs)
};

}  // namespace prevayler::model
