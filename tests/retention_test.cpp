// Retention: old snapshots and the journal segments only they need are
// deleted once a newer snapshot is durable; recovery is unaffected.
#include <gtest/gtest.h>

#include <cereal/types/vector.hpp>

#include "prevayler/prevayler.hpp"
#include "support/storage_wrappers.hpp"
#include "support/temp_dir.hpp"
#include "support/values.hpp"

namespace prevayler::testing {
namespace {

namespace fs = std::filesystem;

using P = Prevayler<Values, int>;

std::unique_ptr<P> open(const fs::path& dir, std::uint32_t keep) {
  FileStorageOptions so;
  so.directory = dir;
  so.common.keep_snapshots = keep;
  return open_values(make_file_storage(so));
}

std::pair<int, int> count_files(const fs::path& dir) {
  int snapshots = 0, segments = 0;
  for (const auto& f : fs::directory_iterator(dir)) {
    const auto name = f.path().filename().string();
    if (name.ends_with(".snap")) ++snapshots;
    if (name.ends_with(".log")) ++segments;
  }
  return {snapshots, segments};
}

// Bytes of every journal segment in the directory.
std::uintmax_t journal_bytes(const fs::path& dir) {
  std::uintmax_t bytes = 0;
  for (const auto& f : fs::directory_iterator(dir)) {
    if (f.path().filename().string().ends_with(".log")) bytes += fs::file_size(f.path());
  }
  return bytes;
}

TEST(FileRetention, DefaultKeepsEverything) {
  TempDir tmp;
  {
    auto p = open(tmp.path(), 0);
    for (int i = 0; i < 5; ++i) {
      p->handle(i);
      p->snapshot();
    }
  }
  EXPECT_EQ(count_files(tmp.path()), std::make_pair(6, 6));  // + the snapshot at open
}

TEST(FileRetention, KeepsTheNewestSnapshotsAndTheirJournal) {
  TempDir tmp;
  {
    auto p = open(tmp.path(), 2);
    for (int i = 0; i < 5; ++i) {
      p->handle(i);
      p->snapshot();
    }
    p->handle(99);
  }
  EXPECT_EQ(count_files(tmp.path()), std::make_pair(2, 2));
  auto p = open(tmp.path(), 2);
  EXPECT_EQ(p->state()->v, (std::vector<int>{0, 1, 2, 3, 4, 99}));
}

TEST(FileRetention, PruneByHandKeepsWhatRecoveryNeeds) {
  TempDir tmp;
  {
    auto p = open(tmp.path(), 0);
    for (int i = 0; i < 4; ++i) {
      p->handle(i);
      p->snapshot();
    }
    p->handle(7);
    // Safe while the instance runs: recovery never reads what goes.
    EXPECT_EQ(prune_file_storage(tmp.path(), 1), 8u);
    p->handle(8);
  }
  EXPECT_EQ(count_files(tmp.path()), std::make_pair(1, 1));
  auto p = open(tmp.path(), 0);
  EXPECT_EQ(p->state()->v, (std::vector<int>{0, 1, 2, 3, 7, 8}));
  EXPECT_THROW(prune_file_storage(tmp.path(), 0), ConfigError);
}

// Automatic snapshots with retention: the journal on disk stops growing
// (the same bytes after 3 rounds as after 20), and a restart recovers the
// same state replaying only the events after the last automatic snapshot.
TEST(FileRetention, AutomaticSnapshotsBoundTheJournal) {
  constexpr int every_events = 8;
  constexpr int rounds = 20;
  TempDir tmp;
  auto watch = std::make_shared<SnapshotWatch>();
  P::Options o;
  o.business = [](const Values& s, const int& e, Timestamp) {
    Values n = s;
    n.v.push_back(e);
    return n;
  };
  FileStorageOptions so;
  so.directory = tmp.path();
  so.common.keep_snapshots = 2;
  o.storage = std::make_unique<WatchedStorage>(make_file_storage(so), watch);
  o.snapshot_every_events = every_events;
  std::vector<int> expected;
  std::uintmax_t journal_bytes_after_3 = 0;
  {
    P p(std::move(o));
    for (int round = 1; round <= rounds; ++round) {
      for (int i = 0; i < every_events; ++i) {
        expected.push_back(static_cast<int>(expected.size()));
        p.handle(expected.back());
      }
      ASSERT_TRUE(watch->wait_committed(1 + static_cast<std::size_t>(round)));
      if (round == 3) journal_bytes_after_3 = journal_bytes(tmp.path());
    }
    for (int i = 0; i < every_events - 1; ++i) {
      expected.push_back(static_cast<int>(expected.size()));
      p.handle(expected.back());
    }
    EXPECT_EQ(p.metrics().automatic_snapshots_written, static_cast<std::uint64_t>(rounds));
  }
  EXPECT_GT(journal_bytes_after_3, 0u);
  EXPECT_LE(journal_bytes(tmp.path()), journal_bytes_after_3 + 1024)
      << "the journal grows with automatic snapshots and keep_snapshots";
  const auto [snapshots, segments] = count_files(tmp.path());
  EXPECT_EQ(snapshots, 2);
  EXPECT_LE(segments, 3);
  auto p = open(tmp.path(), 2);
  EXPECT_EQ(p->state()->v, expected);
  EXPECT_EQ(p->stats().events_replayed, static_cast<std::uint64_t>(every_events - 1));
}

}  // namespace
}  // namespace prevayler::testing
