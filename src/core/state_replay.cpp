// StateReplay (state_replay.hpp): the checks and calls that turn a
// storage's stream back into a state.
#include "core/state_replay.hpp"

#include <string>

#include "core/entry_codec.hpp"
#include "core/progress_reporter.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {

StateReplay::StateReplay(const EngineHooks& hooks, std::string describe, AnyState start)
    : hooks_(hooks), describe_(std::move(describe)), head_(std::move(start)) {}

void StateReplay::restart() {
  head_ = hooks_.initial_state();
  snapshot_id_ = 0;
  events_replayed_ = 0;
  entry_bytes_ = 0;
}

void StateReplay::snapshot(std::uint64_t snapshot_id, std::istream& in) {
  versioned_snapshot(snapshot_id, in, 1);
}

void StateReplay::versioned_snapshot(std::uint64_t snapshot_id, std::istream& in,
                                     std::uint32_t version) {
  const SchemaVersions& known = hooks_.schema;
  if (version > known.state) {
    throw SchemaVersionError(
        describe_ + ", snapshot " + std::to_string(snapshot_id) + ": state schema version " +
        std::to_string(version) + ", this program reads state schema versions 1 to " +
        std::to_string(known.state) +
        "; a newer release wrote it: open it with that release or a newer one");
  }
  try {
    if (hooks_.progress) {
      // Counting costs a copy per chunk: only when someone watches.
      ProgressReporter reporter(hooks_.progress, Progress::What::snapshot_read, 1);
      CountingInBuffer counting(*in.rdbuf(), reporter);
      std::istream counted(&counting);
      head_ = hooks_.decode_state(counted, version);
      reporter.finish(counting.bytes());
    } else {
      head_ = hooks_.decode_state(in, version);
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw CodecError("cannot decode snapshot " + std::to_string(snapshot_id) + " from " +
                     describe_ + ": " + e.what());
  }
  snapshot_id_ = snapshot_id;
  events_replayed_ = 0;
  entry_bytes_ = 0;
}

void StateReplay::entry(const JournalPosition& position, std::string_view bytes) {
  // Named only in a message: this runs once per event replayed.
  const auto name = [&] { return describe_ + ", " + position.to_string(); };
  const Where where(name);
  const ParsedEntry parsed = parse_entry(bytes, where);
  check_event_version(parsed.schema_version, where);
  try {
    hooks_.replay(head_, parsed.event, parsed.timestamp, parsed.schema_version);
  } catch (const CodecError& e) {
    throw CodecError(name() + ": " + e.what());
  } catch (const std::exception& e) {
    throw RecoveryError("the business function threw while replaying the event at " + name() +
                        ": " + e.what() +
                        " (it accepted this event when it was handled: is it pure?)");
  }
  ++events_replayed_;
  entry_bytes_ += bytes.size();
  newest_timestamp_ = parsed.timestamp;
  if (parsed.state_hash && hooks_.state_hash) {
    const std::uint64_t replayed = hooks_.state_hash(head_.get());
    if (replayed != *parsed.state_hash) {
      throw InconsistentStateError(
          "Inconsistent state detected: replaying the event at " + name() + " (event " +
          std::to_string(events_replayed_) + " of this recovery) produced state hash " +
          std::to_string(replayed) + ", the journal says " + std::to_string(*parsed.state_hash) +
          ". The business function is not pure, or its code changed the meaning of old "
          "events.");
    }
  }
}

// Before the codec sees the bytes: a newer release's event must not be
// misread, and an event older than event_schema_version_min must not
// reach business rules that no longer apply to it.
void StateReplay::check_event_version(std::uint32_t version, const Where& where) const {
  const SchemaVersions& known = hooks_.schema;
  if (version > known.event) {
    throw SchemaVersionError(where.text() + ": event schema version " + std::to_string(version) +
                             ", this program reads event schema versions " +
                             std::to_string(known.event_min) + " to " +
                             std::to_string(known.event) +
                             "; a newer release wrote it: open it with that release or a "
                             "newer one");
  }
  if (version < known.event_min) {
    throw SchemaVersionError(
        where.text() + ": event schema version " + std::to_string(version) +
        ", this program replays event schema versions " + std::to_string(known.event_min) + " to " +
        std::to_string(known.event) +
        " (event_schema_version_min): its business rules no longer apply to older events. "
        "Open the journal once with the previous release, which writes a snapshot at open "
        "(or call snapshot() and close()), then open it with this one (docs/evolution.md)");
  }
}

}  // namespace prevayler::detail
