// The documented promises of Prevayler<State, Event> that no other test
// pins down: which error each failure raises (RecoveryError, CodecError,
// ConfigError, EventTooLargeError, StorageFailedError at open), the
// back-pressure of WriterLimits::pending_bytes_max, and how the writer
// splits group commits by batch_events_max and batch_bytes_max.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <future>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/entry_codec.hpp"
#include "core/formats.hpp"
#include "prevayler/file_storage.hpp"
#include "prevayler/memory_storage.hpp"
#include "prevayler/prevayler.hpp"
#include "support/blocked_thread.hpp"
#include "support/event_log.hpp"
#include "support/expect_error.hpp"
#include "support/storage_wrappers.hpp"
#include "support/temp_dir.hpp"

namespace prevayler::testing {
namespace {

using Events = std::vector<std::int64_t>;

using Log = EventLog;
using P = Prevayler<Log, std::int64_t>;

// Records the size of every journal write it forwards.
class BatchRecorder : public ForwardingStorage {
 public:
  BatchRecorder(std::unique_ptr<Storage> inner, std::shared_ptr<std::vector<std::size_t>> sizes)
      : ForwardingStorage(std::move(inner)), sizes_(std::move(sizes)) {}
  void append(const EntryBatch& batch) override {
    inner_->append(batch);
    std::lock_guard lock(mutex_);
    sizes_->push_back(batch.size());
  }

 private:
  std::mutex mutex_;
  std::shared_ptr<std::vector<std::size_t>> sizes_;
};

class PromisesTest : public ::testing::Test {
 protected:
  P::Options options() {
    P::Options o;
    o.business = append_event;
    o.storage = make_memory_storage(store);
    return o;
  }
  // Journals `events` with the plain options.
  void journal(const Events& events) {
    P p(options());
    for (std::int64_t e : events) p.handle(e);
  }

  std::shared_ptr<MemoryStore> store = std::make_shared<MemoryStore>();
};

// ---- Errors -----------------------------------------------------------

TEST_F(PromisesTest, BusinessFunctionThrowingDuringReplayIsARecoveryError) {
  journal({1, 2, 3});
  P::Options o = options();
  // "New code" that rejects an event it accepted when it was handled.
  o.business = [](const Log& log, const std::int64_t& e, Timestamp t) {
    if (e == 2) throw std::invalid_argument("two is no longer allowed");
    return append_event(log, e, t);
  };
  expect_error<RecoveryError>([&] { P p(std::move(o)); },
                              "recovery replayed past a throwing business function",
                              {"two is no longer allowed", "while replaying", "is it pure?"});
  // The journal is untouched: the old code still recovers it.
  P p(options());
  EXPECT_EQ(p.state()->events, (Events{1, 2, 3}));
}

TEST_F(PromisesTest, EventThatCannotBeEncodedIsACodecErrorAndChangesNothing) {
  P::Options o = options();
  Codec<std::int64_t> codec = cereal_codec<std::int64_t>();
  auto inner_encode = codec.encode;
  codec.encode = [inner_encode](const std::int64_t& e, std::ostream& out) {
    if (e == 13) throw std::runtime_error("unlucky event");
    inner_encode(e, out);
  };
  o.event_codec = codec;
  P p(std::move(o));
  p.handle(1);
  expect_error<CodecError>([&] { p.handle(13); }, "an event that cannot be encoded was handled",
                           {"cannot encode event", "unlucky event"});
  EXPECT_THROW(p.handle_async(13), CodecError);
  EXPECT_EQ(p.state()->events, (Events{1}));
  EXPECT_EQ(p.stats().events_journaled, 1u);
  p.handle(2);
  p.close();
  P again(options());
  EXPECT_EQ(again.state()->events, (Events{1, 2}));
}

TEST_F(PromisesTest, JournaledEventThatCannotBeDecodedIsACodecErrorAtOpen) {
  journal({1, 2, 3});
  P::Options o = options();
  Codec<std::int64_t> codec = cereal_codec<std::int64_t>();
  auto inner_decode = codec.decode;
  codec.decode = [inner_decode](std::istream& in) {
    const std::int64_t e = inner_decode(in);
    if (e == 3) throw std::runtime_error("unknown event version");
    return e;
  };
  o.event_codec = codec;
  expect_error<CodecError>([&] { P p(std::move(o)); },
                           "recovery went on past an event it cannot decode",
                           {"cannot decode event", "unknown event version", "record"});
}

TEST_F(PromisesTest, StateThatCannotBeEncodedIsACodecErrorOfTheSnapshot) {
  P::Options o = options();
  o.snapshot_on_open = false;
  Codec<Log> codec = cereal_codec<Log>();
  codec.encode = [](const Log&, std::ostream&) { throw std::runtime_error("state too odd"); };
  o.state_codec = codec;
  P p(std::move(o));
  p.handle(1);
  expect_error<CodecError>([&] { p.snapshot(); },
                           "a snapshot of a state that cannot be encoded succeeded",
                           {"cannot encode snapshot", "state too odd"});
  p.handle(2);  // the instance goes on
  p.close();
  P again(options());
  EXPECT_EQ(again.state()->events, (Events{1, 2}));
}

TEST_F(PromisesTest, SnapshotThatCannotBeDecodedIsACodecErrorAtOpen) {
  journal({1, 2});  // the open's snapshot, then 1 and 2
  {
    P p(options());  // this open snapshots {1, 2}
    EXPECT_EQ(p.stats().events_replayed, 2u);
  }
  P::Options o = options();
  Codec<Log> codec = cereal_codec<Log>();
  codec.decode = [](std::istream&) -> Log { throw std::runtime_error("bad state layout"); };
  o.state_codec = codec;
  expect_error<CodecError>([&] { P p(std::move(o)); }, "recovery used a snapshot it cannot decode",
                           {"cannot decode snapshot", "bad state layout"});
}

TEST_F(PromisesTest, MissingBusinessFunctionIsAConfigError) {
  P::Options o = options();
  o.business = nullptr;
  expect_error<ConfigError>([&] { P p(std::move(o)); }, "opened without a business function",
                            {"business"});
}

TEST_F(PromisesTest, BadWriterLimitsAreConfigErrors) {
  auto open_with = [&](WriterLimits limits) {
    P::Options o = options();
    o.limits = limits;
    P p(std::move(o));
  };
  WriterLimits no_events;
  no_events.batch_events_max = 0;
  EXPECT_THROW(open_with(no_events), ConfigError);
  WriterLimits no_bytes;
  no_bytes.batch_bytes_max = 0;
  EXPECT_THROW(open_with(no_bytes), ConfigError);
  WriterLimits pending_below_batch;
  pending_below_batch.batch_bytes_max = 1000;
  pending_below_batch.pending_bytes_max = 999;
  expect_error<ConfigError>([&] { open_with(pending_below_batch); },
                            "pending_bytes_max below batch_bytes_max was accepted",
                            {"pending_bytes_max"});
  WriterLimits tight;  // the smallest valid limits
  tight.batch_events_max = 1;
  tight.batch_bytes_max = 1;
  tight.pending_bytes_max = 1;
  EXPECT_NO_THROW(open_with(tight));
}

// An event one byte over the file storage's entry limit is refused before
// anything is applied or written; the instance goes on. (Builds a 1 GiB
// event in memory: the limit is 1 GiB.)
TEST(FileStoragePromises, EventOverTheEntryLimitIsEventTooLargeError) {
  using Big = Prevayler<Log, std::string>;
  TempDir dir;
  auto open = [&] {
    Big::Options o;
    o.business = [](const Log& log, const std::string& e, Timestamp) {
      Log next = log;
      next.events.push_back(static_cast<std::int64_t>(e.size()));
      return next;
    };
    // The event "size:N" encodes as N bytes, so the test holds one copy.
    o.event_codec.encode = [](const std::string& e, std::ostream& out) {
      const std::size_t size = std::stoull(e.substr(5));
      const std::string chunk(std::size_t{1} << 20, 'x');
      std::size_t left = size;
      while (left > 0) {
        const std::size_t n = std::min(left, chunk.size());
        out.write(chunk.data(), static_cast<std::streamsize>(n));
        left -= n;
      }
    };
    o.event_codec.decode = [](std::istream& in) {
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      return "size:" + std::to_string(bytes.size());
    };
    FileStorageOptions fo;
    fo.directory = dir.path() / "data";
    fo.sync = false;
    o.storage = make_file_storage(fo);
    return std::make_unique<Big>(std::move(o));
  };
  const std::size_t event_bytes_max = detail::file_entry_bytes_max - detail::entry_head_bytes_max;
  {
    auto p = open();
    p->handle("size:10");
    expect_error<EventTooLargeError>(
        [&] { p->handle("size:" + std::to_string(event_bytes_max + 1)); },
        "an event over the file storage's limit was handled",
        {std::to_string(event_bytes_max + 1), "file storage"});
    EXPECT_EQ(p->state()->events, (Events{7}));  // "size:10" is 7 characters
    p->handle("size:20");
  }
  auto p = open();
  EXPECT_EQ(p->state()->events, (Events{7, 7}));
}

// A storage whose snapshot at open fails for good (StorageFailedError):
// the open fails, and the storage is released (its lock too: the next
// open of the directory succeeds).
class FatalSnapshotStorage : public ForwardingStorage {
 public:
  FatalSnapshotStorage(std::unique_ptr<Storage> inner, std::shared_ptr<std::atomic<int>> closes)
      : ForwardingStorage(std::move(inner)), closes_(std::move(closes)) {}
  std::unique_ptr<SnapshotWriter> begin_snapshot() override {
    throw StorageFailedError("injected: the snapshot store is gone for good");
  }
  void close() override {
    ++*closes_;
    inner_->close();
  }

 private:
  std::shared_ptr<std::atomic<int>> closes_;
};

TEST(FileStoragePromises, StorageFailedErrorFromTheSnapshotAtOpenFailsTheOpen) {
  TempDir dir;
  FileStorageOptions fo;
  fo.directory = dir.path() / "data";
  fo.sync = false;
  {
    P::Options o;
    o.business = append_event;
    o.storage = make_file_storage(fo);
    P p(std::move(o));
    p.handle(1);
  }
  auto closes = std::make_shared<std::atomic<int>>(0);
  std::vector<std::string> warnings;
  P::Options o;
  o.business = append_event;
  o.storage = std::make_unique<FatalSnapshotStorage>(make_file_storage(fo), closes);
  o.warn = [&](const std::string& m) { warnings.push_back(m); };
  expect_error<StorageFailedError>(
      [&] { P p(std::move(o)); }, "opened although the storage failed for good", {"gone for good"});
  EXPECT_TRUE(warnings.empty()) << "a fatal failure is not a warning: " << warnings.front();
  EXPECT_EQ(closes->load(), 1) << "the failed open did not release the storage";
  P::Options again;
  again.business = append_event;
  again.storage = make_file_storage(fo);
  P p(std::move(again));  // the directory is not left locked
  EXPECT_EQ(p.state()->events, (Events{1}));
}

// ---- Back-pressure and batching ---------------------------------------

// handle() blocks while pending_bytes_max bytes of accepted events wait for
// the journal: with a limit of one byte, a second event waits (before its
// business function runs) until the first one's write returned.
TEST_F(PromisesTest, HandleBlocksWhilePendingBytesExceedTheLimit) {
  auto gate = std::make_shared<WriteGate>();
  std::atomic<int> applied{0};
  std::atomic<bool> first_released{false};
  std::atomic<bool> second_applied_before_release{false};
  P::Options o = options();
  o.storage = std::make_unique<GatedStorage>(make_memory_storage(store), gate);
  o.snapshot_on_open = false;
  o.limits.batch_bytes_max = 1;
  o.limits.pending_bytes_max = 1;
  o.business = [&](const Log& log, const std::int64_t& e, Timestamp t) {
    if (e == 2 && !first_released) second_applied_before_release = true;
    ++applied;
    return append_event(log, e, t);
  };
  P p(std::move(o));
  std::atomic<pid_t> producer_tid{0};
  std::atomic<bool> second_accepted{false};
  std::jthread producer;
  GateOpener opener(gate);

  auto first = p.handle_async(1);
  ASSERT_TRUE(gate->wait_arrived(1));  // 1 is in flight: its bytes are pending
  producer = std::jthread([&] {
    producer_tid = current_tid();
    p.handle(2);
    second_accepted = true;
  });
  ASSERT_TRUE(wait_until_asleep(producer_tid, [&] { return second_accepted.load(); }))
      << "handle() did not block on the pending bytes";
  EXPECT_EQ(applied.load(), 1) << "the blocked event was applied";
  first_released = true;
  gate->open();
  producer.join();
  EXPECT_FALSE(second_applied_before_release.load());
  EXPECT_EQ(first.get()->events, (Events{1}));
  EXPECT_EQ(p.state()->events, (Events{1, 2}));
}

// Events accepted while a write is held go out in batches of at most
// batch_events_max events, in order.
TEST_F(PromisesTest, GroupCommitsAreSplitByBatchEventsMax) {
  auto gate = std::make_shared<WriteGate>();
  auto sizes = std::make_shared<std::vector<std::size_t>>();
  P::Options o = options();
  o.storage = std::make_unique<GatedStorage>(
      std::make_unique<BatchRecorder>(make_memory_storage(store), sizes), gate);
  o.snapshot_on_open = false;
  o.limits.batch_events_max = 2;
  P p(std::move(o));
  GateOpener opener(gate);
  std::vector<std::future<std::shared_ptr<const Log>>> futures;
  futures.push_back(p.handle_async(0));
  ASSERT_TRUE(gate->wait_arrived(1));
  for (int e = 1; e <= 7; ++e) futures.push_back(p.handle_async(e));
  gate->open();
  for (auto& f : futures) f.get();
  EXPECT_EQ(*sizes, (std::vector<std::size_t>{1, 2, 2, 2, 1}));
  EXPECT_EQ(p.state()->events, (Events{0, 1, 2, 3, 4, 5, 6, 7}));
}

// The same by bytes: a batch is sealed once its entries reach
// batch_bytes_max, so with 1000-byte events and a 2500-byte limit each
// batch carries three.
TEST_F(PromisesTest, GroupCommitsAreSplitByBatchBytesMax) {
  using Strings = Prevayler<Log, std::string>;
  auto gate = std::make_shared<WriteGate>();
  auto sizes = std::make_shared<std::vector<std::size_t>>();
  Strings::Options o;
  o.business = [](const Log& log, const std::string& e, Timestamp) {
    Log next = log;
    next.events.push_back(static_cast<std::int64_t>(e.size()));
    return next;
  };
  o.storage = std::make_unique<GatedStorage>(
      std::make_unique<BatchRecorder>(make_memory_storage(store), sizes), gate);
  o.snapshot_on_open = false;
  o.limits.batch_bytes_max = 2500;
  Strings p(std::move(o));
  GateOpener opener(gate);
  std::vector<std::future<std::shared_ptr<const Log>>> futures;
  futures.push_back(p.handle_async(std::string(1000, 'a')));
  ASSERT_TRUE(gate->wait_arrived(1));
  for (int e = 1; e <= 7; ++e) futures.push_back(p.handle_async(std::string(1000, 'a')));
  gate->open();
  for (auto& f : futures) f.get();
  EXPECT_EQ(*sizes, (std::vector<std::size_t>{1, 3, 3, 1}));
  EXPECT_EQ(p.state()->events.size(), 8u);
}

}  // namespace
}  // namespace prevayler::testing
