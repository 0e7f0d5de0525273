// prevayler-cpp: system prevalence for C++.
//
// The whole business state lives in RAM. Every change is an event handled by
// a pure business function `State(const State&, const Event&, Timestamp)`,
// and every event is journaled durably before its effect becomes visible.
// Snapshots bound recovery time.
//
//   struct Counter { long value = 0; template <class A> void serialize(A& a) { a(value); } };
//   prevayler::Prevayler<Counter, long> p({.business = [](const Counter& c, long n,
//                                                         prevayler::Timestamp) {
//     return Counter{c.value + n};
//   }});
//   p.handle(5);                 // durable when it returns
//   long v = p.state()->value;   // 5, and 5 again after a restart
//
// Several event types: use std::variant<A, B, ...> as Event.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "prevayler/codec.hpp"
#include "prevayler/detail/engine_handle.hpp"
#include "prevayler/detail/reused_in_stream.hpp"
#include "prevayler/error.hpp"
#include "prevayler/file_storage.hpp"
#include "prevayler/metrics.hpp"
#include "prevayler/progress.hpp"
#include "prevayler/stats.hpp"
#include "prevayler/storage.hpp"
#include "prevayler/timestamp.hpp"
#include "prevayler/version.hpp"

namespace prevayler {

// Limits of the group-commit writer; each has a unit in its name.
struct WriterLimits {
  // Most events in one journal write.
  std::size_t batch_events_max = 100'000;
  // Most bytes of encoded events in one journal write (the storage may split
  // a write further, e.g. DynamoDB's item limit).
  std::size_t batch_bytes_max = 16u << 20;
  // handle() blocks while this many bytes of accepted events wait for the
  // journal, so a slow disk slows producers instead of exhausting memory.
  std::size_t pending_bytes_max = 64u << 20;
  // Most journal writes in flight at once. 0: as many as the storage
  // pipelines (AwsStorageOptions::writes_in_flight_max; the file storage
  // writes one at a time). 1 turns pipelining off. Events are acknowledged
  // in order either way, and a failed write acknowledges nothing after it.
  std::size_t writes_in_flight_max = 0;
};

template <class State, class Event>
class Follower;

template <class State, class Event>
class Prevayler {
 public:
  using BusinessFunction = std::function<State(const State&, const Event&, Timestamp)>;
  using StateHashFunction = std::function<std::uint64_t(const State&)>;
  using StateEqualFunction = std::function<bool(const State& before, const State& after)>;

  struct Options {
    // Required. Must be pure: same inputs, same result, no side effects;
    // recovery calls it again for every journaled event. It may throw to
    // reject an event: nothing is journaled and the state is unchanged.
    BusinessFunction business;
    // Where recovery starts when there is no snapshot. Default: State{}.
    std::function<State()> initial_state;
    // Default: system_clock_timestamp().
    TimestampFunction timestamp;
    // Default: make_file_storage({}) — the directory "prevayler-data".
    std::unique_ptr<Storage> storage;
    // Defaults: cereal_codec<State>() / cereal_codec<Event>(), available
    // when the type is cereal-serialisable (otherwise required).
    Codec<State> state_codec;
    Codec<Event> event_codec;
    // The application's schema versions (1 to schema_version_max), recorded
    // with every event and snapshot written; the codecs' decode_versioned
    // gets the version of what they read. Recovery stops with
    // SchemaVersionError at a version above these (written by a newer
    // release), and at an event below event_schema_version_min: raise it
    // when old events must no longer reach the business function, after a
    // snapshot with the previous release (docs/evolution.md).
    std::uint32_t event_schema_version = 1;
    std::uint32_t state_schema_version = 1;
    std::uint32_t event_schema_version_min = 1;
    // Optional consistency check. When set, each journal entry carries the
    // hash of the state its event produced, and recovery throws
    // InconsistentStateError at the first event whose replay differs.
    StateHashFunction state_hash;
    // Opt-in: events that change nothing are not journaled. Called with the
    // state an event was applied to and the one the business function
    // returned; true means "unchanged" (e.g. std::equal_to<State>{} for a
    // State with ==, or a cheaper check such as a revision counter). The
    // business function returns a new value, so object identity cannot
    // tell: the application decides. It must be exact for everything the
    // state codec and state_hash see, or recovery diverges. Such an event
    // still returns the state (the one it was applied to) from handle()
    // and handle_async(), only once that state is durable, and fails when
    // an earlier journal write fails; Metrics::events_unchanged counts it.
    // Its timestamp is taken and passed to the business function, then
    // forgotten: docs/unchanged_events.md. A throw rejects the event as the
    // business function's does. Empty (the default): every event is
    // journaled.
    StateEqualFunction skip_unchanged;
    WriterLimits limits;
    // Write a snapshot of the recovered state when opening, as the seed
    // does, so the next start replays only the events since this one. Turn
    // it off for very large states whose snapshot takes long to write:
    // recovery is correct either way.
    bool snapshot_on_open = true;
    // Automatic snapshots: a thread of this instance takes one, as
    // snapshot() does (writers never stall), once this many events, or this
    // many bytes of journal entries (Metrics::bytes_written's measure), or
    // this many milliseconds of the timestamp function's clock, have gone
    // by since the last snapshot's cut (manual, at open or automatic,
    // written or failed: a failing storage is retried at the policy's pace,
    // never in a loop). The time trigger only fires when at least one event
    // was journaled since that cut. 0 (the default) turns a trigger off;
    // with all three off no thread is started. One snapshot at a time: a
    // trigger while one is written is served by the next, counted from its
    // cut. With StorageOptions::keep_snapshots they bound both the journal
    // and the recovery time (docs/operations.md). A failed automatic
    // snapshot goes to `warn` and Metrics::automatic_snapshots_failed; the
    // instance goes on, unless the storage threw StorageFailedError, which
    // stops it as any storage call's does.
    std::uint64_t snapshot_every_events = 0;
    std::uint64_t snapshot_every_journal_bytes = 0;
    std::uint64_t snapshot_every_ms = 0;
    // Receives warnings, e.g. a snapshot at open that could not be written
    // (the instance opens anyway: the snapshot only shortens the next
    // recovery). Default: a line on stderr.
    std::function<void(const std::string&)> warn;
    // Optional. Called during recovery (events replayed), snapshot writes
    // and snapshot reads (bytes), on the thread doing the work: at the
    // start (done 0), at most every progress_interval_ms meanwhile, and
    // once with `finished` (progress.hpp). It must not call this instance.
    std::function<void(const Progress&)> progress;
  };

  // Opens the storage and recovers: the latest snapshot (or the initial
  // state), then every journaled event after it, in order, with its
  // journaled timestamp; then, with snapshot_on_open (the default), writes a
  // snapshot of the recovered state (a failure to write it is a warning,
  // unless the storage refuses to continue).
  // Throws ConfigError (no business function, no codec), StorageError
  // subclasses (LockedError, CorruptionError, FormatVersionError, ...),
  // CodecError, RecoveryError, InconsistentStateError, SchemaVersionError.
  explicit Prevayler(Options options) : engine_(make_engine(std::move(options))) {}

  Prevayler(const Prevayler&) = delete;
  Prevayler& operator=(const Prevayler&) = delete;

  // Finishes what is in flight and releases the storage (see close()).
  ~Prevayler() = default;

  // Takes a timestamp, runs the business function on the current state,
  // journals the event with its timestamp durably, and only then makes the
  // new state current. Returns the state this event produced.
  // Thread-safe: concurrent calls are applied one at a time in one total
  // order, and events arriving while a journal write is in flight go out
  // together in the next write (group commit). Returns once this event is
  // durable. With Options::skip_unchanged, an event that changes nothing is
  // not journaled and returns the state it was applied to, once durable.
  // Throws: whatever the business function throws (nothing journaled, state
  // unchanged); EventTooLargeError; CodecError; StorageError when the journal
  // write failed (the event is not journaled and not visible; later calls
  // may succeed); StorageFailedError / SupersededError when the instance had
  // to stop (every later call throws too); ClosedError after close().
  std::shared_ptr<const State> handle(const Event& event) {
    return std::static_pointer_cast<const State>(engine_.handle(&event, encode_event(event)));
  }

  // handle() without waiting for the journal write: applies the event now
  // (in the same total order as handle(); the business function's throw,
  // EventTooLargeError, CodecError, StorageFailedError and ClosedError are
  // thrown here, and nothing is journaled), and returns a future that
  // becomes ready once the event is durable — with the state it produced —
  // or holds the StorageError of its failed write. Like handle(), the state
  // is not current before the future is ready. Lets one producer keep many
  // events in flight; blocks only when WriterLimits::pending_bytes_max of
  // unwritten events are waiting.
  std::future<std::shared_ptr<const State>> handle_async(const Event& event) {
    std::string encoded = encode_event(event);
    auto promise = std::make_shared<std::promise<std::shared_ptr<const State>>>();
    auto future = promise->get_future();
    engine_.handle_async(&event, std::move(encoded),
                         [promise](const detail::AnyState& state, std::exception_ptr error) {
                           if (error) {
                             promise->set_exception(error);
                           } else {
                             promise->set_value(std::static_pointer_cast<const State>(state));
                           }
                         });
    return future;
  }

  // The current state: every durable event, and nothing that is not durable
  // yet. Lock-free with respect to writers; thread-safe. The returned
  // snapshot never changes (states are immutable values).
  std::shared_ptr<const State> state() const {
    return std::static_pointer_cast<const State>(engine_.state());
  }

  // Calls `reader(const State&)` with the current state and returns what it
  // returns: the same state state() would give, without touching the
  // state's shared reference count, so reader threads on different cores
  // do not contend. Each thread keeps a reference to the last state it
  // read until it reads again (or exits); `reader` must not keep the
  // reference it is given beyond the call. Thread-safe.
  template <class Reader>
  decltype(auto) read(Reader&& reader) const {
    return std::forward<Reader>(reader)(*static_cast<const State*>(engine_.current_state()));
  }

  // Persists the current state so a later recovery starts there and does
  // not call the business function for earlier events. Writers do not stall
  // while it is written: the cut is one quick step in the journal, and the
  // state is serialised on the calling thread beside new events. Returns
  // once the snapshot is durable. Thread-safe (snapshots are serialised,
  // automatic ones too: this call waits for one being written). The
  // automatic snapshots' triggers count from its cut.
  // Throws StorageError, CodecError, ClosedError; a StorageFailedError
  // (from the storage, at the cut or the commit) stops the instance, as
  // any storage call's does.
  void snapshot() { engine_.snapshot(); }

  // Calls the timestamp function.
  Timestamp timestamp() const { return engine_.timestamp(); }

  // Waits for events in flight and a snapshot in progress (an automatic
  // one too, once it has its cut; one only triggered is not started), stops
  // the automatic snapshots' thread, then releases the storage. Idempotent. Later calls of handle()
  // and snapshot() throw ClosedError; state() keeps returning the last state.
  void close() { engine_.close(); }

  // The instance's counters (events journaled, journal writes, what
  // recovery replayed, writes allowed in flight): see stats.hpp.
  // Thread-safe.
  Stats stats() const { return engine_.stats(); }

  // Counters (stats() among them), gauges, latency histograms and the
  // storage's own counters: see metrics.hpp and docs/metrics.md;
  // prometheus_text() (prometheus.hpp) renders them. Thread-safe.
  Metrics metrics() const { return engine_.metrics(); }

  // Where the journal stands: the segment and the number of records
  // durable in it, read after this instance's last acknowledged write. A
  // client given the position after its handle() returned reads its own
  // write from any Follower that reached it (Follower::wait_for). {0, 0}
  // on a storage that cannot be followed. Thread-safe.
  JournalPosition position() const { return engine_.position(); }

 private:
  friend class Follower<State, Event>;

  // A promoted follower's writer (Follower::promote): recovery starts from
  // `resume_state`, and the storage delivers only what follows it. Takes
  // only the storage out of `options`, so a failed promotion can retry.
  Prevayler(Options& options, detail::AnyState resume_state)
      : engine_(make_engine_from(options, std::move(resume_state))) {}

  // Checks the options, fills in the default codecs and storage, and builds
  // the hooks the engine (and a follower) applies events with.
  static detail::EngineHooks make_hooks(Options& options) {
    if (!options.business) {
      throw ConfigError("Prevayler options: `business` (the business function) is required");
    }
    if (!options.state_codec) {
      if constexpr (cereal_serializable<State>) {
        options.state_codec = cereal_codec<State>();
      } else {
        throw ConfigError("Prevayler options: State is not cereal-serialisable; " +
                          cereal_remedy<State>() + " set `state_codec`");
      }
    }
    if (!options.event_codec) {
      if constexpr (cereal_serializable<Event>) {
        options.event_codec = cereal_codec<Event>();
      } else {
        throw ConfigError("Prevayler options: Event is not cereal-serialisable; " +
                          cereal_remedy<Event>() + " set `event_codec`");
      }
    }
    check_schema_versions(options);
    if (!options.storage) options.storage = make_file_storage(FileStorageOptions{});

    detail::EngineHooks hooks;
    // States are created non-const (and handed out as const): replay may
    // move the next state into one only it holds (EngineHooks::replay).
    hooks.initial_state = [init = options.initial_state]() -> detail::AnyState {
      if (init) return std::make_shared<State>(init());
      return std::make_shared<State>();
    };
    hooks.apply = [business = options.business](const void* state, const void* event,
                                                Timestamp t) -> detail::AnyState {
      return std::make_shared<State>(
          business(*static_cast<const State*>(state), *static_cast<const Event*>(event), t));
    };
    hooks.replay = [business = options.business, codec = options.event_codec](
                       detail::AnyState& state, std::string_view bytes, Timestamp t,
                       std::uint32_t version) {
      Event event = decode_event(codec, bytes, version);
      State next = business(*static_cast<const State*>(state.get()), event, t);
      if constexpr (std::is_move_assignable_v<State>) {
        // No other owner can appear meanwhile: a copy needs an owner.
        if (state.use_count() == 1) {
          *const_cast<State*>(static_cast<const State*>(state.get())) = std::move(next);
          return;
        }
      }
      state = std::make_shared<State>(std::move(next));
    };
    hooks.encode_state = [codec = options.state_codec](const void* state, std::ostream& out) {
      codec.encode(*static_cast<const State*>(state), out);
    };
    hooks.decode_state = [codec = options.state_codec](std::istream& in,
                                                       std::uint32_t version) -> detail::AnyState {
      return std::make_shared<State>(codec.decode_version(in, version));
    };
    hooks.schema =
        detail::SchemaVersions{options.event_schema_version, options.event_schema_version_min,
                               options.state_schema_version};
    if (options.state_hash) {
      hooks.state_hash = [hash = options.state_hash](const void* state) {
        return hash(*static_cast<const State*>(state));
      };
    }
    if (options.skip_unchanged) {
      hooks.unchanged = [equal = options.skip_unchanged](const void* before, const void* after) {
        return equal(*static_cast<const State*>(before), *static_cast<const State*>(after));
      };
    }
    // Copied, not moved: a follower keeps its options for promote().
    hooks.warn = options.warn;
    hooks.progress = options.progress;
    hooks.timestamp =
        options.timestamp ? options.timestamp : TimestampFunction(system_clock_timestamp);
    return hooks;
  }

  detail::EngineHandle make_engine(Options options) { return make_engine_from(options, nullptr); }

  detail::EngineHandle make_engine_from(Options& options, detail::AnyState resume_state) {
    detail::EngineHooks hooks = make_hooks(options);
    event_codec_ = options.event_codec;
    return detail::EngineHandle(
        std::move(hooks), std::move(options.storage),
        detail::EngineLimits{options.limits.batch_events_max, options.limits.batch_bytes_max,
                             options.limits.pending_bytes_max, options.limits.writes_in_flight_max},
        options.snapshot_on_open,
        detail::SnapshotPolicy{options.snapshot_every_events, options.snapshot_every_journal_bytes,
                               options.snapshot_every_ms},
        std::move(resume_state));
  }

  static void check_schema_versions(const Options& options) {
    const auto check = [](std::uint32_t version, const char* name) {
      if (version < 1 || version > schema_version_max) {
        throw ConfigError(std::string("Prevayler options: `") + name + "` is " +
                          std::to_string(version) + "; schema versions run from 1 to " +
                          std::to_string(schema_version_max));
      }
    };
    check(options.event_schema_version, "event_schema_version");
    check(options.state_schema_version, "state_schema_version");
    check(options.event_schema_version_min, "event_schema_version_min");
    if (options.event_schema_version_min > options.event_schema_version) {
      throw ConfigError("Prevayler options: `event_schema_version_min` (" +
                        std::to_string(options.event_schema_version_min) +
                        ") is above `event_schema_version` (" +
                        std::to_string(options.event_schema_version) +
                        "): this program could not replay its own events");
    }
  }

  // After the room the engine writes the journal entry's head into.
  std::string encode_event(const Event& event) const {
    std::string encoded(detail::encoded_event_headroom_bytes, '\0');
    try {
      detail::StringOutBuffer buffer(encoded);
      std::ostream out(&buffer);
      event_codec_.encode(event, out);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw CodecError(std::string("cannot encode event: ") + e.what());
    }
    return encoded;
  }

  static Event decode_event(const Codec<Event>& codec, std::string_view bytes,
                            std::uint32_t version) {
    // One stream per thread for all events (reused_in_stream.hpp); a decode
    // inside a decode builds its own.
    thread_local detail::ReusedInStream reused;
    if (reused.in_use) {
      detail::MemoryInBuffer buffer(bytes);
      std::istream in(&buffer);
      return decode_event_from(codec, in, version);
    }
    reused.in_use = true;
    struct Release {
      detail::ReusedInStream& stream;
      ~Release() { stream.in_use = false; }
    } release{reused};
    return decode_event_from(codec, reused.over(bytes), version);
  }

  static Event decode_event_from(const Codec<Event>& codec, std::istream& in,
                                 std::uint32_t version) {
    try {
      return codec.decode_version(in, version);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw CodecError(std::string("cannot decode event: ") + e.what());
    }
  }

  Codec<Event> event_codec_;
  detail::EngineHandle engine_;
};

}  // namespace prevayler
