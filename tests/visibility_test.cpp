// "Durable before visible": an event's effect is seen by state(), read()
// and its handle_async() future only once its journal write returned, and
// never when that write failed. Every test looks at the instance WHILE a
// write is held in flight by a WriteGate (no sleeps), for synchronous
// appends and for a pipelined storage, and checks that a snapshot cut
// contains only durable events.
#include <gtest/gtest.h>

#include <atomic>
#include <cereal/types/vector.hpp>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "prevayler/memory_storage.hpp"
#include "prevayler/prevayler.hpp"
#include "support/blocked_thread.hpp"
#include "support/event_log.hpp"
#include "support/storage_wrappers.hpp"

namespace prevayler::testing {
namespace {

using namespace std::chrono_literals;
using Events = std::vector<std::int64_t>;

using Log = EventLog;
using P = Prevayler<Log, std::int64_t>;
using Future = std::future<std::shared_ptr<const Log>>;
using Outcome = WriteGate::Outcome;

bool ready(const Future& future) { return future.wait_for(0s) == std::future_status::ready; }

// Reads state() and read() on its own thread for as long as it lives and
// remembers whether it ever saw one of the `forbidden` events: a state
// that showed an event whose write failed (or had not returned yet).
class Watcher {
 public:
  Watcher(const P& p, Events forbidden) : p_(p), forbidden_(std::move(forbidden)) {
    thread_ = std::thread([this] { run(); });
  }
  ~Watcher() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  bool saw_forbidden() const { return saw_forbidden_; }
  std::uint64_t reads() const { return reads_; }
  // Returns once the watcher has read again (at most 10 s), so that it
  // looks while the test holds a window open, however busy the machine.
  void wait_for_a_read() const {
    const std::uint64_t before = reads_;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (reads_ <= before + 1 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
  }

 private:
  bool forbidden(const Events& events) const {
    for (std::int64_t e : events) {
      for (std::int64_t f : forbidden_) {
        if (e == f) return true;
      }
    }
    return false;
  }
  void run() {
    while (!stop_) {
      if (forbidden(p_.state()->events)) saw_forbidden_ = true;
      if (p_.read([&](const Log& log) { return forbidden(log.events); })) saw_forbidden_ = true;
      ++reads_;
    }
  }

  const P& p_;
  const Events forbidden_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> saw_forbidden_{false};
  std::atomic<std::uint64_t> reads_{0};
  std::thread thread_;
};

class VisibilityTest : public ::testing::Test {
 protected:
  std::unique_ptr<P> open(std::size_t writes_in_flight_max) {
    return std::make_unique<P>(event_log_options(
        std::make_unique<GatedStorage>(make_memory_storage(store), gate, writes_in_flight_max)));
  }
  // What a restart recovers from the same store (no gate).
  Events recovered() {
    P p(event_log_options(make_memory_storage(store)));
    replayed_on_recovery = p.stats().events_replayed;
    return p.state()->events;
  }
  // Events 1 and 2 handled asynchronously, both writes inside the storage
  // (pipelined) and the first at the gate; nothing is visible yet.
  void start_two_writes(P& p, Future& first, Future& second) {
    first = p.handle_async(1);
    ASSERT_TRUE(gate->wait_started(1));
    second = p.handle_async(2);
    ASSERT_TRUE(gate->wait_started(2)) << "the engine did not pipeline the second write";
    ASSERT_TRUE(gate->wait_arrived(1));
    EXPECT_EQ(visible(p), Events{});
  }
  Events visible(const P& p) const { return p.state()->events; }
  Events read_visible(const P& p) const {
    return p.read([](const Log& log) { return log.events; });
  }

  std::shared_ptr<MemoryStore> store = std::make_shared<MemoryStore>();
  std::shared_ptr<WriteGate> gate = std::make_shared<WriteGate>();
  std::uint64_t replayed_on_recovery = 0;
};

// handle() on a synchronous storage: while its write is held, neither
// state() nor read() shows the event, nor does a handle_async() future
// accepted behind it become ready.
TEST_F(VisibilityTest, SynchronousWriteInFlightIsNotVisible) {
  auto p = open(1);
  std::jthread writer;
  GateOpener opener(gate);  // destroyed first: never leaves `writer` held
  gate->let_through();
  p->handle(1);

  std::promise<std::shared_ptr<const Log>> second;
  writer = std::jthread([&] { second.set_value(p->handle(2)); });
  ASSERT_TRUE(gate->wait_arrived(2)) << "the write of event 2 never started";
  Future third = p->handle_async(3);  // accepted behind the held write
  EXPECT_EQ(visible(*p), (Events{1}));
  EXPECT_EQ(read_visible(*p), (Events{1}));
  EXPECT_FALSE(ready(third));

  gate->let_through();
  writer.join();
  EXPECT_EQ(second.get_future().get()->events, (Events{1, 2}));
  EXPECT_EQ(visible(*p), (Events{1, 2}));
  EXPECT_EQ(read_visible(*p), (Events{1, 2}));

  // Event 3 goes out in the next write, held in its turn.
  ASSERT_TRUE(gate->wait_arrived(3)) << "the write of event 3 never started";
  EXPECT_FALSE(ready(third));
  EXPECT_EQ(visible(*p), (Events{1, 2}));
  EXPECT_EQ(read_visible(*p), (Events{1, 2}));
  gate->let_through();
  EXPECT_EQ(third.get()->events, (Events{1, 2, 3}));
  EXPECT_EQ(visible(*p), (Events{1, 2, 3}));
  EXPECT_EQ(read_visible(*p), (Events{1, 2, 3}));
}

// A pipelined storage (several writes in flight): each write's events
// become visible when that write returns, in order, not when it starts.
TEST_F(VisibilityTest, PipelinedWritesInFlightBecomeVisibleOneByOneWhenDurable) {
  auto p = open(4);
  GateOpener opener(gate);
  Future first, second;
  ASSERT_NO_FATAL_FAILURE(start_two_writes(*p, first, second));
  EXPECT_EQ(read_visible(*p), Events{});
  EXPECT_FALSE(ready(first));
  EXPECT_FALSE(ready(second));

  gate->let_through();
  EXPECT_EQ(first.get()->events, (Events{1}));
  ASSERT_TRUE(gate->wait_arrived(2));
  EXPECT_EQ(visible(*p), (Events{1}));
  EXPECT_EQ(read_visible(*p), (Events{1}));
  EXPECT_FALSE(ready(second));

  gate->let_through();
  EXPECT_EQ(second.get()->events, (Events{1, 2}));
  EXPECT_EQ(visible(*p), (Events{1, 2}));
  EXPECT_EQ(read_visible(*p), (Events{1, 2}));
  p->close();
  EXPECT_EQ(recovered(), (Events{1, 2}));
}

// A failed synchronous write: its event and the one accepted behind it
// were never visible, their callers get StorageError, and the next event
// is applied to the last durable state (the head went back).
TEST_F(VisibilityTest, FailedSynchronousWriteNeverShowsItsEventsAndTheHeadGoesBack) {
  auto p = open(1);
  std::jthread writer;
  GateOpener opener(gate);
  gate->let_through();
  p->handle(1);
  Watcher watcher(*p, {2, 3});

  writer = std::jthread([&] { EXPECT_THROW(p->handle(2), StorageError); });
  ASSERT_TRUE(gate->wait_arrived(2));
  Future third = p->handle_async(3);
  EXPECT_EQ(visible(*p), (Events{1}));
  EXPECT_EQ(read_visible(*p), (Events{1}));
  watcher.wait_for_a_read();  // while event 2 is in flight
  gate->let_through(Outcome::failed);
  writer.join();
  EXPECT_THROW(third.get(), StorageError);
  EXPECT_EQ(visible(*p), (Events{1}));
  EXPECT_EQ(read_visible(*p), (Events{1}));

  gate->open();
  EXPECT_EQ(p->handle(4)->events, (Events{1, 4}));
  watcher.stop();
  EXPECT_GT(watcher.reads(), 0u);
  EXPECT_FALSE(watcher.saw_forbidden()) << "a failed event was visible";
  p->close();
  EXPECT_EQ(recovered(), (Events{1, 4}));
}

// The same on a pipelined storage: two writes in flight, the first fails,
// so both fail; neither was ever visible, and the instance goes on from
// the durable state.
TEST_F(VisibilityTest, FailedPipelinedWriteNeverShowsItsEventsNorLaterOnes) {
  auto p = open(4);
  GateOpener opener(gate);
  Watcher watcher(*p, {1, 2});
  Future first, second;
  ASSERT_NO_FATAL_FAILURE(start_two_writes(*p, first, second));
  watcher.wait_for_a_read();  // while both writes are in flight
  gate->let_through(Outcome::failed);
  gate->let_through();  // write 2 reaches the gate too, then fails after write 1
  EXPECT_THROW(first.get(), StorageError);
  EXPECT_THROW(second.get(), StorageError);
  EXPECT_EQ(visible(*p), Events{});
  EXPECT_EQ(read_visible(*p), Events{});

  gate->open();
  EXPECT_EQ(p->handle(3)->events, (Events{3}));
  watcher.stop();
  EXPECT_GT(watcher.reads(), 0u);
  EXPECT_FALSE(watcher.saw_forbidden()) << "a failed event was visible";
  p->close();
  EXPECT_EQ(recovered(), (Events{3}));
}

// A snapshot requested while a write is in flight is cut after that
// write; an event accepted after the request belongs after the cut. The
// snapshot must hold only what was durable at the cut: had it taken the
// head state (with that later event), recovery would apply the event twice.
TEST_F(VisibilityTest, SnapshotCutHoldsOnlyDurableEvents) {
  {
    auto p = open(1);
    std::atomic<pid_t> snapshotter_tid{0};
    std::atomic<bool> snapshotted{false};
    std::jthread writer, snapshotter;
    GateOpener opener(gate);
    gate->let_through();
    p->handle(1);
    writer = std::jthread([&] { p->handle(2); });
    ASSERT_TRUE(gate->wait_arrived(2));

    snapshotter = std::jthread([&] {
      snapshotter_tid = current_tid();
      p->snapshot();
      snapshotted = true;
    });
    // The snapshotter queues its cut, then sleeps until the held write
    // returns: wait for that sleep (bounded), so event 3 follows the cut.
    ASSERT_TRUE(wait_until_asleep(snapshotter_tid, [&] { return snapshotted.load(); }))
        << "the snapshot did not wait for the write in flight";
    Future third = p->handle_async(3);
    EXPECT_EQ(visible(*p), (Events{1}));

    gate->open();
    writer.join();
    snapshotter.join();
    EXPECT_EQ(third.get()->events, (Events{1, 2, 3}));
  }
  EXPECT_EQ(recovered(), (Events{1, 2, 3}));
  EXPECT_EQ(replayed_on_recovery, 1u) << "event 3 is not after the snapshot";
}

}  // namespace
}  // namespace prevayler::testing
