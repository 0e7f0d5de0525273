// The file storage's orchestration: opening (lock, fence, replay), appending
// with the fence check and the roll-forward after a failed write, and
// snapshots with retention. The parts: file/naming, file/record_reader,
// file/start_record, file/segment_files (the fence), file/snapshot_files,
// file/replay, file/retention; all I/O through file/file_system.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <random>

#include "core/assert.hpp"
#include "core/formats.hpp"
#include "core/record_cipher.hpp"
#include "core/record_codec.hpp"
#include "core/record_frame.hpp"
#include "core/warning.hpp"
#include "core/zstd_stream.hpp"
#include "file/direct_write.hpp"
#include "file/file_storage_impl.hpp"
#include "file/naming.hpp"
#include "file/record_reader.hpp"
#include "file/replay.hpp"
#include "file/retention.hpp"
#include "file/segment_files.hpp"
#include "file/snapshot_files.hpp"
#include "file/synced_watermark.hpp"
#include "prevayler/error.hpp"

namespace prevayler {
namespace detail {
namespace {

// Recovery starts over at most this many times when retention on another
// host deletes what it is reading.
constexpr int recovery_attempts_max = 8;
// Fences tried when another instance creates segments at the same time.
constexpr int takeover_attempts_max = 10;
constexpr std::size_t retained_buffer_bytes_max = std::size_t{64} << 20;
// The LOCK file holds the owner's pid in decimal: this is plenty.
constexpr std::size_t lock_owner_bytes_max = 32;
// A segment's first preallocated chunk (FileStorageOptions::
// segment_preallocation_bytes caps the later ones, which double it): a
// small journal (a test, a tool's short run) stays small on disk.
constexpr std::uint64_t segment_preallocation_bytes_min = std::uint64_t{64} << 10;
// A record of at least this many bytes that does not fit the preallocated
// space is written growing the file, with no zeros ahead of it: its sync
// flushes the file's size once, which costs less than writing its bytes
// twice (1 MiB events in batches of 16 MiB: half the disk's bytes).
constexpr std::uint64_t grown_record_bytes_min = std::uint64_t{1} << 20;

void check_options(FileStorageOptions& options) {
  if (options.directory.empty()) throw ConfigError("file storage: the directory path is empty");
  check_zstd_level(options.common.snapshot_compression_level, "snapshot_compression_level",
                   "file storage");
  options.common.warn = warning_or_default(std::move(options.common.warn));
}

// The segment appends go to, past its records: what is preallocated.
struct Preallocation {
  std::uint64_t written_end = 0;    // past every byte a record write may have reached
  std::uint64_t allocated_end = 0;  // past the zeros preallocated (or attempted)
  bool enabled = false;             // off, or off after a failure until the next segment
};

std::uint64_t random_writer_id() {
  std::random_device random;
  static_assert(sizeof(std::random_device::result_type) * 2 == sizeof(std::uint64_t));
  constexpr int half_bits = 32;
  return (static_cast<std::uint64_t>(random()) << half_bits) ^ random();
}

class FileStorage : public Storage {
 public:
  FileStorage(FileStorageOptions options, std::shared_ptr<FileSystem> fs, bool lock,
              std::optional<FileResumePoint> resume = std::nullopt)
      : options_((check_options(options), std::move(options))),
        fs_(std::move(fs)),
        lock_(lock),
        resume_(std::move(resume)),
        dir_(*fs_, options_.directory.string()),
        segments_(dir_),
        compressor_(options_.common.compress_journal_records_over,
                    options_.common.journal_compression_level, "file storage"),
        keys_(options_.common.encryption, "file storage") {}
  ~FileStorage() override { close(); }

  void recover(RecoveryHandler& handler) override {
    dir_.open(options_.create_directory);
    if (lock_) lock_directory();
    writer_id_ = random_writer_id();
    // Without it followers see nothing new; the journal itself is fine.
    if (int error = watermark_.open(*fs_, dir())) {
      options_.common.warn("cannot open " + dir_.file(synced_watermark_name) + " (" +
                           errno_text(error) + "): followers of " + dir() +
                           " will not see this instance's writes");
    }
    for (int attempt = 1; attempt <= recovery_attempts_max; ++attempt) {
      try {
        recover_once(handler);
        break;
      } catch (const FileVanished& e) {
        if (attempt == recovery_attempts_max) {
          throw StorageError("recovery of " + dir() + " kept losing its files (last: " + e.what() +
                             ") to retention on another host after " + std::to_string(attempt) +
                             " attempts; stop that retention and retry");
        }
        handler.restart();
        resume_.reset();  // the handler is back at the initial state
      }
    }
    publish_position();
    retain();  // resumes retention that failed or crashed midway
  }

  void append(const EntryBatch& batch) override {
    check_usable();
    record_.clear();
    const std::size_t frame = open_frame(record_);
    if (keys_.encrypts()) {
      encode_batch_record(record_, writer_id_, batch, 0, batch.size(), &compressor_);
      // After compression (ciphertext does not compress), bound to where the
      // frame goes: a record copied elsewhere in the journal does not open.
      encrypt_record(record_, frame + record_header_bytes, keys_,
                     RecordPosition{segment_, journal_size_});
      pieces_.assign(1, std::string_view(record_).substr(frame + record_header_bytes));
    } else {
      // Large entries are written from the batch (a gather write), not
      // copied into the record first.
      encode_gathered_batch_record(record_, pieces_, writer_id_, batch, &compressor_);
    }
    std::size_t payload_bytes = 0;
    for (std::string_view piece : pieces_) payload_bytes += piece.size();
    if (payload_bytes > record_payload_bytes_max) {
      throw EventTooLargeError("a journal record of " + std::to_string(payload_bytes) +
                               " bytes exceeds the file format's limit for " + journal_path());
    }
    close_frame(record_.data() + frame, pieces_);
    // The header is right before the first piece, in record_.
    PREVAYLER_ASSERT(pieces_.front().data() == record_.data() + frame + record_header_bytes);
    pieces_.front() =
        std::string_view(record_.data() + frame, record_header_bytes + pieces_.front().size());
    const std::size_t record_bytes = record_header_bytes + payload_bytes;
    const std::uint64_t record_end = journal_size_ + record_bytes;
    preallocate_for(record_end, record_bytes);
    // Before the write: a failed one may still have landed bytes up to here.
    space_.written_end = std::max(space_.written_end, record_end);
    int error = write_record(record_bytes);
    const char* step = "write";
    if (!error && options_.sync && (error = fs_->fdatasync(journal_.get())) != 0) step = "sync";
    if (error) {
      roll_forward("cannot " + std::string(step) + " journal " + journal_path() + " at offset " +
                   std::to_string(journal_size_) + ": " + write_failure_text(error));
    }
    journal_size_ += record_bytes;
    ++records_in_segment_;
    PREVAYLER_ASSERT(journal_size_ >= segment_header_bytes + record_bytes);
    require_ownership(segment_, journal_.get(), "its last write is not acknowledged");
    publish_position();
    pieces_.clear();  // views into the batch, which the caller owns
    if (record_.capacity() > retained_buffer_bytes_max) std::string().swap(record_);
  }

  std::unique_ptr<SnapshotWriter> begin_snapshot() override { return begin_versioned_snapshot(1); }

  std::unique_ptr<SnapshotWriter> begin_versioned_snapshot(
      std::uint32_t state_schema_version) override {
    check_usable();
    // Nothing journaled in this segment yet: the state is the state at its
    // start, so the snapshot takes the segment's own id and no new segment
    // is needed (a snapshot at every open then costs no empty segment).
    if (records_in_segment_ > 0) start_next_segment();
    std::optional<int> level;
    if (options_.common.compress_snapshots) level = options_.common.snapshot_compression_level;
    std::function<void()> on_committed;
    if (retention().any()) on_committed = [this] { retain(); };
    return make_snapshot_writer(dir_, segment_, level, keys_.encrypts() ? &keys_ : nullptr,
                                state_schema_version, std::move(on_committed));
  }

  void close() override {
    // Nobody writes this segment again: the next opener starts its own.
    // A newer owner (none, unless another host took over) may read it
    // open-ended meanwhile; it then starts over (FileShrank).
    if (journal_ && !failed_) {
      try {
        if (segments_.check_ownership(segment_, journal_.get()).ownership == Ownership::owned) {
          cut_preallocated(journal_, segment_);
        }
      } catch (...) {
        // close() runs in the destructor: the zeros just stay, which is harmless.
      }
    }
    watermark_.close();
    journal_.reset();
    lock_fd_.reset();  // releases the lock
    dir_.close();
  }

  std::size_t entry_bytes_max() const override { return file_entry_bytes_max; }
  std::string describe() const override { return "file storage at " + dir(); }

  JournalPosition position() const override {
    const std::lock_guard lock(position_mutex_);
    return position_;
  }

  std::unique_ptr<JournalFollower> follow() override {
    return make_file_follower(options_, fs_, lock_);
  }

 private:
  std::string dir() const { return dir_.path(); }
  Decryption decryption() const { return Decryption{&keys_, false}; }
  std::string journal_path() const { return segments_.path(segment_); }

  // Durable and still ours: followers may apply up to here, and it is
  // this instance's position.
  void publish_position() {
    watermark_.publish(SyncedWatermark{segment_, journal_size_});
    const std::lock_guard lock(position_mutex_);
    position_ = JournalPosition{segment_, records_in_segment_, 0};
  }

  void check_usable() const {
    if (failed_) {
      throw StorageFailedError("file storage at " + dir() +
                               " stopped after a failed write or a takeover; reopen it to recover");
    }
  }

  void lock_directory() {
    const std::string path = dir_.file("LOCK");
    if (int error = open_file(*fs_, path, OpenMode::create_or_open, lock_fd_)) {
      throw StorageError("cannot write in directory " + dir() + " (creating " + path + ": " +
                         errno_text(error) + "); check its permissions");
    }
    if (int error = fs_->lock(lock_fd_.get())) {
      char owner[lock_owner_bytes_max] = {};
      std::size_t n = 0;
      (void)fs_->pread(lock_fd_.get(), owner, sizeof owner - 1, 0, n);
      lock_fd_.reset();
      if (error == EWOULDBLOCK) {
        throw LockedError("directory " + dir() + " is in use by another process" +
                          (n > 0 ? " (pid " + std::string(owner, n) + ")" : std::string()) +
                          "; only one process may open it at a time");
      }
      throw StorageError("cannot lock " + path + ": " + errno_text(error));
    }
    const std::string pid = std::to_string(::getpid());
    int error = fs_->ftruncate(lock_fd_.get(), 0);
    if (!error) error = write_fully(*fs_, lock_fd_.get(), pid, 0);
    if (error) {
      throw StorageError("cannot write in directory " + dir() + " (" + path +
                         "): " + write_failure_text(error));
    }
  }

  // One pass of recovery; throws FileVanished when retention on another
  // host deleted a file it was about to read.
  void recover_once(RecoveryHandler& handler) {
    Listing listing = list_storage_files(*fs_, dir());
    for (const std::string& path : listing.temporary) fs_->unlink(path);  // never part of the state
    std::uint64_t first = 0;
    std::optional<ReplayResume> resume;
    if (resume_ && listing.segments.count(resume_->segment)) {
      // A promoted follower: it holds the state up to there already.
      first = resume_->segment;
      resume = ReplayResume{resume_->offset, resume_->records, resume_->file.get()};
    } else if (resume_) {
      // Retention deleted the segment it stood in: recover it all.
      resume_.reset();
      handler.restart();
    }
    if (!resume && !listing.snapshots.empty()) {
      first = listing.snapshots.rbegin()->first;
      read_snapshot(*fs_, first, listing.snapshots.rbegin()->second, handler, decryption());
    } else if (!resume && !listing.segments.empty() && listing.segments.begin()->first != 0) {
      throw CorruptionError(dir() + ": the journal starts at " + listing.segments.begin()->second +
                            " but there is no snapshot it follows; restore the missing files");
    }
    auto& segments = listing.segments;
    segments.erase(segments.begin(), segments.lower_bound(first));
    if (!journal_) {
      if (segments.empty()) return start_first_segment(first);
      create_fence(segments, first);
    }
    if (first >= fence_) {
      failed_ = true;
      // Retention deleted the name before we created it (our snapshot read
      // was slow): no recovery reads the fence, below the newest snapshot.
      remove_unread_segment(fence_, journal_);
      throw SupersededError("another instance took over the journal in " + dir() +
                            " while this one recovered (snapshot " + std::to_string(first) +
                            " is past its fence " + segments_.path(fence_) + "); open it again");
    }
    // Our fence is ours whatever happened since; what others created after
    // it is theirs to replay.
    segments.erase(segments.lower_bound(fence_), segments.end());
    check_consecutive(segments, first, fence_);
    const ReplayOutcome outcome = replay_segments(*fs_, segments, handler, options_.common.warn,
                                                  ReplayMode::recovery, decryption(), resume);
    journal_size_ = segments_.finish(journal_, fence_, writer_id_, outcome.next_start);
    segment_ = fence_;
    records_in_segment_ = 0;
    started_segment();
  }

  void start_first_segment(std::uint64_t id) {
    if (!segments_.create(id, journal_)) {
      throw LockedError("another instance started the journal in " + dir() +
                        " at the same time (it created " + segments_.path(id) + "); open it again");
    }
    journal_size_ = segments_.finish(journal_, id, writer_id_, std::nullopt);
    segment_ = fence_ = id;
    records_in_segment_ = 0;
    started_segment();
  }

  // Fence first. Once the next segment exists, an earlier owner (another
  // host on a shared filesystem, where flock may not hold) can get nothing
  // more acknowledged: it checks for this file after each write. What it
  // wrote before is below the end replay measures after the fence.
  void create_fence(std::map<std::uint64_t, std::string>& segments, std::uint64_t first) {
    for (int attempt = 0; attempt <= takeover_attempts_max; ++attempt) {
      fence_ = segments.rbegin()->first + 1;
      // What the fence follows must be durable before the fence exists: a
      // filesystem may persist creations out of order, and a fence without
      // the segment before it is a gap no recovery gets past.
      dir_.sync();
      if (segments_.create(fence_, journal_)) return;
      // The owner being taken over just started a segment: fence after it.
      if (attempt == takeover_attempts_max) {
        throw LockedError("another instance keeps taking over the journal in " + dir() +
                          " (it created " + segments_.path(fence_) + "); open it again");
      }
      segments = list_storage_files(*fs_, dir()).segments;
      segments.erase(segments.begin(), segments.lower_bound(first));
      if (segments.empty()) throw FileVanished(dir());
    }
  }

  std::optional<std::uint64_t> newest_snapshot() const {
    const Listing listing = list_storage_files(*fs_, dir());
    if (listing.snapshots.empty()) return std::nullopt;
    return listing.snapshots.rbegin()->first;
  }

  void check_consecutive(const std::map<std::uint64_t, std::string>& segments, std::uint64_t first,
                         std::uint64_t fence) const {
    std::uint64_t expected = first;
    for (const auto& [id, path] : segments) {
      if (id != expected) {
        if (newest_snapshot().value_or(0) != first)
          throw FileVanished(path);  // retention since our listing
        throw CorruptionError(dir() + ": journal segment " + segment_name(expected) +
                              " is missing before " + path + "; restore it from a backup");
      }
      ++expected;
    }
    if (expected != fence) {
      // Deleted between our listings: retention after a newer snapshot.
      throw FileVanished(segments_.path(expected));
    }
  }

  // Throws (and stops the instance) unless we still own `id`.
  // `successor_is_ours`: we just created segment id + 1 ourselves.
  void require_ownership(std::uint64_t id, int fd, const std::string& consequence,
                         bool successor_is_ours = false) {
    require(segments_.check_ownership(id, fd, successor_is_ours), consequence);
  }

  void require(const OwnershipCheck& check, const std::string& consequence) {
    if (check.ownership == Ownership::owned) return;
    failed_ = true;
    if (check.ownership == Ownership::superseded) {
      throw SupersededError(check.reason + "; this instance stopped and " + consequence +
                            ": the new owner decides whether it counts");
    }
    throw StorageFailedError(check.reason + "; this instance stopped and " + consequence +
                             ": reopen it to recover");
  }

  // A write or sync of the journal failed at journal_size_: whatever part
  // of the record reached the file must never count. Rather than cut it off
  // (a new owner may already have replayed it), start the next segment with
  // a start record that ends this one before it. Always throws.
  [[noreturn]] void roll_forward(const std::string& what) {
    File next;
    try {
      if (!create_successor(next, "the failed write's outcome is for the new owner")) {
        failed_ = true;
        throw SupersededError(what + "; another instance took over the journal in " + dir() +
                              " (it created " + segments_.path(segment_ + 1) +
                              "), which decides whether the write counts; this instance stopped");
      }
      journal_size_ =
          segments_.finish(next, segment_ + 1, writer_id_, StartRecord{journal_size_, {}});
    } catch (const StorageFailedError&) {
      throw;  // superseded, or its ownership unknown: stopped already
    } catch (const StorageError& e) {
      failed_ = true;
      throw StorageFailedError(what + "; ending the segment before it failed too (" + e.what() +
                               "), so whether the write counts is unknown: reopen the storage");
    }
    File sealed = std::move(journal_);
    const Preallocation sealed_space = space_;
    journal_ = std::move(next);
    ++segment_;
    records_in_segment_ = 0;
    started_segment();
    // A new owner may have fenced after the new segment and read it before
    // its start record was durable: it then decided this segment's end
    // itself, the failed record perhaps included. It creates its fence
    // before it reads, so no fence now means it will read our start record.
    require_ownership(segment_, journal_.get(), "the failed write's outcome is for the new owner");
    // Every later reader ends the sealed segment at our start record.
    cut_preallocated(sealed, segment_ - 1, sealed_space);
    publish_position();
    throw StorageError(what + "; the write did not count, and the journal continues in " +
                       journal_path());
  }

  // Starts segment segment_ + 1 for a snapshot; the instance stops if it
  // cannot, or finds it was taken over.
  void start_next_segment() {
    File next;
    const std::uint64_t id = segment_ + 1;
    bool created = false;
    try {
      created = create_successor(next, "took no snapshot");
    } catch (const StorageFailedError&) {
      throw;
    } catch (const StorageError&) {
      failed_ = true;  // the new segment may stand, shorter than its header
      throw;
    }
    if (!created) {
      failed_ = true;
      throw SupersededError("another instance took over the journal in " + dir() + " (it created " +
                            segments_.path(id) + "); this instance stopped");
    }
    try {
      journal_size_ = segments_.finish(next, id, writer_id_, StartRecord{journal_size_, {}});
    } catch (const StorageError&) {
      failed_ = true;  // the new segment may stand without its start record
      throw;
    }
    File sealed = std::move(journal_);
    const Preallocation sealed_space = space_;
    journal_ = std::move(next);
    segment_ = id;
    records_in_segment_ = 0;
    started_segment();
    // Without a newer fence, every later reader ends the sealed segment at
    // the start record just made durable, before its zeros; with one, its
    // opener may have read the sealed segment to its end: leave the zeros
    // (appends find out about the takeover).
    if (segments_.check_ownership(segment_, journal_.get()).ownership == Ownership::owned) {
      cut_preallocated(sealed, id - 1, sealed_space);
    }
    publish_position();
  }

  // Creates segment segment_ + 1, this owner's next (a snapshot, a
  // roll-forward). False if the name exists: a new owner's fence. O_EXCL
  // alone would let a zombie re-create a name retention deleted, so the
  // owner then checks it still owns segment_; a superseded one removes the
  // file it made before it stops.
  bool create_successor(File& next, const std::string& consequence) {
    const std::uint64_t id = segment_ + 1;
    if (!segments_.create(id, next)) return false;
    const OwnershipCheck check = segments_.check_ownership(segment_, journal_.get(), true);
    if (check.ownership == Ownership::superseded) remove_unread_segment(id, next);
    require(check, consequence);
    return true;
  }

  // Closes and removes segment `id`, which this instance created under a
  // name retention had deleted: it lies below the newest snapshot, so no
  // recovery reads it, but left there it would sit below the journal's
  // oldest segment, where copy --all and verify would read it as part of
  // the journal. Not if the name is another file by now.
  void remove_unread_segment(std::uint64_t id, File& file) {
    const std::string path = segments_.path(id);
    FileStat mine, named;
    const bool ours = fs_->fstat_without_times(file.get(), mine) == 0 &&
                      fs_->stat_without_times(path, named) == 0 && mine.identity == named.identity;
    file.reset();
    if (ours) fs_->unlink(path);
  }

  // A new segment, written up to journal_size_ (its header and start
  // record), nothing preallocated yet.
  void started_segment() {
    space_ = Preallocation{journal_size_, journal_size_, options_.segment_preallocation_bytes > 0};
  }

  // Preallocates ahead of a record that ends at `end` (docs/format.md,
  // "Preallocated space"). A failure costs only speed: the record's write
  // grows the file, as without preallocation; warned once a segment.
  void preallocate_for(std::uint64_t end, std::uint64_t record_bytes) {
    if (!space_.enabled || end <= space_.allocated_end) return;
    PREVAYLER_ASSERT(space_.allocated_end >= space_.written_end);
    if (record_bytes >= grown_record_bytes_min) {
      // The record grows the file itself: zeros written first (and the
      // next chunk's, flushed by its sync) would double the bytes the disk
      // writes to spare one metadata flush. The next chunk starts after it.
      space_.allocated_end = end;
      return;
    }
    const std::uint64_t chunk = std::min(options_.segment_preallocation_bytes,
                                         std::max(end, segment_preallocation_bytes_min));
    const std::uint64_t target = end + chunk;
    if (int error =
            fs_->preallocate(journal_.get(), space_.allocated_end, target - space_.allocated_end)) {
      space_.enabled = false;
      // What landed of the zeros is cut off with the rest when it seals.
      space_.allocated_end = target;
      options_.common.warn("cannot preallocate " + journal_path() + " up to offset " +
                           std::to_string(target) + " (" + write_failure_text(error) +
                           "); its appends grow the file instead, each sync then also writing "
                           "its size");
      return;
    }
    space_.allocated_end = target;
  }

  // Writes the record in pieces_ at journal_size_: direct when it is large
  // and the file takes direct writes, else through the page cache.
  int write_record(std::uint64_t record_bytes) {
    const std::uint64_t direct_min = options_.direct_write_bytes_min;
    if (direct_writes_ && direct_min > 0 && record_bytes >= direct_min) {
      const DirectWriteOutcome direct =
          write_record_direct(*fs_, journal_.get(), journal_size_, pieces_, staging_);
      if (staging_.capacity() > retained_buffer_bytes_max) staging_.release();
      // Its zeros after the record are preallocated space, cut off with the
      // rest when the segment is sealed.
      space_.allocated_end = std::max(space_.allocated_end, direct.padded_end);
      if (direct.error != EINVAL) return direct.error;
      // Nothing was written: the same record goes through the page cache.
      direct_writes_ = false;
      options_.common.warn("cannot write to " + journal_path() + " with O_DIRECT (" +
                           errno_text(EINVAL) + "): records of " + std::to_string(direct_min) +
                           " bytes or more go through the page cache instead");
    }
    return write_fully(*fs_, journal_.get(), pieces_, journal_size_);
  }

  // Cuts the unused preallocated zeros off segment `id`, which this
  // instance no longer writes: for copies, tools and disk space (its
  // readers already end it before them). REQUIRES: no newer owner reads it
  // open-ended (one that does starts over: FileShrank).
  void cut_preallocated(File& file, std::uint64_t id, const Preallocation& space) {
    if (space.allocated_end <= space.written_end) return;  // nothing preallocated
    if (int error = fs_->ftruncate(file.get(), space.written_end)) {
      options_.common.warn("cannot cut the unused preallocated space off " + segments_.path(id) +
                           " (" + errno_text(error) + "): it stays, read as the segment's end");
    }
  }
  void cut_preallocated(File& file, std::uint64_t id) { cut_preallocated(file, id, space_); }

  RetentionPolicy retention() const {
    return {options_.common.keep_snapshots, options_.common.keep_monthly_snapshots};
  }

  void retain() {
    if (!retention().any()) return;
    try {
      prune_directory(*fs_, dir(), retention());
    } catch (const std::exception& e) {
      options_.common.warn("retention: " + std::string(e.what()) +
                           " (kept; the next snapshot tries again)");
    }
  }

  FileStorageOptions options_;
  std::shared_ptr<FileSystem> fs_;
  bool lock_;
  std::optional<FileResumePoint> resume_;  // a promoted follower's, until recovered
  Directory dir_;
  SegmentFiles segments_;
  RecordCompressor compressor_;
  KeyRing keys_;
  File lock_fd_;
  File journal_;                    // the segment appends go to
  std::uint64_t journal_size_ = 0;  // where the next record goes
  std::uint64_t segment_ = 0;       // its id
  std::uint64_t fence_ = 0;         // the segment this instance opened with
  std::uint64_t writer_id_ = 0;
  std::uint64_t records_in_segment_ = 0;
  Preallocation space_;        // of the segment appends go to
  bool direct_writes_ = true;  // false once the filesystem refused one
  AlignedBuffer staging_;      // a direct write's record, reused
  bool failed_ = false;
  std::string record_;  // reused across appends
  // append()'s record as a gather write: views into record_ and the batch.
  std::vector<std::string_view> pieces_;
  WatermarkPublisher watermark_;
  mutable std::mutex position_mutex_;
  JournalPosition position_;  // for position(), read by other threads
};

}  // namespace

std::unique_ptr<Storage> make_file_storage(FileStorageOptions options,
                                           std::shared_ptr<FileSystem> fs, bool lock_directory) {
  return std::make_unique<FileStorage>(std::move(options), std::move(fs), lock_directory);
}

std::unique_ptr<Storage> make_promoted_file_storage(FileStorageOptions options,
                                                    std::shared_ptr<FileSystem> fs,
                                                    bool lock_directory, FileResumePoint resume) {
  return std::make_unique<FileStorage>(std::move(options), std::move(fs), lock_directory,
                                       std::move(resume));
}

std::size_t prune_file_storage(FileSystem& fs, const std::string& directory,
                               RetentionPolicy policy) {
  return prune_directory(fs, directory, policy);
}

}  // namespace detail

std::unique_ptr<Storage> make_file_storage(FileStorageOptions options) {
  return detail::make_file_storage(std::move(options), detail::posix_file_system());
}

std::size_t prune_file_storage(const std::filesystem::path& directory, std::uint32_t keep_snapshots,
                               std::uint32_t keep_monthly_snapshots) {
  return detail::prune_directory(*detail::posix_file_system(), directory.string(),
                                 {keep_snapshots, keep_monthly_snapshots});
}

}  // namespace prevayler
