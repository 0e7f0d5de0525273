#include "support/sim_storage.hpp"

#include <optional>
#include <sstream>
#include <string_view>
#include <utility>

#include "core/record_codec.hpp"
#include "core/record_frame.hpp"
#include "prevayler/error.hpp"

namespace prevayler::testing::sim {
namespace {

constexpr std::uint32_t ppm_scale = 1'000'000;
// Large enough for any event of the workload, small enough to be a limit.
constexpr std::size_t sim_entry_bytes_max = std::size_t{1} << 20;

// Frames a journal record as the file storage does (core/record_frame), so
// a torn write is detected by its length and checksum, not by luck in the
// record decoder.
std::string frame_record(std::string_view payload) {
  std::string frame;
  detail::append_frame(frame, payload);
  return frame;
}

// The payload of an intact frame; nullopt for a torn or damaged one, or
// for one with bytes after it (a record is stored as exactly its frame).
std::optional<std::string_view> unframe(std::string_view frame) {
  std::string_view payload;
  if (detail::check_frame(frame, payload) != detail::FrameCheck::ok) return std::nullopt;
  if (frame.size() != detail::record_header_bytes + payload.size()) return std::nullopt;
  return payload;
}

// What one recovery reads, copied out of the disk so the handler runs
// without the disk's lock.
struct Collected {
  std::uint64_t snapshot_id = 0;
  std::optional<std::string> snapshot;
  struct Record {
    std::uint64_t segment;
    std::uint64_t number;  // from 1 within the segment
    std::string payload;
  };
  std::vector<Record> records;
};

// Streams a collected view to a handler through the real record decoder.
// `fail_after_entries`: throw an injected StorageError after that many
// entries (recovery failing midway).
void stream(const Collected& collected, RecoveryHandler& handler,
            std::optional<std::size_t> fail_after_entries) {
  if (collected.snapshot) {
    std::istringstream in(*collected.snapshot);
    handler.snapshot(collected.snapshot_id, in);
  }
  std::size_t streamed = 0;
  for (const auto& record : collected.records) {
    const std::string where = "sim storage, segment " + std::to_string(record.segment) +
                              ", record " + std::to_string(record.number);
    const auto decoded = detail::decode_record(record.payload, where);
    if (decoded.type != detail::RecordType::batch) {
      throw CorruptionError(where + ": unexpected record type");
    }
    for (std::uint32_t e = 0; e < decoded.entries.size(); ++e) {
      if (fail_after_entries && streamed == *fail_after_entries) {
        throw StorageError("injected: recovery read failed after " + std::to_string(streamed) +
                           " entries");
      }
      handler.entry(JournalPosition{record.segment, record.number, e}, decoded.entries[e]);
      ++streamed;
    }
  }
}

}  // namespace

const char* fault_name(Fault fault) {
  switch (fault) {
    case Fault::append_clean:
      return "append failed cleanly";
    case Fault::append_removed:
      return "append failed, partial write removed";
    case Fault::append_unknown:
      return "append outcome unknown (fail-stop)";
    case Fault::torn_write:
      return "torn write (process died mid-write)";
    case Fault::begin_snapshot_clean:
      return "begin_snapshot failed";
    case Fault::begin_snapshot_late:
      return "begin_snapshot failed after new segment";
    case Fault::commit_clean:
      return "snapshot commit failed (partial file)";
    case Fault::commit_unknown:
      return "snapshot commit outcome unknown";
    case Fault::recover_clean:
      return "recover failed before reading";
    case Fault::recover_midway:
      return "recover failed midway";
    case Fault::count:
      break;
  }
  return "?";
}

SimDisk::SimDisk(std::uint64_t seed, FaultRates rates) : rng_(seed), rates_(rates) {}

bool SimDisk::draw_locked(std::uint32_t ppm) {
  return std::uniform_int_distribution<std::uint32_t>(0, ppm_scale - 1)(rng_) < ppm;
}

void SimDisk::count_locked(Fault fault) { ++faults_[static_cast<std::size_t>(fault)]; }

void SimDisk::log_locked(const std::string& line) const {
  if (log) log("  disk: " + line);
}

void SimDisk::settle_locked() {
  for (auto& [id, records] : segments_) {
    // Writes reach the platter in order: once one is lost, so is the rest.
    bool lost_earlier = false;
    for (auto it = records.begin(); it != records.end();) {
      if (it->durable) {
        ++it;
        continue;
      }
      const bool torn = !unframe(it->frame);
      const bool survives = !lost_earlier && draw_locked(rates_.volatile_survives_ppm);
      if (torn) {
        if (survives) ++settle_counts_.torn_tails_kept;
      } else {
        ++(survives ? settle_counts_.records_kept : settle_counts_.records_lost);
      }
      log_locked(std::string(torn ? "torn tail" : "unsynced record") + " in segment " +
                 std::to_string(id) + (survives ? " survives" : " is lost"));
      if (survives) {
        it->durable = true;
        ++it;
      } else {
        lost_earlier = true;
        it = records.erase(it);
      }
    }
  }
  for (auto it = snapshots_.begin(); it != snapshots_.end();) {
    if (it->second.status != SimSnapshot::Status::unsynced) {
      ++it;
      continue;
    }
    const bool survives = draw_locked(rates_.volatile_survives_ppm);
    ++(survives ? settle_counts_.snapshots_kept : settle_counts_.snapshots_lost);
    log_locked("unsynced snapshot " + std::to_string(it->first) +
               (survives ? " survives" : " is lost"));
    if (survives) {
      it->second.status = SimSnapshot::Status::durable;
      ++it;
    } else {
      it = snapshots_.erase(it);
    }
  }
}

void SimDisk::crash() {
  std::lock_guard lock(mutex_);
  log_locked("crash");
  settle_locked();
  ++epoch_;
  locked_ = false;
  process_dead_ = false;
}

void SimDisk::settle() {
  std::lock_guard lock(mutex_);
  settle_locked();
}

bool SimDisk::process_dead() const {
  std::lock_guard lock(mutex_);
  return process_dead_;
}

SimDisk::View SimDisk::view_locked() const {
  View view;
  for (auto it = snapshots_.rbegin(); it != snapshots_.rend(); ++it) {
    if (it->second.status == SimSnapshot::Status::durable) {
      view.snapshot_id = it->first;
      view.snapshot = &it->second.bytes;
      break;
    }
  }
  return view;
}

void SimDisk::read_durable(RecoveryHandler& handler) const {
  Collected collected;
  {
    std::lock_guard lock(mutex_);
    const View view = view_locked();
    collected.snapshot_id = view.snapshot_id;
    if (view.snapshot) collected.snapshot = *view.snapshot;
    for (auto it = segments_.lower_bound(view.snapshot_id); it != segments_.end(); ++it) {
      const bool last_segment = std::next(it) == segments_.end();
      for (std::size_t r = 0; r < it->second.size(); ++r) {
        const SimRecord& record = it->second[r];
        if (!record.durable) continue;
        const auto payload = unframe(record.frame);
        if (!payload) {
          if (last_segment && r + 1 == it->second.size()) break;  // torn tail: absent
          throw CorruptionError("sim disk: damaged record " + std::to_string(r + 1) +
                                " in segment " + std::to_string(it->first));
        }
        collected.records.push_back({it->first, r + 1, std::string(*payload)});
      }
    }
  }
  stream(collected, handler, std::nullopt);
}

void SimDisk::arm_gate() {
  std::lock_guard lock(mutex_);
  gate_armed_ = true;
}

bool SimDisk::wait_at_gate(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return gate_cv_.wait_for(lock, timeout, [&] { return gate_waiting_; });
}

void SimDisk::release_gate() {
  std::lock_guard lock(mutex_);
  gate_armed_ = false;
  gate_cv_.notify_all();
}

std::array<std::uint64_t, fault_kinds> SimDisk::faults() const {
  std::lock_guard lock(mutex_);
  return faults_;
}

SettleCounts SimDisk::settle_counts() const {
  std::lock_guard lock(mutex_);
  return settle_counts_;
}

std::uint64_t SimDisk::appends() const {
  std::lock_guard lock(mutex_);
  return appends_;
}

std::uint64_t SimDisk::multi_entry_appends() const {
  std::lock_guard lock(mutex_);
  return multi_entry_appends_;
}

class SimSnapshotWriter : public SnapshotWriter {
 public:
  SimSnapshotWriter(std::shared_ptr<SimDisk> disk, std::uint64_t id, std::uint64_t epoch)
      : disk_(std::move(disk)), id_(id), epoch_(epoch) {}
  std::uint64_t snapshot_id() const override { return id_; }
  std::ostream& stream() override { return out_; }
  void commit() override {
    std::lock_guard lock(disk_->mutex_);
    if (epoch_ != disk_->epoch_) throw StorageFailedError("sim: the process crashed");
    std::string bytes = std::move(out_).str();
    auto& slot = disk_->snapshots_[id_];
    if (disk_->draw_locked(disk_->rates_.commit_clean_ppm)) {
      disk_->count_locked(Fault::commit_clean);
      disk_->log_locked("snapshot " + std::to_string(id_) + ": commit fails, partial file");
      slot = {bytes.substr(0, bytes.size() / 2), SimSnapshot::Status::partial};
      throw StorageError("injected: snapshot write failed");
    }
    if (disk_->draw_locked(disk_->rates_.commit_unknown_ppm)) {
      disk_->count_locked(Fault::commit_unknown);
      disk_->log_locked("snapshot " + std::to_string(id_) + ": commit outcome unknown");
      slot = {std::move(bytes), SimSnapshot::Status::unsynced};
      throw StorageError("injected: snapshot sync failed, it may or may not survive");
    }
    slot = {std::move(bytes), SimSnapshot::Status::durable};
  }

 private:
  std::shared_ptr<SimDisk> disk_;
  std::uint64_t id_;
  std::uint64_t epoch_;
  std::ostringstream out_;
};

class SimStorage : public Storage {
 public:
  explicit SimStorage(std::shared_ptr<SimDisk> disk) : disk_(std::move(disk)) {}
  ~SimStorage() override { close(); }

  void recover(RecoveryHandler& handler) override {
    Collected collected;
    std::optional<std::size_t> fail_after;
    {
      std::lock_guard lock(disk_->mutex_);
      if (disk_->draw_locked(disk_->rates_.recover_clean_ppm)) {
        disk_->count_locked(Fault::recover_clean);
        disk_->log_locked("recover fails before reading");
        throw StorageError("injected: cannot open the sim storage");
      }
      if (disk_->locked_) throw LockedError("sim storage: in use by another instance");
      disk_->locked_ = true;
      open_ = true;
      epoch_ = disk_->epoch_;
      // Recovery runs after a crash or a settle: nothing is volatile. A torn
      // tail of the last segment was never acknowledged: cut it off, like the
      // file storage truncates its journal.
      if (!disk_->segments_.empty()) {
        auto& last = disk_->segments_.rbegin()->second;
        if (!last.empty() && !unframe(last.back().frame)) {
          last.pop_back();
          ++disk_->settle_counts_.torn_tails_cut;
          disk_->log_locked("recovery cuts a torn tail");
        }
      }
      const SimDisk::View view = disk_->view_locked();
      collected.snapshot_id = view.snapshot_id;
      if (view.snapshot) collected.snapshot = *view.snapshot;
      segment_ = view.snapshot_id;
      std::size_t entries = 0;
      for (auto it = disk_->segments_.lower_bound(view.snapshot_id); it != disk_->segments_.end();
           ++it) {
        segment_ = it->first;
        for (std::size_t r = 0; r < it->second.size(); ++r) {
          const SimRecord& record = it->second[r];
          const auto payload = unframe(record.frame);
          if (!record.durable || !payload) {
            throw CorruptionError("sim storage: damaged or unsynced record " +
                                  std::to_string(r + 1) + " in segment " +
                                  std::to_string(it->first));
          }
          collected.records.push_back({it->first, r + 1, std::string(*payload)});
          entries += detail::decode_record(*payload, "sim storage").entries.size();
        }
      }
      disk_->segments_[segment_];
      writer_id_ = disk_->rng_();
      if (disk_->draw_locked(disk_->rates_.recover_midway_ppm)) {
        disk_->count_locked(Fault::recover_midway);
        fail_after = std::uniform_int_distribution<std::size_t>(0, entries)(disk_->rng_);
        disk_->log_locked("recover will fail after " + std::to_string(*fail_after) + " of " +
                          std::to_string(entries) + " entries");
      }
    }
    stream(collected, handler, fail_after);
  }

  void append(const EntryBatch& batch) override {
    std::unique_lock lock(disk_->mutex_);
    if (disk_->gate_armed_) {
      disk_->gate_waiting_ = true;
      disk_->gate_cv_.notify_all();
      disk_->gate_cv_.wait(lock, [&] { return !disk_->gate_armed_; });
      disk_->gate_waiting_ = false;
    }
    throw_if_dead();
    if (failed_) throw StorageFailedError("sim: the storage stopped after an unknown outcome");
    ++disk_->appends_;
    if (batch.size() > 1) ++disk_->multi_entry_appends_;
    std::string payload;
    detail::encode_batch_record(payload, writer_id_, batch, 0, batch.size());
    std::string frame = frame_record(payload);
    auto& records = disk_->segments_[segment_];
    const std::string what = "append of " + std::to_string(batch.size()) + " entries to segment " +
                             std::to_string(segment_);
    if (disk_->draw_locked(disk_->rates_.append_clean_ppm)) {
      disk_->count_locked(Fault::append_clean);
      disk_->log_locked(what + ": fails before writing");
      throw StorageError("injected: journal write failed");
    }
    if (disk_->draw_locked(disk_->rates_.append_removed_ppm)) {
      disk_->count_locked(Fault::append_removed);
      disk_->log_locked(what + ": fails after a partial write, which is removed");
      // The partial bytes are on the medium for a moment, then cut off again
      // (the file storage's ftruncate after a failed pwrite).
      records.push_back({frame.substr(0, frame.size() / 2), false});
      records.pop_back();
      throw StorageError("injected: journal write failed, partial record removed");
    }
    if (disk_->draw_locked(disk_->rates_.append_unknown_ppm)) {
      disk_->count_locked(Fault::append_unknown);
      disk_->log_locked(what + ": written, sync outcome unknown");
      records.push_back({std::move(frame), false});
      failed_ = true;
      throw StorageFailedError("injected: journal sync failed, the record's fate is unknown");
    }
    if (disk_->draw_locked(disk_->rates_.torn_write_ppm)) {
      disk_->count_locked(Fault::torn_write);
      const std::size_t cut =
          std::uniform_int_distribution<std::size_t>(1, frame.size() - 1)(disk_->rng_);
      disk_->log_locked(what + ": the process dies after " + std::to_string(cut) + " of " +
                        std::to_string(frame.size()) + " bytes");
      records.push_back({frame.substr(0, cut), false});
      failed_ = true;
      disk_->process_dead_ = true;
      throw StorageFailedError("injected: the process died in the middle of a journal write");
    }
    records.push_back({std::move(frame), true});
  }

  std::unique_ptr<SnapshotWriter> begin_snapshot() override {
    std::lock_guard lock(disk_->mutex_);
    throw_if_dead();
    if (failed_) throw StorageFailedError("sim: the storage stopped after an unknown outcome");
    if (disk_->draw_locked(disk_->rates_.begin_snapshot_clean_ppm)) {
      disk_->count_locked(Fault::begin_snapshot_clean);
      disk_->log_locked("begin_snapshot fails");
      throw StorageError("injected: cannot start a snapshot");
    }
    ++segment_;
    disk_->segments_[segment_];
    if (disk_->draw_locked(disk_->rates_.begin_snapshot_late_ppm)) {
      disk_->count_locked(Fault::begin_snapshot_late);
      disk_->log_locked("begin_snapshot fails after starting segment " + std::to_string(segment_));
      throw StorageError("injected: cannot create the snapshot file");
    }
    return std::make_unique<SimSnapshotWriter>(disk_, segment_, epoch_);
  }

  void close() override {
    std::lock_guard lock(disk_->mutex_);
    // A storage of a crashed process holds no lock any more.
    if (open_ && epoch_ == disk_->epoch_) disk_->locked_ = false;
    open_ = false;
  }

  std::size_t entry_bytes_max() const override { return sim_entry_bytes_max; }
  std::string describe() const override { return "sim storage"; }

 private:
  void throw_if_dead() const {
    if (!open_ || epoch_ != disk_->epoch_) {
      throw StorageFailedError("sim: the process crashed; the write never happened");
    }
  }

  std::shared_ptr<SimDisk> disk_;
  std::uint64_t segment_ = 0;
  std::uint64_t writer_id_ = 0;
  std::uint64_t epoch_ = 0;
  bool open_ = false;
  bool failed_ = false;
};

std::unique_ptr<Storage> make_sim_storage(std::shared_ptr<SimDisk> disk) {
  return std::make_unique<SimStorage>(std::move(disk));
}

}  // namespace prevayler::testing::sim
