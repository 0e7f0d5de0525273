// The type-erased follower behind Follower<State, Event>: what the template
// calls, and nothing else. The follower itself (its thread, locks and the
// storage's JournalFollower, src/core/follower.cpp) is compiled into the
// library. Not part of the public API.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <utility>

#include "prevayler/detail/engine_handle.hpp"
#include "prevayler/storage.hpp"

namespace prevayler {

// How far behind a follower was at its last look (Follower::lag()).
struct FollowerLag {
  // Records it found durable and not yet applied at its last look (it
  // applied them then): how far behind the writer it had fallen.
  std::uint64_t records = 0;
  // Time since the newest applied event's timestamp, by the timestamp
  // function; 0 before any event was applied.
  std::chrono::milliseconds since_newest_event{0};
};

namespace detail {

class FollowerCore;

// Owns one follower; contracts in follower.hpp.
class FollowerHandle {
 public:
  // Bootstraps from the storage (Storage::follow()) and starts the
  // follower's thread.
  FollowerHandle(EngineHooks hooks, std::unique_ptr<Storage> storage);
  ~FollowerHandle();
  FollowerHandle(const FollowerHandle&) = delete;
  FollowerHandle& operator=(const FollowerHandle&) = delete;

  AnyState state() const;
  JournalPosition position() const;
  void catch_up();
  bool wait_for(const JournalPosition& position, std::chrono::milliseconds timeout);
  FollowerLag lag() const;
  // Stops following; returns the storage a writer opens with (it recovers
  // only what follows) and the state it starts from.
  std::pair<std::unique_ptr<Storage>, AnyState> promote();
  // After a failed promotion: follows again from where it stood.
  void resume();
  void close();

 private:
  const std::unique_ptr<FollowerCore> core_;
};

}  // namespace detail
}  // namespace prevayler
