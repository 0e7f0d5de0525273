// The simulated medium and storage of the deterministic simulation test
// (tests/simulation_test.cpp, docs/simulation.md).
//
// SimDisk is the "disk" that outlives the Prevayler instances of one seed:
// journal segments of framed records (length + masked CRC-32C + the real
// journal record bytes, so replay goes through the real record decoder) and
// snapshots. A record is durable or volatile (written, not yet synced); a
// snapshot is partial (a half-written temporary), volatile or durable.
// crash() is the process dying: the seed decides which volatile writes
// reached the platter.
//
// SimStorage is a prevayler::Storage over a SimDisk that injects faults from
// the disk's seeded generator: clean append failures, failures after a
// partial write that was removed again, unknown outcomes (fail-stop), torn
// writes (the process dies mid-write), snapshot and recovery failures.
// Every random decision comes from the disk's generator, drawn while no
// other storage call runs, so one seed always gives the same run.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "prevayler/storage.hpp"

namespace prevayler::testing::sim {

// What the storage can do wrong, counted per kind for the run's figures.
enum class Fault : std::size_t {
  append_clean,          // append throws StorageError, nothing written
  append_removed,        // part of the record written, removed, StorageError
  append_unknown,        // record written, sync outcome unknown: StorageFailedError
  torn_write,            // the process dies in the middle of the write
  begin_snapshot_clean,  // begin_snapshot throws before starting a segment
  begin_snapshot_late,   // begin_snapshot throws after starting the segment
  commit_clean,          // snapshot commit throws, a half-written temporary stays
  commit_unknown,        // snapshot commit throws, the snapshot may survive
  recover_clean,         // recover throws before streaming anything
  recover_midway,        // recover throws after streaming part of the journal
  count
};
inline constexpr std::size_t fault_kinds = static_cast<std::size_t>(Fault::count);
const char* fault_name(Fault fault);

// What happened to volatile writes and torn tails at crashes and reopens.
struct SettleCounts {
  std::uint64_t records_kept = 0;     // unknown-outcome records that survived
  std::uint64_t records_lost = 0;     // ... that did not
  std::uint64_t torn_tails_kept = 0;  // torn bytes recovery had to cut off
  std::uint64_t torn_tails_cut = 0;   // torn tails recovery found and cut
  std::uint64_t snapshots_kept = 0;   // unknown-outcome snapshots that survived
  std::uint64_t snapshots_lost = 0;
};

// Probabilities of each fault, in parts per million of the calls that can
// have it.
struct FaultRates {
  std::uint32_t append_clean_ppm = 30'000;
  std::uint32_t append_removed_ppm = 20'000;
  std::uint32_t append_unknown_ppm = 15'000;
  std::uint32_t torn_write_ppm = 8'000;
  std::uint32_t begin_snapshot_clean_ppm = 80'000;
  std::uint32_t begin_snapshot_late_ppm = 50'000;
  std::uint32_t commit_clean_ppm = 80'000;
  std::uint32_t commit_unknown_ppm = 80'000;
  std::uint32_t recover_clean_ppm = 50'000;
  std::uint32_t recover_midway_ppm = 50'000;
  // Chance that an unknown-outcome write (record or snapshot), or the
  // bytes of a torn write, reached the disk before the crash.
  std::uint32_t volatile_survives_ppm = 500'000;
};

struct SimRecord {
  std::string frame;  // masked CRC-32C (4) + payload length (4) + payload
  bool durable = false;
};

struct SimSnapshot {
  enum class Status { partial, unsynced, durable };
  std::string bytes;
  Status status = Status::partial;
};

class SimDisk {
 public:
  SimDisk(std::uint64_t seed, FaultRates rates);

  // The process dies: each volatile record and snapshot survives or not as
  // the seed says, partial snapshots stay behind (recovery must ignore
  // them), the lock is released, and storages of the dead process can no
  // longer touch the disk.
  void crash();
  // A reopen in the same process after a clean close: the same fate
  // decisions (a restart recovers exactly what is durable), no epoch change.
  void settle();
  // True once a torn write killed the process: the driver must crash().
  bool process_dead() const;

  // Streams the durable view as a recovery would see it (latest durable
  // snapshot, then every durable record of every segment from it, a torn
  // tail of the last segment skipped), without taking the lock. The
  // simulation's oracle replays this independently of the engine.
  void read_durable(RecoveryHandler& handler) const;

  // A gate in front of the next append, so the driver can hold a journal
  // write in flight while it queues more events behind it (group commit,
  // deterministically).
  void arm_gate();
  bool wait_at_gate(std::chrono::milliseconds timeout);
  void release_gate();

  std::array<std::uint64_t, fault_kinds> faults() const;
  SettleCounts settle_counts() const;
  std::uint64_t appends() const;
  // Appends of more than one entry: group commits the simulation produced.
  std::uint64_t multi_entry_appends() const;

  // Verbose log of storage decisions (single-seed runs); may be empty.
  std::function<void(const std::string&)> log;

 private:
  friend class SimStorage;
  friend class SimSnapshotWriter;

  bool draw_locked(std::uint32_t ppm);  // a seeded Bernoulli trial
  void count_locked(Fault fault);
  void log_locked(const std::string& line) const;
  void settle_locked();
  // The latest snapshot recovery may use and the segments to replay.
  struct View {
    std::uint64_t snapshot_id = 0;
    const std::string* snapshot = nullptr;
  };
  View view_locked() const;

  mutable std::mutex mutex_;
  std::condition_variable gate_cv_;
  std::mt19937_64 rng_;
  const FaultRates rates_;
  std::map<std::uint64_t, std::vector<SimRecord>> segments_;
  std::map<std::uint64_t, SimSnapshot> snapshots_;
  std::uint64_t epoch_ = 0;  // bumped by crash(): older storages are dead
  bool locked_ = false;
  bool process_dead_ = false;
  bool gate_armed_ = false;
  bool gate_waiting_ = false;
  std::array<std::uint64_t, fault_kinds> faults_{};
  SettleCounts settle_counts_;
  std::uint64_t appends_ = 0;
  std::uint64_t multi_entry_appends_ = 0;
};

std::unique_ptr<Storage> make_sim_storage(std::shared_ptr<SimDisk> disk);

}  // namespace prevayler::testing::sim
