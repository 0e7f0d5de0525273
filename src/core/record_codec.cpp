#include "core/record_codec.hpp"

#include "core/bytes.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {

void encode_batch_record(std::string& out, std::uint64_t writer_id, const EntryBatch& batch,
                         std::size_t first, std::size_t count) {
  out.push_back(static_cast<char>(record_format_version));
  out.push_back(static_cast<char>(RecordType::batch));
  put_u64(out, writer_id);
  put_varint(out, count);
  for (std::size_t i = first; i < first + count; ++i) {
    const std::string_view entry = batch[i];
    put_varint(out, entry.size());
    out.append(entry);
  }
}

void encode_fragment_record(std::string& out, std::uint64_t writer_id, std::uint32_t index,
                            std::uint32_t count, std::string_view slice) {
  out.push_back(static_cast<char>(record_format_version));
  out.push_back(static_cast<char>(RecordType::fragment));
  put_u64(out, writer_id);
  put_u32(out, index);
  put_u32(out, count);
  out.append(slice);
}

void encode_segment_start_record(std::string& out, std::uint64_t writer_id,
                                 std::uint64_t previous_end) {
  out.push_back(static_cast<char>(record_format_version));
  out.push_back(static_cast<char>(RecordType::segment_start));
  put_u64(out, writer_id);
  put_u64(out, previous_end);
}

void encode_seal_record(std::string& out, std::uint64_t writer_id, std::uint64_t next_segment) {
  out.push_back(static_cast<char>(record_format_version));
  out.push_back(static_cast<char>(RecordType::seal));
  put_u64(out, writer_id);
  put_u64(out, next_segment);
}

DecodedRecord decode_record(std::string_view payload, const std::string& where) {
  auto corrupt = [&](const char* what) {
    return CorruptionError(where + ": journal record is malformed (" + what + ")");
  };
  if (payload.size() < 2) throw corrupt("shorter than its header");
  const auto version = static_cast<unsigned char>(payload[0]);
  if (version != record_format_version) {
    throw FormatVersionError(where + ": journal record has format version " +
                             std::to_string(version) + ", this build reads version " +
                             std::to_string(record_format_version) +
                             "; open it with a newer prevayler-cpp");
  }
  DecodedRecord record;
  const auto type = static_cast<unsigned char>(payload[1]);
  payload.remove_prefix(2);
  if (payload.size() < 8) throw corrupt("truncated writer id");
  record.writer_id = get_u64(payload.data());
  payload.remove_prefix(8);
  if (type == static_cast<unsigned char>(RecordType::fragment)) {
    if (payload.size() < 8) throw corrupt("truncated fragment header");
    record.type = RecordType::fragment;
    record.fragment_index = get_u32(payload.data());
    record.fragment_count = get_u32(payload.data() + 4);
    if (record.fragment_count < 2 || record.fragment_index >= record.fragment_count) {
      throw corrupt("fragment index out of range");
    }
    record.fragment_bytes = payload.substr(8);
    return record;
  }
  if (type == static_cast<unsigned char>(RecordType::seal)) {
    if (payload.size() != 8) throw corrupt("seal of the wrong size");
    record.type = RecordType::seal;
    record.next_segment = get_u64(payload.data());
    return record;
  }
  if (type == static_cast<unsigned char>(RecordType::segment_start)) {
    if (payload.size() != 8) throw corrupt("segment start of the wrong size");
    record.type = RecordType::segment_start;
    record.previous_end = get_u64(payload.data());
    return record;
  }
  if (type != static_cast<unsigned char>(RecordType::batch)) throw corrupt("unknown record type");
  const auto count = get_varint(payload);
  if (!count || *count > payload.size()) throw corrupt("bad entry count");
  record.entries.reserve(*count);
  for (std::uint64_t i = 0; i < *count; ++i) {
    const auto size = get_varint(payload);
    if (!size || *size > payload.size()) throw corrupt("entry length beyond the record");
    record.entries.push_back(payload.substr(0, *size));
    payload.remove_prefix(*size);
  }
  if (!payload.empty()) throw corrupt("bytes after the last entry");
  return record;
}

}  // namespace prevayler::detail
