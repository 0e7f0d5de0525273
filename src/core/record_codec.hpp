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
  batch = 1,  // one group commit: one or more entries
};

struct DecodedRecord {
  RecordType type = RecordType::batch;
  std::uint64_t writer_id = 0;
  std::vector<std::string_view> entries;  // views into the decoded payload
};

// Appends the record of entries [first, first + count) of `batch`.
void encode_batch_record(std::string& out, std::uint64_t writer_id, const EntryBatch& batch,
                         std::size_t first, std::size_t count);

// Decodes a record; throws CorruptionError / FormatVersionError whose
// message starts with `where` (the file and offset, or table and key).
DecodedRecord decode_record(std::string_view payload, const std::string& where);

}  // namespace prevayler::detail
