// The journal entry: one event as the core journals it, with its timestamp,
// the application's event schema version when it is not 1, and, when a
// state hash function is set, the hash of the state it produced. Layout in
// docs/format.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/where.hpp"
#include "prevayler/timestamp.hpp"

namespace prevayler::detail {

// Kinds 1 and 2 are all a build before schema versions wrote (and what is
// still written at schema version 1, so those builds read it); 3 and 4
// add the schema version, so those builds stop at them with
// FormatVersionError.
inline constexpr std::uint8_t entry_kind_event = 1;
inline constexpr std::uint8_t entry_kind_event_with_hash = 2;
inline constexpr std::uint8_t entry_kind_versioned_event = 3;
inline constexpr std::uint8_t entry_kind_versioned_event_with_hash = 4;
// The head: kind (1), timestamp in ms (8), the state hash (8) when the
// kind says so, then the schema version (2) when the kind says so.
inline constexpr std::size_t entry_kind_bytes = 1;
inline constexpr std::size_t entry_timestamp_bytes = 8;
inline constexpr std::size_t entry_hash_bytes = 8;
inline constexpr std::size_t entry_schema_version_bytes = 2;
inline constexpr std::size_t entry_head_bytes_min = entry_kind_bytes + entry_timestamp_bytes;
// The largest head of kinds 1 and 2.
inline constexpr std::size_t entry_head_bytes_max = entry_head_bytes_min + entry_hash_bytes;
// Entries of kinds 1 and 2 were written before schema versions: version 1.
inline constexpr std::uint32_t entry_schema_version_default = 1;
// The largest head of an entry of `schema_version`: an event may take the
// rest of the storage's entry_bytes_max().
constexpr std::size_t entry_head_bytes_max_at(std::uint32_t schema_version) {
  return entry_head_bytes_max +
         (schema_version == entry_schema_version_default ? 0 : entry_schema_version_bytes);
}

struct ParsedEntry {
  Timestamp timestamp;
  std::optional<std::uint64_t> state_hash;
  std::uint32_t schema_version = entry_schema_version_default;
  std::string_view event;
};

// The bytes that precede the encoded event. REQUIRES: 1 <= schema_version
// <= schema_version_max (codec.hpp).
std::string encode_entry_head(Timestamp timestamp, std::optional<std::uint64_t> state_hash,
                              std::uint32_t schema_version);

// Throws CorruptionError / FormatVersionError prefixed with `where`.
ParsedEntry parse_entry(std::string_view entry, const Where& where);

}  // namespace prevayler::detail
