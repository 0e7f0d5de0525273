// The filesystem seam's stat calls without times, and the file storage's
// use of them on its hot path (file/file_system.hpp says why).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cereal/types/vector.hpp>
#include <fstream>
#include <vector>

#include "file/file_storage_impl.hpp"
#include "file/file_system.hpp"
#include "prevayler/prevayler.hpp"
#include "support/numbers.hpp"
#include "support/temp_dir.hpp"

namespace prevayler::testing {
namespace {

namespace fs = std::filesystem;
using detail::FileStat;

TEST(PosixFileSystem, StatWithoutTimesNamesTheSameFileAsStat) {
  TempDir tmp;
  const fs::path file = tmp.path() / "a.log";
  const fs::path other = tmp.path() / "b.log";
  std::ofstream(file) << "twelve bytes";
  std::ofstream(other) << "x";
  auto posix = detail::posix_file_system();

  FileStat timed, untimed, other_untimed, dir;
  ASSERT_EQ(posix->stat(file.string(), timed), 0);
  ASSERT_EQ(posix->stat_without_times(file.string(), untimed), 0);
  ASSERT_EQ(posix->stat_without_times(other.string(), other_untimed), 0);
  EXPECT_EQ(untimed.identity, timed.identity);
  EXPECT_NE(other_untimed.identity, timed.identity);
  EXPECT_EQ(untimed.size_bytes, 12u);
  EXPECT_FALSE(untimed.directory);
  EXPECT_GT(timed.modified_ms, 0);
  EXPECT_EQ(untimed.modified_ms, 0) << "no time is asked for, so none is reported";

  ASSERT_EQ(posix->stat_without_times(tmp.path().string(), dir), 0);
  EXPECT_TRUE(dir.directory);
  EXPECT_EQ(posix->stat_without_times((tmp.path() / "missing").string(), dir), ENOENT);

  const int fd = ::open(file.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  FileStat by_fd;
  EXPECT_EQ(posix->fstat_without_times(fd, by_fd), 0);
  ::close(fd);
  EXPECT_EQ(by_fd.identity, timed.identity);
  EXPECT_EQ(by_fd.size_bytes, 12u);
  EXPECT_EQ(posix->fstat_without_times(fd, by_fd), EBADF);
}

// Counts the calls that read a file's times, and lets the calls without
// times through uncounted (they would reach the counted ones through the
// defaults otherwise).
class TimeReadCounter : public detail::FileSystemWrapper {
 public:
  TimeReadCounter() : FileSystemWrapper(detail::posix_file_system()) {}
  std::atomic<int> time_reads{0};
  std::atomic<int> untimed_reads{0};
  int fstat(int fd, FileStat& st) override {
    ++time_reads;
    return target_->fstat(fd, st);
  }
  int stat(const std::string& path, FileStat& st) override {
    ++time_reads;
    return target_->stat(path, st);
  }
  int fstat_without_times(int fd, FileStat& st) override {
    ++untimed_reads;
    return target_->fstat_without_times(fd, st);
  }
  int stat_without_times(const std::string& path, FileStat& st) override {
    ++untimed_reads;
    return target_->stat_without_times(path, st);
  }
};

// The ownership check after each append (file/segment_files.cpp) stats the
// journal segment: were it to read its times, each journal write on a
// recent Linux would cost a third disk request (file_system.hpp).
TEST(FileStorageHotPath, AppendsNeverReadAFilesTimes) {
  TempDir tmp;
  auto io = std::make_shared<TimeReadCounter>();
  FileStorageOptions so;
  so.directory = tmp.path() / "data";
  Prevayler<Numbers, std::int64_t>::Options o;
  o.business = append_value;
  o.storage = detail::make_file_storage(so, io);
  Prevayler<Numbers, std::int64_t> p(std::move(o));
  const int time_reads_at_open = io->time_reads.load();
  const int untimed_reads_at_open = io->untimed_reads.load();
  constexpr int events = 20;
  for (std::int64_t i = 0; i < events; ++i) p.handle(i);
  EXPECT_EQ(io->time_reads.load(), time_reads_at_open);
  // Each append checked its ownership (successor, descriptor, name).
  EXPECT_GE(io->untimed_reads.load() - untimed_reads_at_open, 3 * events);
  EXPECT_EQ(p.state()->values.size(), static_cast<std::size_t>(events));
}

}  // namespace
}  // namespace prevayler::testing
