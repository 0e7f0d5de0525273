// Recovery as of a point in time on DynamoDB+S3 (moto): the snapshot
// object and the segments after it answer any point after the snapshot's
// cut; an earlier point is a clear error; nothing is written.
#include <gtest/gtest.h>

#include "aws/aws_test_storage.hpp"
#include "prevayler/aws_storage.hpp"
#include "prevayler/point_in_time.hpp"
#include "support/clocked_values.hpp"

namespace prevayler::testing {
namespace {

const std::int64_t base_ms = clocked_base_ms;

// Events 1..10 at base_ms + 1000 ... 10000 ms, a snapshot after event 7.
class PointInTimeAws : public ::testing::Test {
 protected:
  void SetUp() override {
    ValuesPrevayler p(clocked_values_options(journal.open(), clock));
    for (int e = 1; e <= 10; ++e) {
      *clock.now_ms = base_ms + e * 1000;
      p.handle(e);
      all.push_back(e);
      if (e == 7) p.snapshot();
    }
  }
  std::unique_ptr<Storage> as_of(const std::string& point) const {
    return make_aws_storage_as_of(journal.options(), PointInTime::parse(point));
  }
  std::size_t items_in_table() const {
    std::size_t n = 0;
    for (std::uint64_t segment = 0; segment < 8; ++segment) {
      n += all_items(journal.table, segment).size();
    }
    return n;
  }
  MotoJournal journal;
  TestClock clock;
  std::vector<int> all;
};

TEST_F(PointInTimeAws, AsOfATimeAfterTheSnapshotShowsEveryEventAtOrBeforeIt) {
  for (const auto& [ms, n] : std::vector<std::pair<std::int64_t, std::size_t>>{
           {8000, 8}, {8500, 8}, {9000, 9}, {10000, 10}, {7'200'000, 10}}) {
    EXPECT_EQ(values_of(as_of(iso(ms))), prefix(all, n)) << "as of " << iso(ms);
  }
}

TEST_F(PointInTimeAws, AsOfEachPositionAfterTheSnapshot) {
  std::vector<JournalPosition> positions;
  read_journal_entries(journal.options(),
                       [&](const JournalEntryView& e) { positions.push_back(e.position); });
  ASSERT_EQ(positions.size(), all.size());
  for (std::size_t i = 7; i < positions.size(); ++i) {
    const std::string point =
        std::to_string(positions[i].segment) + ":" + std::to_string(positions[i].record);
    EXPECT_EQ(values_of(as_of(point)), prefix(all, i + 1)) << "as of " << point;
  }
  EXPECT_THROW(values_of(as_of(std::to_string(positions.back().segment) + ":" +
                               std::to_string(positions.back().record + 1))),
               PointInTimeError);
}

TEST_F(PointInTimeAws, BeforeTheSnapshotObjectsCutIsAClearError) {
  try {
    values_of(as_of(iso(5000)));
    FAIL() << "no error";
  } catch (const PointInTimeError& e) {
    EXPECT_NE(std::string(e.what()).find("no longer kept"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(journal.table), std::string::npos) << e.what();
  }
}

TEST_F(PointInTimeAws, RefusesChangesAndWritesNothing) {
  const std::size_t items = items_in_table();
  {
    ValuesPrevayler audit(clocked_values_options(as_of(iso(9000)), clock));
    EXPECT_EQ(audit.state()->v, prefix(all, 9));
    EXPECT_THROW(audit.handle(99), ReadOnlyError);
    EXPECT_THROW(audit.snapshot(), ReadOnlyError);
  }
  EXPECT_EQ(items_in_table(), items);  // no seal, no snapshot, no event
  // The journal still opens for writing, with everything.
  EXPECT_EQ(values_of(journal.open()), all);
}

}  // namespace
}  // namespace prevayler::testing
