// The names of the file storage's files (docs/format.md, "The directory")
// and the listing of a directory by them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "file/file_system.hpp"

namespace prevayler::detail {

std::string segment_name(std::uint64_t id);
std::string snapshot_name(std::uint64_t id);

// Parses "<prefix><20 digits><suffix>"; nullopt for any other name.
std::optional<std::uint64_t> parse_numbered_name(const std::string& name, std::string_view prefix,
                                                 std::string_view suffix);

// `directory` joined with `name`.
std::string path_in(const std::string& directory, const std::string& name);

// The storage's files in a directory, by id, as full paths.
struct Listing {
  std::map<std::uint64_t, std::string> snapshots;
  std::map<std::uint64_t, std::string> segments;
  std::vector<std::string> temporary;  // *.snap.tmp and *.log.tmp, left by a crash
};

// Lists `directory`; throws StorageError naming it when that fails.
Listing list_storage_files(FileSystem& fs, const std::string& directory);

}  // namespace prevayler::detail
