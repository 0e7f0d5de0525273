// Followers: read replicas and hot standbys of a journal another process
// writes (docs/followers.md).
//
//   prevayler::Follower<Bank, Event> replica({.business = apply,
//       .storage = prevayler::make_file_storage({.directory = "bank-data"})});
//   replica.wait_for(position_from_writer, std::chrono::seconds(1));
//   long total = replica.read([](const Bank& b) { return b.total(); });
//   auto writer = replica.promote();  // when the writer is gone
//
// A follower opens the journal without taking ownership (no lock, no fence,
// nothing written), recovers like an open, then applies each record once it
// is durable, in journal order, whole: it only ever shows a state that a
// recovery at that moment or later would also produce.
#pragma once

#include <chrono>
#include <memory>
#include <utility>

#include "prevayler/detail/follower_handle.hpp"
#include "prevayler/error.hpp"
#include "prevayler/prevayler.hpp"

namespace prevayler {

template <class State, class Event>
class Follower {
 public:
  // The writer's options: the same business function, codecs, initial
  // state and schema versions (the storage is followed, not opened). The
  // rest (limits, snapshot policy, warn) serves the writer promote()
  // returns.
  using Options = typename Prevayler<State, Event>::Options;

  // Bootstraps (the latest snapshot and every durable event after it) and
  // starts following on a thread of its own. Throws ConfigError (a storage
  // that cannot be followed, missing options), StorageError subclasses,
  // CodecError, RecoveryError, InconsistentStateError, SchemaVersionError.
  explicit Follower(Options options) : options_(std::move(options)), handle_(make_handle()) {}

  Follower(const Follower&) = delete;
  Follower& operator=(const Follower&) = delete;
  ~Follower() = default;

  // The state after every record applied so far: only durable events.
  // Thread-safe; the returned state never changes.
  std::shared_ptr<const State> state() const {
    return std::static_pointer_cast<const State>(handle_.state());
  }

  // Calls `reader(const State&)` with the current state and returns what it
  // returns. Thread-safe.
  template <class Reader>
  decltype(auto) read(Reader&& reader) const {
    const std::shared_ptr<const State> current = state();
    return std::forward<Reader>(reader)(*current);
  }

  // The segment and the number of records applied in it: equal to the
  // writer's Prevayler::position() once caught up. Thread-safe.
  JournalPosition position() const { return handle_.position(); }

  // Returns once everything durable when it was called is applied. Throws
  // the error that stopped the follower (a follower stops at the first
  // error reading or applying the journal: open a new one), ClosedError.
  void catch_up() { handle_.catch_up(); }

  // Read-your-writes: waits until position() reached `position` (from the
  // writer's position() after an acknowledged event). True when it did,
  // false at the timeout. Throws like catch_up().
  bool wait_for(const JournalPosition& position, std::chrono::milliseconds timeout) {
    return handle_.wait_for(position, timeout);
  }

  // How far behind it was at its last look. Thread-safe.
  FollowerLag lag() const { return handle_.lag(); }

  // Turns this follower into the writer: takes ownership exactly as an
  // open does (the file storage's lock and fence: a writer still running
  // is superseded and gets nothing more acknowledged), starting from the
  // state already applied and reading only what was not. Writes no snapshot
  // at open, whatever Options::snapshot_on_open says (call snapshot() when
  // you want one). The follower is closed afterwards. Throws LockedError
  // when a live writer holds the directory's lock (naming it), the errors
  // of an open (the follower then goes on following), ClosedError when
  // already promoted or closed.
  std::unique_ptr<Prevayler<State, Event>> promote() {
    auto [storage, state] = handle_.promote();
    options_.storage = std::move(storage);
    options_.snapshot_on_open = false;
    std::unique_ptr<Prevayler<State, Event>> writer;
    try {
      writer.reset(new Prevayler<State, Event>(options_, std::move(state)));
    } catch (...) {
      handle_.resume();  // still a follower: promote() may be tried again
      throw;
    }
    handle_.close();
    return writer;
  }

  // Stops following. Idempotent; state() keeps returning the last state.
  void close() { handle_.close(); }

 private:
  detail::FollowerHandle make_handle() {
    detail::EngineHooks hooks = Prevayler<State, Event>::make_hooks(options_);
    return detail::FollowerHandle(std::move(hooks), std::move(options_.storage));
  }

  Options options_;
  detail::FollowerHandle handle_;
};

}  // namespace prevayler
