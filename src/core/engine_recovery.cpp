// Recovery: the storage streams the snapshot and the journal after it into
// a Replayer, which rebuilds the state through the application's codecs
// and business function, checking the state hash when there is one.
#include <istream>
#include <optional>
#include <string>

#include "core/engine.hpp"
#include "core/engine_parts.hpp"
#include "core/entry_codec.hpp"
#include "core/progress_reporter.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {

class Engine::Replayer : public RecoveryHandler {
 public:
  explicit Replayer(Engine& engine)
      : engine_(engine),
        progress_(engine.hooks_.progress, Progress::What::recovery, replay_clock_check_events) {}

  // Reports the final count of events replayed.
  void finish() { progress_.finish(engine_.metrics_.stats.events_replayed); }

  void restart() override {
    engine_.head_ = engine_.hooks_.initial_state();
    engine_.metrics_.stats.snapshot_id = 0;
    engine_.metrics_.stats.events_replayed = 0;
    engine_.bytes_since_snapshot_ = 0;
  }

  void snapshot(std::uint64_t snapshot_id, std::istream& in) override {
    versioned_snapshot(snapshot_id, in, 1);
  }

  void versioned_snapshot(std::uint64_t snapshot_id, std::istream& in,
                          std::uint32_t version) override {
    const SchemaVersions& known = engine_.hooks_.schema;
    if (version > known.state) {
      throw SchemaVersionError(
          engine_.storage_->describe() + ", snapshot " + std::to_string(snapshot_id) +
          ": state schema version " + std::to_string(version) +
          ", this program reads state schema versions 1 to " + std::to_string(known.state) +
          "; a newer release wrote it: open it with that release or a newer one");
    }
    try {
      if (engine_.hooks_.progress) {
        // Counting costs a copy per chunk: only when someone watches.
        ProgressReporter reporter(engine_.hooks_.progress, Progress::What::snapshot_read, 1);
        CountingInBuffer counting(*in.rdbuf(), reporter);
        std::istream counted(&counting);
        engine_.head_ = engine_.hooks_.decode_state(counted, version);
        reporter.finish(counting.bytes());
      } else {
        engine_.head_ = engine_.hooks_.decode_state(in, version);
      }
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw CodecError("cannot decode snapshot " + std::to_string(snapshot_id) + " from " +
                       engine_.storage_->describe() + ": " + e.what());
    }
    engine_.metrics_.stats.snapshot_id = snapshot_id;
  }

  void entry(const JournalPosition& position, std::string_view bytes) override {
    const std::string where = engine_.storage_->describe() + ", " + position.to_string();
    const ParsedEntry parsed = parse_entry(bytes, where);
    check_event_version(parsed.schema_version, where);
    try {
      engine_.head_ = engine_.hooks_.replay(engine_.head_.get(), parsed.event, parsed.timestamp,
                                            parsed.schema_version);
    } catch (const CodecError& e) {
      throw CodecError(where + ": " + e.what());
    } catch (const std::exception& e) {
      throw RecoveryError("the business function threw while replaying the event at " + where +
                          ": " + e.what() +
                          " (it accepted this event when it was handled: is it pure?)");
    }
    ++engine_.metrics_.stats.events_replayed;
    engine_.bytes_since_snapshot_ += bytes.size();
    progress_.advance(engine_.metrics_.stats.events_replayed);
    if (parsed.state_hash && engine_.hooks_.state_hash) {
      const std::uint64_t replayed = engine_.hooks_.state_hash(engine_.head_.get());
      if (replayed != *parsed.state_hash) {
        throw InconsistentStateError(
            "Inconsistent state detected: replaying the event at " + where + " (event " +
            std::to_string(engine_.metrics_.stats.events_replayed) +
            " of this recovery) produced state hash " + std::to_string(replayed) +
            ", the journal says " + std::to_string(*parsed.state_hash) +
            ". The business function is not pure, or its code changed the meaning of old "
            "events.");
      }
    }
  }

 private:
  // Before the codec sees the bytes: a newer release's event must not be
  // misread, and an event older than event_schema_version_min must not
  // reach business rules that no longer apply to it.
  void check_event_version(std::uint32_t version, const std::string& where) const {
    const SchemaVersions& known = engine_.hooks_.schema;
    if (version > known.event) {
      throw SchemaVersionError(where + ": event schema version " + std::to_string(version) +
                               ", this program reads event schema versions " +
                               std::to_string(known.event_min) + " to " +
                               std::to_string(known.event) +
                               "; a newer release wrote it: open it with that release or a "
                               "newer one");
    }
    if (version < known.event_min) {
      throw SchemaVersionError(
          where + ": event schema version " + std::to_string(version) +
          ", this program replays event schema versions " + std::to_string(known.event_min) +
          " to " + std::to_string(known.event) +
          " (event_schema_version_min): its business rules no longer apply to older events. "
          "Open the journal once with the previous release, which writes a snapshot at open "
          "(or call snapshot() and close()), then open it with this one (docs/evolution.md)");
    }
  }

  // Replay runs millions of events a second: the clock is read only once
  // per this many.
  static constexpr std::uint64_t replay_clock_check_events = 1024;
  Engine& engine_;
  ProgressReporter progress_;
};

void Engine::recover() {
  const auto started = std::chrono::steady_clock::now();
  head_ = hooks_.initial_state();
  Replayer replayer(*this);
  storage_->recover(replayer);
  replayer.finish();
  durable_.store(head_, std::memory_order_release);
  // The automatic snapshots' triggers count the journal since the
  // snapshot recovery started from: what the next recovery would replay.
  events_since_snapshot_ = metrics_.stats.events_replayed;
  if (policy_.every_ms != 0) snapshot_cut_time_ = snapshot_clock(Timestamp{});
  // No other thread runs yet: the event lock is not needed.
  metrics_.recovery_duration_us.record(microseconds_since(started));
}

}  // namespace prevayler::detail
