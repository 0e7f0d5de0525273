// Recovery as of a point in time on the file storage
// (include/prevayler/point_in_time.hpp): the state after the last event at
// or before a time or a position, from the snapshots and segments kept;
// read-only; clear errors when retention removed what is needed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <tuple>

#include "core/position_text.hpp"
#include "prevayler/file_storage.hpp"
#include "prevayler/journal_reader.hpp"
#include "prevayler/point_in_time.hpp"
#include "support/clocked_values.hpp"
#include "support/encryption_keys.hpp"
#include "support/temp_dir.hpp"

namespace prevayler::testing {
namespace {

std::unique_ptr<Storage> as_of(const TempDir& dir, const std::string& point) {
  FileStorageOptions o;
  o.directory = dir.path();
  return make_file_storage_as_of(o, PointInTime::parse(point));
}

const std::int64_t base_ms = clocked_base_ms;

// Events 1..10 at base_ms + 1000, 2000, ... 10000 ms, with snapshots after events
// 3 and 7 (segments 0, 1 and 2; snapshots 0, 1 and 2).
class PointInTimeFile : public ::testing::Test {
 protected:
  void SetUp() override {
    FileStorageOptions o;
    o.directory = dir.path();
    ValuesPrevayler p(clocked_values_options(make_file_storage(o), clock));
    for (int e = 1; e <= 10; ++e) {
      *clock.now_ms = base_ms + e * 1000;
      p.handle(e);
      all.push_back(e);
      if (e == 3 || e == 7) p.snapshot();
    }
  }
  TempDir dir;
  TestClock clock;
  std::vector<int> all;
};

TEST_F(PointInTimeFile, AsOfATimeShowsEveryEventAtOrBeforeIt) {
  // Each time needs a different snapshot: the newest whose journal starts
  // at or before it (3500 is after snapshot 1's cut but before its first
  // event, so it replays from snapshot 0).
  const std::map<std::int64_t, std::size_t> events_at = {
      {500, 0},  {1000, 1}, {1500, 1}, {3000, 3},   {3500, 3},
      {4000, 4}, {7000, 7}, {7999, 7}, {10000, 10}, {7'200'000, 10}};
  for (const auto& [ms, n] : events_at) {
    EXPECT_EQ(values_of(as_of(dir, iso(ms))), prefix(all, n)) << "as of " << iso(ms);
  }
}

TEST_F(PointInTimeFile, AsOfEachEventsPositionShowsExactlyTheEventsUpToIt) {
  FileStorageOptions o;
  o.directory = dir.path();
  std::vector<JournalPosition> positions;
  read_journal_entries(o, [&](const JournalEntryView& e) { positions.push_back(e.position); });
  ASSERT_EQ(positions.size(), all.size());
  for (std::size_t i = 0; i < positions.size(); ++i) {
    const std::string point =
        std::to_string(positions[i].segment) + ":" + std::to_string(positions[i].record);
    EXPECT_EQ(values_of(as_of(dir, point)), prefix(all, i + 1)) << "as of " << point;
  }
  // A whole segment, and a segment's start (its snapshot's state).
  EXPECT_EQ(values_of(as_of(dir, "0")), prefix(all, 3));
  EXPECT_EQ(values_of(as_of(dir, "2:0")), prefix(all, 7));
}

TEST_F(PointInTimeFile, RefusesChangesAndWritesNothingBesideALiveWriter) {
  auto listing = [&] {
    std::map<std::string, std::uintmax_t> files;
    for (const auto& f : std::filesystem::directory_iterator(dir.path())) {
      files[f.path().filename().string()] = f.file_size();
    }
    return files;
  };
  FileStorageOptions o;
  o.directory = dir.path();
  ValuesPrevayler live(clocked_values_options(make_file_storage(o), clock));
  const auto before = listing();
  {
    ValuesPrevayler audit(clocked_values_options(as_of(dir, iso(5000)), clock));
    EXPECT_EQ(audit.state()->v, prefix(all, 5));
    EXPECT_THROW(audit.handle(99), ReadOnlyError);
    EXPECT_THROW(audit.snapshot(), ReadOnlyError);
    EXPECT_EQ(audit.state()->v, prefix(all, 5));
  }
  EXPECT_EQ(listing(), before);  // no snapshot at open, no lock, no segment
  *clock.now_ms = base_ms + 11000;
  live.handle(11);
  EXPECT_EQ(live.state()->v.size(), 11u);
}

TEST_F(PointInTimeFile, APositionNotReachedYetIsAnError) {
  EXPECT_THROW(values_of(as_of(dir, "2:99")), PointInTimeError);
  EXPECT_THROW(values_of(as_of(dir, "7:1")), PointInTimeError);
  try {
    values_of(as_of(dir, "2"));  // the tail segment is not complete
    FAIL() << "no error";
  } catch (const PointInTimeError& e) {
    EXPECT_NE(std::string(e.what()).find("has not reached position 2"), std::string::npos)
        << e.what();
  }
}

TEST_F(PointInTimeFile, WhatRetentionRemovedIsAClearError) {
  // Keep only the newest snapshot: segments 0 and 1 and snapshots 0 and 1 go.
  FileStorageOptions o;
  o.directory = dir.path();
  o.common.keep_snapshots = 1;
  { ValuesPrevayler p(clocked_values_options(make_file_storage(o), clock)); }
  for (const std::string& point : {iso(2000), std::string("1:1")}) {
    try {
      values_of(as_of(dir, point));
      FAIL() << "no error as of " << point;
    } catch (const PointInTimeError& e) {
      EXPECT_NE(std::string(e.what()).find("no longer kept"), std::string::npos) << e.what();
    }
  }
  // What is still kept still answers.
  EXPECT_EQ(values_of(as_of(dir, iso(7'200'000))), all);  // an hour from now
}

// Encryption at rest and a point in time together: the view decrypts
// snapshots and records with the storage options' keys, and without them
// it fails naming the key id instead of showing anything.
TEST(PointInTimeEncrypted, ReadsWithTheKeysAndRefusesWithoutThem) {
  TempDir dir;
  TestClock clock;
  FileStorageOptions o;
  o.directory = dir.path();
  o.common.encryption = test_encryption("k1", {{"k1", test_key('a')}});
  std::vector<int> all;
  {
    ValuesPrevayler p(clocked_values_options(make_file_storage(o), clock));
    for (int e = 1; e <= 6; ++e) {
      *clock.now_ms = base_ms + e * 1000;
      p.handle(e);
      all.push_back(e);
      if (e == 2) p.snapshot();
    }
  }
  EXPECT_EQ(values_of(make_file_storage_as_of(o, PointInTime::parse(iso(1500)))), prefix(all, 1));
  EXPECT_EQ(values_of(make_file_storage_as_of(o, PointInTime::parse(iso(4000)))), prefix(all, 4));
  FileStorageOptions no_key = o;
  no_key.common.encryption = {};
  try {
    values_of(make_file_storage_as_of(no_key, PointInTime::parse(iso(4000))));
    FAIL() << "no error";
  } catch (const DecryptionError& e) {
    EXPECT_NE(std::string(e.what()).find("\"k1\""), std::string::npos) << e.what();
  }
}

TEST(PointInTimeText, ParsesTimesAndPositions) {
  const PointInTime t = PointInTime::parse("2026-12-01T12:00:00.250Z");
  ASSERT_TRUE(t.time.has_value());
  EXPECT_EQ(t.time->time_since_epoch().count(), 1'796'126'400'250);
  EXPECT_EQ(t.to_string(), "2026-12-01T12:00:00.250Z");
  EXPECT_EQ(PointInTime::parse("2026-12-01T12:00:00Z").time->time_since_epoch().count(),
            1'796'126'400'000);
  const PointInTime p = PointInTime::parse("7:120");
  ASSERT_TRUE(p.position.has_value());
  EXPECT_EQ(p.position->segment, 7u);
  EXPECT_EQ(p.position->record, 120u);
  EXPECT_EQ(p.to_string(), "7:120");
  EXPECT_EQ(PointInTime::parse("7:120:3").position->entry, 3u);
  for (const char* bad : {"", "7:", ":1", "7:1:2:3", "2026-12-01 12:00:00Z", "2026-12-01T12:00:00",
                          "2026-12-01T12:00:00.Z", "x"}) {
    EXPECT_THROW(PointInTime::parse(bad), ConfigError) << bad;
  }
}

// The same text as a bound of `prevayler dump`: parts left out are the
// lowest for --from, the highest for --until.
TEST(PointInTimeText, PositionsLeaveOutPartsAsTheBoundAsks) {
  constexpr std::uint64_t all = std::numeric_limits<std::uint64_t>::max();
  const auto from = detail::parse_position("3", 0);
  ASSERT_TRUE(from.has_value());
  EXPECT_EQ(std::tie(from->segment, from->record, from->entry),
            std::make_tuple(std::uint64_t{3}, std::uint64_t{0}, std::uint32_t{0}));
  const auto until = detail::parse_position("3:5", all);
  ASSERT_TRUE(until.has_value());
  EXPECT_EQ(std::tie(until->segment, until->record, until->entry),
            std::make_tuple(std::uint64_t{3}, std::uint64_t{5},
                            std::numeric_limits<std::uint32_t>::max()));
  EXPECT_EQ(detail::parse_position("3:5:99999999999", 0)->entry,
            std::numeric_limits<std::uint32_t>::max());
  EXPECT_FALSE(detail::parse_position("3:5:1:0", 0).has_value());
  EXPECT_FALSE(detail::parse_position("3:-5", 0).has_value());
}

}  // namespace
}  // namespace prevayler::testing
