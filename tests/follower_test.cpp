// Followers of the file storage (docs/followers.md): a follower shows only
// synced, acknowledged events, follows into the next segment after a
// snapshot, starts over from a newer snapshot when retention deleted what
// it was reading, reaches the writer's position, and promote() takes over
// with the same fences as an open.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "file/file_storage_impl.hpp"
#include "file/naming.hpp"
#include "prevayler/follower.hpp"
#include "prevayler/memory_storage.hpp"
#include "prevayler/prevayler.hpp"
#include "support/encryption_keys.hpp"
#include "support/expect_error.hpp"
#include "support/file_bytes.hpp"
#include "support/temp_dir.hpp"
#include "support/values.hpp"

namespace prevayler::testing {
namespace {

namespace fs = std::filesystem;
using P = Prevayler<Values, int>;
using F = Follower<Values, int>;

constexpr std::chrono::milliseconds wait_ms_max{10'000};

FileStorageOptions file_options(const fs::path& dir) {
  FileStorageOptions so;
  so.directory = dir;
  return so;
}

std::unique_ptr<P> open_writer(const fs::path& dir) {
  return std::make_unique<P>(values_options(make_file_storage(file_options(dir))));
}

std::unique_ptr<F> open_follower(std::unique_ptr<Storage> storage) {
  return std::make_unique<F>(values_options(std::move(storage)));
}

std::unique_ptr<F> open_follower(const fs::path& dir) {
  return open_follower(make_file_storage(file_options(dir)));
}

std::vector<int> values(const F& f) { return f.state()->v; }
std::vector<int> values(const P& p) { return p.state()->v; }

// The real filesystem, whose fdatasync of a journal segment can be held at
// a gate: the bytes are written and visible to readers, not yet synced.
class SyncGate : public detail::FileSystemWrapper {
 public:
  SyncGate() : FileSystemWrapper(detail::posix_file_system()) {}
  void close_gate() {
    const std::lock_guard lock(mutex_);
    closed_ = true;
  }
  void open_gate() {
    {
      const std::lock_guard lock(mutex_);
      closed_ = false;
    }
    cv_.notify_all();
  }
  // Waits until a sync is held at the gate.
  bool wait_until_held() {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, wait_ms_max, [&] { return held_ > 0; });
  }
  int fdatasync(int fd) override {
    {
      std::unique_lock lock(mutex_);
      ++held_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return !closed_; });
      --held_;
    }
    return target_->fdatasync(fd);
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool closed_ = false;
  int held_ = 0;
};

// The real filesystem, with the synced watermark hidden while `paused`:
// the follower sees nothing new, as if it were slow (the writer still
// publishes it).
class PausedWatermark : public detail::FileSystemWrapper {
 public:
  PausedWatermark() : FileSystemWrapper(detail::posix_file_system()) {}
  std::atomic<bool> paused{false};
  int open(const std::string& path, detail::OpenMode mode, int& fd) override {
    if (paused && mode == detail::OpenMode::read && path.ends_with("SYNCED")) return ENOENT;
    return target_->open(path, mode, fd);
  }
};

TEST(FileFollower, BootstrapsThenFollowsEachDurableEvent) {
  TempDir tmp;
  auto writer = open_writer(tmp.path());
  writer->handle(1);
  writer->handle(2);
  auto follower = open_follower(tmp.path());
  EXPECT_EQ(values(*follower), (std::vector<int>{1, 2}));
  EXPECT_EQ(follower->position().segment, writer->position().segment);
  EXPECT_EQ(follower->position().record, writer->position().record);
  for (int i = 3; i <= 20; ++i) writer->handle(i);
  ASSERT_TRUE(follower->wait_for(writer->position(), wait_ms_max));
  EXPECT_EQ(values(*follower), values(*writer));
  EXPECT_EQ(follower->position().record, writer->position().record);
}

TEST(FileFollower, WaitForGivesReadYourWritesAndTimesOutBeyondTheJournal) {
  TempDir tmp;
  auto writer = open_writer(tmp.path());
  auto follower = open_follower(tmp.path());
  writer->handle(7);
  const JournalPosition acknowledged = writer->position();
  EXPECT_GE(acknowledged.record, 1u);
  // Read-your-writes: once it reached the position, the event is there.
  ASSERT_TRUE(follower->wait_for(acknowledged, wait_ms_max));
  EXPECT_EQ(values(*follower), std::vector<int>{7});
  JournalPosition beyond = acknowledged;
  beyond.record += 100;
  EXPECT_FALSE(follower->wait_for(beyond, std::chrono::milliseconds(50)));
}

TEST(FileFollower, NeverShowsAnEventWrittenButNotYetSynced) {
  TempDir tmp;
  auto gate = std::make_shared<SyncGate>();
  auto writer = std::make_unique<P>(
      values_options(detail::make_file_storage(file_options(tmp.path()), gate)));
  writer->handle(1);
  auto follower = open_follower(tmp.path());
  ASSERT_TRUE(follower->wait_for(writer->position(), wait_ms_max));
  const JournalPosition before = follower->position();

  gate->close_gate();
  auto pending = writer->handle_async(2);
  ASSERT_TRUE(gate->wait_until_held());  // written, visible in the page cache, not synced
  follower->catch_up();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // its thread looks too
  EXPECT_EQ(values(*follower), std::vector<int>{1});
  EXPECT_EQ(follower->position().record, before.record);

  gate->open_gate();
  pending.get();
  ASSERT_TRUE(follower->wait_for(writer->position(), wait_ms_max));
  EXPECT_EQ(values(*follower), (std::vector<int>{1, 2}));
}

TEST(FileFollower, IgnoresATornRecordPastTheSyncedEnd) {
  TempDir tmp;
  auto writer = open_writer(tmp.path());
  writer->handle(1);
  const JournalPosition at = writer->position();
  writer.reset();
  // A crash mid-write: bytes past the last acknowledged record.
  char name[64];
  std::snprintf(name, sizeof name, "journal-%020llu.log",
                static_cast<unsigned long long>(at.segment));
  std::ofstream(tmp.path() / name, std::ios::binary | std::ios::app) << "torn record bytes";
  auto follower = open_follower(tmp.path());
  follower->catch_up();
  EXPECT_EQ(values(*follower), std::vector<int>{1});
  EXPECT_EQ(follower->position().record, at.record);
}

TEST(FileFollower, FollowsIntoTheNextSegmentAfterASnapshot) {
  TempDir tmp;
  auto writer = open_writer(tmp.path());
  auto follower = open_follower(tmp.path());
  writer->handle(1);
  const std::uint64_t first_segment = writer->position().segment;
  writer->snapshot();
  writer->handle(2);
  writer->handle(3);
  EXPECT_GT(writer->position().segment, first_segment);
  ASSERT_TRUE(follower->wait_for(writer->position(), wait_ms_max));
  EXPECT_EQ(values(*follower), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(follower->position().segment, writer->position().segment);
  EXPECT_EQ(follower->position().record, writer->position().record);
}

// Encryption at rest and following together: a follower with the keys
// decrypts the snapshot and each record as it arrives, and its promotion
// writes on encrypted; one without them fails naming the key id.
TEST(FileFollower, FollowsAnEncryptedJournalWithItsKeys) {
  TempDir tmp;
  FileStorageOptions so = file_options(tmp.path());
  so.common.encryption = test_encryption("k1", {{"k1", test_key('a')}});
  auto writer = std::make_unique<P>(values_options(make_file_storage(so)));
  writer->handle(1);
  writer->snapshot();
  auto follower = open_follower(make_file_storage(so));
  writer->handle(2);
  ASSERT_TRUE(follower->wait_for(writer->position(), wait_ms_max));
  EXPECT_EQ(values(*follower), (std::vector<int>{1, 2}));
  FileStorageOptions no_key = file_options(tmp.path());
  EXPECT_THROW(open_follower(make_file_storage(no_key)), DecryptionError);
  writer.reset();
  auto promoted = follower->promote();
  promoted->handle(3);
  promoted.reset();
  EXPECT_THROW(open_writer(tmp.path()), DecryptionError);  // what it wrote is encrypted too
  EXPECT_EQ(values(*std::make_unique<P>(values_options(make_file_storage(so)))),
            (std::vector<int>{1, 2, 3}));
}

TEST(FileFollower, StartsOverFromANewerSnapshotWhenRetentionDeletedItsSegment) {
  TempDir tmp;
  FileStorageOptions so = file_options(tmp.path());
  so.common.keep_snapshots = 1;
  auto writer = std::make_unique<P>(values_options(make_file_storage(so)));
  writer->handle(1);
  auto paused = std::make_shared<PausedWatermark>();
  auto follower = open_follower(detail::make_file_storage(file_options(tmp.path()), paused));
  ASSERT_TRUE(follower->wait_for(writer->position(), wait_ms_max));
  const std::uint64_t followed_segment = follower->position().segment;

  paused->paused = true;  // the follower falls behind
  for (int i = 2; i <= 4; ++i) {
    writer->handle(i);
    writer->snapshot();  // retention keeps only the newest snapshot and its segment
  }
  writer->handle(5);
  ASSERT_FALSE(fs::exists(tmp.path() / [&] {
    char name[64];
    std::snprintf(name, sizeof name, "journal-%020llu.log",
                  static_cast<unsigned long long>(followed_segment));
    return std::string(name);
  }()));
  paused->paused = false;
  follower->catch_up();
  EXPECT_EQ(values(*follower), (std::vector<int>{1, 2, 3, 4, 5}));
  EXPECT_EQ(follower->position().segment, writer->position().segment);
  EXPECT_EQ(follower->position().record, writer->position().record);
}

// A follower stands in segment S after event 1 and falls behind; the
// writer appends 2, snapshots (retention deletes S) and appends 3; then a
// file with S's name appears again, holding only S's header: what a
// superseded writer's failed write creates for a moment (docs/protocol.md,
// "Why 3 suffices"). Reading on in it as S would apply nothing of 2, or
// fail as a segment cut short.
struct ReplacedSegment {
  TempDir tmp;
  std::shared_ptr<PausedWatermark> paused = std::make_shared<PausedWatermark>();
  std::unique_ptr<P> writer;
  std::unique_ptr<F> follower;

  ReplacedSegment() {
    FileStorageOptions so = file_options(tmp.path());
    so.common.keep_snapshots = 1;
    writer = std::make_unique<P>(values_options(make_file_storage(so)));
    writer->handle(1);
    follower = open_follower(detail::make_file_storage(file_options(tmp.path()), paused));
    EXPECT_TRUE(follower->wait_for(writer->position(), wait_ms_max));
    const fs::path segment = tmp.path() / detail::segment_name(follower->position().segment);
    paused->paused = true;
    writer->handle(2);
    const std::string header = read_all(segment).substr(0, detail::segment_header_bytes);
    writer->snapshot();
    writer->handle(3);
    EXPECT_FALSE(fs::exists(segment));
    write_all(segment, header);
  }
};

TEST(FileFollower, StartsOverWhenTheSegmentItStandsInIsAnotherFileNow) {
  ReplacedSegment r;
  r.paused->paused = false;
  r.follower->catch_up();
  EXPECT_EQ(values(*r.follower), (std::vector<int>{1, 2, 3}));
}

TEST(FileFollowerPromotion, RecoversWholeWhenTheSegmentItStoodInIsAnotherFileNow) {
  ReplacedSegment r;
  r.writer.reset();
  auto promoted = r.follower->promote();
  EXPECT_EQ(values(*promoted), (std::vector<int>{1, 2, 3}));
}

bool is_prefix(const std::vector<int>& prefix, const std::vector<int>& of) {
  return prefix.size() <= of.size() && std::equal(prefix.begin(), prefix.end(), of.begin());
}

// Seeded rounds of group commits in flight, snapshots with retention and
// takeovers by a writer on another host, while the follower applies on its
// own thread: whatever it shows is a prefix of the acknowledged history,
// after catch_up() it is all of it, and its promotion keeps every event.
void random_follower_run(std::uint64_t direct_write_bytes_min) {
  constexpr int rounds = 40;
  constexpr int events_per_round_max = 12;
  const std::uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  TempDir tmp;
  FileStorageOptions so = file_options(tmp.path());
  so.common.keep_snapshots = 1;
  so.direct_write_bytes_min = direct_write_bytes_min;
  // Hosts on a shared filesystem: no lock, so a second writer takes over.
  const auto open_on_host = [&] {
    return std::make_unique<P>(
        values_options(detail::make_file_storage(so, detail::posix_file_system(), false)));
  };
  auto writer = open_on_host();
  auto follower = open_follower(detail::make_file_storage(so, detail::posix_file_system(), false));
  int next = 0;
  for (int round = 0; round < rounds; ++round) {
    const int action = pick(0, 9);
    if (action == 0) {
      writer->snapshot();
    } else if (action == 1) {
      auto successor = open_on_host();  // fences the writer off
      EXPECT_THROW(writer->handle(-1), SupersededError);
      writer = std::move(successor);
    } else {
      std::vector<std::future<std::shared_ptr<const Values>>> pending;
      const int events = pick(1, events_per_round_max);
      for (int i = 0; i < events; ++i) pending.push_back(writer->handle_async(next++));
      const std::vector<int> seen_in_flight = values(*follower);
      for (auto& f : pending) f.get();
      EXPECT_TRUE(is_prefix(seen_in_flight, values(*writer))) << "round " << round;
    }
    const std::vector<int> seen = values(*follower);
    EXPECT_TRUE(is_prefix(seen, values(*writer))) << "round " << round;
    if (pick(0, 2) == 0) {
      follower->catch_up();
      EXPECT_EQ(values(*follower), values(*writer)) << "round " << round;
      EXPECT_EQ(follower->position().segment, writer->position().segment);
      EXPECT_EQ(follower->position().record, writer->position().record);
    }
  }
  const std::vector<int> acknowledged = values(*writer);
  writer.reset();
  auto promoted = follower->promote();
  EXPECT_EQ(values(*promoted), acknowledged);
}

TEST(FileFollower, RandomRunsShowPrefixesOfTheAcknowledgedHistory) { random_follower_run(0); }

// Every record written past the page cache (O_DIRECT) while the follower
// reads through it: the kernel drops the cached pages a direct write
// replaces, or the follower would read the old zeros as the journal's end.
TEST(FileFollower, RandomRunsWithDirectWritesShowPrefixesOfTheAcknowledgedHistory) {
  random_follower_run(1);
}

TEST(FileFollower, LagCountsTimeSinceTheNewestAppliedEvent) {
  TempDir tmp;
  std::atomic<std::int64_t> now_ms{1'000};
  auto clock = [&] { return Timestamp(std::chrono::milliseconds(now_ms.load())); };
  P::Options wo = values_options(make_file_storage(file_options(tmp.path())));
  wo.timestamp = clock;
  P writer(std::move(wo));
  P::Options fo = values_options(make_file_storage(file_options(tmp.path())));
  fo.timestamp = clock;
  F follower(std::move(fo));
  EXPECT_EQ(follower.lag().since_newest_event.count(), 0);  // nothing applied yet
  writer.handle(1);
  follower.catch_up();
  now_ms = 1'500;
  EXPECT_EQ(follower.lag().since_newest_event.count(), 500);
}

TEST(FileFollower, AStorageThatCannotBeFollowedIsAConfigError) {
  expect_error<ConfigError>(
      [] { open_follower(make_memory_storage(std::make_shared<MemoryStore>())); },
      "the memory storage has no follower", {"cannot be followed"});
}

TEST(FileFollowerPromotion, TakesOverAndReadsOnlyWhatItHadNotApplied) {
  TempDir tmp;
  auto writer = open_writer(tmp.path());
  for (int i = 1; i <= 5; ++i) writer->handle(i);
  auto follower = open_follower(tmp.path());
  ASSERT_TRUE(follower->wait_for(writer->position(), wait_ms_max));
  writer.reset();  // the writer is gone
  auto promoted = follower->promote();
  EXPECT_EQ(promoted->stats().events_replayed, 0u);  // it had applied everything
  EXPECT_EQ(values(*promoted), (std::vector<int>{1, 2, 3, 4, 5}));
  promoted->handle(6);
  promoted.reset();
  auto reopened = open_writer(tmp.path());
  EXPECT_EQ(values(*reopened), (std::vector<int>{1, 2, 3, 4, 5, 6}));
}

TEST(FileFollowerPromotion, ReadsTheTailItHadNotAppliedYet) {
  TempDir tmp;
  auto writer = open_writer(tmp.path());
  writer->handle(1);
  auto paused = std::make_shared<PausedWatermark>();
  auto follower = open_follower(detail::make_file_storage(file_options(tmp.path()), paused));
  ASSERT_TRUE(follower->wait_for(writer->position(), wait_ms_max));
  paused->paused = true;
  writer->handle(2);
  writer->handle(3);
  writer.reset();
  EXPECT_EQ(values(*follower), std::vector<int>{1});
  auto promoted = follower->promote();
  EXPECT_EQ(promoted->stats().events_replayed, 2u);
  EXPECT_EQ(values(*promoted), (std::vector<int>{1, 2, 3}));
}

TEST(FileFollowerPromotion, FailsWhileALiveWriterHoldsTheLockAndKeepsFollowing) {
  TempDir tmp;
  auto writer = open_writer(tmp.path());
  writer->handle(1);
  auto follower = open_follower(tmp.path());
  expect_error<LockedError>([&] { follower->promote(); }, "a live writer holds the lock",
                            {tmp.path().string(), "pid"});
  writer->handle(2);
  ASSERT_TRUE(follower->wait_for(writer->position(), wait_ms_max));
  EXPECT_EQ(values(*follower), (std::vector<int>{1, 2}));
}

TEST(FileFollowerPromotion, SupersedesAWriterOnAnotherHost) {
  TempDir tmp;
  // Two hosts on a shared filesystem, where flock may not hold: no lock.
  auto writer = std::make_unique<P>(values_options(
      detail::make_file_storage(file_options(tmp.path()), detail::posix_file_system(), false)));
  writer->handle(1);
  auto follower = open_follower(
      detail::make_file_storage(file_options(tmp.path()), detail::posix_file_system(), false));
  ASSERT_TRUE(follower->wait_for(writer->position(), wait_ms_max));
  auto promoted = follower->promote();
  EXPECT_THROW(writer->handle(2), SupersededError);  // nothing more acknowledged
  promoted->handle(3);
  EXPECT_EQ(values(*promoted), (std::vector<int>{1, 3}));
  promoted.reset();
  writer.reset();
  EXPECT_EQ(values(*open_writer(tmp.path())), (std::vector<int>{1, 3}));
}

TEST(FileFollowerPromotion, AfterPromotionTheFollowerIsClosed) {
  TempDir tmp;
  open_writer(tmp.path())->handle(1);
  auto follower = open_follower(tmp.path());
  auto promoted = follower->promote();
  EXPECT_THROW(follower->catch_up(), ClosedError);
  EXPECT_THROW(follower->promote(), ClosedError);
  EXPECT_EQ(values(*follower), std::vector<int>{1});
}

}  // namespace
}  // namespace prevayler::testing
