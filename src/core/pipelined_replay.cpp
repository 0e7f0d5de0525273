// replay_pipelined (pipelined_replay.hpp): the reader thread, the bounded
// queue of entry batches between it and the handler's thread, and the stop
// that lets the handler's errors end the reader.
#include "core/pipelined_replay.hpp"

#include <pthread.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "core/assert.hpp"

namespace prevayler::detail {
namespace {

// An entry, or a warning, in a batch's bytes.
struct Item {
  JournalPosition position;  // an entry's
  std::size_t offset = 0;
  std::size_t size = 0;
  bool warning = false;
};

struct Batch {
  std::string bytes;
  std::vector<Item> items;
};

// Thrown in the reader when the handler's thread stopped reading (the
// handler threw): not a std::exception, so no catch in a storage's replay
// takes it for a failure of its own.
struct Stopped {};

// The batches and who holds them: the reader fills empty ones, the
// handler's thread applies full ones and gives them back for reuse, so a
// replay allocates its buffers once.
class BatchQueue {
 public:
  BatchQueue() : batches_(replay_queue_batches_max) {
    for (Batch& batch : batches_) empty_.push_back(&batch);
  }

  // Reader: a batch to fill, once the handler gave one back. Throws Stopped.
  Batch* take_empty() {
    std::unique_lock lock(mutex_);
    emptied_.wait(lock, [&] { return stopped_ || !empty_.empty(); });
    if (stopped_) throw Stopped{};
    Batch* batch = empty_.back();
    empty_.pop_back();
    return batch;
  }

  // Reader: a filled batch, in order. Never waits: every batch fits.
  void hand_over(Batch* batch) {
    {
      const std::lock_guard lock(mutex_);
      full_.push_back(batch);
    }
    filled_.notify_one();
  }

  // Reader, last: what ended it (null: the end of the journal).
  void finish(std::exception_ptr error) noexcept {
    {
      const std::lock_guard lock(mutex_);
      finished_ = true;
      error_ = std::move(error);
    }
    filled_.notify_one();
  }

  // Handler's thread: the next filled batch; null once the reader finished
  // and every batch it filled was taken.
  Batch* take_full() {
    std::unique_lock lock(mutex_);
    filled_.wait(lock, [&] { return finished_ || !full_.empty(); });
    if (full_.empty()) return nullptr;
    Batch* batch = full_.front();
    full_.pop_front();
    return batch;
  }

  // Handler's thread: a batch applied, for the reader to fill again.
  void give_back(Batch* batch) {
    batch->bytes.clear();
    batch->items.clear();
    {
      const std::lock_guard lock(mutex_);
      empty_.push_back(batch);
    }
    emptied_.notify_one();
  }

  // Handler's thread: no more batches are taken; the reader stops at its
  // next one.
  void stop() noexcept {
    {
      const std::lock_guard lock(mutex_);
      stopped_ = true;
    }
    emptied_.notify_one();
  }

  // After finish(): what ended the reader.
  std::exception_ptr error() {
    const std::lock_guard lock(mutex_);
    return error_;
  }

 private:
  std::vector<Batch> batches_;
  std::mutex mutex_;
  std::condition_variable emptied_;
  std::condition_variable filled_;
  std::vector<Batch*> empty_;
  std::deque<Batch*> full_;
  bool finished_ = false;
  bool stopped_ = false;
  std::exception_ptr error_;
};

// The handler the storage's replay sees on the reader thread: it copies
// each entry into the batch being filled (the storage's views last only
// until its next read).
class BatchingSink : public RecoveryHandler {
 public:
  explicit BatchingSink(BatchQueue& queue) : queue_(queue) {}

  void entry(const JournalPosition& position, std::string_view bytes) override {
    add(position, bytes, false);
  }
  void warn(const std::string& text) { add(JournalPosition{}, text, true); }

  // Hands the batch being filled over, if it holds anything.
  void flush() {
    if (batch_ != nullptr && !batch_->items.empty()) queue_.hand_over(batch_);
    batch_ = nullptr;
  }

  // A replay delivers only entries (pipelined_replay.hpp).
  void snapshot(std::uint64_t, std::istream&) override {
    PREVAYLER_ASSERT(false, "a pipelined replay delivers no snapshot");
  }
  void restart() override { PREVAYLER_ASSERT(false, "a pipelined replay does not restart"); }

 private:
  void add(const JournalPosition& position, std::string_view bytes, bool warning) {
    if (batch_ == nullptr) batch_ = queue_.take_empty();
    batch_->items.push_back(Item{position, batch_->bytes.size(), bytes.size(), warning});
    batch_->bytes.append(bytes);
    if (batch_->bytes.size() >= replay_batch_bytes_max) flush();
  }

  BatchQueue& queue_;
  Batch* batch_ = nullptr;
};

// Stops and joins the reader on every way out of the handler's loop.
class ReaderThread {
 public:
  ReaderThread(BatchQueue& queue, std::thread thread) : queue_(queue), thread_(std::move(thread)) {}
  ~ReaderThread() {
    queue_.stop();
    thread_.join();
  }
  ReaderThread(const ReaderThread&) = delete;
  ReaderThread& operator=(const ReaderThread&) = delete;

 private:
  BatchQueue& queue_;
  std::thread thread_;
};

}  // namespace

void replay_pipelined(
    const std::function<void(RecoveryHandler& sink, const ReplayWarn& warn)>& produce,
    RecoveryHandler& target, const ReplayWarn& warn) {
  BatchQueue queue;
  BatchingSink sink(queue);
  const ReplayWarn sink_warn = [&sink](const std::string& text) { sink.warn(text); };
  std::thread thread;
  try {
    thread = std::thread([&] {
      // Named for operators (top -H, perf, gdb); 15 characters at most.
      pthread_setname_np(pthread_self(), "prevayler-read");
      std::exception_ptr error;
      try {
        produce(sink, sink_warn);
      } catch (const Stopped&) {
        // The handler's thread stopped: nobody reads what follows.
      } catch (...) {
        error = std::current_exception();
      }
      // What was read before an error is applied before it is thrown. It
      // never waits (hand_over), so it cannot throw Stopped.
      sink.flush();
      queue.finish(std::move(error));
    });
  } catch (const std::system_error&) {
    // No thread to be had: the same replay, on this thread alone.
    produce(target, warn);
    return;
  }
  {
    const ReaderThread reader(queue, std::move(thread));
    // Each pass applies a batch the reader filled; it fills a bounded
    // number of them before it finishes (the journal's size).
    while (Batch* batch = queue.take_full()) {
      const std::string_view bytes = batch->bytes;
      for (const Item& item : batch->items) {
        const std::string_view piece = bytes.substr(item.offset, item.size);
        if (item.warning) {
          warn(std::string(piece));
        } else {
          target.entry(item.position, piece);
        }
      }
      queue.give_back(batch);
    }
  }
  if (std::exception_ptr error = queue.error()) std::rethrow_exception(error);
}

}  // namespace prevayler::detail
