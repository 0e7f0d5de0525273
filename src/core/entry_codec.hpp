// The journal entry: one event as the core journals it, with its timestamp
// and, when a state hash function is set, the hash of the state it produced.
// Layout in docs/format.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "prevayler/timestamp.hpp"

namespace prevayler::detail {

inline constexpr std::uint8_t entry_kind_event = 1;
inline constexpr std::uint8_t entry_kind_event_with_hash = 2;
// The head: kind (1), timestamp in ms (8), then the state hash (8) when the
// kind says so.
inline constexpr std::size_t entry_kind_bytes = 1;
inline constexpr std::size_t entry_timestamp_bytes = 8;
inline constexpr std::size_t entry_hash_bytes = 8;
inline constexpr std::size_t entry_head_bytes_min = entry_kind_bytes + entry_timestamp_bytes;
inline constexpr std::size_t entry_head_bytes_max = entry_head_bytes_min + entry_hash_bytes;

struct ParsedEntry {
  Timestamp timestamp;
  std::optional<std::uint64_t> state_hash;
  std::string_view event;
};

// The bytes that precede the encoded event.
std::string encode_entry_head(Timestamp timestamp, std::optional<std::uint64_t> state_hash);

// Throws CorruptionError / FormatVersionError prefixed with `where`.
ParsedEntry parse_entry(std::string_view entry, const std::string& where);

}  // namespace prevayler::detail
