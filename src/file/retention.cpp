#include "file/retention.hpp"

#include <algorithm>
#include <cerrno>
#include <vector>

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

// The snapshots, ascending, each with its file's modification time. One
// that cannot be read (deleted meanwhile by a concurrent run) is undated,
// which keeps it.
std::vector<DatedSnapshot> date_snapshots(FileSystem& fs, const Listing& listing) {
  std::vector<DatedSnapshot> dated;
  dated.reserve(listing.snapshots.size());
  for (const auto& [id, path] : listing.snapshots) {  // std::map: ascending ids
    FileStat st;
    DatedSnapshot snapshot{id, std::nullopt};
    if (fs.stat(path, st) == 0) snapshot.time_ms = st.modified_ms;
    dated.push_back(snapshot);
  }
  return dated;
}

}  // namespace

std::size_t prune_directory(FileSystem& fs, const std::string& directory, RetentionPolicy policy) {
  if (!policy.any()) {
    throw ConfigError("pruning " + directory +
                      ": keep at least 1 snapshot, or the snapshots of at least 1 month");
  }
  const Listing listing = list_storage_files(fs, directory);
  if (listing.snapshots.empty()) return 0;
  const std::vector<std::uint64_t> kept = snapshots_to_keep(
      date_snapshots(fs, listing), policy.keep_snapshots, policy.keep_monthly_snapshots);
  if (kept.size() == listing.snapshots.size()) return 0;
  const std::uint64_t boundary = kept.front();
  const auto is_kept = [&](std::uint64_t id) {
    return std::binary_search(kept.begin(), kept.end(), id);
  };
  Directory dir(fs, directory);
  dir.open(/*create=*/false);
  // The snapshots kept may have been renamed by another process that has
  // not synced the directory yet: make them durable before deleting what
  // a recovery without them would need.
  dir.sync();
  std::size_t deleted = 0;
  for (const auto& [id, path] : listing.segments) {  // std::map: ascending ids
    if (id >= boundary) break;
    if (delete_file(dir, path)) ++deleted;
  }
  for (const auto& [id, path] : listing.snapshots) {
    if (!is_kept(id) && delete_file(dir, path)) ++deleted;
  }
  return deleted;
}

}  // namespace prevayler::detail
