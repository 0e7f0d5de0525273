// Segment files and the fence (docs/protocol.md, "File storage").
//
// Contract. Segment files are created exclusively (O_CREAT | O_EXCL) and
// never renamed or rewritten (their owner cuts off only the unused
// preallocated zeros past its last write: docs/format.md, "Preallocated
// space"); only retention deletes them, and
// only segments below a durable snapshot, in ascending id order. Whoever
// creates segment P+1 has *fenced off* the owner of P. The owner of P
// acknowledges a write only after check_ownership() returns `owned` once
// the write is durable. `owned` means, at the moment of the check:
//   (a) segment P+1 does not exist, and
//   (b) the name of segment P still refers to the file the owner writes
//       (same identity by stat and fstat).
// Why that suffices: a new owner creates P+1 *before* it measures where P
// ends. If P+1 was created before the check, (a) fails unless P+1 was
// deleted since; retention deletes only in ascending order, so P was
// deleted first and (b) fails (a zombie may have re-created the name P,
// but as another file). If P+1 was created after the check, the write was
// durable before the new owner measured P's end, so its replay includes it.
// The same check after creating a segment (snapshot, roll-forward) stops
// a zombie whose next segment retention had deleted: O_EXCL alone would
// let it re-create the name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "file/file_system.hpp"
#include "file/start_record.hpp"

namespace prevayler::detail {

// The storage directory and its open descriptor, for syncing its entries.
class Directory {
 public:
  Directory(FileSystem& fs, std::string path) : fs_(fs), path_(std::move(path)) {}
  // Opens (creating it and its parents when `create`); throws StorageError.
  void open(bool create);
  // Makes creations, renames and deletions in it durable; throws StorageError.
  void sync();
  void close() { fd_.reset(); }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const;
  FileSystem& fs() const { return fs_; }

 private:
  FileSystem& fs_;
  std::string path_;
  File fd_;
};

enum class Ownership { owned, superseded, unknown };

struct OwnershipCheck {
  Ownership ownership = Ownership::owned;
  std::string reason;  // why not owned, naming the file
};

class SegmentFiles {
 public:
  explicit SegmentFiles(Directory& directory) : dir_(directory) {}

  // Creates segment `id` exclusively and writes its header. Returns false
  // when the name exists (someone else created it: the fence). Throws
  // StorageError on any other failure; the file may then stay, shorter
  // than a header or without a start record, which every reader allows.
  bool create(std::uint64_t id, File& file);

  // Writes the start record (none for `start` empty: the first segment),
  // syncs the file and the directory. Returns the segment's size. Throws
  // StorageError.
  std::uint64_t finish(File& file, std::uint64_t id, std::uint64_t writer_id,
                       const std::optional<StartRecord>& start);

  // The fence check for the owner of segment `id` writing through `fd`.
  // `successor_is_ours`: the caller just created segment id + 1 itself, so
  // only (b) is checked.
  OwnershipCheck check_ownership(std::uint64_t id, int fd, bool successor_is_ours = false);

  std::string path(std::uint64_t id) const;

 private:
  Directory& dir_;
};

}  // namespace prevayler::detail
