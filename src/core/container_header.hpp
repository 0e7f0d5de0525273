// The 28-byte header that starts journal segment files and snapshots (file
// and S3): magic, format version, flags, id, masked CRC-32C.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace prevayler::detail {

std::string make_container_header(std::string_view magic, std::uint32_t version, std::uint64_t id);

// Checks magic, version (FormatVersionError) and CRC (CorruptionError);
// returns the id. `where` names the file or object; `what` the kind.
std::uint64_t check_container_header(std::string_view header, std::string_view magic,
                                     std::uint32_t known_version, const std::string& where,
                                     const char* what);

// A snapshot header: format version 1 (flags 0) or 2 (flags).
struct SnapshotHeader {
  std::uint64_t id = 0;
  std::uint32_t flags = 0;  // snapshot_flag_*
  std::uint32_t state_schema_version = 1;
};
// Format version 1 when there is nothing to flag (no compression, state
// schema version 1), so builds older than the flags still read it.
std::string make_snapshot_header(std::uint64_t id, std::uint32_t flags,
                                 std::uint32_t state_schema_version);
// Checks magic, version (1 or 2), known flags (FormatVersionError) and CRC
// (CorruptionError). `where` names the file or object.
SnapshotHeader check_snapshot_header(std::string_view header, const std::string& where);

// The snapshot trailer: body length, masked CRC-32C of the body, end magic.
std::string make_snapshot_trailer(std::uint64_t body_bytes, std::uint32_t body_crc);
// Checks the trailer against the body length it must state; returns the
// stored (unmasked) body CRC. Throws CorruptionError naming `where`.
std::uint32_t check_snapshot_trailer(std::string_view trailer, std::uint64_t body_bytes,
                                     const std::string& where, std::uint64_t trailer_offset);

}  // namespace prevayler::detail
