// Constants of the on-disk and on-S3 formats (docs/format.md). Users keep
// these files for years: change nothing here without a new version.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace prevayler::detail {

inline constexpr std::string_view segment_magic = "PVLJRNL1";   // 8 bytes
inline constexpr std::string_view snapshot_magic = "PVLSNAP1";  // 8 bytes
inline constexpr std::string_view snapshot_end_magic = "PVLSEND1";
inline constexpr std::uint32_t segment_format_version = 1;
// Snapshot version 1: flags 0, the body is the state codec's bytes.
// Version 2: the flags say how the body is stored (snapshot_flag_*). Writers
// use version 1 for an uncompressed snapshot, so older builds still read it.
inline constexpr std::uint32_t snapshot_format_version = 1;
inline constexpr std::uint32_t snapshot_format_version_flags = 2;
inline constexpr std::uint32_t snapshot_flag_zstd = 1;  // the body is one zstd frame
// The body is sealed with AES-256-GCM in chunks (core/snapshot_cipher.hpp),
// after compression when both flags are set.
inline constexpr std::uint32_t snapshot_flag_encrypted = 2;
inline constexpr std::uint32_t snapshot_flags_known = snapshot_flag_zstd | snapshot_flag_encrypted;
// Version 2, flag bits 16 to 31: the application's state schema version
// when it is not 1 (0: version 1, as in every snapshot written before
// schema versions). A build older than them stops at these bits with
// FormatVersionError, as at any flag it does not know.
inline constexpr std::uint32_t snapshot_flags_schema_shift = 16;
inline constexpr std::uint32_t snapshot_flags_schema_mask = 0xffff0000u;

// The container header of segments and snapshots, at these offsets:
// magic(8) version(4) flags(4) segment or snapshot id(8) masked crc32c of
// the 24 bytes before(4).
inline constexpr std::size_t header_magic_bytes = 8;
inline constexpr std::size_t header_version_offset = 8;
inline constexpr std::size_t header_flags_offset = 12;
inline constexpr std::size_t header_id_offset = 16;
inline constexpr std::size_t header_crc_offset = 24;
inline constexpr std::size_t segment_header_bytes = 28;
inline constexpr std::size_t snapshot_header_bytes = 28;
static_assert(segment_magic.size() == header_magic_bytes &&
              snapshot_magic.size() == header_magic_bytes);
static_assert(header_crc_offset + 4 == segment_header_bytes &&
              segment_header_bytes == snapshot_header_bytes);
// The snapshot trailer: body length(8) masked crc32c of body(4) end magic(8)
inline constexpr std::size_t trailer_crc_offset = 8;
inline constexpr std::size_t trailer_magic_offset = 12;
inline constexpr std::size_t snapshot_trailer_bytes = 20;
static_assert(trailer_magic_offset + snapshot_end_magic.size() == snapshot_trailer_bytes);
// masked crc32c of (length + payload)(4) payload length(4)
inline constexpr std::size_t record_header_bytes = 8;
inline constexpr std::size_t record_crc_offset = 0;
inline constexpr std::size_t record_length_offset = 4;  // the crc covers the bytes from here
static_assert(record_length_offset + 4 == record_header_bytes);
// The smallest payload: version, type, writer id, a one-byte entry count.
inline constexpr std::size_t record_payload_bytes_min = 11;

inline constexpr std::size_t file_entry_bytes_max = std::size_t{1} << 30;
inline constexpr std::size_t record_payload_bytes_max = std::size_t{0xffffffffu};
static_assert(file_entry_bytes_max * 2 < record_payload_bytes_max,
              "a record holds at least one maximal entry plus a full batch");

inline constexpr std::size_t read_buffer_bytes = std::size_t{1} << 20;

}  // namespace prevayler::detail
