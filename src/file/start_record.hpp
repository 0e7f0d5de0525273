// The start record: the first record of every segment but the first,
// written by whoever creates the segment (an opener's fence, a snapshot, a
// roll-forward after a failed write). It *decides* where earlier segments
// end (docs/format.md, "Where a segment ends"):
//   type 4 (record version 1): the previous segment ends at `previous_end`;
//   type 6 (record version 3): that, and the ends of earlier segments whose
//     successor had no start record when the writer replayed them (an
//     opener killed between creating its fence and writing this record).
// Type 6 is written only when there is such an earlier end, so journals
// without a crashed opener stay readable by older builds.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace prevayler::detail {

inline constexpr std::uint8_t record_format_version_segment_ends = 3;
inline constexpr std::uint8_t record_type_segment_start_with_ends = 6;
// A start record decides at most this many earlier ends: one per opener
// killed before it wrote its start record since the last opener that did.
inline constexpr std::size_t decided_ends_max = 4096;

struct StartRecord {
  std::uint64_t previous_end = 0;
  std::map<std::uint64_t, std::uint64_t> earlier_ends;  // segment id -> end offset
};

// The framed record (header included).
std::string make_start_record(std::uint64_t writer_id, const StartRecord& start);

// True for a payload of type 4 or 6.
bool is_start_record(std::string_view payload);

// REQUIRES: is_start_record(payload). Throws CorruptionError naming `where`.
StartRecord decode_start_record(std::string_view payload, const std::string& where);

}  // namespace prevayler::detail
