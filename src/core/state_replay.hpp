// Rebuilding a state from what a storage streams: the snapshot through the
// state codec, each journaled entry through the event codec and the
// business function, with the schema version and state hash checks. Shared
// by recovery (engine_recovery.cpp) and followers (follower.cpp), so a
// follower applies exactly what a recovery would.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <string_view>

#include "core/where.hpp"
#include "prevayler/detail/engine_handle.hpp"
#include "prevayler/storage.hpp"
#include "prevayler/timestamp.hpp"

namespace prevayler::detail {

class StateReplay : public RecoveryHandler {
 public:
  // `describe` names the storage in messages. `hooks` must outlive this.
  StateReplay(const EngineHooks& hooks, std::string describe, AnyState start);

  void restart() override;
  void snapshot(std::uint64_t snapshot_id, std::istream& in) override;
  void versioned_snapshot(std::uint64_t snapshot_id, std::istream& in,
                          std::uint32_t version) override;
  void entry(const JournalPosition& position, std::string_view bytes) override;

  // The state after everything delivered (since the last restart()).
  const AnyState& head() const { return head_; }
  std::uint64_t snapshot_id() const { return snapshot_id_; }
  // Entries applied since the snapshot, and their bytes.
  std::uint64_t events_replayed() const { return events_replayed_; }
  std::uint64_t entry_bytes() const { return entry_bytes_; }
  // The journaled timestamp of the last entry applied (none yet: epoch).
  Timestamp newest_timestamp() const { return newest_timestamp_; }

 private:
  void check_event_version(std::uint32_t version, const Where& where) const;

  const EngineHooks& hooks_;
  const std::string describe_;
  AnyState head_;
  std::uint64_t snapshot_id_ = 0;
  std::uint64_t events_replayed_ = 0;
  std::uint64_t entry_bytes_ = 0;
  Timestamp newest_timestamp_{};
};

}  // namespace prevayler::detail
