#include "aws/journal_writer.hpp"

#include <condition_variable>

#include "core/assert.hpp"
#include "core/record_codec.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {

// A group commit on its way. Its items go out in order on a pool thread,
// or on the thread that waits for it when that one comes first (claimed);
// `stored` counts those that are durable.
struct JournalWriter::Write {
  std::atomic<bool> claimed{false};  // a thread is sending it, or has
  std::vector<std::string> items;
  std::uint64_t segment = 0;
  std::uint64_t first_order = 0;
  std::mutex mutex;
  std::condition_variable finished_cv;
  bool finished = false;
  std::size_t stored = 0;
  std::optional<std::string> conflict;  // another writer's content at the first unstored item
  std::exception_ptr error;
};

class JournalWriter::Pending : public PendingAppend {
 public:
  Pending(JournalWriter& writer, std::shared_ptr<Write> write)
      : writer_(writer), write_(std::move(write)) {}
  ~Pending() override {
    if (!waited_) {
      try {
        wait();
      } catch (...) {
        // Nobody asked for this write's outcome; its record is kept.
      }
    }
  }
  void wait() override {
    waited_ = true;
    writer_.finish(*write_);
  }

 private:
  JournalWriter& writer_;
  std::shared_ptr<Write> write_;
  bool waited_ = false;
};

// Marks a write as inside the writer: a write never starts while another is
// inside (the engine calls from one thread at a time).
class JournalWriter::Inside {
 public:
  explicit Inside(std::atomic<bool>& flag) : flag_(flag) {
    PREVAYLER_ASSERT(!flag_.exchange(true), "a write never starts while another is inside");
  }
  ~Inside() { flag_ = false; }
  Inside(const Inside&) = delete;
  Inside& operator=(const Inside&) = delete;

 private:
  std::atomic<bool>& flag_;
};

JournalWriter::JournalWriter(const JournalPut& put, std::size_t writes_in_flight_max)
    : put_(put), writes_in_flight_max_(writes_in_flight_max) {
  PREVAYLER_ASSERT(writes_in_flight_max_ >= 1, "at least one write may be in flight");
}

JournalWriter::~JournalWriter() { close(); }

void JournalWriter::own(std::uint64_t segment) {
  std::lock_guard lock(mutex_);
  PREVAYLER_ASSERT(writes_in_flight_ == 0, "a new segment is owned with nothing pending");
  segment_ = segment;
  next_order_ = 1;
  acknowledged_ = JournalPosition{segment, 0, 0};
}

std::uint64_t JournalWriter::segment() const {
  std::lock_guard lock(mutex_);
  return segment_;
}

bool JournalWriter::segment_empty() const {
  std::lock_guard lock(mutex_);
  return next_order_ == 1;
}

JournalPosition JournalWriter::acknowledged() const {
  std::lock_guard lock(mutex_);
  return acknowledged_;
}

RecordPosition JournalWriter::next_position() const {
  std::lock_guard lock(mutex_);
  return RecordPosition{segment_, next_order_};
}

void JournalWriter::put_durably(std::uint64_t order, const std::string& content) {
  if (put_.put_or_conflict(segment_, order, content)) {
    std::rethrow_exception(put_.superseded_at(segment_, order));
  }
}

void JournalWriter::assert_nothing_pending() const {
  std::lock_guard lock(mutex_);
  PREVAYLER_ASSERT(writes_in_flight_ == 0, "a write never starts while pipelined ones are pending");
}

void JournalWriter::append(const std::vector<std::string>& items) {
  const Inside inside(inside_);
  assert_nothing_pending();
  for (const std::string& item : items) {
    put_durably(next_order_, item);
    ++next_order_;
  }
  std::lock_guard lock(mutex_);
  acknowledged_ = JournalPosition{segment_, next_order_ - 1, 0};
}

void JournalWriter::seal_segment(std::uint64_t writer_id) {
  const Inside inside(inside_);
  assert_nothing_pending();
  std::string seal;
  encode_seal_record(seal, writer_id, segment_ + 1);
  put_durably(next_order_, seal);
  own(segment_ + 1);
}

std::unique_ptr<PendingAppend> JournalWriter::start(std::vector<std::string> items) {
  const Inside inside(inside_);
  auto write = std::make_shared<Write>();
  write->items = std::move(items);
  bool alone = false;
  {
    std::lock_guard lock(mutex_);
    PREVAYLER_ASSERT(writes_in_flight_ < writes_in_flight_max_,
                     "more writes in flight than allowed");
    write->segment = segment_;
    write->first_order = next_order_;
    next_order_ += write->items.size();
    alone = writes_in_flight_++ == 0;
  }
  // Alone in flight: every write before it was waited, so its own wait()
  // is next, and comes at once (a lone producer's handle(), or the
  // engine's acknowledger, woken for it). That wait sends it: waking a
  // pool thread as well would cost a wake-up per write and race the
  // waiter for it. A write started behind others goes to the pool, so it
  // is on its way while the ones before it are.
  if (alone) return std::make_unique<Pending>(*this, write);
  if (!pool_) pool_ = std::make_unique<TaskPool>(writes_in_flight_max_, "prevayler-put");
  pool_->submit([this, write] {
    if (!write->claimed.exchange(true)) send(*write);
  });
  return std::make_unique<Pending>(*this, write);
}

// Pool thread: puts the write's items in order, unless a write failed.
void JournalWriter::send(Write& w) {
  std::size_t stored = 0;
  std::optional<std::string> conflict;
  std::exception_ptr error;
  for (; stored < w.items.size(); ++stored) {
    if (send_gate_closed_.load()) {
      error =
          std::make_exception_ptr(StorageError(put_.item_name(w.segment, w.first_order + stored) +
                                               " not written: another journal write failed"));
      break;
    }
    try {
      conflict = put_.put_or_conflict(w.segment, w.first_order + stored, w.items[stored]);
    } catch (...) {
      error = std::current_exception();
    }
    if (conflict || error) break;
  }
  // Closed before this write's wait() can report it: a write started after
  // the engine learns of the failure is never sent.
  if (conflict || error) send_gate_closed_ = true;
  std::lock_guard lock(w.mutex);
  w.stored = stored;
  w.conflict = std::move(conflict);
  w.error = error;
  w.finished = true;
  w.finished_cv.notify_all();
}

// Reports this write only; records where the gap is for resume_after_failure().
void JournalWriter::finish(Write& w) {
  // Not taken by a pool thread yet: the waiter sends it itself rather than
  // block while a pool thread is woken to do it (a lone producer's write,
  // or the acknowledger's next one). Order is kept: each write's orders
  // were fixed at start, and writes in flight go out side by side anyway.
  if (!w.claimed.exchange(true)) send(w);
  {
    std::unique_lock lock(w.mutex);
    w.finished_cv.wait(lock, [&] { return w.finished; });
  }
  const bool complete = w.stored == w.items.size();
  PREVAYLER_ASSERT(complete == (!w.conflict && !w.error),
                   "a write stops short only with a conflict or an error");
  {
    std::lock_guard lock(mutex_);
    PREVAYLER_ASSERT(writes_in_flight_ > 0, "each write is waited once");
    --writes_in_flight_;
    // Waits come in start order: the first incomplete one is the failure
    // every later write is failed for.
    if (gap_order_) {
      if (w.stored > 0) landed_behind_gap_ = true;
    } else if (!complete) {
      gap_order_ = w.first_order + w.stored;
    } else if (w.segment == segment_) {
      // Waits come in start order and nothing before this one failed: it
      // and every write before it are durable.
      acknowledged_ = JournalPosition{w.segment, w.first_order + w.items.size() - 1, 0};
    }
  }
  if (w.conflict) std::rethrow_exception(put_.superseded_at(w.segment, w.first_order + w.stored));
  if (w.error) std::rethrow_exception(w.error);
}

void JournalWriter::resume_after_failure() {
  std::lock_guard lock(mutex_);
  PREVAYLER_ASSERT(writes_in_flight_ == 0, "resume_after_failure() with writes pending");
  if (landed_behind_gap_) {
    throw StorageFailedError(
        put_.item_name(segment_, *gap_order_) +
        " is missing after a failed journal write, and a later write was stored behind it; "
        "this instance stopped so the live state never differs from the journal (a restart "
        "recovers it)");
  }
  if (gap_order_) next_order_ = *gap_order_;
  gap_order_.reset();
  send_gate_closed_ = false;
}

void JournalWriter::close() { pool_.reset(); }

}  // namespace prevayler::detail
