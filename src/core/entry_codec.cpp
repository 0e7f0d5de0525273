#include "core/entry_codec.hpp"

#include "core/assert.hpp"
#include "core/bytes.hpp"
#include "prevayler/codec.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {

std::string encode_entry_head(Timestamp timestamp, std::optional<std::uint64_t> state_hash,
                              std::uint32_t schema_version) {
  PREVAYLER_ASSERT(schema_version >= 1 && schema_version <= schema_version_max);
  const bool versioned = schema_version != entry_schema_version_default;
  std::string head;
  head.reserve(entry_head_bytes_max_at(schema_version));
  if (versioned) {
    head.push_back(static_cast<char>(state_hash ? entry_kind_versioned_event_with_hash
                                                : entry_kind_versioned_event));
  } else {
    head.push_back(static_cast<char>(state_hash ? entry_kind_event_with_hash : entry_kind_event));
  }
  put_u64(head, static_cast<std::uint64_t>(timestamp.time_since_epoch().count()));
  if (state_hash) put_u64(head, *state_hash);
  if (versioned) {
    head.push_back(static_cast<char>(schema_version & 0xff));
    head.push_back(static_cast<char>(schema_version >> 8));
  }
  return head;
}

ParsedEntry parse_entry(std::string_view entry, const Where& where) {
  if (entry.empty()) throw CorruptionError(where.text() + ": empty journal entry");
  const auto kind = static_cast<unsigned char>(entry[0]);
  if (kind < entry_kind_event || kind > entry_kind_versioned_event_with_hash) {
    throw FormatVersionError(where.text() + ": journal entry of unknown kind " +
                             std::to_string(kind) + "; it was written by a newer prevayler-cpp");
  }
  const bool hashed =
      kind == entry_kind_event_with_hash || kind == entry_kind_versioned_event_with_hash;
  const bool versioned = kind >= entry_kind_versioned_event;
  const std::size_t head = entry_head_bytes_min + (hashed ? entry_hash_bytes : 0) +
                           (versioned ? entry_schema_version_bytes : 0);
  if (entry.size() < head) {
    throw CorruptionError(where.text() + ": journal entry shorter than its header");
  }
  ParsedEntry parsed;
  parsed.timestamp = Timestamp(std::chrono::milliseconds(
      static_cast<std::int64_t>(get_u64(entry.data() + entry_kind_bytes))));
  if (hashed) parsed.state_hash = get_u64(entry.data() + entry_head_bytes_min);
  if (versioned) {
    const char* at = entry.data() + head - entry_schema_version_bytes;
    parsed.schema_version = static_cast<std::uint32_t>(static_cast<unsigned char>(at[0])) |
                            static_cast<std::uint32_t>(static_cast<unsigned char>(at[1])) << 8;
    // Writers record only versions other than 1, and never 0: anything else
    // is damage, not a newer writer.
    if (parsed.schema_version <= entry_schema_version_default) {
      throw CorruptionError(where.text() + ": journal entry records schema version " +
                            std::to_string(parsed.schema_version) +
                            ", which a writer never records");
    }
  }
  parsed.event = entry.substr(head);
  return parsed;
}

}  // namespace prevayler::detail
