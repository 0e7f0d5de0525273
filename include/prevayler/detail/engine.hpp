// The type-erased machinery behind Prevayler<State, Event>: recovery, the
// event lock, group commit and snapshot cuts. Not part of the public API;
// it lives in a header only because the class template forwards to it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>

#include "prevayler/detail/depth_tuner.hpp"
#include "prevayler/storage.hpp"
#include "prevayler/timestamp.hpp"

namespace prevayler::detail {

using AnyState = std::shared_ptr<const void>;

// What the typed front end supplies. Every function may throw.
struct EngineHooks {
  std::function<AnyState()> initial_state;
  // Live path: applies a typed event (passed as const void*).
  std::function<AnyState(const void* state, const void* event, Timestamp)> apply;
  // Replay path: decodes the event bytes, then applies.
  std::function<AnyState(const void* state, std::string_view event, Timestamp)> replay;
  std::function<void(const void* state, std::ostream&)> encode_state;
  std::function<AnyState(std::istream&)> decode_state;
  std::function<std::uint64_t(const void* state)> state_hash;  // empty: no check
  TimestampFunction timestamp;
  std::function<void(const std::string&)> warn;  // empty: stderr
};

struct EngineLimits {
  std::size_t batch_events_max;
  std::size_t batch_bytes_max;
  std::size_t pending_bytes_max;     // handle() waits while this much is unwritten
  std::size_t writes_in_flight_max;  // 0: what the storage allows
};

// Counters, for tests and benchmarks.
struct EngineStats {
  std::uint64_t events_journaled = 0;
  std::uint64_t journal_writes = 0;
  std::uint64_t events_replayed = 0;
  std::uint64_t snapshot_id = 0;           // of the snapshot recovery started from
  std::size_t writes_in_flight_limit = 1;  // what the engine allows now (adapts to load)
};

class Engine {
 public:
  // Recovers from the storage, starts the writer thread, and, when
  // snapshot_on_open, writes a snapshot of the recovered state.
  Engine(EngineHooks hooks, std::unique_ptr<Storage> storage, EngineLimits limits,
         bool snapshot_on_open);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  AnyState handle(const void* event, std::string_view encoded_event);
  // Called once the event is durable (state, no error) or failed (error),
  // on the thread that settles its write, under the engine's lock: it must
  // only hand the outcome over (e.g. fulfil a promise), never call back in.
  using Completion = std::function<void(const AnyState& state, std::exception_ptr error)>;
  // Applies the event now (the business function's throw reaches the
  // caller) and returns without waiting for the journal write.
  void handle_async(const void* event, std::string_view encoded_event, Completion completion);
  AnyState state() const { return durable_.load(std::memory_order_acquire); }
  // The durable state through a per-thread cache: no reference count is
  // touched while the state is unchanged. Valid until this thread calls it
  // again for this engine.
  const void* current_state() const;
  void snapshot();
  void close();
  Timestamp timestamp() const { return hooks_.timestamp(); }
  EngineStats stats() const;

 private:
  struct Batch;
  struct SnapshotCut;
  struct InFlight;
  using Work = std::variant<std::shared_ptr<Batch>, std::shared_ptr<SnapshotCut>>;
  class Replayer;

  void recover();
  void run_writer();
  void run_acknowledger();
  bool writer_has_work() const;
  void write_batch(std::unique_lock<std::mutex>& lock, const std::shared_ptr<Batch>& batch);
  void start_batch(std::unique_lock<std::mutex>& lock, const std::shared_ptr<Batch>& batch);
  void settle(const std::shared_ptr<Batch>& batch, std::exception_ptr error);
  void fail_pipeline(std::unique_lock<std::mutex>& lock, std::exception_ptr error);
  void cut_snapshot(std::unique_lock<std::mutex>& lock, const std::shared_ptr<SnapshotCut>& cut);
  void seal_open_batch();
  std::shared_ptr<Batch> accept(std::unique_lock<std::mutex>& lock, const void* event,
                                std::string_view encoded_event, AnyState& next);
  void throw_if_unusable() const;

  const EngineHooks hooks_;
  const std::unique_ptr<Storage> storage_;
  const EngineLimits limits_;

  // Journal writes in flight at once: 1 for synchronous storages (the file
  // storage), more for pipelined ones (DynamoDB).
  std::size_t depth_ = 1;

  mutable std::mutex mutex_;  // the event lock; guards everything below
  std::condition_variable work_ready_;
  std::condition_variable work_done_;
  std::condition_variable space_free_;
  std::condition_variable acks_ready_;
  AnyState head_;  // state after every accepted event, durable or not
  std::shared_ptr<Batch> open_batch_;
  std::deque<Work> queue_;
  std::deque<InFlight> in_flight_;  // pipelined writes, oldest first
  DepthTuner tuner_{1};             // how many of them now, up to depth_
  std::size_t pending_bytes_ = 0;
  bool writing_ = false;  // a thread is inside append()/start_append()/begin_snapshot()
  bool failing_ = false;  // a pipelined write failed; the rest are being drained
  bool writer_exited_ = false;
  bool closing_ = false;
  bool closed_ = false;
  std::exception_ptr fatal_;  // a StorageFailedError: the instance stopped
  EngineStats stats_;

  // Published only once durable. Readers never take the event lock.
  std::atomic<AnyState> durable_;
  // Bumped after every publication of durable_, for current_state()'s cache.
  std::atomic<std::uint64_t> durable_version_{0};
  const std::uint64_t id_;  // distinguishes engines in per-thread caches

  std::mutex snapshot_mutex_;  // one snapshot at a time; close waits for it
  std::mutex close_mutex_;
  std::thread writer_;
  std::thread acknowledger_;  // waits for pipelined writes, in order (depth_ > 1)
};

}  // namespace prevayler::detail
