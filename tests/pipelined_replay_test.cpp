// Replay over two threads (core/pipelined_replay.hpp): the handler sees the
// same entries, warnings and errors, in the same order, as a replay on one
// thread; the queue stays bounded; the reader thread stops and is joined
// whichever side fails. Then the file storage's recovery through it, on
// journals longer than the queue.
#include "core/pipelined_replay.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cereal/types/string.hpp>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "prevayler/error.hpp"
#include "prevayler/file_storage.hpp"
#include "prevayler/prevayler.hpp"
#include "support/expect_error.hpp"
#include "support/file_bytes.hpp"
#include "support/temp_dir.hpp"

namespace prevayler::testing {
namespace {

namespace fs = std::filesystem;
using detail::replay_batch_bytes_max;
using detail::replay_pipelined;
using detail::replay_queue_batches_max;
using detail::ReplayWarn;

constexpr std::size_t entry_bytes = 100;

std::string entry_text(std::uint64_t i) {
  std::string text = std::to_string(i);
  text.resize(entry_bytes, static_cast<char>('a' + i % 26));
  return text;
}

JournalPosition position_of(std::uint64_t i) {
  return JournalPosition{7, i / 10 + 1, static_cast<std::uint32_t>(i % 10)};
}

// Checks every entry against what the producer below delivers, and notes
// the warnings among them and the threads it was called on.
class CheckingHandler : public RecoveryHandler {
 public:
  void snapshot(std::uint64_t, std::istream&) override { ADD_FAILURE() << "no snapshot expected"; }
  void restart() override { ADD_FAILURE() << "no restart expected"; }
  void entry(const JournalPosition& position, std::string_view bytes) override {
    const JournalPosition expected = position_of(entries);
    EXPECT_EQ(position.segment, expected.segment);
    EXPECT_EQ(position.record, expected.record);
    EXPECT_EQ(position.entry, expected.entry);
    EXPECT_EQ(bytes, entry_text(entries));
    if (std::this_thread::get_id() != caller) ++entries_on_other_threads;
    ++entries;
    if (entries == throw_at)
      throw std::runtime_error("business rule broken at entry " + std::to_string(entries));
  }
  std::thread::id caller = std::this_thread::get_id();
  std::uint64_t entries = 0;
  std::uint64_t entries_on_other_threads = 0;
  std::uint64_t throw_at = 0;  // 0: never
};

// Delivers `count` entries, a warning after entry `warn_after`, then
// throws `error` when set; counts what it delivered and when it ended.
struct Producer {
  std::uint64_t count = 0;
  std::uint64_t warn_after = 0;
  bool throw_corruption = false;
  std::atomic<std::uint64_t> delivered{0};
  std::atomic<bool> ended{false};
  std::thread::id thread;

  void operator()(RecoveryHandler& sink, const ReplayWarn& warn) {
    struct End {
      std::atomic<bool>& ended;
      ~End() { ended = true; }
    } end{ended};
    thread = std::this_thread::get_id();
    for (std::uint64_t i = 0; i < count; ++i) {
      sink.entry(position_of(i), entry_text(i));
      ++delivered;
      if (i + 1 == warn_after) warn("torn record after entry " + std::to_string(i + 1));
    }
    if (throw_corruption) {
      throw CorruptionError("journal-7.log at offset 1234: journal record 99 fails its checksum");
    }
  }
};

// Bigger than the queue: the reader waits for the handler many times over.
constexpr std::uint64_t entries_past_the_queue =
    4 * replay_queue_batches_max * replay_batch_bytes_max / entry_bytes;

TEST(PipelinedReplay, DeliversEveryEntryInOrderOnTheCallingThreadPastTheQueue) {
  Producer producer;
  producer.count = entries_past_the_queue;
  CheckingHandler handler;
  std::vector<std::string> warnings;
  replay_pipelined(std::ref(producer), handler,
                   [&](const std::string& w) { warnings.push_back(w); });
  EXPECT_EQ(handler.entries, entries_past_the_queue);
  EXPECT_EQ(handler.entries_on_other_threads, 0u);
  EXPECT_NE(producer.thread, handler.caller) << "the storage's replay ran on the calling thread";
  EXPECT_TRUE(producer.ended);
  EXPECT_TRUE(warnings.empty());
}

TEST(PipelinedReplay, ReaderErrorComesAfterEveryEntryAndWarningBeforeIt) {
  Producer producer;
  producer.count = entries_past_the_queue / 2 + 17;  // the error ends a partial batch
  producer.warn_after = entries_past_the_queue / 2;
  producer.throw_corruption = true;
  CheckingHandler handler;
  std::vector<std::pair<std::uint64_t, std::string>> warnings;  // entries applied before each
  const ReplayWarn warn = [&](const std::string& w) {
    EXPECT_EQ(std::this_thread::get_id(), handler.caller);
    warnings.emplace_back(handler.entries, w);
  };
  try {
    replay_pipelined(std::ref(producer), handler, warn);
    FAIL() << "the reader's error was not thrown";
  } catch (const CorruptionError& e) {
    EXPECT_STREQ(e.what(), "journal-7.log at offset 1234: journal record 99 fails its checksum");
  }
  EXPECT_EQ(handler.entries, producer.count);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].first, producer.warn_after);
  EXPECT_EQ(warnings[0].second, "torn record after entry " + std::to_string(producer.warn_after));
}

TEST(PipelinedReplay, HandlerErrorStopsTheReaderWithinTheQueueAndJoinsIt) {
  Producer producer;
  producer.count = 100 * entries_past_the_queue;  // would take far longer than the test
  CheckingHandler handler;
  handler.throw_at = 1000;
  expect_error<std::runtime_error>([&] { replay_pipelined(std::ref(producer), handler, {}); },
                                   "the handler's error was not thrown",
                                   {"business rule broken at entry 1000"});
  EXPECT_EQ(handler.entries, 1000u);
  // Joined before the throw: the reader's replay had returned.
  EXPECT_TRUE(producer.ended);
  // Bounded: the reader got at most the queue (and the batch it was
  // filling) ahead of the handler.
  const std::uint64_t entries_per_batch_max = replay_batch_bytes_max / entry_bytes + 1;
  EXPECT_LE(producer.delivered.load(),
            1000 + (replay_queue_batches_max + 1) * entries_per_batch_max);
}

TEST(PipelinedReplay, EmptyReplayDeliversNothing) {
  Producer producer;
  CheckingHandler handler;
  replay_pipelined(std::ref(producer), handler, {});
  EXPECT_EQ(handler.entries, 0u);
  EXPECT_TRUE(producer.ended);
}

// The file storage's recovery through the pipeline.

struct Tally {
  std::uint64_t events = 0;
  std::uint64_t bytes = 0;
  template <class A>
  void serialize(A& a) {
    a(events, bytes);
  }
};
using P = Prevayler<Tally, std::string>;

// The event the business function refuses (0: none); set by a test before
// a recovery.
std::atomic<std::uint64_t> refused_event{0};
// Events the business function applied, in this process.
std::atomic<std::uint64_t> applied{0};

Tally count_event(const Tally& t, const std::string& e, Timestamp) {
  if (refused_event != 0 && t.events + 1 == refused_event) {
    throw std::invalid_argument("event " + std::to_string(refused_event.load()) + " refused");
  }
  ++applied;
  return Tally{t.events + 1, t.bytes + e.size()};
}

// Events of 4 KB, one record each: enough of them fill the queue many
// times (some of them compressed, as the default threshold decides).
constexpr std::size_t file_event_bytes = 4096;
constexpr std::uint64_t file_events =
    3 * replay_queue_batches_max * replay_batch_bytes_max / file_event_bytes;

class PipelinedFileReplay : public ::testing::Test {
 protected:
  void SetUp() override {
    refused_event = 0;
    applied = 0;
  }
  std::unique_ptr<P> open() {
    FileStorageOptions so;
    so.directory = dir;
    so.common.warn = [this](const std::string& w) { warnings.push_back(w); };
    P::Options o;
    o.business = count_event;
    o.storage = make_file_storage(std::move(so));
    return std::make_unique<P>(std::move(o));
  }
  static std::string event(std::uint64_t i) {
    std::string text;
    // Varied words: some records compress, the journal stays realistic.
    while (text.size() < file_event_bytes)
      text += "event " + std::to_string(i * 7919 + text.size()) + " ";
    text.resize(file_event_bytes);
    return text;
  }
  std::vector<std::uint64_t> write_events() {
    {
      auto p = open();
      for (std::uint64_t i = 0; i < file_events; ++i) p->handle(event(i));
    }
    applied = 0;
    return record_offsets(read_all(segment()));
  }
  fs::path segment() const { return dir / "journal-00000000000000000000.log"; }

  TempDir tmp;
  fs::path dir = tmp.path() / "journal";
  std::vector<std::string> warnings;
};

TEST_F(PipelinedFileReplay, JournalLongerThanTheQueueReplaysWhole) {
  write_events();
  auto p = open();
  EXPECT_EQ(p->state()->events, file_events);
  EXPECT_EQ(p->state()->bytes, file_events * file_event_bytes);
  EXPECT_EQ(applied.load(), file_events);
  EXPECT_TRUE(warnings.empty());
}

TEST_F(PipelinedFileReplay, CorruptRecordInTheMiddleStopsThereWithTheSameError) {
  const std::vector<std::uint64_t> offsets = write_events();
  ASSERT_EQ(offsets.size(), file_events);         // one record per event
  const std::uint64_t damaged = file_events / 2;  // 0-based: record damaged + 1
  std::string bytes = read_all(segment());
  bytes.at(offsets[damaged] + 12) ^= 0x5a;
  write_all(segment(), bytes);
  const std::string expected =
      segment().string() + " at offset " + std::to_string(offsets[damaged]) + ": journal record " +
      std::to_string(damaged + 1) + " fails its checksum, and intact records follow it; " +
      std::to_string(bytes.size() - offsets[damaged]) +
      " bytes from there cannot be trusted. Restore the file from a backup.";
  try {
    open();
    FAIL() << "the corruption was not reported";
  } catch (const CorruptionError& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
  }
  // Every event before the damaged record was applied, none after it.
  EXPECT_EQ(applied.load(), damaged);
  EXPECT_TRUE(warnings.empty());
}

TEST_F(PipelinedFileReplay, TornTailOfALongJournalIsCutWithTheSameWarning) {
  const std::vector<std::uint64_t> offsets = write_events();
  const std::uint64_t end = written_end(read_all(segment()));
  fs::resize_file(segment(), end - 3);  // a crash in the middle of the last write
  auto p = open();
  EXPECT_EQ(p->state()->events, file_events - 1);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("ignored a torn record at offset " + std::to_string(offsets.back())),
            std::string::npos)
      << warnings[0];
}

TEST_F(PipelinedFileReplay, BusinessFunctionThrowingDuringReplayStopsTheReader) {
  write_events();
  refused_event = 100;
  expect_error<RecoveryError>(
      [&] { open(); }, "the business function's error was not thrown",
      {"the business function threw while replaying the event at", "event 100 refused"});
  EXPECT_EQ(applied.load(), 99u);
  // The reader thread was joined: the directory opens again at once.
  refused_event = 0;
  auto p = open();
  EXPECT_EQ(p->state()->events, file_events);
}

}  // namespace
}  // namespace prevayler::testing
