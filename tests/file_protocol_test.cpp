// The file storage's protocol on the simulated filesystem (support/sim_fs):
// takeovers by a second host, retention on a shared directory, killed
// openers, failed writes, and power loss. Each regression test names the
// bug it pins down; every one is deterministic.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>
#include <sstream>

#include "core/container_header.hpp"
#include "core/formats.hpp"
#include "core/record_codec.hpp"
#include "file/file_storage_impl.hpp"
#include "file/naming.hpp"
#include "file/record_reader.hpp"
#include "file/start_record.hpp"
#include "prevayler/error.hpp"
#include "support/crash_driver.hpp"
#include "support/file_bytes.hpp"
#include "support/sim_fs.hpp"
#include "support/temp_dir.hpp"

namespace prevayler::testing {
namespace {

const std::string dir = "/data";

std::string seg(std::uint64_t id) { return dir + "/" + detail::segment_name(id); }
std::string snap(std::uint64_t id) { return dir + "/" + detail::snapshot_name(id); }

// The state is the list of entries; a snapshot stores it one per line.
struct Collect : RecoveryHandler {
  std::vector<std::string> entries;
  int restarts = 0;
  void snapshot(std::uint64_t, std::istream& in) override {
    entries.clear();
    for (std::string line; std::getline(in, line);) entries.push_back(line);
  }
  void restart() override {
    ++restarts;
    entries.clear();
  }
  void entry(const JournalPosition&, std::string_view bytes) override {
    entries.emplace_back(bytes);
  }
};

// One instance on one host of the shared disk.
struct Host {
  std::shared_ptr<SimFileSystem> fs;
  std::unique_ptr<Storage> storage;
  Collect state;
  std::vector<std::string> warnings;

  Host(SimDisk& disk, std::uint32_t keep = 0) : fs(disk.host()) {
    FileStorageOptions o;
    o.directory = dir;
    o.common.keep_snapshots = keep;
    o.common.warn = [this](const std::string& w) { warnings.push_back(w); };
    storage = detail::make_file_storage(o, fs);
  }
  // On a real directory, a host of its own: no flock between them.
  Host(const std::filesystem::path& directory, std::uint32_t keep) {
    FileStorageOptions o;
    o.directory = directory;
    o.common.keep_snapshots = keep;
    o.common.warn = [this](const std::string& w) { warnings.push_back(w); };
    storage = detail::make_file_storage(o, detail::posix_file_system(), /*lock_directory=*/false);
  }
  Host& open() {
    storage->recover(state);
    return *this;
  }
  void append(const std::string& entry) { append_batch({entry}); }
  void append_batch(const std::vector<std::string>& entries) {
    EntryBatch batch;
    for (const std::string& entry : entries) batch.add(entry);
    storage->append(batch);
    state.entries.insert(state.entries.end(), entries.begin(), entries.end());
  }
  void snapshot() {
    auto writer = storage->begin_snapshot();
    for (const auto& e : state.entries) writer->stream() << e << "\n";
    writer->commit();
  }
};

std::vector<std::string> recovered(SimDisk& disk) {
  Host reader(disk);
  reader.open();
  return reader.state.entries;
}

using Entries = std::vector<std::string>;

// Makes `action` the disk's before-hook for one moment: it runs once, just
// before the `nth` time (from 1) host `host_id` does `op` on `path`. The
// test clears the hook (disk.before = nullptr) when the staging is over.
void once_before(SimDisk& disk, int host_id, SimOp op, const std::string& path, int nth,
                 std::function<void()> action) {
  disk.before = [=, seen = 0](int host, SimOp o, const std::string& p) mutable {
    if (host == host_id && o == op && p == path && ++seen == nth) action();
  };
}

// Bug 1: retention after a takeover deleted the fence segment, so the old
// owner's check found no P+1 and acknowledged writes nobody replays.
TEST(FileProtocol, RetentionAfterATakeoverStillStopsTheOldOwner) {
  auto disk = std::make_shared<SimDisk>();
  Host a(*disk);
  a.open().append("a1");
  a.snapshot();  // segment 1, snapshot 1
  a.append("a2");
  Host b(*disk, /*keep=*/1);
  b.open().append("b1");  // fence: segment 2
  b.snapshot();           // segment 3, snapshot 3; retention deletes segments 0 to 2
  ASSERT_FALSE(disk->exists(seg(2)));
  EXPECT_THROW(a.append("a3"), SupersededError);
  EXPECT_EQ(recovered(*disk), (Entries{"a1", "a2", "b1"}));
}

// Bug 1, on a real directory: the identity check holds with real inodes.
TEST(FileProtocol, RetentionAfterATakeoverStopsTheOldOwnerOnARealDirectory) {
  TempDir tmp;
  Host a(tmp.path(), 0);
  a.open().append("a1");
  a.snapshot();
  a.append("a2");
  Host b(tmp.path(), 1);
  b.open().append("b1");
  b.snapshot();
  ASSERT_FALSE(std::filesystem::exists(tmp.path() / detail::segment_name(2)));
  EXPECT_THROW(a.append("a3"), SupersededError);
  b.storage->close();
  Host reader(tmp.path(), 0);
  EXPECT_EQ(reader.open().state.entries, (Entries{"a1", "a2", "b1"}));
}

// Bug 1: a zombie's begin_snapshot re-created, with O_EXCL, a segment that
// retention had deleted, and owned it from then on.
// `a` owns segment 0 (with a1); `b`, keeping 1 snapshot, takes over and
// snapshots twice, so retention deletes segments 0 to 2 under `a`.
void take_over_and_prune(Host& a, Host& b) {
  a.open().append("a1");
  b.open().append("b1");
  b.snapshot();
  b.append("b2");
  b.snapshot();
}

TEST(FileProtocol, ZombieCannotRecreateADeletedSegmentForASnapshot) {
  auto disk = std::make_shared<SimDisk>();
  Host a(*disk);
  Host b(*disk, /*keep=*/1);
  take_over_and_prune(a, b);
  ASSERT_FALSE(disk->exists(seg(1)));
  EXPECT_THROW(a.snapshot(), SupersededError);
  EXPECT_FALSE(disk->exists(seg(1)));  // what it created is gone again
  EXPECT_THROW(a.append("a2"), StorageFailedError);
  b.append("b3");
  EXPECT_EQ(recovered(*disk), (Entries{"a1", "b1", "b2", "b3"}));
}

// The same for a failed write (found by the model test, seed 615): the
// zombie's roll-forward re-created the deleted segment 1 with a start
// record and left it, right below the journal's oldest segment, so copy
// --all and verify read it as segment 1 truncated before the end that
// segment 2's start record gives it.
TEST(FileProtocol, ZombieCannotRecreateADeletedSegmentWhenAWriteFails) {
  auto disk = std::make_shared<SimDisk>();
  Host a(*disk);
  Host b(*disk, /*keep=*/1);
  take_over_and_prune(a, b);
  ASSERT_FALSE(disk->exists(seg(1)));
  disk->fail_next(SimOp::pwrite, EIO, detail::segment_name(0));
  EXPECT_THROW(a.append("a2"), SupersededError);
  EXPECT_FALSE(disk->exists(seg(1)));  // what its roll-forward created is gone again
  b.append("b3");
  EXPECT_EQ(recovered(*disk), (Entries{"a1", "b1", "b2", "b3"}));
}

// The same for an opener whose recovery was slow: meanwhile the owner
// snapshotted twice and retention deleted segments 0 and 1, so the
// opener's fence re-created the deleted name 1, below the newest snapshot.
// It stops and removes that fence: left there, it would stand alone below
// the journal, a gap that verify reports.
TEST(FileProtocol, OpenerWhoseFenceFellBelowTheNewestSnapshotRemovesIt) {
  auto disk = std::make_shared<SimDisk>();
  Host a(*disk, /*keep=*/1);
  a.open().append("a1");
  Host b(*disk);
  once_before(*disk, b.fs->host_id(), SimOp::open, seg(1), 1, [&] {
    a.snapshot();  // segment 1, snapshot 1
    a.append("a2");
    a.snapshot();  // segment 2, snapshot 2: segments 0 and 1 deleted
  });
  EXPECT_THROW(b.open(), SupersededError);
  disk->before = nullptr;
  EXPECT_FALSE(disk->exists(seg(1)));
  a.append("a3");
  EXPECT_EQ(recovered(*disk), (Entries{"a1", "a2", "a3"}));
}

// Bug 2: an opener killed between creating its fence P+1 and writing its
// start record left P's end undecided; a write landing late in P was then
// replayed before events the next owner computed without it.
TEST(FileProtocol, KilledOpenerLeavesNoUndecidedEnd) {
  auto disk = std::make_shared<SimDisk>();
  Host a(*disk);
  a.open().append("a1");
  Host b(*disk);
  once_before(*disk, b.fs->host_id(), SimOp::pwrite, seg(1), 2, [&] {
    disk->kill(b.fs->host_id());  // after the header, before the start record
  });
  EXPECT_THROW(b.open(), StorageError);
  disk->before = nullptr;
  Host c(*disk);
  c.open();  // fence 2: decides segment 0 ends after a1, and segment 1 is empty
  EXPECT_THROW(a.append("a2"), SupersededError);  // lands late in segment 0
  c.append("c1");
  EXPECT_EQ(recovered(*disk), (Entries{"a1", "c1"}));
}

// Bug 2: a slow opener's start record, written after a newer opener had
// decided (without it) that its segment holds nothing, does not count.
TEST(FileProtocol, SlowOpenersLateStartRecordDoesNotCount) {
  auto disk = std::make_shared<SimDisk>();
  Host a(*disk);
  a.open().append("a1");
  Host b(*disk);
  Host c(*disk);
  once_before(*disk, b.fs->host_id(), SimOp::pwrite, seg(1), 2, [&] {
    // b measured segment 0 without a2 and stalls before its start record.
    EXPECT_THROW(a.append("a2"), SupersededError);  // lands late in segment 0
    c.open();                                       // decides: 0 ends after a2, 1 is empty
    c.append("c1");
  });
  b.open();  // writes its start record late, then believes it owns segment 1
  disk->before = nullptr;
  EXPECT_EQ(c.state.entries, (Entries{"a1", "a2", "c1"}));
  EXPECT_THROW(b.append("b1"), SupersededError);
  EXPECT_EQ(recovered(*disk), (Entries{"a1", "a2", "c1"}));
}

// Bug 2: two slow openers. b2 decided (in a start record it writes late)
// that segment 0 ends after a2, but c, the next opener, replayed with b1's
// decision (segment 0 ends after a1). b2's late record lies beyond the end
// c decided for its segment, so it decides nothing, even about segments c
// did not list.
TEST(FileProtocol, LateStartRecordDecidesNothingForEarlierSegments) {
  auto disk = std::make_shared<SimDisk>();
  Host a(*disk);
  a.open().append("a1");
  Host b1(*disk);
  auto b2 = disk->host();  // an opener played by hand
  std::uint64_t segment0_end_for_b2 = 0;
  once_before(*disk, b1.fs->host_id(), SimOp::pwrite, seg(1), 2, [&] {
    // b1 measured segment 0 with a1 only; a2 lands after that.
    EXPECT_THROW(a.append("a2"), SupersededError);
    segment0_end_for_b2 = written_end(*disk->content(seg(0)));
    // b2 creates its fence, segment 2, and stalls before its start record.
    int fd = -1;
    ASSERT_EQ(b2->open(seg(2), detail::OpenMode::create_exclusive, fd), 0);
    const std::string header =
        detail::make_container_header(detail::segment_magic, detail::segment_format_version, 2);
    ASSERT_EQ(detail::write_fully(*b2, fd, header, 0), 0);
    b2->close(fd);
  });
  b1.open();
  disk->before = nullptr;
  EXPECT_THROW(b1.append("b1"), SupersededError);  // lands in segment 1
  Host c(*disk);
  c.open().append("c1");
  EXPECT_EQ(c.state.entries, (Entries{"a1", "b1", "c1"}));
  // b2 wakes up: segment 1 ended at its header, segment 0 after a2.
  detail::StartRecord late{detail::segment_header_bytes, {{0, segment0_end_for_b2}}};
  int fd = -1;
  ASSERT_EQ(b2->open(seg(2), detail::OpenMode::read_write, fd), 0);
  ASSERT_EQ(detail::write_fully(*b2, fd, detail::make_start_record(7, late),
                                detail::segment_header_bytes),
            0);
  b2->close(fd);
  EXPECT_EQ(recovered(*disk), (Entries{"a1", "b1", "c1"}));
}

// Bug 2: a slow opener's start record, and an event after it, arrive while
// a newer opener replays. The newer opener found no start record when it
// decided where segment 0 ends (after a2), so segment 1 holds nothing for
// it: b1 was computed on segment 0 ending after a1, and must not be
// replayed after a2.
TEST(FileProtocol, SegmentWithoutACountedStartRecordHoldsNothing) {
  auto disk = std::make_shared<SimDisk>();
  Host a(*disk);
  a.open().append("a1");
  auto b = disk->host();  // a slow opener played by hand
  int fd = -1;
  ASSERT_EQ(b->open(seg(1), detail::OpenMode::create_exclusive, fd), 0);
  ASSERT_EQ(detail::write_fully(*b, fd,
                                detail::make_container_header(detail::segment_magic,
                                                              detail::segment_format_version, 1),
                                0),
            0);
  const std::uint64_t segment0_end_for_b = written_end(*disk->content(seg(0)));
  EXPECT_THROW(a.append("a2"), SupersededError);  // lands in segment 0 after b measured it
  Host c(*disk);
  once_before(*disk, c.fs->host_id(), SimOp::open, seg(1), 2, [&] {
    // Between c's decision and its replay of segment 1: b's start record and b1.
    std::string bytes = detail::make_start_record(7, {segment0_end_for_b, {}});
    std::string record;
    EntryBatch batch;
    batch.add("b1");
    detail::encode_batch_record(record, 7, batch, 0, 1);
    detail::append_frame(bytes, record);
    ASSERT_EQ(detail::write_fully(*b, fd, bytes, detail::segment_header_bytes), 0);
  });
  c.open();
  disk->before = nullptr;
  b->close(fd);
  EXPECT_EQ(c.state.entries, (Entries{"a1", "a2"}));
  c.append("c1");
  EXPECT_EQ(recovered(*disk), (Entries{"a1", "a2", "c1"}));
}

// An opener syncs the directory before creating its fence: the segment it
// follows may be one whose creator was killed before syncing it, and a
// filesystem that persists creations out of order could otherwise keep the
// fence and lose that segment, a gap no recovery gets past.
TEST(FileProtocol, FenceIsCreatedOnlyAfterWhatItFollowsIsDurable) {
  auto disk = std::make_shared<SimDisk>();
  Host a(*disk);
  a.open().append("a1");
  Host b(*disk);
  Host c(*disk);
  disk->before = [&](int host, SimOp op, const std::string& path) {
    if (host == b.fs->host_id() && op == SimOp::pwrite && path == seg(1)) {
      disk->kill(host);  // created segment 1, synced nothing
    }
    if (host == c.fs->host_id() && op == SimOp::pwrite && path == seg(2)) {
      disk->power_loss([&](SimDisk::NameOpKind kind, const std::string& p) {
        return kind == SimDisk::NameOpKind::create && p == seg(2);
      });
    }
  };
  EXPECT_THROW(b.open(), StorageError);
  EXPECT_THROW(c.open(), StorageError);
  disk->before = nullptr;
  EXPECT_EQ(recovered(*disk), (Entries{"a1"}));
}

// Bug 3: a failed fdatasync cut the record off, though a new owner had
// already replayed it (its start record says P ends after it): every later
// recovery then failed. Now the owner rolls forward instead, and finds the
// new owner's fence.
TEST(FileProtocol, FailedSyncAfterANewOwnerReplayedTheRecordCutsNothing) {
  auto disk = std::make_shared<SimDisk>();
  Host a(*disk);
  a.open().append("a1");
  Host b(*disk);
  once_before(*disk, a.fs->host_id(), SimOp::fdatasync, seg(0), 1, [&] {
    b.open();  // replays a2, written but not yet synced
    b.append("b1");
    disk->fail_next(SimOp::fdatasync, EIO, seg(0));
  });
  EXPECT_THROW(a.append("a2"), SupersededError);
  disk->before = nullptr;
  EXPECT_EQ(b.state.entries, (Entries{"a1", "a2", "b1"}));
  EXPECT_EQ(recovered(*disk), (Entries{"a1", "a2", "b1"}));
}

// Bug 3: a write that certainly did not count is a plain StorageError; the
// storage goes on in the next segment, and the failed record never counts,
// even when its bytes became durable and power fails right after.
TEST(FileProtocol, FailedWriteRollsForwardAndTheFailedRecordNeverCounts) {
  auto disk = std::make_shared<SimDisk>();
  Host a(*disk);
  a.open().append("a1");
  disk->fail_next(SimOp::fdatasync, EIO, seg(0), 1, /*persisted=*/1);
  try {
    a.append("lost");
    FAIL() << "a failed sync was acknowledged";
  } catch (const StorageFailedError& e) {
    FAIL() << e.what();
  } catch (const StorageError&) {
  }
  EXPECT_TRUE(disk->exists(seg(1)));
  disk->power_loss();  // before anything else reaches segment 1
  EXPECT_EQ(recovered(*disk), (Entries{"a1"}));

  Host b(*disk);
  b.open().append("b1");  // segment 3: recovered() fenced at 2
  disk->fail_next(SimOp::pwrite, ENOSPC, seg(3), 1, /*torn_bytes=*/5);
  EXPECT_THROW(b.append("torn"), StorageError);
  b.append("b2");  // goes to segment 4
  EXPECT_TRUE(disk->exists(seg(4)));
  EXPECT_EQ(recovered(*disk), (Entries{"a1", "b1", "b2"}));
  EXPECT_TRUE(b.warnings.empty());
}

// Incompressible entries of 64 KiB or more go out in one gather write
// (FileSystem::pwritev), the small ones between them copied into the
// record. One torn part way, across its pieces, counts for nothing: the
// storage rolls forward and recovery reads every other record.
TEST(FileProtocol, TornGatherWriteOfLargeEntriesNeverCounts) {
  std::mt19937 rng(15);
  auto random_entry = [&](std::size_t bytes) {
    std::string s(bytes, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    return s;
  };
  const Entries first = {random_entry(100 << 10), "small", random_entry(300 << 10)};
  const Entries torn = {"t", random_entry(200 << 10), random_entry(64 << 10)};
  const Entries last = {random_entry(90 << 10)};
  for (std::size_t torn_bytes : {std::size_t{5}, std::size_t{100 << 10}, std::size_t{250 << 10}}) {
    auto disk = std::make_shared<SimDisk>();
    Host a(*disk);
    a.open().append_batch(first);
    disk->fail_next(SimOp::pwrite, EIO, seg(0), 1, torn_bytes);
    EXPECT_THROW(a.append_batch(torn), StorageError);
    a.append_batch(last);  // in segment 1
    EXPECT_TRUE(disk->exists(seg(1)));
    Entries expected = first;
    expected.insert(expected.end(), last.begin(), last.end());
    EXPECT_EQ(recovered(*disk), expected) << "torn after " << torn_bytes << " bytes";
    EXPECT_TRUE(a.warnings.empty());
  }
}

// The same torn gather write when the storage cannot roll forward (the next
// segment cannot be created): it stops, and the next opener cuts the torn
// record off as the journal's torn tail.
TEST(FileProtocol, TornGatherWriteLeftAsTheTailIsCutByTheNextOpener) {
  std::mt19937 rng(16);
  std::string big(150 << 10, '\0');
  for (char& c : big) c = static_cast<char>(rng());
  auto disk = std::make_shared<SimDisk>();
  Host a(*disk);
  a.open().append("a1");
  // Torn in the middle of the large entry.
  disk->fail_next(SimOp::pwrite, EIO, seg(0), 1, 70 << 10);
  disk->fail_next(SimOp::open, EIO, seg(1));
  EXPECT_THROW(a.append_batch({"x", big}), StorageFailedError);
  disk->kill(a.fs->host_id());  // the process dies, the page cache stays
  Host b(*disk);
  b.open();
  EXPECT_EQ(b.state.entries, (Entries{"a1"}));
  EXPECT_EQ(b.warnings.size(), 1u) << "the torn tail is cut with a warning";
}

// Found by the model test: a new owner fences after the roll-forward
// segment and reads it before its start record is written, so it decides
// where segment 0 ends itself, the failed record (in the page cache)
// included. The old owner must not then report the write as certainly
// failed: its caller would be told "failed" about an event that counts.
TEST(FileProtocol, NewOwnerReadingTheRollForwardSegmentEarlyLeavesTheOutcomeUnknown) {
  auto disk = std::make_shared<SimDisk>();
  Host a(*disk);
  a.open().append("a1");
  Host b(*disk);
  bool staged = false;
  // A writes the start record of its roll-forward segment 1: B opens
  // first, fencing at 2 and reading segment 1 without a start record.
  once_before(*disk, a.fs->host_id(), SimOp::pwrite, seg(1), 1, [&] {
    staged = true;
    b.open();
  });
  disk->fail_next(SimOp::fdatasync, EIO, seg(0));  // the data stays in the page cache
  try {
    a.append("a2");
    FAIL() << "acknowledged";
  } catch (const StorageFailedError&) {
    // Outcome unknown (superseded): the new owner decided.
  } catch (const StorageError& e) {
    FAIL() << "reported as certainly failed, yet the new owner replayed it: " << e.what();
  }
  disk->before = nullptr;
  EXPECT_TRUE(staged) << "the interleaving was not staged";
  EXPECT_EQ(recovered(*disk), b.state.entries);
}

// Bug 3: when the roll-forward itself fails, the outcome is unknown.
TEST(FileProtocol, FailedRollForwardStopsTheInstance) {
  auto disk = std::make_shared<SimDisk>();
  Host a(*disk);
  a.open().append("a1");
  disk->fail_next(SimOp::pwrite, EIO, seg(0));
  disk->fail_next(SimOp::open, EIO, seg(1));
  EXPECT_THROW(a.append("a2"), StorageFailedError);
  EXPECT_THROW(a.append("a3"), StorageFailedError);
  EXPECT_EQ(recovered(*disk), (Entries{"a1"}));
}

// True when no segment is missing below one that exists, from the oldest
// segment a snapshot needs: "P+1 missing implies P missing".
bool segments_deleted_in_order(SimDisk& disk) {
  const auto listing = disk.names(dir);
  std::vector<std::uint64_t> ids;
  for (const auto& name : listing) {
    if (auto id = detail::parse_numbered_name(name, "journal-", ".log")) ids.push_back(*id);
  }
  std::sort(ids.begin(), ids.end());
  for (std::size_t i = 1; i < ids.size(); ++i) {
    if (ids[i] != ids[i - 1] + 1) return false;
  }
  return true;
}

// Bug 4: retention that fails midway is resumed by the next run, and every
// intermediate step keeps the order invariant and a recoverable directory.
TEST(FileProtocol, RetentionInterruptedMidwayIsResumed) {
  auto disk = std::make_shared<SimDisk>();
  Host a(*disk);
  a.open();
  for (int i = 0; i < 4; ++i) {
    a.append("e" + std::to_string(i));
    a.snapshot();
  }
  a.append("last");
  const Entries all{"e0", "e1", "e2", "e3", "last"};
  int checked = 0;
  disk->before = [&](int, SimOp op, const std::string&) {
    if (op != SimOp::unlink) return;
    ++checked;
    EXPECT_TRUE(segments_deleted_in_order(*disk));
  };
  disk->fail_next(SimOp::unlink, EIO, seg(2));
  auto pruner = disk->host();
  EXPECT_THROW(detail::prune_file_storage(*pruner, dir, {1, 0}), StorageError);
  EXPECT_FALSE(disk->exists(seg(1)));
  EXPECT_TRUE(disk->exists(seg(2)));
  EXPECT_TRUE(segments_deleted_in_order(*disk));
  disk->before = nullptr;
  Host c(*disk);  // recovers mid-way, and owns the journal from now on
  c.open();
  EXPECT_EQ(c.state.entries, all);
  disk->before = [&](int, SimOp op, const std::string&) {
    if (op == SimOp::unlink) {
      EXPECT_TRUE(segments_deleted_in_order(*disk));
    }
  };
  EXPECT_EQ(detail::prune_file_storage(*pruner, dir, {1, 0}), 5u);  // segments 2, 3; snapshots 1-3
  disk->before = nullptr;
  EXPECT_GT(checked, 0);
  EXPECT_FALSE(disk->exists(seg(3)));
  EXPECT_FALSE(disk->exists(snap(3)));
  c.append("after");
  EXPECT_EQ(recovered(*disk), (Entries{"e0", "e1", "e2", "e3", "last", "after"}));
}

// Bug 4: power loss of the pruning host midway, on a filesystem that may
// persist unsynced deletions in any order: still no segment missing below
// one that exists, and recovery works. (Retention syncs after each deletion.)
TEST(FileProtocol, RetentionLosingPowerMidwayKeepsTheOrder) {
  constexpr std::uint64_t seeds = 64;
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    auto disk = std::make_shared<SimDisk>(seed);
    disk->crash_keeps_some_names = true;
    Host a(*disk);
    a.open();
    Entries all;
    for (int i = 0; i < 4; ++i) {
      all.push_back("e" + std::to_string(i));
      a.append(all.back());
      a.snapshot();
    }
    auto pruner = disk->host();
    const int crash_at = 3 + static_cast<int>(seed % 4);  // of 7 deletions
    int unlinks = 0;
    disk->before = [&](int host, SimOp op, const std::string&) {
      if (host == pruner->host_id() && op == SimOp::unlink && ++unlinks == crash_at) {
        disk->power_loss();
      }
    };
    EXPECT_THROW(detail::prune_file_storage(*pruner, dir, {1, 0}), StorageError);
    disk->before = nullptr;
    ASSERT_TRUE(segments_deleted_in_order(*disk)) << "seed " << seed;
    ASSERT_EQ(recovered(*disk), all) << "seed " << seed;
  }
}

// Bug 4: the storage's own retention resumes at the next open.
TEST(FileProtocol, RetentionThatFailedIsResumedAtTheNextOpen) {
  auto disk = std::make_shared<SimDisk>();
  {
    Host a(*disk, /*keep=*/1);
    a.open().append("e1");
    a.snapshot();
    a.append("e2");
    disk->fail_next(SimOp::unlink, EIO, seg(0));
    a.snapshot();  // retention fails with a warning
    EXPECT_EQ(a.warnings.size(), 1u);
    EXPECT_TRUE(disk->exists(seg(0)));
  }
  Host b(*disk, /*keep=*/1);
  b.open();
  EXPECT_FALSE(disk->exists(seg(0)));
  EXPECT_FALSE(disk->exists(seg(1)));
  EXPECT_FALSE(disk->exists(snap(1)));
  EXPECT_EQ(b.state.entries, (Entries{"e1", "e2"}));
}

// Retention syncs the directory before deleting: the snapshot it relies
// on may be a rename another host has not synced yet, and a power loss may
// keep the deletion (synced or not) and lose that rename.
TEST(FileProtocol, RetentionMakesTheSnapshotItReliesOnDurableFirst) {
  auto disk = std::make_shared<SimDisk>();
  Host a(*disk);
  a.open().append("a1");
  a.snapshot();
  a.append("a2");
  a.snapshot();
  auto pruner = disk->host();
  ASSERT_EQ(detail::prune_file_storage(*pruner, dir, {1, 0}), 3u);  // segments from 2 on
  a.append("a3");
  bool renamed = false, pruned = false, unlinked = false, lost = false;
  disk->before = [&](int host, SimOp op, const std::string& path) {
    if (host == a.fs->host_id() && op == SimOp::rename) renamed = true;
    if (renamed && !pruned && host == a.fs->host_id() && op == SimOp::fsync && path == dir) {
      pruned = true;  // snapshot 3 renamed, the directory not synced yet
      EXPECT_THROW(detail::prune_file_storage(*pruner, dir, {1, 0}), StorageError);
    }
    if (pruned && host == pruner->host_id() && op == SimOp::unlink) unlinked = true;
    if (unlinked && !lost && host == pruner->host_id() && op == SimOp::fsync) {
      lost = true;  // segment 2 deleted; the power fails before that is synced
      disk->power_loss([](SimDisk::NameOpKind kind, const std::string&) {
        return kind == SimDisk::NameOpKind::unlink;
      });
    }
  };
  EXPECT_THROW(a.snapshot(), StorageError);
  disk->before = nullptr;
  ASSERT_TRUE(lost);
  EXPECT_EQ(recovered(*disk), (Entries{"a1", "a2", "a3"}));
}

// Bug 5 staging: `a` (keeping one snapshot) writes a1, snapshot 1 and a2;
// just before b's recovery opens `path`, a takes snapshot 2 and its
// retention deletes what b listed. b must restart and recover a1, a2.
void recover_while_retention_deletes(SimDisk& disk, Host& a, Host& b, const std::string& path) {
  a.open().append("a1");
  a.snapshot();
  a.append("a2");
  once_before(disk, b.fs->host_id(), SimOp::open, path, 1, [&] { a.snapshot(); });
  b.open();
  disk.before = nullptr;
  EXPECT_EQ(b.state.restarts, 1);
  EXPECT_EQ(b.state.entries, (Entries{"a1", "a2"}));
}

// Bug 5: another host's retention deletes the snapshot a recovery is about
// to read (snapshot 2 deletes snapshot 1 and segment 1): the recovery
// restarts from the newer snapshot.
TEST(FileProtocol, RecoveryRestartsWhenRetentionDeletesItsSnapshot) {
  auto disk = std::make_shared<SimDisk>();
  Host a(*disk, /*keep=*/1);
  Host b(*disk);
  recover_while_retention_deletes(*disk, a, b, snap(1));
  b.append("b1");
  EXPECT_EQ(recovered(*disk), (Entries{"a1", "a2", "b1"}));
}

// Bug 5: the segments after the snapshot vanish between the listing and
// the fence (snapshot 2 creates segment 2 first: b fences at 3): restart,
// not "a segment is missing".
TEST(FileProtocol, RecoveryRestartsWhenRetentionDeletesItsSegments) {
  auto disk = std::make_shared<SimDisk>();
  Host a(*disk, /*keep=*/1);
  Host b(*disk);
  recover_while_retention_deletes(*disk, a, b, seg(2));
  EXPECT_THROW(a.append("a3"), SupersededError);
  b.append("b1");
  EXPECT_EQ(recovered(*disk), (Entries{"a1", "a2", "b1"}));
}

// Bug 5: bounded: a recovery that keeps losing its files stops clearly.
TEST(FileProtocol, RecoveryThatKeepsLosingItsFilesStops) {
  auto disk = std::make_shared<SimDisk>();
  Host a(*disk);
  a.open().append("a1");
  a.snapshot();
  Host b(*disk);
  disk->fail_next(SimOp::open, ENOENT, snap(1), 100);
  try {
    b.open();
    FAIL() << "recovered without its snapshot";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("kept losing"), std::string::npos) << e.what();
  }
  EXPECT_GT(b.state.restarts, 0);
}

// commit() is durable on return: the snapshot survives power loss at once.
TEST(FileProtocol, SnapshotIsDurableWhenCommitReturns) {
  auto disk = std::make_shared<SimDisk>();
  Host a(*disk);
  a.open().append("a1");
  a.snapshot();
  disk->power_loss();
  auto content = disk->content(snap(1));
  ASSERT_TRUE(content.has_value());
  EXPECT_GT(content->size(), 40u);
  EXPECT_EQ(recovered(*disk), (Entries{"a1"}));
}

// Power loss at random points with random faults: every acknowledged event
// survives, in order, and nothing unknown appears.
TEST(FileProtocol, PowerLossKeepsEveryAcknowledgedEvent) {
  constexpr int seeds = 1000;
  constexpr int steps_max = 30;
  int faults = 0;
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    auto disk = std::make_shared<SimDisk>(seed);
    std::mt19937_64 rng(seed);
    Entries acknowledged;
    std::optional<std::string> unknown;  // a write whose outcome is unknown
    int next = 0;
    for (int life = 0; life < 3; ++life) {
      auto host = std::make_unique<Host>(*disk, static_cast<std::uint32_t>(rng() % 3));
      disk->rates = {};
      try {
        host->open();
      } catch (const StorageError&) {
        disk->power_loss();
        continue;
      }
      if (unknown && host->state.entries.size() == acknowledged.size() + 1) {
        acknowledged.push_back(*unknown);  // it counted
      }
      unknown.reset();
      ASSERT_EQ(host->state.entries, acknowledged) << "seed " << seed << " life " << life;
      disk->rates = {0.05, 0.03, 0.05, 0.05, 0.05, 0};
      const int steps = static_cast<int>(rng() % steps_max);
      for (int step = 0; step < steps; ++step) {
        const std::string e = "e" + std::to_string(next++);
        try {
          if (rng() % 5 == 0) {
            host->snapshot();
          } else {
            host->append(e);
            acknowledged.push_back(e);
          }
        } catch (const StorageFailedError&) {
          unknown = e;
          break;
        } catch (const StorageError&) {
        }
      }
      faults += disk->counts.total();
      disk->power_loss();
    }
    disk->rates = {};
    Entries got = recovered(*disk);
    if (unknown && got.size() == acknowledged.size() + 1) acknowledged.push_back(*unknown);
    ASSERT_EQ(got, acknowledged) << "seed " << seed;
  }
  std::cout << "power loss: " << seeds << " seeds, " << faults << " injected faults\n";
  EXPECT_GT(faults, 0);
}

bool is_prefix(const Entries& prefix, const Entries& of) {
  return prefix.size() <= of.size() && std::equal(prefix.begin(), prefix.end(), of.begin());
}

// The model: hosts open, append, snapshot, prune and lose power in a random
// order on one shared directory with faults injected. Checked: the state
// each instance believed in (what it recovered plus what it got
// acknowledged) is a prefix of every later recovery, so no acknowledged
// event is lost and no recovery disagrees with an earlier one.
class SharedDirectoryModel {
 public:
  explicit SharedDirectoryModel(std::uint64_t seed)
      : disk_(std::make_shared<SimDisk>(seed)), rng_(seed) {
    pruner_ = disk_->host();
    disk_->rates = {0.02, 0.01, 0.02, 0.03, 0.02, 0.005};
    disk_->crash_keeps_some_names = seed % 2 == 0;  // half the runs on a reordering filesystem
  }

  void step() {
    if (trace_) {
      std::cout << "  dir:";
      for (const auto& n : disk_->names(dir)) std::cout << " " << n;
      std::cout << "\n";
    }
    const auto choice = rng_() % 16;
    if (hosts_.empty() || choice == 0) return open();
    auto& host = hosts_[rng_() % hosts_.size()];
    if (choice == 1) return retire(host, /*power_loss=*/true);
    if (choice == 4 && rng_() % 4 == 0) return lose_power();
    if (choice == 2) return snapshot(host);
    if (choice == 3) return prune();
    append(host);
  }

  void finish(const std::string& where) {
    for (auto& host : hosts_) beliefs_.push_back(host->state.entries);
    disk_->rates = {};
    Entries final_state;
    try {
      final_state = recovered(*disk_);
    } catch (const StorageError& e) {
      FAIL() << where << ": " << e.what();
    }
    for (const Entries& belief : beliefs_) {
      ASSERT_TRUE(is_prefix(belief, final_state)) << where;
    }
  }

  int faults() const { return disk_->counts.total(); }

 private:
  void open() {
    auto host = std::make_unique<Host>(*disk_, static_cast<std::uint32_t>(rng_() % 3));
    try {
      host->open();
    } catch (const CorruptionError& e) {
      FAIL() << "open " << host->fs->host_id() << ": " << e.what();
    } catch (const StorageError& e) {
      if (trace_) std::cout << "open " << host->fs->host_id() << " failed: " << e.what() << "\n";
      disk_->kill(host->fs->host_id());
      return;
    }
    if (trace_) std::cout << "open " << host->fs->host_id() << " ok\n";
    for (const Entries& belief : beliefs_) ASSERT_TRUE(is_prefix(belief, host->state.entries));
    beliefs_.push_back(host->state.entries);
    hosts_.push_back(std::move(host));
  }

  void lose_power() {
    if (trace_) std::cout << "power loss\n";
    for (auto& host : hosts_) beliefs_.push_back(host->state.entries);
    hosts_.clear();
    disk_->power_loss();
    pruner_ = disk_->host();
  }

  void retire(std::unique_ptr<Host>& host, bool power_loss) {
    if (trace_)
      std::cout << "retire " << host->fs->host_id() << (power_loss ? " power loss\n" : "\n");
    beliefs_.push_back(host->state.entries);
    if (power_loss) {
      host->fs->crash();
    } else {
      disk_->kill(host->fs->host_id());
    }
    std::swap(host, hosts_.back());
    hosts_.pop_back();
  }

  void snapshot(std::unique_ptr<Host>& host) {
    try {
      host->snapshot();
      if (trace_) std::cout << "snapshot " << host->fs->host_id() << " ok\n";
    } catch (const StorageFailedError& e) {
      if (trace_) std::cout << "snapshot " << host->fs->host_id() << ": " << e.what() << "\n";
      retire(host, false);
    } catch (const StorageError& e) {
      if (trace_) std::cout << "snapshot " << host->fs->host_id() << ": " << e.what() << "\n";
    }
  }

  void prune() {
    try {
      const auto n = detail::prune_file_storage(*pruner_, dir,
                                                {1 + static_cast<std::uint32_t>(rng_() % 2), 0});
      if (trace_) std::cout << "prune: " << n << "\n";
    } catch (const StorageError& e) {
      if (trace_) std::cout << "prune: " << e.what() << "\n";
    }
  }

  void append(std::unique_ptr<Host>& host) {
    try {
      host->append("e" + std::to_string(next_++));
      if (trace_) std::cout << "append " << host->fs->host_id() << " ok\n";
    } catch (const StorageFailedError& e) {
      if (trace_) std::cout << "append " << host->fs->host_id() << ": " << e.what() << "\n";
      retire(host, false);
    } catch (const StorageError& e) {
      if (trace_) std::cout << "append " << host->fs->host_id() << ": " << e.what() << "\n";
    }
  }

  std::shared_ptr<SimDisk> disk_;
  std::mt19937_64 rng_;
  std::shared_ptr<SimFileSystem> pruner_;
  std::vector<std::unique_ptr<Host>> hosts_;
  std::vector<Entries> beliefs_;
  int next_ = 0;
  bool trace_ = env_int("PREVAYLER_FILE_MODEL_TRACE", 0) != 0;
};

TEST(FileProtocol, HostsSharingADirectoryNeverDisagree) {
  const auto seeds = static_cast<std::uint64_t>(env_int("PREVAYLER_FILE_MODEL_SEEDS", 300));
  constexpr int steps = 80;
  int faults = 0;
  const auto first = static_cast<std::uint64_t>(env_int("PREVAYLER_FILE_MODEL_FIRST_SEED", 1));
  for (std::uint64_t seed = first; seed < first + seeds; ++seed) {
    SharedDirectoryModel model(seed);
    for (int i = 0; i < steps; ++i) {
      model.step();
      if (HasFatalFailure()) FAIL() << "seed " << seed << " step " << i;
    }
    model.finish("seed " + std::to_string(seed));
    if (HasFatalFailure()) return;
    faults += model.faults();
  }
  std::cout << "shared directory: " << seeds << " seeds, " << faults << " injected faults\n";
}

}  // namespace
}  // namespace prevayler::testing
