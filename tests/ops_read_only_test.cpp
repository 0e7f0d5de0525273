// The operators' read path on the file storage (src/ops/file_journal: what
// inspect, verify, dump, copy's source and read_journal use) never syncs or
// writes, even over segments whose end a recovery would decide and sync,
// while a recovery of the same journal still syncs them. Counted through
// the filesystem seam, so it holds whatever the real disk does.
#include <gtest/gtest.h>

#include <cereal/types/vector.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "file/file_storage_impl.hpp"
#include "file/file_system.hpp"
#include "ops/file_journal.hpp"
#include "prevayler/prevayler.hpp"
#include "support/numbers.hpp"
#include "support/temp_dir.hpp"

namespace prevayler::testing {
namespace {

namespace fs = std::filesystem;

using P = Prevayler<Numbers, std::int64_t>;

// Counts every call that syncs or may change the disk, and which files
// were fdatasync'ed, passing all calls through to the real filesystem.
class CountingIo : public detail::FileSystemWrapper {
 public:
  CountingIo() : FileSystemWrapper(detail::posix_file_system()) {}
  int syncs = 0;
  int writes = 0;  // pwrite, ftruncate, rename, unlink, mkdir, lock, an open that may write
  std::map<std::string, int> fdatasyncs_by_path;

  int open(const std::string& path, detail::OpenMode mode, int& fd) override {
    if (mode != detail::OpenMode::read && mode != detail::OpenMode::directory) ++writes;
    const int error = target_->open(path, mode, fd);
    if (error == 0) paths_[fd] = path;
    return error;
  }
  int pwrite(int fd, const char* data, std::size_t size, std::uint64_t offset,
             std::size_t& done) override {
    ++writes;
    return target_->pwrite(fd, data, size, offset, done);
  }
  int fsync(int fd) override {
    ++syncs;
    return target_->fsync(fd);
  }
  int fdatasync(int fd) override {
    ++syncs;
    ++fdatasyncs_by_path[paths_[fd]];
    return target_->fdatasync(fd);
  }
  int ftruncate(int fd, std::uint64_t size) override {
    ++writes;
    return target_->ftruncate(fd, size);
  }
  int rename(const std::string& from, const std::string& to) override {
    ++writes;
    return target_->rename(from, to);
  }
  int unlink(const std::string& path) override {
    ++writes;
    return target_->unlink(path);
  }
  int mkdir(const std::string& path) override {
    ++writes;
    return target_->mkdir(path);
  }
  int lock(int fd) override {
    ++writes;
    return target_->lock(fd);
  }

 private:
  std::map<int, std::string> paths_;
};

class CollectingVisitor : public ops::JournalVisitor {
 public:
  void entry(const JournalPosition&, std::string_view) override { ++entries; }
  int entries = 0;
};

std::string segment_path(const fs::path& dir, int id) {
  char name[64];
  std::snprintf(name, sizeof name, "journal-%020d.log", id);
  return (dir / name).string();
}

std::unique_ptr<P> open(const fs::path& dir, std::shared_ptr<detail::FileSystem> io) {
  FileStorageOptions storage;
  storage.directory = dir;
  P::Options o;
  o.business = append_value;
  o.storage = detail::make_file_storage(storage, std::move(io));
  return std::make_unique<P>(std::move(o));
}

// Segment 0 (its end decided by segment 1's start record) and segment 1,
// the tail, whose end no start record decides: a recovery decides it and
// syncs what it read of it first.
void write_two_segments(const fs::path& dir) {
  auto p = open(dir, detail::posix_file_system());
  p->handle(1);
  p->handle(2);
  p->snapshot();
  p->handle(3);
}

TEST(OperatorCommandReadPath, ReadsWithoutSyncingOrWritingWhereRecoverySyncs) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "data";
  write_two_segments(dir);
  const std::string tail = segment_path(dir, 1);
  ASSERT_TRUE(fs::exists(tail));
  ASSERT_FALSE(fs::exists(segment_path(dir, 2)));

  auto io = std::make_shared<CountingIo>();
  auto source = ops::make_file_journal_source(dir.string(), io);
  const std::vector<ops::SnapshotInfo> snapshots = source->snapshots();
  const std::vector<ops::SegmentInfo> segments = source->segments();
  ASSERT_FALSE(snapshots.empty());
  ASSERT_EQ(segments.size(), 2u);
  EXPECT_EQ(segments.back().end, ops::SegmentEnd::tail);
  CollectingVisitor read;  // dump, inspect, copy's source, read_journal
  source->read(segments.front().id, read);
  CollectingVisitor verified;  // verify
  EXPECT_TRUE(source->verify(verified).empty());
  EXPECT_FALSE(source->snapshot_bytes(snapshots.back().id).empty());  // copy's snapshot
  // The reads went through the seam, over both segments, tail included.
  EXPECT_EQ(read.entries, 3);
  EXPECT_EQ(verified.entries, 3);
  EXPECT_EQ(io->syncs, 0);
  EXPECT_EQ(io->writes, 0);
  EXPECT_FALSE(fs::exists(segment_path(dir, 2)));

  // A recovery of the same journal decides the tail's end and syncs it.
  auto recovering = std::make_shared<CountingIo>();
  auto p = open(dir, recovering);
  EXPECT_EQ(p->read([](const Numbers& n) { return n.values; }),
            (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_GE(recovering->fdatasyncs_by_path[tail], 1);
}

}  // namespace
}  // namespace prevayler::testing
