// A follower of a file storage directory (storage.hpp, JournalFollower;
// docs/followers.md). It reads what recovery reads (file/replay,
// file/snapshot_files) but only up to the writer's synced watermark
// (file/synced_watermark.hpp), so it never shows a byte a power loss could
// take; it takes no lock and writes nothing.
//
// Why the watermark suffices: the owner publishes (segment, offset) only
// after the bytes are synced and its fence check passed, so every later
// recovery replays them (segment_files.hpp). Segments before the
// watermark's are closed: their ends are decided by start records in the
// segments up to the watermark's, which their writers synced before
// publishing anything after them. Start records of newer segments (an
// opener still at work) are not read: they are not known durable.
#include <mutex>
#include <optional>

#include "core/encryption.hpp"
#include "core/formats.hpp"
#include "file/directory_watch.hpp"
#include "file/file_storage_impl.hpp"
#include "file/naming.hpp"
#include "file/record_reader.hpp"
#include "file/replay.hpp"
#include "file/snapshot_files.hpp"
#include "file/synced_watermark.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {
namespace {

// A follower starts over at most this many times in a row when retention
// deletes what it is reading.
constexpr int follow_restarts_max = 8;

class FileFollower : public JournalFollower {
 public:
  FileFollower(FileStorageOptions options, std::shared_ptr<FileSystem> fs, bool lock)
      : options_(std::move(options)),
        fs_(std::move(fs)),
        lock_(lock),
        dir_(options_.directory.string()),
        keys_(options_.common.encryption, "file storage follower"),
        watch_(dir_) {}

  void start(RecoveryHandler& handler) override { bootstrap(handler, false); }

  std::uint64_t poll(RecoveryHandler& handler) override {
    try {
      return advance(handler);
    } catch (const FileVanished&) {
      // Retention deleted the segment it stands in: a newer snapshot.
      return bootstrap(handler, true);
    }
  }

  bool wait_for_change(std::uint64_t timeout_ms) override { return watch_.wait(timeout_ms); }
  void wake() override { watch_.wake(); }
  std::uint64_t poll_interval_ms() const override { return options_.follow_poll_interval_ms; }

  JournalPosition position() const override {
    const std::lock_guard lock(position_mutex_);
    return JournalPosition{segment_, records_, 0};
  }

  std::unique_ptr<Storage> promote() override {
    return make_promoted_file_storage(options_, fs_, lock_,
                                      FileResumePoint{segment_, offset_, records_, file_});
  }

 private:
  // Reads the newest snapshot and everything durable after it; restarts
  // the handler first when `restart`, and whenever a file vanishes.
  // Returns the records delivered.
  std::uint64_t bootstrap(RecoveryHandler& handler, bool restart) {
    for (int attempt = 1;; ++attempt) {
      try {
        if (restart) handler.restart();
        return bootstrap_once(handler);
      } catch (const FileVanished& e) {
        if (attempt == follow_restarts_max) {
          throw StorageError("following " + dir_ + " kept losing its files (last: " + e.what() +
                             ") to retention after " + std::to_string(attempt) +
                             " attempts; keep more snapshots (keep_snapshots) or follow closer");
        }
        restart = true;
      }
    }
  }

  std::uint64_t bootstrap_once(RecoveryHandler& handler) {
    const Listing listing = list_storage_files(*fs_, dir_);
    std::uint64_t first = 0;
    if (!listing.snapshots.empty()) {
      first = listing.snapshots.rbegin()->first;
      read_snapshot(*fs_, first, listing.snapshots.rbegin()->second, handler, decryption());
    } else if (!listing.segments.empty() && listing.segments.begin()->first != 0) {
      throw CorruptionError(dir_ + ": the journal starts at " + listing.segments.begin()->second +
                            " but there is no snapshot it follows; restore the missing files");
    }
    enter_segment(first);
    return advance(handler);
  }

  // Applies what became durable. Throws FileVanished when retention
  // deleted what it needs.
  std::uint64_t advance(RecoveryHandler& handler) {
    const std::optional<SyncedWatermark> seen = read_synced_watermark(*fs_, dir_);
    if (seen && (!watermark_ || *seen > *watermark_)) watermark_ = seen;
    if (!watermark_ || watermark_->segment < segment_ ||
        (watermark_->segment == segment_ && watermark_->offset <= offset_)) {
      return 0;  // nothing new is durable
    }
    const Listing listing = list_storage_files(*fs_, dir_);
    std::map<std::uint64_t, std::string> range;
    for (std::uint64_t id = segment_; id <= watermark_->segment; ++id) {
      const auto it = listing.segments.find(id);
      // Deleted under us (retention after a newer snapshot), or not yet
      // visible in this listing: start over from the newest snapshot.
      if (it == listing.segments.end()) throw FileVanished(dir_ + "/" + segment_name(id));
      range.emplace(id, it->second);
    }
    const SegmentDecisions decisions = decide_segment_ends(*fs_, range);
    std::uint64_t delivered = 0;
    for (const auto& [id, path] : range) {
      std::uint64_t end = 0;
      if (id == watermark_->segment) {
        end = watermark_->offset;
      } else if (const auto decided = decisions.ends.find(id); decided != decisions.ends.end()) {
        end = decided->second;
      } else if (id != segment_ && !decisions.started.count(id)) {
        end = segment_header_bytes;  // its creator was killed before its start record
      } else {
        // No start record up to the watermark decides it (its successor's
        // creator died, and the next opener's recovery started past it):
        // only the newest snapshot tells the state after it.
        throw FileVanished(path);
      }
      if (id != segment_) enter_segment(id);
      if (end < offset_) {
        throw CorruptionError(path + " ends at offset " + std::to_string(end) +
                              " by the journal's start records, but its writer published offset " +
                              std::to_string(offset_) +
                              " as durable; the directory was changed by hand or restored from an "
                              "older backup: follow it again");
      }
      std::uint64_t records = records_;
      const std::uint64_t reached = replay_segment_range(*fs_, id, path, offset_, end, records,
                                                         *file_, handler, decryption());
      delivered += records - records_;
      move_to(id, reached, records);
    }
    return delivered;
  }

  // At the start of `segment`, none of its file read yet.
  void enter_segment(std::uint64_t segment) {
    move_to(segment, 0, 0);
    file_ = std::make_shared<File>();
  }

  void move_to(std::uint64_t segment, std::uint64_t offset, std::uint64_t records) {
    const std::lock_guard lock(position_mutex_);
    segment_ = segment;
    offset_ = offset;
    records_ = records;
  }

  Decryption decryption() const { return Decryption{&keys_, false}; }

  const FileStorageOptions options_;
  const std::shared_ptr<FileSystem> fs_;
  const bool lock_;
  const std::string dir_;
  // Opens encrypted snapshots and records (StorageOptions::encryption).
  const KeyRing keys_;
  DirectoryWatch watch_;
  std::optional<SyncedWatermark> watermark_;  // the greatest seen
  mutable std::mutex position_mutex_;         // position() runs on other threads
  std::uint64_t segment_ = 0;                 // the segment it stands in
  std::uint64_t offset_ = 0;                  // after the last record applied (0: none read)
  std::uint64_t records_ = 0;                 // batch records applied in the segment
  // The segment's file it read, held open so that another file under its
  // name is told apart (replay_segment_range); shared with a promotion.
  std::shared_ptr<File> file_ = std::make_shared<File>();
};

}  // namespace

std::unique_ptr<JournalFollower> make_file_follower(FileStorageOptions options,
                                                    std::shared_ptr<FileSystem> fs,
                                                    bool lock_directory) {
  return std::make_unique<FileFollower>(std::move(options), std::move(fs), lock_directory);
}

}  // namespace prevayler::detail
