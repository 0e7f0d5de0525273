#include "file/replay.hpp"

#include <algorithm>
#include <optional>
#include <set>

#include "core/assert.hpp"
#include "core/container_header.hpp"
#include "core/formats.hpp"
#include "core/pipelined_replay.hpp"
#include "core/record_codec.hpp"
#include "file/record_reader.hpp"
#include "file/snapshot_files.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {
namespace {

using Ends = std::map<std::uint64_t, std::uint64_t>;
using Warn = std::function<void(const std::string&)>;

struct FoundStart {
  StartRecord start;
  std::uint64_t extent = 0;  // the offset right after the start record
};

// The start record at the beginning of segment `path`; none when it is not
// (yet) there: its creator was killed or is still writing it.
std::optional<FoundStart> read_start_record(FileSystem& fs, const std::string& path) {
  std::uint64_t size = 0;
  File fd = open_for_read(fs, path, size);
  if (size < segment_header_bytes + record_header_bytes + record_payload_bytes_min) {
    return std::nullopt;
  }
  WindowReader reader(fs, fd.get(), size, path);
  std::string_view payload;
  if (check_record(reader, segment_header_bytes, payload) != FrameCheck::ok) return std::nullopt;
  if (!is_start_record(payload)) return std::nullopt;
  FoundStart found;
  found.start =
      decode_start_record(payload, path + " at offset " + std::to_string(segment_header_bytes));
  found.extent = segment_header_bytes + record_header_bytes + payload.size();
  return found;
}

}  // namespace

SegmentDecisions decide_segment_ends(FileSystem& fs,
                                     const std::map<std::uint64_t, std::string>& segments) {
  SegmentDecisions d;
  const std::uint64_t first = segments.begin()->first;
  for (auto it = segments.rbegin(); it != segments.rend() && it->first != first; ++it) {
    const std::uint64_t id = it->first;
    const std::optional<FoundStart> found = read_start_record(fs, it->second);
    if (!found) continue;
    const auto decided = d.ends.find(id);
    if (decided != d.ends.end() && found->extent > decided->second) continue;  // written too late
    d.started.insert(id);
    d.ends.try_emplace(id - 1, found->start.previous_end);
    for (const auto& [earlier, end] : found->start.earlier_ends) {
      if (earlier >= first && earlier + 1 < id) d.ends.try_emplace(earlier, end);
    }
  }
  return d;
}

namespace {

[[noreturn]] void throw_damage(const WindowReader& reader, std::uint64_t offset,
                               std::uint64_t record_number, FrameCheck check, bool open_ended) {
  throw CorruptionError(
      reader.path() + " at offset " + std::to_string(offset) + ": journal record " +
      std::to_string(record_number + 1) +
      (check == FrameCheck::incomplete ? " extends past the end of the file"
                                       : " fails its checksum") +
      (open_ended ? ", and intact records follow it" : " before the end its successor decided") +
      "; " + std::to_string(reader.file_size() - offset) +
      " bytes from there cannot be trusted. Restore the file from a backup.");
}

// Delivers the batch records of one segment from `offset` up to the end of
// the reader. Returns the offset after the last record replayed.
std::uint64_t replay_records(WindowReader& reader, std::uint64_t id, std::uint64_t offset,
                             bool open_ended, RecoveryHandler& handler, const Warn& warn,
                             const Decryption& decryption, std::uint64_t& record_number) {
  while (offset < reader.file_size()) {
    std::string_view payload;
    const FrameCheck check = check_record(reader, offset, payload);
    if (check != FrameCheck::ok) {
      // Preallocated space no write reached: the end, nothing torn.
      if (open_ended && unwritten_from(reader, offset)) break;
      if (!open_ended || valid_record_after(reader, offset)) {
        throw_damage(reader, offset, record_number, check, open_ended);
      }
      warn(reader.path() + ": ignored a torn record at offset " + std::to_string(offset) + " (" +
           std::to_string(reader.file_size() - offset) +
           " bytes): a write interrupted by a crash, never acknowledged");
      break;
    }
    // Named only in a message: this runs once per record replayed.
    const std::uint64_t record_offset = offset;
    const auto where = [&] {
      return reader.path() + " at offset " + std::to_string(record_offset);
    };
    const RecordPosition position{id, offset};
    offset += record_header_bytes + payload.size();
    // check_record saw the whole record inside the file.
    PREVAYLER_ASSERT(offset <= reader.file_size());
    if (is_start_record(payload)) continue;
    // The entries are views into the reader's window (or, decompressed,
    // into the record), valid until its next read, after they are handled.
    const DecodedRecord record = decode_record(payload, where, decryption, position);
    if (record.type != RecordType::batch) {
      throw CorruptionError(where() + ": a journal record of a type the file storage never writes");
    }
    ++record_number;
    for (std::uint32_t e = 0; e < record.entries.size(); ++e) {
      handler.entry(JournalPosition{id, record_number, e}, record.entries[e]);
    }
  }
  return offset;
}

// Checks the header and replays the records the reader covers, from the
// segment's start or from where a promoted follower stands.
std::uint64_t replay_checked(WindowReader& reader, std::uint64_t id, bool open_ended,
                             RecoveryHandler& handler, const Warn& warn,
                             const Decryption& decryption,
                             const std::optional<ReplayResume>& resume) {
  check_id(check_container_header(reader.view(0, segment_header_bytes), segment_magic,
                                  segment_format_version, reader.path(), "journal segment"),
           id, reader.path(), "journal segment");
  std::uint64_t records = resume ? resume->records : 0;
  const std::uint64_t from =
      resume ? std::max(resume->offset, segment_header_bytes) : std::uint64_t{segment_header_bytes};
  if (from > reader.file_size()) {
    throw CorruptionError(reader.path() + " ends at offset " + std::to_string(reader.file_size()) +
                          ", before offset " + std::to_string(from) +
                          " which a follower applied as durable; restore it from a backup");
  }
  return replay_records(reader, id, from, open_ended, handler, warn, decryption, records);
}

// How a segment's end is known: decided by a start record, open (its last
// intact record), or none at all (it holds nothing).
struct SegmentEnd {
  std::optional<std::uint64_t> decided;
  bool holds_nothing = false;
};

// A reader that applied records of `path` from the file `applied_from` (held
// open, so its inode number is not reused) must not read on in `opened`,
// another file under that name: retention deleted the one it read, and a
// superseded writer re-created the name (it removes it again at once).
// What it needs is past a newer snapshot: start over, as when it vanished.
void check_same_file(FileSystem& fs, const std::string& path, const FileStat& opened,
                     const File* applied_from) {
  if (!applied_from || !*applied_from) return;
  FileStat held;
  if (int error = fs.fstat_without_times(applied_from->get(), held)) {
    throw StorageError("cannot stat " + path + " as read before: " + errno_text(error));
  }
  if (held.identity != opened.identity) throw FileVanished(path);
}

// Replays one segment up to its end. Returns where it ends.
std::uint64_t replay_segment(FileSystem& fs, std::uint64_t id, const std::string& path,
                             const SegmentEnd& segment_end, RecoveryHandler& handler,
                             const Warn& warn, ReplayMode mode, const Decryption& decryption,
                             const std::optional<ReplayResume>& resume) {
  FileStat st;
  File fd = open_for_read(fs, path, st);
  if (resume) check_same_file(fs, path, st, resume->applied_from);
  const std::uint64_t file_size = st.size_bytes;
  const std::optional<std::uint64_t>& end = segment_end.decided;
  // Nothing in it counts, whatever its size: its creator was killed while
  // creating it (a power loss may even have taken its header since).
  if (end && *end <= segment_header_bytes) return *end;
  std::uint64_t reached = 0;
  if (segment_end.holds_nothing) {
    reached = std::min<std::uint64_t>(file_size, segment_header_bytes);
  } else if (end) {
    if (file_size < *end) {
      throw CorruptionError(path + ": the journal continues at offset " + std::to_string(*end) +
                            " by the next segment's start, but the file has only " +
                            std::to_string(file_size) + " bytes; restore it from a backup");
    }
    WindowReader reader(fs, fd.get(), *end, path);
    return replay_checked(reader, id, false, handler, warn, decryption, resume);
  } else if (file_size < segment_header_bytes) {
    reached = file_size;
  } else {
    WindowReader reader(fs, fd.get(), file_size, path);
    reached = replay_checked(reader, id, true, handler, warn, decryption, resume);
  }
  // A reader decides nothing for anyone: it never syncs (ReplayMode).
  if (mode == ReplayMode::read_only) return reached;
  // This recovery decides where the segment ends: what it read must be
  // durable first (another process may have written it and not synced).
  if (int error = fs.fdatasync(fd.get())) {
    throw StorageError("cannot sync " + path +
                       ", whose end this recovery decides: " + errno_text(error));
  }
  return reached;
}

// replay_segments on one thread: what the reader thread runs.
ReplayOutcome replay_segments_in_order(FileSystem& fs,
                                       const std::map<std::uint64_t, std::string>& segments,
                                       RecoveryHandler& handler, const Warn& warn, ReplayMode mode,
                                       const Decryption& decryption,
                                       const std::optional<ReplayResume>& resume) {
  const SegmentDecisions decisions = decide_segment_ends(fs, segments);
  ReplayOutcome outcome;
  const std::uint64_t first = segments.begin()->first;
  const std::uint64_t last = segments.rbegin()->first;
  for (const auto& [id, path] : segments) {
    SegmentEnd end;
    if (const auto decided = decisions.ends.find(id); decided != decisions.ends.end()) {
      end.decided = decided->second;
    } else if (id != first && !decisions.started.count(id)) {
      // Its creator was killed (or is slow) before its start record: it
      // appended nothing before that record, and what it appends after it
      // was computed on an end of the previous segment we do not share.
      end.holds_nothing = true;
    }
    const std::uint64_t reached = replay_segment(fs, id, path, end, handler, warn, mode, decryption,
                                                 id == first ? resume : std::nullopt);
    if (id == last) {
      outcome.next_start.previous_end = reached;
    } else if (!end.decided) {
      outcome.next_start.earlier_ends[id] = reached;  // decided here, for every later recovery
    }
  }
  return outcome;
}

}  // namespace

ReplayOutcome replay_segments(FileSystem& fs, const std::map<std::uint64_t, std::string>& segments,
                              RecoveryHandler& handler, const Warn& warn, ReplayMode mode,
                              const Decryption& decryption,
                              const std::optional<ReplayResume>& resume) {
  // Reading, checking and decoding records overlap the handler's decoding
  // and applying of their events (core/pipelined_replay.hpp). Only the
  // reader thread uses `fs` until it is joined.
  ReplayOutcome outcome;
  replay_pipelined(
      [&](RecoveryHandler& sink, const Warn& sink_warn) {
        outcome = replay_segments_in_order(fs, segments, sink, sink_warn, mode, decryption, resume);
      },
      handler, warn);
  return outcome;
}

std::uint64_t replay_segment_range(FileSystem& fs, std::uint64_t id, const std::string& path,
                                   std::uint64_t from, std::uint64_t end, std::uint64_t& records,
                                   File& held, RecoveryHandler& handler,
                                   const Decryption& decryption) {
  if (end <= segment_header_bytes || end <= from) return std::max(from, end);
  FileStat st;
  File opened = open_for_read(fs, path, st);
  check_same_file(fs, path, st, &held);
  if (!held) held = std::move(opened);
  const std::uint64_t file_size = st.size_bytes;
  if (file_size < end) {
    throw CorruptionError(path + ": the writer published offset " + std::to_string(end) +
                          " as durable, but the file has only " + std::to_string(file_size) +
                          " bytes; restore it from a backup");
  }
  WindowReader reader(fs, held.get(), end, path);
  const Warn no_warning = [](const std::string&) {};
  if (from <= segment_header_bytes) {
    check_id(check_container_header(reader.view(0, segment_header_bytes), segment_magic,
                                    segment_format_version, path, "journal segment"),
             id, path, "journal segment");
    from = segment_header_bytes;
  }
  return replay_records(reader, id, from, false, handler, no_warning, decryption, records);
}

}  // namespace prevayler::detail
