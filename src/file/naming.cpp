#include "file/naming.hpp"

#include <cinttypes>
#include <cstdio>

#include "core/assert.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {
namespace {

constexpr std::size_t id_digits = 20;

// Room for the longest prefix and suffix we use around the id.
constexpr std::size_t name_bytes_max = 64;

std::string numbered_name(const char* prefix, std::uint64_t id, const char* suffix) {
  char name[name_bytes_max];
  // The width is id_digits: 20 digits hold every uint64_t.
  const int written = std::snprintf(name, sizeof name, "%s%020" PRIu64 "%s", prefix, id, suffix);
  PREVAYLER_ASSERT(written > 0 && static_cast<std::size_t>(written) < sizeof name);
  return name;
}

}  // namespace

std::string segment_name(std::uint64_t id) { return numbered_name("journal-", id, ".log"); }
std::string snapshot_name(std::uint64_t id) { return numbered_name("snapshot-", id, ".snap"); }

std::optional<std::uint64_t> parse_numbered_name(const std::string& name, std::string_view prefix,
                                                 std::string_view suffix) {
  if (name.size() != prefix.size() + id_digits + suffix.size()) return std::nullopt;
  if (name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  if (name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) return std::nullopt;
  std::uint64_t id = 0;
  for (std::size_t i = prefix.size(); i < prefix.size() + id_digits; ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    id = id * 10 + static_cast<std::uint64_t>(name[i] - '0');
  }
  return id;
}

std::string path_in(const std::string& directory, const std::string& name) {
  if (!directory.empty() && directory.back() == '/') return directory + name;
  return directory + "/" + name;
}

Listing list_storage_files(FileSystem& fs, const std::string& directory) {
  std::vector<std::string> names;
  if (int error = fs.list(directory, names)) {
    throw StorageError("cannot list directory " + directory + ": " + errno_text(error));
  }
  Listing listing;
  for (const std::string& name : names) {
    if (auto id = parse_numbered_name(name, "snapshot-", ".snap")) {
      listing.snapshots[*id] = path_in(directory, name);
    } else if (auto id = parse_numbered_name(name, "journal-", ".log")) {
      listing.segments[*id] = path_in(directory, name);
    } else if (parse_numbered_name(name, "snapshot-", ".snap.tmp") ||
               parse_numbered_name(name, "journal-", ".log.tmp")) {
      listing.temporary.push_back(path_in(directory, name));
    }
  }
  return listing;
}

}  // namespace prevayler::detail
