// Reading a journal without owning it: for programs that know the event
// type and want the events themselves (an audit, an export, a migration),
// on either storage. Nothing is locked, fenced or written, so a reader may
// run beside a live instance; what it reads then is a prefix of what the
// next recovery reads.
//
//   prevayler::FileStorageOptions storage;
//   storage.directory = "bank-data";
//   prevayler::read_journal<bank::Event>(storage, [](const auto& e) {
//     std::cout << e.position.to_string() << "\n";
//   });
//
// Events are delivered in journal order, from the oldest segment kept, as a
// recovery would read them: a torn tail or a write cut off by a newer
// owner is skipped (with a warning through the storage options' `warn`).
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <optional>
#include <string>
#include <string_view>

#include "prevayler/codec.hpp"
#include "prevayler/error.hpp"
#include "prevayler/file_storage.hpp"
#include "prevayler/storage.hpp"
#include "prevayler/timestamp.hpp"

namespace prevayler {

// One journaled event as stored: `event` is the event codec's bytes, valid
// during the callback only.
struct JournalEntryView {
  JournalPosition position;
  Timestamp timestamp;
  std::optional<std::uint64_t> state_hash;  // when the writer had a state_hash function
  std::string_view event;
  std::uint32_t schema_version = 1;  // the writer's event_schema_version
};

using JournalEntryCallback = std::function<void(const JournalEntryView&)>;

// Reads every entry kept in the file storage at `storage.directory` (only
// `directory` and `common.warn` are used). Throws StorageError when the directory
// does not exist, CorruptionError / FormatVersionError naming the file and
// offset on damage. Exceptions thrown by `callback` stop the read and pass.
void read_journal_entries(const FileStorageOptions& storage, const JournalEntryCallback& callback);

// One decoded event.
template <class Event>
struct JournalEvent {
  JournalPosition position;
  Timestamp timestamp;
  std::optional<std::uint64_t> state_hash;
  Event event;
};

// Reads and decodes every event kept in the journal of `storage` (a
// FileStorageOptions, or an AwsStorageOptions from
// prevayler/aws_storage.hpp). Throws as read_journal_entries, and
// CodecError naming the position of an event the codec cannot decode.
template <class Event, class StorageOptions>
void read_journal(const StorageOptions& storage,
                  const std::function<void(const JournalEvent<Event>&)>& callback,
                  Codec<Event> codec = cereal_codec<Event>()) {
  read_journal_entries(storage, [&](const JournalEntryView& entry) {
    detail::MemoryInBuffer buffer(entry.event);
    std::istream in(&buffer);
    std::optional<Event> event;
    try {
      event.emplace(codec.decode_version(in, entry.schema_version));
    } catch (const std::exception& e) {
      throw CodecError("cannot decode the event at journal position " + entry.position.to_string() +
                       ": " + e.what());
    }
    callback(
        JournalEvent<Event>{entry.position, entry.timestamp, entry.state_hash, std::move(*event)});
  });
}

}  // namespace prevayler
