#include "support/pipelined_storage.hpp"

#include <random>
#include <stdexcept>

namespace prevayler::testing {

struct PipelinedStorage::Write {
  EntryBatch batch;
  std::chrono::steady_clock::time_point due;
  std::mutex mutex;
  std::condition_variable finished_cv;
  bool finished = false;
  std::exception_ptr error;
};

class PipelinedStorage::PendingWrite : public PendingAppend {
 public:
  PendingWrite(PipelinedStorage& storage, std::shared_ptr<Write> write)
      : storage_(storage), write_(std::move(write)) {}
  ~PendingWrite() override {
    if (!waited_) storage_.waited();
  }
  void wait() override {
    {
      std::unique_lock lock(write_->mutex);
      write_->finished_cv.wait(lock, [&] { return write_->finished; });
    }
    waited_ = true;
    storage_.waited();
    if (write_->error) {
      if (storage_.plan().on_failed_wait) storage_.plan().on_failed_wait();
      std::this_thread::sleep_for(storage_.plan().pause_after_failed_wait);
      std::rethrow_exception(write_->error);
    }
  }

 private:
  PipelinedStorage& storage_;
  std::shared_ptr<Write> write_;
  bool waited_ = false;
};

void PipelinedStorage::waited() {
  std::lock_guard lock(mutex_);
  --unwaited_;
}

// A failure fails every write started after it, including writes started
// after its wait() returned: the core's writer may start one before the
// core has seen the failure. Only the core knows when it has.
void PipelinedStorage::resume_after_failure() {
  std::lock_guard lock(mutex_);
  if (unwaited_ != 0) {
    throw std::logic_error("resume_after_failure() called with appends in flight");
  }
  broken_ = false;
}

PipelinedStorage::PipelinedStorage(std::unique_ptr<Storage> inner, std::size_t writes_in_flight_max,
                                   std::shared_ptr<PipelinePlan> plan)
    : ForwardingStorage(std::move(inner)),
      writes_in_flight_max_(writes_in_flight_max),
      plan_(std::move(plan)) {
  thread_ = std::thread([this] { run(); });
}

PipelinedStorage::~PipelinedStorage() { close(); }

std::unique_ptr<PendingAppend> PipelinedStorage::start_append(EntryBatch batch) {
  auto write = std::make_shared<Write>();
  write->batch = std::move(batch);
  {
    std::lock_guard lock(mutex_);
    if (unwaited_ >= writes_in_flight_max_) {
      throw std::logic_error("the engine started more appends than writes_in_flight_max()");
    }
    std::uniform_int_distribution<std::int64_t> latency(plan_->latency_min.count(),
                                                        plan_->latency_max.count());
    std::mt19937_64 rng(seed_++);
    write->due = std::chrono::steady_clock::now() + std::chrono::microseconds(latency(rng));
    ++unwaited_;
    if (unwaited_ > plan_->max_in_flight) plan_->max_in_flight = unwaited_;
    queue_.push_back(write);
  }
  ready_.notify_all();
  // Queued first: a write held at its completion sees this one behind it.
  if (plan_->on_start) plan_->on_start();
  return std::make_unique<PendingWrite>(*this, write);
}

std::unique_ptr<SnapshotWriter> PipelinedStorage::begin_versioned_snapshot(
    std::uint32_t state_schema_version) {
  {
    std::lock_guard lock(mutex_);
    if (unwaited_ != 0) {
      throw std::logic_error("begin_snapshot() called with appends in flight");
    }
  }
  return inner_->begin_versioned_snapshot(state_schema_version);
}

void PipelinedStorage::close() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  if (thread_.joinable()) thread_.join();
  inner_->close();
}

void PipelinedStorage::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;
    std::shared_ptr<Write> write = queue_.front();
    ready_.wait_until(lock, write->due, [&] { return false; });
    if (plan_->on_complete) {
      // Only this thread pops the queue: the front is still `write`.
      lock.unlock();
      plan_->on_complete();
      lock.lock();
    }
    queue_.pop_front();
    std::exception_ptr error;
    bool store = true;
    if (plan_->fail_next > 0 && (!plan_->fail_only_with_writes_behind || !queue_.empty())) {
      plan_->fail_next -= 1;
      broken_ = true;
      store = false;
      error = std::make_exception_ptr(StorageError("injected pipelined write failure"));
    } else if (broken_) {
      if (plan_->land_after_failure.exchange(false)) {
        store = true;  // the contract violation under test
      } else {
        store = false;
        error = std::make_exception_ptr(StorageError("an earlier pipelined write failed"));
      }
    }
    if (store) {
      lock.unlock();
      try {
        inner_->append(write->batch);
        plan_->writes += 1;
      } catch (...) {
        error = std::current_exception();
      }
      lock.lock();
      if (error) broken_ = true;
    }
    {
      std::lock_guard done(write->mutex);
      write->finished = true;
      write->error = error;
    }
    write->finished_cv.notify_all();
  }
}

}  // namespace prevayler::testing
