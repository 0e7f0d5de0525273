#include "prevayler/detail/engine.hpp"

#include <string>

#include "core/entry_codec.hpp"
#include "prevayler/error.hpp"

namespace prevayler {

std::string JournalPosition::to_string() const {
  return "segment " + std::to_string(segment) + ", record " + std::to_string(record) + ", entry " +
         std::to_string(entry);
}

namespace detail {

// A group commit in the making, then in flight. Its callers wait on `done`.
struct Engine::Batch {
  EntryBatch entries;
  AnyState last_state;
  bool done = false;
  std::exception_ptr error;
};

// A point in the journal where a snapshot starts a new segment. The writer
// thread reaches it after every earlier batch has been written (or failed),
// so `state` is exactly the durable state at the cut.
struct Engine::SnapshotCut {
  bool done = false;
  std::exception_ptr error;
  std::unique_ptr<SnapshotWriter> writer;
  AnyState state;
};

class Engine::Replayer : public RecoveryHandler {
 public:
  explicit Replayer(Engine& engine) : engine_(engine) {}

  void snapshot(std::uint64_t snapshot_id, std::istream& in) override {
    try {
      engine_.head_ = engine_.hooks_.decode_state(in);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw CodecError("cannot decode snapshot " + std::to_string(snapshot_id) + " from " +
                       engine_.storage_->describe() + ": " + e.what());
    }
    engine_.stats_.snapshot_id = snapshot_id;
  }

  void entry(const JournalPosition& position, std::string_view bytes) override {
    const std::string where = engine_.storage_->describe() + ", " + position.to_string();
    const ParsedEntry parsed = parse_entry(bytes, where);
    try {
      engine_.head_ = engine_.hooks_.replay(engine_.head_.get(), parsed.event, parsed.timestamp);
    } catch (const CodecError& e) {
      throw CodecError(where + ": " + e.what());
    } catch (const std::exception& e) {
      throw RecoveryError("the business function threw while replaying the event at " + where +
                          ": " + e.what() +
                          " (it accepted this event when it was handled: is it pure?)");
    }
    ++engine_.stats_.events_replayed;
    if (parsed.state_hash && engine_.hooks_.state_hash) {
      const std::uint64_t replayed = engine_.hooks_.state_hash(engine_.head_.get());
      if (replayed != *parsed.state_hash) {
        throw InconsistentStateError(
            "Inconsistent state detected: replaying the event at " + where + " (event " +
            std::to_string(engine_.stats_.events_replayed) +
            " of this recovery) produced state hash " + std::to_string(replayed) +
            ", the journal says " + std::to_string(*parsed.state_hash) +
            ". The business function is not pure, or its code changed the meaning of old "
            "events.");
      }
    }
  }

 private:
  Engine& engine_;
};

Engine::Engine(EngineHooks hooks, std::unique_ptr<Storage> storage, EngineLimits limits,
               bool snapshot_on_open)
    : hooks_(std::move(hooks)), storage_(std::move(storage)), limits_(limits) {
  if (limits_.batch_events_max == 0 || limits_.batch_bytes_max == 0 ||
      limits_.pending_bytes_max < limits_.batch_bytes_max) {
    throw ConfigError(
        "WriterLimits: batch limits must be positive and pending_bytes_max >= batch_bytes_max");
  }
  recover();
  writer_ = std::thread([this] { run_writer(); });
  if (snapshot_on_open) {
    try {
      snapshot();
    } catch (...) {
      close();  // a constructor that throws runs no destructor
      throw;
    }
  }
}

Engine::~Engine() {
  try {
    close();
  } catch (...) {
    // A destructor cannot report; close() explicitly to see errors.
  }
}

void Engine::recover() {
  head_ = hooks_.initial_state();
  Replayer replayer(*this);
  storage_->recover(replayer);
  durable_.store(head_, std::memory_order_release);
}

void Engine::throw_if_unusable() const {
  if (fatal_) std::rethrow_exception(fatal_);
  if (closing_ || closed_) throw ClosedError("this Prevayler instance is closed");
}

AnyState Engine::handle(const void* event, std::string_view encoded_event) {
  if (encoded_event.size() + entry_head_bytes_max > storage_->entry_bytes_max()) {
    throw EventTooLargeError("event of " + std::to_string(encoded_event.size()) +
                             " encoded bytes exceeds the limit of " +
                             std::to_string(storage_->entry_bytes_max() - entry_head_bytes_max) +
                             " bytes of " + storage_->describe());
  }
  std::unique_lock lock(mutex_);
  space_free_.wait(lock, [&] {
    return pending_bytes_ < limits_.pending_bytes_max || closing_ || closed_ || fatal_;
  });
  throw_if_unusable();

  const Timestamp timestamp = hooks_.timestamp();
  AnyState next = hooks_.apply(head_.get(), event, timestamp);  // a throw changes nothing
  std::optional<std::uint64_t> hash;
  if (hooks_.state_hash) hash = hooks_.state_hash(next.get());
  const std::string head = encode_entry_head(timestamp, hash);

  if (!open_batch_) open_batch_ = std::make_shared<Batch>();
  std::shared_ptr<Batch> batch = open_batch_;
  batch->entries.add(head, encoded_event);
  batch->last_state = next;
  head_ = next;
  pending_bytes_ += head.size() + encoded_event.size();
  if (batch->entries.size() >= limits_.batch_events_max ||
      batch->entries.bytes() >= limits_.batch_bytes_max) {
    seal_open_batch();
  }
  work_ready_.notify_one();

  work_done_.wait(lock, [&] { return batch->done; });
  if (batch->error) std::rethrow_exception(batch->error);
  return next;
}

void Engine::seal_open_batch() {
  if (open_batch_) {
    queue_.push_back(std::move(open_batch_));
    open_batch_.reset();
  }
}

void Engine::run_writer() {
  std::unique_lock lock(mutex_);
  for (;;) {
    work_ready_.wait(lock, [&] { return !queue_.empty() || open_batch_ || closing_; });
    // Whatever arrived while the previous write was in flight goes out now,
    // in one write: that is the group commit.
    if (queue_.empty()) seal_open_batch();
    if (queue_.empty()) {
      if (closing_) return;
      continue;
    }
    Work work = std::move(queue_.front());
    queue_.pop_front();
    if (auto* batch = std::get_if<std::shared_ptr<Batch>>(&work)) {
      write_batch(lock, *batch);
    } else {
      cut_snapshot(lock, std::get<std::shared_ptr<SnapshotCut>>(work));
    }
  }
}

void Engine::write_batch(std::unique_lock<std::mutex>& lock, const std::shared_ptr<Batch>& batch) {
  std::exception_ptr error;
  if (fatal_) {
    error = fatal_;
  } else {
    lock.unlock();
    try {
      storage_->append(batch->entries);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
  }
  pending_bytes_ -= batch->entries.bytes();
  if (!error) {
    durable_.store(batch->last_state, std::memory_order_release);
    stats_.events_journaled += batch->entries.size();
    ++stats_.journal_writes;
    batch->done = true;
  } else {
    try {
      std::rethrow_exception(error);
    } catch (const StorageFailedError&) {
      fatal_ = error;
    } catch (...) {
    }
    batch->error = error;
    batch->done = true;
    // Every event accepted after this batch was computed from its states,
    // which will never exist: fail those too and start again from the last
    // durable state.
    std::string reason = "event not journaled: an earlier journal write failed";
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      reason += std::string(" (") + e.what() + ")";
    } catch (...) {
    }
    const auto failed = std::make_exception_ptr(StorageError(reason));
    seal_open_batch();
    for (Work& later : queue_) {
      if (auto* other = std::get_if<std::shared_ptr<Batch>>(&later)) {
        pending_bytes_ -= (*other)->entries.bytes();
        (*other)->error = fatal_ ? fatal_ : failed;
        (*other)->done = true;
        (*other)->entries = EntryBatch{};
      }
    }
    std::erase_if(queue_,
                  [](const Work& w) { return std::holds_alternative<std::shared_ptr<Batch>>(w); });
    head_ = durable_.load(std::memory_order_acquire);
  }
  work_done_.notify_all();
  space_free_.notify_all();
}

void Engine::cut_snapshot(std::unique_lock<std::mutex>& lock,
                          const std::shared_ptr<SnapshotCut>& cut) {
  if (fatal_) {
    cut->error = fatal_;
  } else {
    cut->state = durable_.load(std::memory_order_acquire);
    lock.unlock();
    try {
      cut->writer = storage_->begin_snapshot();
    } catch (...) {
      cut->error = std::current_exception();
    }
    lock.lock();
  }
  cut->done = true;
  work_done_.notify_all();
}

void Engine::snapshot() {
  std::lock_guard one_at_a_time(snapshot_mutex_);
  auto cut = std::make_shared<SnapshotCut>();
  {
    std::unique_lock lock(mutex_);
    throw_if_unusable();
    seal_open_batch();
    queue_.push_back(cut);
    work_ready_.notify_one();
    work_done_.wait(lock, [&] { return cut->done; });
  }
  if (cut->error) std::rethrow_exception(cut->error);
  // Serialise outside the event lock: the state is immutable, so writers
  // go on while a large state is written.
  try {
    hooks_.encode_state(cut->state.get(), cut->writer->stream());
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw CodecError("cannot encode snapshot " + std::to_string(cut->writer->snapshot_id()) +
                     " for " + storage_->describe() + ": " + e.what());
  }
  cut->writer->commit();
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
  if (writer_.joinable()) writer_.join();
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

EngineStats Engine::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace detail
}  // namespace prevayler
