// The follower behind Follower<State, Event>: bootstraps through the
// storage's JournalFollower into a StateReplay (the checks recovery makes),
// then one thread waits for changes (inotify or the poll interval) and
// applies what became durable, publishing each state only after whole
// records. catch_up() applies on the caller's thread; one look at a time.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

#include "core/state_replay.hpp"
#include "core/warning.hpp"
#include "prevayler/detail/follower_handle.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {
namespace {

// The follower's thread checks for close() or promote() at least this often
// (they also wake it at once, JournalFollower::wake()).
constexpr std::uint64_t stop_check_ms_max = 50;

bool reached(const JournalPosition& at, const JournalPosition& wanted) {
  return at.segment > wanted.segment ||
         (at.segment == wanted.segment && at.record >= wanted.record);
}

}  // namespace

class FollowerCore {
 public:
  FollowerCore(EngineHooks hooks, std::unique_ptr<Storage> storage)
      : hooks_(std::move(hooks)), storage_(std::move(storage)) {
    hooks_.warn = warning_or_default(std::move(hooks_.warn));
    journal_ = storage_->follow();
    replay_.emplace(hooks_, storage_->describe() + " (follower)", hooks_.initial_state());
    journal_->start(*replay_);
    publish(0);
    start_thread();
  }

  ~FollowerCore() { close(); }

  AnyState state() const { return state_.load(std::memory_order_acquire); }

  JournalPosition position() const {
    const std::lock_guard lock(mutex_);
    return position_;
  }

  FollowerLag lag() const {
    const std::lock_guard lock(mutex_);
    FollowerLag lag;
    lag.records = records_behind_;
    if (newest_ != Timestamp{}) {
      lag.since_newest_event = std::max(std::chrono::milliseconds(0), hooks_.timestamp() - newest_);
    }
    return lag;
  }

  void catch_up() {
    const std::lock_guard apply(apply_mutex_);
    throw_if_unusable();
    look();
  }

  bool wait_for(const JournalPosition& wanted, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    advanced_.wait_until(lock, deadline,
                         [&] { return reached(position_, wanted) || error_ || !following_; });
    if (error_) std::rethrow_exception(error_);
    if (reached(position_, wanted)) return true;
    if (!following_) throw ClosedError("the follower of " + storage_->describe() + " is closed");
    return false;
  }

  std::pair<std::unique_ptr<Storage>, AnyState> promote() {
    stop_thread();
    const std::lock_guard apply(apply_mutex_);
    throw_if_unusable();  // a stopped follower stays stopped
    return {journal_->promote(), replay_->head()};
  }

  void resume() { start_thread(); }

  void close() {
    stop_thread();
    const std::lock_guard apply(apply_mutex_);
    closed_ = true;
    journal_.reset();
  }

 private:
  void throw_if_unusable() const {
    if (closed_) throw ClosedError("the follower of " + storage_->describe() + " is closed");
    const std::lock_guard lock(mutex_);
    if (error_) std::rethrow_exception(error_);
  }

  // Under apply_mutex_. A throw leaves the replay between records: the
  // follower stops for good, its last published state stays.
  void look() {
    std::uint64_t records = 0;
    try {
      records = journal_->poll(*replay_);
    } catch (...) {
      {
        const std::lock_guard lock(mutex_);
        error_ = std::current_exception();
      }
      advanced_.notify_all();
      throw;
    }
    publish(records);
  }

  void publish(std::uint64_t records) {
    state_.store(replay_->head(), std::memory_order_release);
    {
      const std::lock_guard lock(mutex_);
      position_ = journal_->position();
      records_behind_ = records;
      if (replay_->newest_timestamp() != Timestamp{}) newest_ = replay_->newest_timestamp();
    }
    advanced_.notify_all();
  }

  void run() {
    auto last_look = std::chrono::steady_clock::now();
    for (;;) {
      // Short waits, so close() and promote() never wait for a long poll
      // interval; a look only on a change or once the interval is over. The
      // interval is read each time: a storage may adapt it to the traffic.
      const std::uint64_t interval_ms = journal_->poll_interval_ms();
      const auto slice = std::min<std::uint64_t>(interval_ms, stop_check_ms_max);
      const bool changed = journal_->wait_for_change(slice);
      if (stopping_.load()) return;
      if (!changed &&
          std::chrono::steady_clock::now() - last_look < std::chrono::milliseconds(interval_ms)) {
        continue;
      }
      last_look = std::chrono::steady_clock::now();
      const std::lock_guard apply(apply_mutex_);
      if (stopping_.load()) return;
      try {
        look();
      } catch (const std::exception& e) {
        hooks_.warn("follower of " + storage_->describe() + " stopped: " + e.what());
        return;
      }
    }
  }

  void start_thread() {
    const std::lock_guard apply(apply_mutex_);
    if (closed_ || thread_.joinable()) return;
    stopping_ = false;
    {
      const std::lock_guard lock(mutex_);
      following_ = true;
    }
    thread_ = std::thread([this] { run(); });
  }

  void stop_thread() {
    stopping_ = true;
    if (journal_) journal_->wake();
    if (thread_.joinable()) thread_.join();
    {
      const std::lock_guard lock(mutex_);
      following_ = false;
    }
    advanced_.notify_all();
  }

  EngineHooks hooks_;
  const std::unique_ptr<Storage> storage_;
  std::unique_ptr<JournalFollower> journal_;

  std::mutex apply_mutex_;  // one look at a time; guards replay_, closed_, thread_
  std::optional<StateReplay> replay_;
  bool closed_ = false;
  std::thread thread_;
  std::atomic<bool> stopping_{false};

  std::atomic<AnyState> state_;  // published after whole records only
  mutable std::mutex mutex_;     // guards what wait_for() and lag() read
  std::condition_variable advanced_;
  JournalPosition position_;
  std::uint64_t records_behind_ = 0;
  Timestamp newest_{};
  bool following_ = false;
  std::exception_ptr error_;
};

FollowerHandle::FollowerHandle(EngineHooks hooks, std::unique_ptr<Storage> storage)
    : core_(std::make_unique<FollowerCore>(std::move(hooks), std::move(storage))) {}

FollowerHandle::~FollowerHandle() = default;

AnyState FollowerHandle::state() const { return core_->state(); }

JournalPosition FollowerHandle::position() const { return core_->position(); }

void FollowerHandle::catch_up() { core_->catch_up(); }

bool FollowerHandle::wait_for(const JournalPosition& position, std::chrono::milliseconds timeout) {
  return core_->wait_for(position, timeout);
}

FollowerLag FollowerHandle::lag() const { return core_->lag(); }

std::pair<std::unique_ptr<Storage>, AnyState> FollowerHandle::promote() { return core_->promote(); }

void FollowerHandle::resume() { core_->resume(); }

void FollowerHandle::close() { core_->close(); }

}  // namespace prevayler::detail
