#include "core/engine.hpp"

#include <pthread.h>

#include <algorithm>
#include <string>

#include "core/assert.hpp"
#include "core/engine_parts.hpp"
#include "core/entry_codec.hpp"
#include "core/warning.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {

namespace {

static_assert(entry_head_bytes_max_at(entry_schema_version_default + 1) <=
                  encoded_event_headroom_bytes,
              "every entry head fits the room before an encoded event");

std::atomic<std::uint64_t> next_engine_id{0};

// current_state()'s per-thread cache: the last state this thread read, of
// which engine, at which version.
struct ReaderCache {
  std::uint64_t engine = 0;
  std::uint64_t version = 0;
  AnyState state;
};
thread_local ReaderCache reader_cache;

EngineHooks with_default_warn(EngineHooks hooks) {
  hooks.warn = warning_or_default(std::move(hooks.warn));
  return hooks;
}

// The storage makes sure none of the failed writes can be replayed and the
// next one follows the last acknowledged batch (storage.hpp), or says it
// cannot: the error that stops the instance, null when it resumed.
std::exception_ptr resume_after_failure(Storage& storage) {
  try {
    storage.resume_after_failure();
    return nullptr;
  } catch (const StorageFailedError&) {
    return std::current_exception();
  } catch (const std::exception& e) {
    return std::make_exception_ptr(StorageFailedError(
        storage.describe() + " could not resume after a failed journal write (" + e.what() +
        "); this instance stopped so the live state never differs from the journal"));
  }
}

// What the events after a failed write fail with: read from the write's
// error before settle() hands that error to other threads (a completion may
// drop the last reference to it at once; the reference count is atomic,
// but a sanitizer sees none of it inside the standard library).
std::string failed_write_reason(const std::exception_ptr& error) {
  std::string reason = "event not journaled: an earlier journal write failed";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    reason += std::string(" (") + e.what() + ")";
  } catch (...) {
  }
  return reason;
}

// A pending write's outcome: null when it is durable. Outside the event lock.
std::exception_ptr wait_for(std::unique_ptr<PendingAppend> pending) {
  try {
    pending->wait();
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;
}

}  // namespace

const void* Engine::current_state() const {
  const std::uint64_t version = durable_version_.load(std::memory_order_acquire);
  ReaderCache& cache = reader_cache;
  if (cache.engine != id_ || cache.version != version || !cache.state) {
    // Loaded after the version: at least as new as `version`, maybe newer
    // (then the next call refreshes again).
    cache.state = durable_.load(std::memory_order_acquire);
    cache.version = version;
    cache.engine = id_;
  }
  return cache.state.get();
}

Engine::Engine(EngineHooks hooks, std::unique_ptr<Storage> storage, EngineLimits limits,
               bool snapshot_on_open, SnapshotPolicy policy, AnyState resume_state)
    : hooks_(with_default_warn(std::move(hooks))),
      storage_(std::move(storage)),
      read_only_(storage_->read_only()),
      limits_(limits),
      policy_(policy),
      resume_state_(std::move(resume_state)),
      id_(next_engine_id.fetch_add(1) + 1) {
  if (limits_.batch_events_max == 0 || limits_.batch_bytes_max == 0 ||
      limits_.pending_bytes_max < limits_.batch_bytes_max) {
    throw ConfigError(
        "WriterLimits: batch limits must be positive and pending_bytes_max >= batch_bytes_max");
  }
  const std::size_t storage_writes_in_flight_max =
      std::max<std::size_t>(1, storage_->writes_in_flight_max());
  writes_in_flight_max_ =
      limits_.writes_in_flight_max == 0
          ? storage_writes_in_flight_max
          : std::min(limits_.writes_in_flight_max, storage_writes_in_flight_max);
  recover();
  // Start wide open; measurement narrows it. Before the writer starts: it
  // reads the tuner (writes_in_flight_allowed()) under the event lock,
  // which this constructor does not hold.
  tuner_ = WritesInFlightTuner(writes_in_flight_max_, writes_in_flight_max_);
  writer_ = std::thread([this] { run_writer(); });
  // Named for operators (top -H, perf, gdb; 15 characters at most on
  // Linux), here rather than by the thread, so the name is there on return.
  pthread_setname_np(writer_.native_handle(), "prevayler-write");
  if (writes_in_flight_max_ > 1) {
    acknowledger_ = std::thread([this] { run_acknowledger(); });
    pthread_setname_np(acknowledger_.native_handle(), "prevayler-ack");
  }
  if (snapshot_on_open && !read_only_) {
    try {
      snapshot();
    } catch (const StorageFailedError&) {
      close();  // a constructor that throws runs no destructor
      throw;
    } catch (const StorageError& e) {
      // The snapshot only shortens the next recovery, which is correct
      // without it (it starts from the previous snapshot and follows the
      // seals): opening beats failing over a transient fault.
      hooks_.warn(std::string("snapshot at open not written, opened without it: ") + e.what());
    } catch (...) {
      close();
      throw;
    }
  }
  // Last: the snapshot at open (or the recovery) is where its triggers
  // start counting, and nothing after this can throw.
  if (policy_.any() && !read_only_) snapshotter_ = std::thread([this] { run_snapshotter(); });
}

Engine::~Engine() {
  try {
    close();
  } catch (...) {
    // A destructor cannot report; close() explicitly to see errors.
  }
}

void Engine::throw_if_read_only() const {
  if (read_only_) {
    throw ReadOnlyError("read-only: " + storage_->describe() +
                        " only shows a journal; changes and snapshots are refused");
  }
}

void Engine::throw_if_unusable() const {
  if (fatal_) std::rethrow_exception(fatal_);
  if (closing_ || closed_) throw ClosedError("this Prevayler instance is closed");
}

AnyState Engine::handle(const void* event, std::string encoded) {
  throw_if_read_only();
  const auto started = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  AnyState next;
  std::shared_ptr<Batch> batch = accept(lock, event, encoded, next);
  if (!batch) return next;  // unchanged, and that state is durable: nothing to wait for
  // Nobody writing and nothing else queued (a lone producer, or the first
  // of a burst): write on this thread instead of handing over to the
  // writer thread and back, which costs two thread wake-ups per event.
  // On a pipelining storage the same holds with nothing in flight: this
  // thread starts the write and waits for it, instead of the writer thread
  // starting it and the acknowledger waiting (four wake-ups per event with
  // the storage's own thread). The write is still started (start_append())
  // and pipelined: the writer can start later batches behind it meanwhile.
  // Not while the producers of the last write are coming back
  // (GroupCommitLinger): the one completing them sends all of theirs.
  if (!writing_ && !failing_ && queue_.empty() && open_batch_ == batch &&
      (writes_in_flight_max_ == 1 ||
       (in_flight_.empty() && !linger_.waiting(std::chrono::steady_clock::now())))) {
    seal_open_batch();
    auto mine = std::get<std::shared_ptr<Batch>>(std::move(queue_.front()));
    queue_.pop_front();
    if (writes_in_flight_max_ == 1) {
      write_batch(lock, mine);
    } else {
      start_batch(lock, mine, true);
      acknowledge_own_write(lock, mine);
    }
  }
  // Whatever arrived meanwhile (or this batch, when not written here).
  wake_writer();

  batch->done_cv.wait(lock, [&] { return batch->done; });
  if (batch->error) std::rethrow_exception(batch->error);
  // Under the lock this call holds anyway: no extra synchronisation.
  metrics_.handle_latency_us.record(microseconds_since(started));
  return next;
}

void Engine::handle_async(const void* event, std::string encoded, Completion completion) {
  throw_if_read_only();
  std::unique_lock lock(mutex_);
  AnyState next;
  std::shared_ptr<Batch> batch = accept(lock, event, encoded, next);
  if (!batch) {
    // Unchanged and durable already: ready now (under the lock, as the
    // completion's contract says).
    completion(next, nullptr);
    return;
  }
  batch->completions.emplace_back(std::move(next), std::move(completion));
  wake_writer();
}

// Applies the event to the head state and adds it to the open batch;
// returns that batch. Waits while too many bytes are unwritten.
std::shared_ptr<Engine::Batch> Engine::accept(std::unique_lock<std::mutex>& lock, const void* event,
                                              std::string& encoded, AnyState& next) {
  PREVAYLER_ASSERT(encoded.size() >= encoded_event_headroom_bytes);
  const std::string_view encoded_event =
      std::string_view(encoded).substr(encoded_event_headroom_bytes);
  const std::size_t head_bytes_max = entry_head_bytes_max_at(hooks_.schema.event);
  if (encoded_event.size() + head_bytes_max > storage_->entry_bytes_max()) {
    throw EventTooLargeError("event of " + std::to_string(encoded_event.size()) +
                             " encoded bytes exceeds the limit of " +
                             std::to_string(storage_->entry_bytes_max() - head_bytes_max) +
                             " bytes of " + storage_->describe());
  }
  space_free_.wait(lock, [&] {
    return pending_bytes_ < limits_.pending_bytes_max || closing_ || closed_ || fatal_;
  });
  throw_if_unusable();
  linger_.arrived();

  const Timestamp timestamp = hooks_.timestamp();
  next = hooks_.apply(head_.get(), event, timestamp);  // a throw changes nothing
  if (hooks_.unchanged && hooks_.unchanged(head_.get(), next.get())) {
    return accept_unchanged(next);
  }
  std::optional<std::uint64_t> hash;
  if (hooks_.state_hash) hash = hooks_.state_hash(next.get());
  const std::string head = encode_entry_head(timestamp, hash, hooks_.schema.event);

  if (!open_batch_) open_batch_ = std::make_shared<Batch>();
  std::shared_ptr<Batch> batch = open_batch_;
  const std::size_t entry_bytes = head.size() + encoded_event.size();
  // The head goes into the encoded event's room: a large event is kept, not copied.
  batch->entries.add(head, std::move(encoded), encoded_event_headroom_bytes);
  batch->events += 1;
  batch->bytes += entry_bytes;
  batch->last_state = next;
  batch->last_timestamp = timestamp;
  last_batch_ = batch;
  head_ = next;
  pending_bytes_ += entry_bytes;
  PREVAYLER_ASSERT(pending_bytes_ >= batch->bytes);
  if (batch->entries.size() >= limits_.batch_events_max ||
      batch->entries.bytes() >= limits_.batch_bytes_max) {
    seal_open_batch();
  }
  return batch;
}

// Not journaled (Options::skip_unchanged). The caller gets the head state,
// which its equality found equal to what the business function returned,
// and that state is visible only once durable: so the event waits for the
// newest batch not yet settled, and fails with it (read-your-writes, and
// no acknowledgement ahead of an earlier event's).
std::shared_ptr<Engine::Batch> Engine::accept_unchanged(AnyState& next) {
  next = head_;
  std::shared_ptr<Batch> wait_for = last_batch_;
  if (!wait_for && failing_) {
    // The head is a state a failed write computed, not durable yet being
    // rolled back: wait in the open batch, which fail_pipeline() fails.
    if (!open_batch_) open_batch_ = std::make_shared<Batch>();
    wait_for = open_batch_;
  }
  if (!wait_for) {
    PREVAYLER_ASSERT(head_ == durable_.load(std::memory_order_acquire));
    ++metrics_.events_unchanged;
    return nullptr;
  }
  wait_for->unchanged_events += 1;
  return wait_for;
}

void Engine::seal_open_batch() {
  if (open_batch_) {
    queue_.push_back(std::move(open_batch_));
    open_batch_.reset();
  }
}

// Wakes the writer thread only when it has something to do (or must see
// the close): a wake-up it sleeps through again costs two context switches
// and the event lock, after every event of a lone producer, who writes on
// its own thread. Only the writer waits on work_ready_, always for
// writer_has_work() or the close, so every change that can make that true
// calls this after it, under the lock.
void Engine::wake_writer() {
  if (writer_has_work() || closing_) work_ready_.notify_one();
}

// The same for the acknowledger, which waits for a head of in_flight_ that
// no caller waits for (a lone producer's own write is not its to pop), and
// for fail_pipeline(), which waits, with failing_ set, for !writing_.
void Engine::wake_acknowledger() {
  const bool head_is_mine = !in_flight_.empty() && !in_flight_.front().waited_by_caller;
  if (head_is_mine || failing_ || writer_exited_) acks_ready_.notify_all();
}

bool Engine::writer_has_work() const {
  if (writing_ || failing_) return false;
  if (!queue_.empty()) {
    // A snapshot cut waits for every write before it.
    if (std::holds_alternative<std::shared_ptr<SnapshotCut>>(queue_.front())) {
      return in_flight_.empty();
    }
    return in_flight_.size() < writes_in_flight_allowed();
  }
  return open_batch_ && in_flight_.size() < writes_in_flight_allowed();
}

// The writer holds the open batch back for the producers of the last
// acknowledged write (GroupCommitLinger), with nothing queued and nothing
// else to do. Also while other writes are in flight: with a slot free, the
// first producer back would otherwise leave alone and the rest in the next
// write, and a closed loop would settle into cohorts that each pay a
// request (PipelineTest.LingerHoldsTheNextWriteWithAWriteInFlight).
bool Engine::lingering(std::chrono::steady_clock::time_point now) const {
  return writes_in_flight_max_ > 1 && open_batch_ && queue_.empty() && !writing_ && !failing_ &&
         !closing_ && linger_.waiting(now);
}

std::size_t Engine::writes_in_flight_allowed() const {
  if (writes_in_flight_max_ == 1) return 1;
  // The storage's advice may change at any moment (a throttle met on a pool
  // thread); the start_batch() that follows a check needs only the tuner's
  // bound, which changes under the event lock alone.
  return std::clamp<std::size_t>(storage_->writes_in_flight_advised(), 1,
                                 tuner_.writes_in_flight_allowed());
}

void Engine::run_writer() {
  std::unique_lock lock(mutex_);
  for (;;) {
    work_ready_.wait(lock, [&] {
      return writer_has_work() || (closing_ && queue_.empty() && !open_batch_ && !writing_);
    });
    if (!writer_has_work()) break;
    if (lingering(std::chrono::steady_clock::now())) {
      // Every accepted event wakes this thread (work_ready_); the wait ends
      // when they are back, or at the linger's deadline, or when anything
      // else makes lingering() false. Bounded: lingering() is false from
      // the deadline on.
      work_ready_.wait_until(lock, linger_.deadline(),
                             [&] { return !lingering(std::chrono::steady_clock::now()); });
      continue;
    }
    // Whatever arrived while the previous write was in flight (or while
    // every pipeline slot was busy) goes out now, in one write: that is the
    // group commit. A slot that frees sends what is there at once, so a
    // lone event is never held back to wait for a fuller batch.
    if (queue_.empty()) seal_open_batch();
    Work work = std::move(queue_.front());
    queue_.pop_front();
    if (auto* batch = std::get_if<std::shared_ptr<Batch>>(&work)) {
      if (writes_in_flight_max_ == 1) {
        write_batch(lock, *batch);
      } else {
        start_batch(lock, *batch);
      }
    } else {
      cut_snapshot(lock, std::get<std::shared_ptr<SnapshotCut>>(work));
    }
  }
  writer_exited_ = true;
  acks_ready_.notify_all();
}

// Synchronous write (writes_in_flight_max_ == 1), on the writer thread or on a caller's.
void Engine::write_batch(std::unique_lock<std::mutex>& lock, const std::shared_ptr<Batch>& batch) {
  std::exception_ptr error;
  if (fatal_) {
    error = fatal_;
  } else {
    PREVAYLER_ASSERT(!writing_);
    writing_ = true;
    batch->write_started = std::chrono::steady_clock::now();
    lock.unlock();
    try {
      storage_->append(batch->entries);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    writing_ = false;
  }
  settle_or_fail_pipeline(lock, batch, error);
  work_done_.notify_all();
  space_free_.notify_all();
  wake_writer();
}

// Pipelined write (writes_in_flight_max_ > 1): starts it and leaves the wait to the
// acknowledger thread, so the next batch can start while this one travels.
void Engine::start_batch(std::unique_lock<std::mutex>& lock, const std::shared_ptr<Batch>& batch,
                         bool waited_by_caller) {
  // The writer checked for a free slot under the lock it still holds.
  PREVAYLER_ASSERT(in_flight_.size() < tuner_.writes_in_flight_allowed());
  // A caller waits only for a write with nothing ahead of it.
  PREVAYLER_ASSERT(!waited_by_caller || in_flight_.empty());
  InFlight flight{batch, nullptr, nullptr};
  if (fatal_) {
    flight.error = fatal_;
  } else {
    PREVAYLER_ASSERT(!writing_);
    writing_ = true;
    batch->write_started = std::chrono::steady_clock::now();
    lock.unlock();
    try {
      flight.pending = storage_->start_append(std::move(batch->entries));
    } catch (...) {
      flight.error = std::current_exception();
    }
    lock.lock();
    writing_ = false;
    batch->entries = EntryBatch{};
  }
  // Failed at once: start nothing more (it would be computed from this
  // batch's states) until the acknowledger reaches it and fails the rest.
  if (flight.error) failing_ = true;
  flight.waited_by_caller = waited_by_caller && !flight.error;
  in_flight_.push_back(std::move(flight));
  PREVAYLER_ASSERT(in_flight_.size() <= writes_in_flight_max_);
  wake_acknowledger();
}

// handle()'s lone write on a pipelining storage: the head of in_flight_,
// which only this thread pops while waited_by_caller. A failure goes back
// to the acknowledger, which owns the failure protocol (fail_pipeline()
// drains the writes started behind this one, in order).
void Engine::acknowledge_own_write(std::unique_lock<std::mutex>& lock,
                                   const std::shared_ptr<Batch>& batch) {
  PREVAYLER_ASSERT(!in_flight_.empty() && in_flight_.front().batch == batch);
  if (!in_flight_.front().waited_by_caller) return;  // start_append() threw
  std::unique_ptr<PendingAppend> pending = std::move(in_flight_.front().pending);
  lock.unlock();
  const std::exception_ptr error = wait_for(std::move(pending));
  lock.lock();
  PREVAYLER_ASSERT(in_flight_.front().batch == batch && in_flight_.front().waited_by_caller);
  if (error) {
    in_flight_.front().error = error;
    in_flight_.front().waited_by_caller = false;
    failing_ = true;  // as for a start that threw: nothing more until the acknowledger has it
  } else {
    in_flight_.pop_front();
    settle(batch, nullptr);
    work_done_.notify_all();
    space_free_.notify_all();
    wake_writer();
  }
  wake_acknowledger();
}

void Engine::run_acknowledger() {
  std::unique_lock lock(mutex_);
  for (;;) {
    // A head its caller waits for is the caller's to pop (acknowledge_own_write()).
    acks_ready_.wait(lock, [&] {
      return (!in_flight_.empty() && !in_flight_.front().waited_by_caller) ||
             (in_flight_.empty() && writer_exited_);
    });
    if (in_flight_.empty()) return;
    // Only this thread pops (but a caller its own head); the writer thread
    // pushes at the back.
    std::shared_ptr<Batch> batch = in_flight_.front().batch;
    std::unique_ptr<PendingAppend> pending = std::move(in_flight_.front().pending);
    std::exception_ptr error = in_flight_.front().error;
    lock.unlock();
    if (!error) error = wait_for(std::move(pending));
    pending.reset();
    lock.lock();
    in_flight_.pop_front();
    settle_or_fail_pipeline(lock, batch, error);
    work_done_.notify_all();
    space_free_.notify_all();
    wake_writer();
  }
}

// Settles a written batch; after a failed write, fails what was computed
// from it too (the failure's reason read first: failed_write_reason()).
void Engine::settle_or_fail_pipeline(std::unique_lock<std::mutex>& lock,
                                     const std::shared_ptr<Batch>& batch,
                                     const std::exception_ptr& error) {
  const std::string reason = error ? failed_write_reason(error) : std::string();
  settle(batch, error);
  if (error) fail_pipeline(lock, reason);
}

// Acknowledges a batch (its callers wake on its done_cv) or fails it.
void Engine::settle(const std::shared_ptr<Batch>& batch, std::exception_ptr error) {
  PREVAYLER_ASSERT(pending_bytes_ >= batch->bytes);
  pending_bytes_ -= batch->bytes;
  batch->entries = EntryBatch{};
  // Settled in journal order: a newer batch is still pending otherwise.
  if (last_batch_ == batch) last_batch_.reset();
  if (!error) {
    // Only fail_pipeline() fails an empty batch (unchanged events alone).
    PREVAYLER_ASSERT(batch->events > 0);
    metrics_.events_unchanged += batch->unchanged_events;
    durable_.store(batch->last_state, std::memory_order_release);
    durable_version_.fetch_add(1, std::memory_order_release);
    metrics_.stats.events_journaled += batch->events;
    ++metrics_.stats.journal_writes;
    metrics_.bytes_written += batch->bytes;
    metrics_.events_per_write.record(batch->events);
    metrics_.journal_write_latency_us.record(microseconds_since(batch->write_started));
    if (writes_in_flight_max_ > 1) {
      const auto now = std::chrono::steady_clock::now();
      tuner_.acknowledged(batch->events, now);
      linger_.acknowledged(batch->events, now - batch->write_started, now);
    }
    count_for_snapshot_triggers(batch->events, batch->bytes, batch->last_timestamp);
  } else {
    ++metrics_.failed_writes;
    try {
      std::rethrow_exception(error);
    } catch (const StorageFailedError&) {
      fatal_ = error;
    } catch (...) {
    }
    batch->error = error;
  }
  batch->done = true;
  batch->done_cv.notify_all();
  for (auto& [state, completion] : batch->completions) {
    completion(batch->error ? nullptr : state, batch->error);
  }
  batch->completions.clear();
}

// After a failed write: every event accepted after it was computed from
// states that will never exist. Fail those too (the writes already in
// flight, what is queued, the open batch) and start again from the last
// durable state. The engine alone owns this protocol (storage.hpp): a
// pending append's wait() only reports its own write, so a later one that
// returns (it is in the journal, behind the failed one) stops the instance,
// and the storage is told to resume once, with nothing pending.
void Engine::fail_pipeline(std::unique_lock<std::mutex>& lock, const std::string& reason) {
  const auto failed = std::make_exception_ptr(StorageError(reason));
  failing_ = true;
  // A write being started now was computed from the failed states too:
  // let it join the pipeline, then drain the pipeline.
  work_ready_.notify_all();
  acks_ready_.wait(lock, [&] { return !writing_; });
  while (!in_flight_.empty()) {
    std::shared_ptr<Batch> later = in_flight_.front().batch;
    std::unique_ptr<PendingAppend> pending = std::move(in_flight_.front().pending);
    bool journaled = false;
    std::exception_ptr stopped;  // the storage refuses further appends
    lock.unlock();
    if (pending) {
      try {
        pending->wait();
        journaled = true;
      } catch (const StorageFailedError&) {
        stopped = std::current_exception();
      } catch (...) {
        // Failed like the first one: its events were never journaled.
      }
    }
    pending.reset();
    lock.lock();
    in_flight_.pop_front();
    // A later write's outcome is unknown, or the storage stopped: so does
    // the instance, before it accepts more.
    if (stopped && !fatal_) fatal_ = stopped;
    if (journaled && !fatal_) {
      // A later write reported itself stored: the journal holds events,
      // behind the failed write, that the live state lacks. Stop; a
      // restart recovers exactly the journal.
      fatal_ = std::make_exception_ptr(StorageFailedError(
          "a journal write after a failed one was stored by " + storage_->describe() +
          "; this instance stopped so the live state never differs from the journal"));
    }
    settle(later, fatal_ ? fatal_ : failed);
  }
  seal_open_batch();
  for (Work& work : queue_) {
    if (auto* other = std::get_if<std::shared_ptr<Batch>>(&work)) {
      settle(*other, fatal_ ? fatal_ : failed);
    }
  }
  std::erase_if(queue_,
                [](const Work& w) { return std::holds_alternative<std::shared_ptr<Batch>>(w); });
  head_ = durable_.load(std::memory_order_acquire);
  // Only now may the storage accept starts again: a write the writer began
  // while this thread was learning of the failure has been failed above.
  if (writes_in_flight_max_ > 1 && !fatal_) fatal_ = resume_after_failure(*storage_);
  failing_ = false;
}

void Engine::close() {
  std::lock_guard once(close_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closing_ = true;
  }
  work_ready_.notify_all();
  space_free_.notify_all();
  snapshot_due_.notify_all();
  // First: an automatic snapshot with its cut needs the writer to have
  // reached it (its cut is queued, so the writer does before exiting); one
  // not cut yet sees closing_ and is abandoned.
  if (snapshotter_.joinable()) snapshotter_.join();
  if (writer_.joinable()) writer_.join();
  if (acknowledger_.joinable()) acknowledger_.join();
  {
    // A snapshot that already has its cut finishes before the storage goes.
    std::lock_guard wait_for_snapshot(snapshot_mutex_);
  }
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  storage_->close();
}

Stats Engine::stats() const {
  std::lock_guard lock(mutex_);
  Stats stats = metrics_.stats;
  stats.writes_in_flight_allowed = writes_in_flight_allowed();
  return stats;
}

Metrics Engine::metrics() const {
  Metrics metrics;
  {
    std::lock_guard lock(mutex_);
    metrics = metrics_;
    metrics.stats.writes_in_flight_allowed = writes_in_flight_allowed();
    metrics.pending_bytes = pending_bytes_;
    // A synchronous append (or a pipelined start) is in flight while
    // writing_; a pipelined write stays in in_flight_ until acknowledged.
    metrics.writes_in_flight = in_flight_.size() + (writing_ ? 1 : 0);
    metrics.events_since_snapshot = events_since_snapshot_;
    metrics.journal_bytes_since_snapshot = bytes_since_snapshot_;
  }
  // Outside the event lock: the storage has its own synchronisation.
  metrics.storage = storage_->counters();
  return metrics;
}

}  // namespace prevayler::detail
