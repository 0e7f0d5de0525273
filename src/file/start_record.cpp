#include "file/start_record.hpp"

#include "core/bytes.hpp"
#include "core/formats.hpp"
#include "core/record_codec.hpp"
#include "core/record_frame.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {

std::string make_start_record(std::uint64_t writer_id, const StartRecord& start) {
  std::string record;
  const std::size_t frame = open_frame(record);
  if (start.earlier_ends.empty()) {
    encode_segment_start_record(record, writer_id, start.previous_end);
  } else {
    if (start.earlier_ends.size() > decided_ends_max) {
      throw StorageError("a start record would decide " +
                         std::to_string(start.earlier_ends.size()) +
                         " earlier segment ends, more than " + std::to_string(decided_ends_max) +
                         "; too many openers were killed in a row: restore from a backup");
    }
    record.push_back(static_cast<char>(record_format_version_segment_ends));
    record.push_back(static_cast<char>(record_type_segment_start_with_ends));
    put_u64(record, writer_id);
    put_u64(record, start.previous_end);
    put_u32(record, static_cast<std::uint32_t>(start.earlier_ends.size()));
    for (const auto& [segment, end] : start.earlier_ends) {
      put_u64(record, segment);
      put_u64(record, end);
    }
  }
  close_frame(record, frame);
  return record;
}

bool is_start_record(std::string_view payload) {
  if (payload.size() < record_kind_bytes) return false;
  const auto version = static_cast<unsigned char>(payload[0]);
  const auto type = static_cast<unsigned char>(payload[1]);
  return (version == record_format_version &&
          type == static_cast<unsigned char>(RecordType::segment_start)) ||
         (version == record_format_version_segment_ends &&
          type == record_type_segment_start_with_ends);
}

StartRecord decode_start_record(std::string_view payload, const std::string& where) {
  StartRecord start;
  if (static_cast<unsigned char>(payload[1]) != record_type_segment_start_with_ends) {
    start.previous_end = decode_record(payload, where).previous_end;
    return start;
  }
  // The head, the previous end (8), the count of earlier ends (4), then per
  // end its segment id (8) and offset (8).
  constexpr std::size_t previous_end_bytes = 8;
  constexpr std::size_t count_bytes = 4;
  constexpr std::size_t fixed_bytes = record_head_bytes + previous_end_bytes + count_bytes;
  constexpr std::size_t segment_id_bytes = 8;
  constexpr std::size_t end_bytes = segment_id_bytes + 8;
  if (payload.size() < fixed_bytes) {
    throw CorruptionError(where + ": start record shorter than its fields");
  }
  start.previous_end = get_u64(payload.data() + record_head_bytes);
  const std::uint32_t count = get_u32(payload.data() + record_head_bytes + previous_end_bytes);
  if (count > decided_ends_max || payload.size() != fixed_bytes + std::size_t{count} * end_bytes) {
    throw CorruptionError(where + ": start record deciding " + std::to_string(count) +
                          " earlier ends has the wrong size");
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    const char* at = payload.data() + fixed_bytes + std::size_t{i} * end_bytes;
    start.earlier_ends[get_u64(at)] = get_u64(at + segment_id_bytes);
  }
  return start;
}

}  // namespace prevayler::detail
