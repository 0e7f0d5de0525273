// Recovery: the storage streams the snapshot and the journal after it into
// a Replayer, which rebuilds the state (core/state_replay.hpp: the codecs,
// the business function and the state hash check) and reports progress.
#include <string>

#include "core/engine.hpp"
#include "core/engine_parts.hpp"
#include "core/progress_reporter.hpp"
#include "core/state_replay.hpp"

namespace prevayler::detail {

class Engine::Replayer : public StateReplay {
 public:
  Replayer(Engine& engine, AnyState start)
      : StateReplay(engine.hooks_, engine.storage_->describe(), std::move(start)),
        progress_(engine.hooks_.progress, Progress::What::recovery, replay_clock_check_events) {}

  // Reports the final count of events replayed.
  void finish() { progress_.finish(events_replayed()); }

  void entry(const JournalPosition& position, std::string_view bytes) override {
    StateReplay::entry(position, bytes);
    progress_.advance(events_replayed());
  }

 private:
  // Replay runs millions of events a second: the clock is read only once
  // per this many.
  static constexpr std::uint64_t replay_clock_check_events = 1024;
  ProgressReporter progress_;
};

void Engine::recover() {
  const auto started = std::chrono::steady_clock::now();
  // A promoted follower's engine starts from the follower's state, and its
  // storage delivers only what the follower had not applied.
  Replayer replayer(*this, resume_state_ ? resume_state_ : hooks_.initial_state());
  resume_state_.reset();
  storage_->recover(replayer);
  replayer.finish();
  head_ = replayer.head();
  metrics_.stats.snapshot_id = replayer.snapshot_id();
  metrics_.stats.events_replayed = replayer.events_replayed();
  bytes_since_snapshot_ = replayer.entry_bytes();
  durable_.store(head_, std::memory_order_release);
  // The automatic snapshots' triggers count the journal since the
  // snapshot recovery started from: what the next recovery would replay.
  events_since_snapshot_ = metrics_.stats.events_replayed;
  if (policy_.every_ms != 0) snapshot_cut_time_ = snapshot_clock(Timestamp{});
  // No other thread runs yet: the event lock is not needed.
  metrics_.recovery_duration_us.record(microseconds_since(started));
}

}  // namespace prevayler::detail
