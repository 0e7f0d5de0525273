#include "core/entry_codec.hpp"

#include "core/bytes.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {

std::string encode_entry_head(Timestamp timestamp, std::optional<std::uint64_t> state_hash) {
  std::string head;
  head.reserve(entry_head_bytes_max);
  head.push_back(static_cast<char>(state_hash ? entry_kind_event_with_hash : entry_kind_event));
  put_u64(head, static_cast<std::uint64_t>(timestamp.time_since_epoch().count()));
  if (state_hash) put_u64(head, *state_hash);
  return head;
}

ParsedEntry parse_entry(std::string_view entry, const std::string& where) {
  if (entry.empty()) throw CorruptionError(where + ": empty journal entry");
  const auto kind = static_cast<unsigned char>(entry[0]);
  if (kind != entry_kind_event && kind != entry_kind_event_with_hash) {
    throw FormatVersionError(where + ": journal entry of unknown kind " + std::to_string(kind) +
                             "; it was written by a newer prevayler-cpp");
  }
  const std::size_t head =
      kind == entry_kind_event_with_hash ? entry_head_bytes_max : entry_head_bytes_min;
  if (entry.size() < head) throw CorruptionError(where + ": journal entry shorter than its header");
  ParsedEntry parsed;
  parsed.timestamp = Timestamp(std::chrono::milliseconds(
      static_cast<std::int64_t>(get_u64(entry.data() + entry_kind_bytes))));
  if (kind == entry_kind_event_with_hash) {
    parsed.state_hash = get_u64(entry.data() + entry_head_bytes_min);
  }
  parsed.event = entry.substr(head);
  return parsed;
}

}  // namespace prevayler::detail
