// The journal record: the unit a storage writes per group commit (a file
// record, a DynamoDB item's `content`). Shared by every backend so the
// bytes mean the same wherever they are stored. Layout in docs/format.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "prevayler/storage.hpp"

namespace prevayler::detail {

inline constexpr std::uint8_t record_format_version = 1;

enum class RecordType : std::uint8_t {
  batch = 1,          // one group commit: one or more entries
  fragment = 2,       // a slice of a batch record too large for one item
  seal = 3,           // closes a segment: the journal continues in `next_segment`
  segment_start = 4,  // file storage: opens a segment; the previous one ends at `previous_end`
};

struct DecodedRecord {
  RecordType type = RecordType::batch;
  std::uint64_t writer_id = 0;
  std::vector<std::string_view> entries;  // batch: views into the decoded payload
  std::uint32_t fragment_index = 0;       // fragment: 0-based
  std::uint32_t fragment_count = 0;       // fragment: > 1
  std::string_view fragment_bytes;        // fragment: a slice of the batch record
  std::uint64_t next_segment = 0;         // seal
  std::uint64_t previous_end = 0;         // segment_start: byte offset
};

// Bytes of a fragment record besides its slice.
inline constexpr std::size_t fragment_header_bytes = 2 + 8 + 4 + 4;

// Appends a fragment record: slice `index` of `count` of a batch record.
void encode_fragment_record(std::string& out, std::uint64_t writer_id, std::uint32_t index,
                            std::uint32_t count, std::string_view slice);

// Appends a segment-start record.
void encode_segment_start_record(std::string& out, std::uint64_t writer_id,
                                 std::uint64_t previous_end);

// Appends a seal record.
void encode_seal_record(std::string& out, std::uint64_t writer_id, std::uint64_t next_segment);

// Appends the record of entries [first, first + count) of `batch`.
void encode_batch_record(std::string& out, std::uint64_t writer_id, const EntryBatch& batch,
                         std::size_t first, std::size_t count);

// Decodes a record; throws CorruptionError / FormatVersionError whose
// message starts with `where` (the file and offset, or table and key).
DecodedRecord decode_record(std::string_view payload, const std::string& where);

}  // namespace prevayler::detail
