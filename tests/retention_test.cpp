// Retention: old snapshots and the journal segments only they need are
// deleted once a newer snapshot is durable; recovery is unaffected.
#include <gtest/gtest.h>

#include <cereal/types/vector.hpp>

#include "prevayler/prevayler.hpp"
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

}  // namespace
}  // namespace prevayler::testing
