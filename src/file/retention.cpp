#include "file/retention.hpp"

#include <cerrno>

#include "file/naming.hpp"
#include "file/segment_files.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {
namespace {

// Deletes `path` and syncs the directory; false when it was already gone
// (a concurrent run deleted it).
bool delete_file(Directory& dir, const std::string& path) {
  const int error = dir.fs().unlink(path);
  if (error == ENOENT) return false;
  if (error != 0) {
    throw StorageError("cannot delete " + path + ": " + errno_text(error) +
                       "; retention resumes at the next snapshot or prune");
  }
  dir.sync();
  return true;
}

}  // namespace

std::size_t prune_directory(FileSystem& fs, const std::string& directory, std::uint32_t keep) {
  if (keep == 0) throw ConfigError("pruning " + directory + ": keep at least 1 snapshot");
  const Listing listing = list_storage_files(fs, directory);
  if (listing.snapshots.size() <= keep) return 0;
  auto newest_kept = listing.snapshots.rbegin();
  std::advance(newest_kept, keep - 1);
  const std::uint64_t boundary = newest_kept->first;
  Directory dir(fs, directory);
  dir.open(/*create=*/false);
  // The snapshots kept may have been renamed by another process that has
  // not synced the directory yet: make them durable before deleting what
  // a recovery without them would need.
  dir.sync();
  std::size_t deleted = 0;
  for (const auto& files : {listing.segments, listing.snapshots}) {
    for (const auto& [id, path] : files) {  // std::map: ascending ids
      if (id >= boundary) break;
      if (delete_file(dir, path)) ++deleted;
    }
  }
  return deleted;
}

}  // namespace prevayler::detail
