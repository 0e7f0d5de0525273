// The type-erased engine behind Prevayler<State, Event>: what the template
// calls, and nothing else. The engine itself (threads, locks, queues,
// src/core/engine.hpp) is compiled into the library; this handle owns it
// through a pointer. Not part of the public API.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>

#include "prevayler/metrics.hpp"
#include "prevayler/progress.hpp"
#include "prevayler/stats.hpp"
#include "prevayler/storage.hpp"
#include "prevayler/timestamp.hpp"

namespace prevayler::detail {

using AnyState = std::shared_ptr<const void>;

// The application's schema versions (Prevayler::Options).
struct SchemaVersions {
  std::uint32_t event = 1;      // written with each event; the newest replayed
  std::uint32_t event_min = 1;  // the oldest event version replayed
  std::uint32_t state = 1;      // written with each snapshot; the newest read
};

// What the typed front end supplies. Every function may throw.
struct EngineHooks {
  std::function<AnyState()> initial_state;
  // Live path: applies a typed event (passed as const void*).
  std::function<AnyState(const void* state, const void* event, Timestamp)> apply;
  // Replay path: decodes the event bytes of schema version `version`, then
  // applies, replacing `state` with the state after the event. When
  // `state` is its object's only owner, the object may take the new state
  // in place (every state is created non-const for this): replay holds
  // the only reference between events, and a new object per event was
  // most of replay's allocations.
  std::function<void(AnyState& state, std::string_view event, Timestamp, std::uint32_t version)>
      replay;
  std::function<void(const void* state, std::ostream&)> encode_state;
  // Decodes a state of schema version `version`.
  std::function<AnyState(std::istream&, std::uint32_t version)> decode_state;
  SchemaVersions schema;
  std::function<std::uint64_t(const void* state)> state_hash;  // empty: no check
  // Whether an event left the state unchanged (`before`, `after`): such an
  // event is not journaled. Empty: every event is journaled.
  std::function<bool(const void* before, const void* after)> unchanged;
  TimestampFunction timestamp;
  std::function<void(const std::string&)> warn;   // empty: stderr
  std::function<void(const Progress&)> progress;  // empty: none
};

struct EngineLimits {
  std::size_t batch_events_max;
  std::size_t batch_bytes_max;
  std::size_t pending_bytes_max;     // handle() waits while this much is unwritten
  std::size_t writes_in_flight_max;  // 0: what the storage allows
};

// Automatic snapshots (Prevayler::Options::snapshot_every_*); 0 turns a
// trigger off, all 0 starts no thread.
struct SnapshotPolicy {
  std::uint64_t every_events = 0;
  std::uint64_t every_journal_bytes = 0;
  std::uint64_t every_ms = 0;  // measured with the timestamp function
  bool any() const { return every_events != 0 || every_journal_bytes != 0 || every_ms != 0; }
};

class Engine;

// Owns one engine; each function forwards to it (contracts: prevayler.hpp).
// Neither copyable nor movable: Prevayler holds it by value.
// The room before an encoded event that handle() takes: the largest entry
// head (src/core/entry_codec.hpp checks it), rounded up.
inline constexpr std::size_t encoded_event_headroom_bytes = 24;

class EngineHandle {
 public:
  // Recovers from the storage and starts the engine's threads.
  // `resume_state`: a promoted follower's state (Engine).
  EngineHandle(EngineHooks hooks, std::unique_ptr<Storage> storage, EngineLimits limits,
               bool snapshot_on_open, SnapshotPolicy policy = {}, AnyState resume_state = nullptr);
  ~EngineHandle();
  EngineHandle(const EngineHandle&) = delete;
  EngineHandle& operator=(const EngineHandle&) = delete;

  // `encoded`: encoded_event_headroom_bytes of room (any bytes), then the
  // encoded event. The engine writes the journal entry's head into the room
  // and keeps the string, so a large event is not copied under its lock.
  AnyState handle(const void* event, std::string encoded);
  // Called once the event is durable (state, no error) or failed (error),
  // on the thread that settles its write, under the engine's lock: it must
  // only hand the outcome over (e.g. fulfil a promise), never call back in.
  using Completion = std::function<void(const AnyState& state, std::exception_ptr error)>;
  // Applies the event now (the business function's throw reaches the
  // caller) and returns without waiting for the journal write.
  void handle_async(const void* event, std::string encoded, Completion completion);
  AnyState state() const;
  // The durable state through a per-thread cache: no reference count is
  // touched while the state is unchanged. Valid until this thread calls it
  // again for this engine.
  const void* current_state() const;
  void snapshot();
  void close();
  Timestamp timestamp() const;
  Stats stats() const;
  Metrics metrics() const;
  JournalPosition position() const;

 private:
  const std::unique_ptr<Engine> engine_;
};

}  // namespace prevayler::detail
