#include "ops/file_journal.hpp"
#include "ops/point_in_time.hpp"

#include <filesystem>
#include <map>

#include "core/bytes.hpp"
#include "core/container_header.hpp"
#include "core/encryption.hpp"
#include "core/entry_codec.hpp"
#include "core/formats.hpp"
#include "core/record_codec.hpp"
#include "core/record_frame.hpp"
#include "file/file_storage_impl.hpp"
#include "file/naming.hpp"
#include "file/record_reader.hpp"
#include "file/replay.hpp"
#include "file/segment_files.hpp"
#include "file/snapshot_files.hpp"
#include "prevayler/error.hpp"

namespace prevayler::ops {
namespace {

using detail::File;
using detail::FileSystem;
using Segments = std::map<std::uint64_t, std::string>;

// A reading operator meets a file deleted under it only when retention ran
// meanwhile (a prune, or an instance's keep_snapshots).
[[noreturn]] void throw_vanished(const std::string& path) {
  throw StorageError(path +
                     " was deleted while it was read (retention pruned it meanwhile); run the "
                     "command again");
}

// A segment read open-ended shrank: its writer cut its preallocated zeros
// off when it sealed it (a snapshot) or closed; nothing written is lost.
std::string shrank_text(const std::string& path) {
  return path +
         " shrank while it was read (its writer cut its unused preallocated space off: a "
         "snapshot or a close meanwhile); run the command again";
}
[[noreturn]] void throw_shrank(const std::string& path) { throw StorageError(shrank_text(path)); }

// Hands replayed entries to a visitor; when `parse`, also checks that each
// is a journal entry the core can read.
class VisitingHandler : public RecoveryHandler {
 public:
  VisitingHandler(JournalVisitor& visitor, const Segments& segments, bool parse)
      : visitor_(visitor), segments_(segments), parse_(parse) {}
  void snapshot(std::uint64_t, std::istream&) override {}
  void restart() override {}
  void entry(const JournalPosition& position, std::string_view bytes) override {
    if (parse_) {
      // Named only in a message: this runs once per entry.
      const auto where = [&] {
        return segments_.at(position.segment) + ", journal record " +
               std::to_string(position.record) + ", entry " + std::to_string(position.entry);
      };
      (void)detail::parse_entry(bytes, where);
    }
    visitor_.entry(position, bytes);
  }

 private:
  JournalVisitor& visitor_;
  const Segments& segments_;
  bool parse_;
};

std::optional<std::int64_t> modified_ms(const std::string& path) {
  std::error_code error;
  const auto time = std::filesystem::last_write_time(path, error);
  if (error) return std::nullopt;
  const auto system = std::chrono::file_clock::to_sys(time);
  return std::chrono::duration_cast<std::chrono::milliseconds>(system.time_since_epoch()).count();
}

class FileJournalSource : public JournalSource {
 public:
  FileJournalSource(std::string directory, std::shared_ptr<FileSystem> fs,
                    EncryptionOptions encryption)
      : directory_(std::move(directory)),
        fs_(std::move(fs)),
        keys_(std::move(encryption), "journal reader") {}

  std::string describe() const override { return "directory " + directory_; }

  std::vector<SnapshotInfo> snapshots() override {
    std::vector<SnapshotInfo> found;
    for (const auto& [id, path] : list().snapshots) {
      SnapshotInfo info;
      info.id = id;
      info.location = path;
      info.modified_ms = modified_ms(path);
      try {
        File fd = detail::open_for_read(*fs_, path, info.bytes);
        if (info.bytes >= snapshot_header_bytes()) {
          detail::WindowReader reader(*fs_, fd.get(), info.bytes, path);
          const std::string_view header = reader.view(0, detail::snapshot_header_bytes);
          const detail::SnapshotHeader checked = detail::check_snapshot_header(header, path);
          info.format_version = detail::get_u32(header.data() + 8);
          info.compressed = (checked.flags & detail::snapshot_flag_zstd) != 0;
        }
      } catch (const detail::FileVanished&) {
        continue;  // pruned since the listing
      } catch (const Error&) {
        // A damaged header: listed with version 0; verify names the damage.
      }
      found.push_back(std::move(info));
    }
    return found;
  }

  std::vector<SegmentInfo> segments() override {
    std::vector<SegmentInfo> found;
    const Segments segments = list().segments;
    for (const auto& [id, path] : segments) {
      SegmentInfo info;
      info.id = id;
      info.location = path;
      detail::FileStat st;
      if (fs_->stat_without_times(path, st) == 0) info.bytes = st.size_bytes;
      info.end = id == segments.rbegin()->first ? SegmentEnd::tail : SegmentEnd::start_record;
      found.push_back(std::move(info));
    }
    return found;
  }

  std::string snapshot_bytes(std::uint64_t id) override {
    const std::string path = detail::path_in(directory_, detail::snapshot_name(id));
    try {
      DrainingHandler drain;
      detail::read_snapshot(*fs_, id, path, drain, reading());  // checks the CRC and the body
      std::uint64_t size = 0;
      File fd = detail::open_for_read(*fs_, path, size);
      std::string bytes(static_cast<std::size_t>(size), '\0');
      if (int error = detail::read_fully(*fs_, fd.get(), bytes.data(), bytes.size(), 0)) {
        throw StorageError("cannot read " + path + ": " + detail::errno_text(error));
      }
      return bytes;
    } catch (const detail::FileVanished&) {
      throw_vanished(path);
    }
  }

  void read_snapshot(std::uint64_t id, RecoveryHandler& handler) override {
    const std::string path = detail::path_in(directory_, detail::snapshot_name(id));
    try {
      detail::read_snapshot(*fs_, id, path, handler, reading());
    } catch (const detail::FileVanished&) {
      throw PointInTimeError(path + " was deleted (by retention) while it was being read");
    }
  }

  void read(std::uint64_t first_segment, JournalVisitor& visitor) override {
    Segments segments = list().segments;
    segments.erase(segments.begin(), segments.lower_bound(first_segment));
    if (segments.empty()) return;
    check_consecutive(segments);
    VisitingHandler handler(visitor, segments, false);
    try {
      replay(segments, handler, visitor, reading());
    } catch (const detail::FileShrank& e) {
      throw_shrank(e.what());
    } catch (const detail::FileVanished& e) {
      throw_vanished(e.what());
    }
  }

  std::vector<Problem> verify(JournalVisitor& visitor) override {
    std::vector<Problem> problems;
    const detail::Listing listing = list();
    for (const auto& [id, path] : listing.snapshots) {
      try {
        DrainingHandler drain;
        detail::read_snapshot(*fs_, id, path, drain, verifying());
      } catch (const detail::FileVanished&) {
        // Pruned since the listing: no longer kept.
      } catch (const Error& e) {
        problems.push_back({path, e.what()});
      }
    }
    if (!listing.snapshots.empty()) {
      const std::uint64_t newest = listing.snapshots.rbegin()->first;
      if (!listing.segments.empty() && !listing.segments.count(newest)) {
        const std::string missing = detail::path_in(directory_, detail::segment_name(newest));
        problems.push_back(
            {missing, "missing: recovery starts at snapshot " + std::to_string(newest) +
                          " and reads this segment next. Restore it from a backup."});
      }
    }
    // Each run of consecutive segments is read as a recovery from its first
    // one would read it; a gap between runs is a missing segment.
    Segments run;
    std::optional<std::uint64_t> previous;
    for (const auto& [id, path] : listing.segments) {
      if (previous && id != *previous + 1) {
        verify_run(run, visitor, problems);
        run.clear();
        problems.push_back({detail::path_in(directory_, detail::segment_name(*previous + 1)),
                            "missing: the journal jumps from segment " + std::to_string(*previous) +
                                " to segment " + std::to_string(id) +
                                ". Restore it from a backup."});
      }
      run.emplace(id, path);
      previous = id;
    }
    verify_run(run, visitor, problems);
    return problems;
  }

 private:
  static constexpr std::uint64_t snapshot_header_bytes() { return detail::snapshot_header_bytes; }

  detail::Listing list() {
    detail::FileStat st;
    const int error = fs_->stat(directory_, st);
    if (error != 0 || !st.directory) {
      throw StorageError("directory " + directory_ +
                         (error == 0 ? " is not a directory" : " does not exist") +
                         "; give the directory of a file storage with --dir");
    }
    return detail::list_storage_files(*fs_, directory_);
  }

  // Replays as a reader: never syncs or writes, so the ends a recovery
  // would decide stay undecided (detail::ReplayMode::read_only).
  void replay(const Segments& segments, VisitingHandler& handler, JournalVisitor& visitor,
              const detail::Decryption& decryption) {
    detail::replay_segments(
        *fs_, segments, handler, [&](const std::string& m) { visitor.warning(m); },
        detail::ReplayMode::read_only, decryption);
  }

  detail::Decryption reading() const { return detail::Decryption{&keys_, false}; }
  // Without the key, verify checks what it can: frames, CRCs, structure.
  detail::Decryption verifying() const { return detail::Decryption{&keys_, !keys_.has_provider()}; }

  void check_consecutive(const Segments& segments) const {
    std::uint64_t expected = segments.begin()->first;
    for (const auto& [id, path] : segments) {
      if (id != expected) {
        throw CorruptionError(detail::path_in(directory_, detail::segment_name(expected)) +
                              ": missing; the journal jumps to segment " + std::to_string(id) +
                              ". Restore it from a backup.");
      }
      ++expected;
    }
  }

  // Reads `run`; on damage, records it and goes on with the segments after
  // the damaged one (a segment's damage ends what can be trusted in it).
  void verify_run(Segments run, JournalVisitor& visitor, std::vector<Problem>& problems) {
    const std::size_t segments_max = run.size();
    for (std::size_t attempt = 0; attempt <= segments_max && !run.empty(); ++attempt) {
      VisitingHandler handler(visitor, run, true);
      try {
        replay(run, handler, visitor, verifying());
        return;
      } catch (const detail::FileShrank& e) {
        // Not a damage, but what followed was not verified: say so.
        problems.push_back({e.what(), shrank_text(e.what())});
        return;
      } catch (const detail::FileVanished&) {
        return;  // pruned since the listing
      } catch (const Error& e) {
        const std::string message = e.what();
        // The messages start with the file they name.
        auto damaged = run.begin();
        for (auto it = run.begin(); it != run.end(); ++it) {
          if (message.rfind(it->second, 0) == 0) damaged = it;
        }
        problems.push_back({damaged->second, message});
        run.erase(run.begin(), std::next(damaged));
      }
    }
  }

  std::string directory_;
  std::shared_ptr<FileSystem> fs_;
  detail::KeyRing keys_;
};

class FileJournalDestination : public JournalDestination {
 public:
  FileJournalDestination(std::string directory, std::shared_ptr<FileSystem> fs)
      : fs_(std::move(fs)),
        dir_(*fs_, std::move(directory)),
        segments_(dir_),
        compressor_(copy_compress_records_over_bytes, copy_record_compression_level,
                    "copy destination") {}

  std::string describe() const override { return "directory " + dir_.path(); }

  void check_empty() override {
    std::vector<std::string> names;
    if (fs_->list(dir_.path(), names) == 0 && !names.empty()) {
      throw StorageError("the destination directory " + dir_.path() + " is not empty (" +
                         std::to_string(names.size()) +
                         " entries); copy writes only into an empty or new directory");
    }
    dir_.open(true);
  }

  void put_snapshot(std::uint64_t id, std::string_view bytes) override {
    const std::string final_path = dir_.file(detail::snapshot_name(id));
    const std::string temp_path = final_path + ".tmp";
    File fd;
    if (int error = detail::open_file(*fs_, temp_path, detail::OpenMode::create_or_truncate, fd)) {
      throw StorageError("cannot create " + temp_path + ": " + detail::write_failure_text(error));
    }
    if (int error = detail::write_fully(*fs_, fd.get(), bytes, 0)) {
      throw StorageError("cannot write " + temp_path + ": " + detail::write_failure_text(error));
    }
    if (int error = fs_->fsync(fd.get())) {
      throw StorageError("cannot sync " + temp_path + ": " + detail::errno_text(error));
    }
    fd.reset();
    if (int error = fs_->rename(temp_path, final_path)) {
      throw StorageError("cannot rename " + temp_path + " to " + final_path + ": " +
                         detail::errno_text(error));
    }
  }

  void begin_segment(std::uint64_t id) override {
    if (!segments_.create(id, file_)) {
      throw StorageError(segments_.path(id) + " appeared while copying into " + dir_.path() +
                         "; is an instance running on the destination?");
    }
    std::optional<detail::StartRecord> start;
    // The first segment copied is the first one replayed; every later one
    // starts with the record that ends its predecessor where the copy did.
    if (previous_end_) start = detail::StartRecord{*previous_end_, {}};
    segment_ = id;
    offset_ = segments_.finish(file_, id, writer_id_, start);
  }

  void add_record(std::uint64_t, const EntryBatch& entries) override {
    std::string framed;
    const std::size_t frame = detail::open_frame(framed);
    detail::encode_batch_record(framed, writer_id_, entries, 0, entries.size(), &compressor_);
    detail::close_frame(framed, frame);
    if (int error = detail::write_fully(*fs_, file_.get(), framed, offset_)) {
      throw StorageError("cannot write " + segments_.path(segment_) + " at offset " +
                         std::to_string(offset_) + ": " + detail::write_failure_text(error));
    }
    offset_ += framed.size();
  }

  void end_segment(bool) override {
    if (int error = fs_->fdatasync(file_.get())) {
      throw StorageError("cannot sync " + segments_.path(segment_) + ": " +
                         detail::errno_text(error));
    }
    file_.reset();
    previous_end_ = offset_;
  }

  void finish() override { dir_.sync(); }

 private:
  std::shared_ptr<FileSystem> fs_;
  detail::Directory dir_;
  detail::SegmentFiles segments_;
  detail::RecordCompressor compressor_;
  std::uint64_t writer_id_ = random_writer_id();
  File file_;
  std::uint64_t segment_ = 0;
  std::uint64_t offset_ = 0;
  std::optional<std::uint64_t> previous_end_;
};

class FileJournalStore : public JournalStore {
 public:
  FileJournalStore(std::string directory, std::shared_ptr<FileSystem> fs,
                   EncryptionOptions encryption)
      : directory_(std::move(directory)), fs_(std::move(fs)), encryption_(std::move(encryption)) {}
  std::string describe() const override { return "directory " + directory_; }
  std::unique_ptr<JournalSource> source() override {
    return make_file_journal_source(directory_, fs_, encryption_);
  }
  std::unique_ptr<JournalDestination> destination() override {
    return make_file_journal_destination(directory_, fs_);
  }
  std::uint64_t prune(detail::RetentionPolicy policy) override {
    return detail::prune_file_storage(*fs_, directory_, policy);
  }

 private:
  std::string directory_;
  std::shared_ptr<FileSystem> fs_;
  EncryptionOptions encryption_;
};

}  // namespace

std::unique_ptr<JournalStore> make_file_journal_store(std::string directory,
                                                      std::shared_ptr<detail::FileSystem> fs,
                                                      EncryptionOptions encryption) {
  return std::make_unique<FileJournalStore>(std::move(directory), std::move(fs),
                                            std::move(encryption));
}

std::unique_ptr<JournalSource> make_file_journal_source(std::string directory,
                                                        std::shared_ptr<FileSystem> fs,
                                                        EncryptionOptions encryption) {
  return std::make_unique<FileJournalSource>(std::move(directory), std::move(fs),
                                             std::move(encryption));
}

std::unique_ptr<JournalDestination> make_file_journal_destination(std::string directory,
                                                                  std::shared_ptr<FileSystem> fs) {
  return std::make_unique<FileJournalDestination>(std::move(directory), std::move(fs));
}

}  // namespace prevayler::ops

namespace prevayler {

std::unique_ptr<Storage> make_file_storage_as_of(const FileStorageOptions& storage,
                                                 const PointInTime& point) {
  // The file storage's retention deletes a segment only below a kept
  // snapshot, so with none kept segment 0 is there and complete.
  return ops::make_point_in_time_storage(
      ops::make_file_journal_source(storage.directory.string(), detail::posix_file_system(),
                                    storage.common.encryption),
      point, storage.common.warn, true);
}

}  // namespace prevayler
