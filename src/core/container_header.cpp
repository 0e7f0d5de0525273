#include "core/container_header.hpp"

#include "core/assert.hpp"
#include "core/bytes.hpp"
#include "core/crc32c.hpp"
#include "core/formats.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {
namespace {

std::string make_header(std::string_view magic, std::uint32_t version, std::uint32_t flags,
                        std::uint64_t id) {
  std::string header(magic);
  put_u32(header, version);
  put_u32(header, flags);
  put_u64(header, id);
  put_u32(header, crc32c_mask(crc32c(header)));
  PREVAYLER_ASSERT(header.size() == segment_header_bytes);
  return header;
}

bool magic_matches(std::string_view header, std::string_view magic) {
  return header.size() >= segment_header_bytes && header.substr(0, header_magic_bytes) == magic;
}

bool checksum_matches(std::string_view header) {
  return crc32c_unmask(get_u32(header.data() + header_crc_offset)) ==
         crc32c(header.substr(0, header_crc_offset));
}

}  // namespace

std::string make_container_header(std::string_view magic, std::uint32_t version, std::uint64_t id) {
  return make_header(magic, version, 0, id);  // flags: none defined in version 1
}

std::uint64_t check_container_header(std::string_view header, std::string_view magic,
                                     std::uint32_t known_version, const std::string& where,
                                     const char* what) {
  if (!magic_matches(header, magic)) {
    throw CorruptionError(where + " at offset 0: not a prevayler-cpp " + what +
                          " (bad magic bytes)");
  }
  const std::uint32_t version = get_u32(header.data() + header_version_offset);
  if (version != known_version) {
    throw FormatVersionError(where + ": " + what + " format version " + std::to_string(version) +
                             ", this build reads version " + std::to_string(known_version) +
                             "; open it with a newer prevayler-cpp");
  }
  if (!checksum_matches(header)) {
    throw CorruptionError(where + " at offset 0: " + what + " header fails its checksum");
  }
  return get_u64(header.data() + header_id_offset);
}

std::string make_snapshot_header(std::uint64_t id, std::uint32_t flags,
                                 std::uint32_t state_schema_version) {
  PREVAYLER_ASSERT((flags & ~snapshot_flags_known) == 0);
  PREVAYLER_ASSERT(state_schema_version >= 1 &&
                   state_schema_version <=
                       (snapshot_flags_schema_mask >> snapshot_flags_schema_shift));
  if (state_schema_version != 1) flags |= state_schema_version << snapshot_flags_schema_shift;
  if (flags == 0) return make_container_header(snapshot_magic, snapshot_format_version, id);
  return make_header(snapshot_magic, snapshot_format_version_flags, flags, id);
}

SnapshotHeader check_snapshot_header(std::string_view header, const std::string& where) {
  if (!magic_matches(header, snapshot_magic)) {
    throw CorruptionError(where + " at offset 0: not a prevayler-cpp snapshot (bad magic bytes)");
  }
  const std::uint32_t version = get_u32(header.data() + header_version_offset);
  const std::uint32_t flags = get_u32(header.data() + header_flags_offset);
  if (version != snapshot_format_version && version != snapshot_format_version_flags) {
    throw FormatVersionError(where + ": snapshot format version " + std::to_string(version) +
                             ", this build reads versions 1 and 2; open it with a newer "
                             "prevayler-cpp");
  }
  if (!checksum_matches(header)) {
    throw CorruptionError(where + " at offset 0: snapshot header fails its checksum");
  }
  // Version 1 defines no flags; unknown flags mean a body this build cannot read.
  const std::uint32_t known =
      version == snapshot_format_version ? 0 : snapshot_flags_known | snapshot_flags_schema_mask;
  if ((flags & ~known) != 0) {
    throw FormatVersionError(where + ": snapshot flags " + std::to_string(flags) +
                             " of format version " + std::to_string(version) +
                             " are unknown to this build; open it with a newer prevayler-cpp");
  }
  const std::uint32_t schema = flags >> snapshot_flags_schema_shift;
  return SnapshotHeader{get_u64(header.data() + header_id_offset),
                        flags & ~snapshot_flags_schema_mask, schema == 0 ? 1 : schema};
}

std::string make_snapshot_trailer(std::uint64_t body_bytes, std::uint32_t body_crc) {
  std::string trailer;
  put_u64(trailer, body_bytes);
  put_u32(trailer, crc32c_mask(body_crc));
  trailer.append(snapshot_end_magic);
  return trailer;
}

std::uint32_t check_snapshot_trailer(std::string_view trailer, std::uint64_t body_bytes,
                                     const std::string& where, std::uint64_t trailer_offset) {
  if (trailer.size() != snapshot_trailer_bytes ||
      trailer.substr(trailer_magic_offset) != snapshot_end_magic ||
      get_u64(trailer.data()) != body_bytes) {
    throw CorruptionError(where + " at offset " + std::to_string(trailer_offset) +
                          ": snapshot trailer is damaged or the snapshot is truncated");
  }
  return crc32c_unmask(get_u32(trailer.data() + trailer_crc_offset));
}

}  // namespace prevayler::detail
