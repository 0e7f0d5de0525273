// Retention: old snapshots and the journal segments only they need are
// deleted once a newer snapshot is durable; recovery is unaffected.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cereal/types/vector.hpp>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "core/monthly_retention.hpp"

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
    // The counter moves after the commit the watch saw; close() waits for
    // the snapshot in progress, so the count is final after it.
    p.close();
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

// ---- Retention by age (StorageOptions::keep_monthly_snapshots) ----

// Milliseconds since the epoch of a UTC date at noon.
std::int64_t utc_ms(int year, unsigned month, unsigned day) {
  using namespace std::chrono;
  const sys_days date =
      year_month_day(std::chrono::year(year), std::chrono::month(month), std::chrono::day(day));
  return duration_cast<milliseconds>((date + hours(12)).time_since_epoch()).count();
}

// Sets a file's modification time: how a test dates a snapshot.
void set_modified(const fs::path& file, std::int64_t ms) {
  timespec times[2];
  times[0].tv_sec = times[1].tv_sec = static_cast<time_t>(ms / 1000);
  times[0].tv_nsec = times[1].tv_nsec = static_cast<long>(ms % 1000) * 1'000'000;
  ASSERT_EQ(::utimensat(AT_FDCWD, file.c_str(), times, 0), 0) << file;
}

// The files of one kind, by id (the number in the name).
std::map<std::uint64_t, fs::path> files_by_id(const fs::path& dir, const std::string& suffix) {
  std::map<std::uint64_t, fs::path> files;
  for (const auto& f : fs::directory_iterator(dir)) {
    const std::string name = f.path().filename().string();
    if (!name.ends_with(suffix)) continue;
    const auto dash = name.find('-');
    files[std::stoull(name.substr(dash + 1, name.size() - dash - 1 - suffix.size()))] = f.path();
  }
  return files;
}

std::vector<std::uint64_t> ids_of(const std::map<std::uint64_t, fs::path>& files) {
  std::vector<std::uint64_t> ids;
  for (const auto& [id, path] : files) ids.push_back(id);
  return ids;
}

TEST(MonthlyRetention, KeepsTheNewestOfEachMonthInTheWindowAndTheNewestN) {
  using detail::DatedSnapshot;
  const std::vector<DatedSnapshot> snapshots = {{1, utc_ms(2025, 12, 31)}, {2, utc_ms(2026, 1, 5)},
                                                {3, utc_ms(2026, 1, 20)},  {4, utc_ms(2026, 3, 1)},
                                                {5, utc_ms(2026, 3, 31)},  {6, utc_ms(2026, 4, 2)},
                                                {7, utc_ms(2026, 4, 3)},   {8, utc_ms(2026, 4, 4)}};
  // Window of 3 months ending in April: February (none), March, April.
  EXPECT_EQ(detail::snapshots_to_keep(snapshots, 1, 3), (std::vector<std::uint64_t>{5, 8}));
  // Plus the newest 3.
  EXPECT_EQ(detail::snapshots_to_keep(snapshots, 3, 3), (std::vector<std::uint64_t>{5, 6, 7, 8}));
  // Across a year's end.
  EXPECT_EQ(detail::snapshots_to_keep(snapshots, 1, 5), (std::vector<std::uint64_t>{1, 3, 5, 8}));
  // Without months: the newest N, at least one.
  EXPECT_EQ(detail::snapshots_to_keep(snapshots, 2, 0), (std::vector<std::uint64_t>{7, 8}));
  EXPECT_EQ(detail::snapshots_to_keep(snapshots, 0, 0), (std::vector<std::uint64_t>{8}));
  // An undated snapshot is always kept.
  std::vector<DatedSnapshot> undated = snapshots;
  undated[1].time_ms.reset();
  EXPECT_EQ(detail::snapshots_to_keep(undated, 1, 3), (std::vector<std::uint64_t>{2, 5, 8}));
  EXPECT_EQ(
      detail::month_index_of(utc_ms(2026, 1, 1)) - detail::month_index_of(utc_ms(2025, 12, 31)), 1);
}

// Every snapshot kept is a restore point: with the snapshots newer than it
// moved away, a recovery starts from it and, the whole journal after it
// being kept, reaches `expected`.
void expect_restore_points(const fs::path& dir, const std::vector<int>& expected) {
  const auto snapshots = files_by_id(dir, ".snap");
  for (const auto& [id, path] : snapshots) {
    TempDir copy;
    fs::copy(dir, copy.path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    for (const auto& [newer, newer_path] : files_by_id(copy.path(), ".snap")) {
      if (newer > id) fs::remove(newer_path);
    }
    std::unique_ptr<P> p;
    ASSERT_NO_THROW(p = open(copy.path(), 0)) << "restore point " << id;
    EXPECT_EQ(p->state()->v, expected) << "restore point " << id;
    EXPECT_EQ(p->stats().snapshot_id, id);
  }
}

// The operator prune with --keep-months (prune_file_storage's third
// argument): snapshots dated by their files' modification times.
TEST(FileRetention, ByAgeKeepsTheNewestSnapshotOfEachMonthAndTheJournalFromTheOldest) {
  TempDir tmp;
  std::vector<int> expected;
  // The month of each snapshot after an event (the snapshot at open: Dec).
  const std::vector<std::pair<int, unsigned>> months = {{2026, 1}, {2026, 1}, {2026, 2},
                                                        {2026, 3}, {2026, 3}, {2026, 3},
                                                        {2026, 4}, {2026, 4}, {2026, 5}};
  std::map<std::uint64_t, unsigned> month_of;  // snapshot id -> month
  {
    auto p = open(tmp.path(), 0);
    set_modified(files_by_id(tmp.path(), ".snap").rbegin()->second, utc_ms(2025, 12, 15));
    month_of[files_by_id(tmp.path(), ".snap").rbegin()->first] = 12;
    for (std::size_t i = 0; i < months.size(); ++i) {
      expected.push_back(static_cast<int>(i));
      p->handle(expected.back());
      p->snapshot();
      const auto newest = *files_by_id(tmp.path(), ".snap").rbegin();
      set_modified(newest.second,
                   utc_ms(months[i].first, months[i].second, 1 + static_cast<unsigned>(i)));
      month_of[newest.first] = months[i].second;
    }
    expected.push_back(99);
    p->handle(99);
  }
  ASSERT_EQ(month_of.size(), months.size() + 1);
  // The ids of the newest snapshot of each month.
  std::map<unsigned, std::uint64_t> newest_of_month;
  for (const auto& [id, month] : month_of) newest_of_month[month] = id;
  const auto segments_before = files_by_id(tmp.path(), ".log");

  prune_file_storage(tmp.path(), 1, 3);  // March, April, May
  const std::vector<std::uint64_t> kept = {newest_of_month[3], newest_of_month[4],
                                           newest_of_month[5]};
  EXPECT_EQ(ids_of(files_by_id(tmp.path(), ".snap")), kept);
  std::vector<std::uint64_t> segments_kept;
  for (const auto& [id, path] : segments_before) {
    if (id >= kept.front()) segments_kept.push_back(id);
  }
  EXPECT_EQ(ids_of(files_by_id(tmp.path(), ".log")), segments_kept);
  expect_restore_points(tmp.path(), expected);

  // A narrower window later deletes the older restore points.
  prune_file_storage(tmp.path(), 1, 1);
  EXPECT_EQ(ids_of(files_by_id(tmp.path(), ".snap")), (std::vector<std::uint64_t>{kept.back()}));
  expect_restore_points(tmp.path(), expected);
  // Retention that keeps everything is refused, as before.
  EXPECT_THROW(prune_file_storage(tmp.path(), 0, 0), ConfigError);
}

// The storage option: retention after each snapshot keeps the restore
// points (here snapshots dated 1 to 4 months back, then one now), and
// snapshots of the same month beyond the newest N go.
TEST(FileRetention, ByAgeAsAnOptionRunsAfterEachSnapshot) {
  TempDir tmp;
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const std::int64_t month_ms = std::int64_t{31} * 24 * 3600 * 1000;
  std::vector<int> expected;
  std::vector<std::uint64_t> dated_ids;
  {
    FileStorageOptions so;
    so.directory = tmp.path();
    so.common.keep_monthly_snapshots = 3;
    auto p = open_values(make_file_storage(so));
    for (int back = 4; back >= 1; --back) {
      expected.push_back(back);
      p->handle(back);
      p->snapshot();
      const auto newest = *files_by_id(tmp.path(), ".snap").rbegin();
      set_modified(newest.second, now_ms - back * month_ms);
      dated_ids.push_back(newest.first);
    }
    for (int i = 0; i < 3; ++i) {  // three more this month: only the newest stays
      expected.push_back(10 + i);
      p->handle(10 + i);
      p->snapshot();
    }
  }
  const auto snapshots = ids_of(files_by_id(tmp.path(), ".snap"));
  // This month's newest, and the two months before it (back 1 and 2,
  // unless "31 days back" crossed two month boundaries: then back 1 only).
  ASSERT_GE(snapshots.size(), 2u);
  ASSERT_LE(snapshots.size(), 3u);
  EXPECT_EQ(snapshots[snapshots.size() - 2], dated_ids[3]);
  if (snapshots.size() == 3) {
    EXPECT_EQ(snapshots[0], dated_ids[2]);
  }
  expect_restore_points(tmp.path(), expected);
}

}  // namespace
}  // namespace prevayler::testing
