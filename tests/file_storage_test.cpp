// The file storage's own behaviour: framing, torn tails, corruption, the
// lock, full disks, failing syncs, format versions.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cereal/types/vector.hpp>
#include <fstream>
#include <vector>

#include "core/bytes.hpp"
#include "core/crc32c.hpp"
#include "core/formats.hpp"
#include "file/file_storage_impl.hpp"
#include "file/record_reader.hpp"
#include "prevayler/prevayler.hpp"
#include "support/expect_error.hpp"
#include "support/file_bytes.hpp"
#include "support/numbers.hpp"
#include "support/temp_dir.hpp"

namespace prevayler::testing {
namespace {

namespace fs = std::filesystem;

using P = Prevayler<Numbers, std::int64_t>;

// A filesystem that fails chosen calls with a chosen errno.
class BreakableIo : public detail::FileSystemWrapper {
 public:
  BreakableIo() : FileSystemWrapper(detail::posix_file_system()) {}
  int skip_writes = 0;          // let this many pwrites through before failing
  int fail_writes = 0;          // then the next N pwrites fail
  int fail_syncs = 0;           // next N fdatasyncs fail
  int fail_creates = 0;         // next N exclusive creations fail
  int fail_preallocations = 0;  // next N preallocations fail
  int error = ENOSPC;
  bool partial_write_first = true;  // write half before failing, like a full disk

  int pwrite(int fd, const char* data, std::size_t size, std::uint64_t offset,
             std::size_t& done) override {
    // The followers' synced watermark is a hint whose failure is ignored:
    // the counts target the journal and the snapshots.
    if (fd == watermark_fd) return target_->pwrite(fd, data, size, offset, done);
    if (fail_writes > 0 && skip_writes-- <= 0) {
      --fail_writes;
      if (partial_write_first && size > 1) (void)target_->pwrite(fd, data, size / 2, offset, done);
      done = 0;
      return error;
    }
    return target_->pwrite(fd, data, size, offset, done);
  }
  int fdatasync(int fd) override {
    if (fail_syncs > 0) {
      --fail_syncs;
      return EIO;
    }
    return target_->fdatasync(fd);
  }
  int preallocate(int fd, std::uint64_t offset, std::uint64_t size) override {
    if (fail_preallocations > 0) {
      --fail_preallocations;
      return ENOSPC;
    }
    return target_->preallocate(fd, offset, size);
  }
  int open(const std::string& path, detail::OpenMode mode, int& fd) override {
    if (mode == detail::OpenMode::create_exclusive && fail_creates > 0) {
      --fail_creates;
      return EIO;
    }
    const int error = target_->open(path, mode, fd);
    if (error == 0 && path.ends_with("/SYNCED")) watermark_fd = fd;
    return error;
  }
  int watermark_fd = -1;
};

class FileStorageTest : public ::testing::Test {
 protected:
  TempDir tmp;
  fs::path dir = tmp.path() / "data";
  std::vector<std::string> warnings;

  FileStorageOptions storage_options() {
    FileStorageOptions o;
    o.directory = dir;
    o.common.warn = [this](const std::string& w) { warnings.push_back(w); };
    return o;
  }
  std::unique_ptr<P> open(std::shared_ptr<detail::FileSystem> io = detail::posix_file_system()) {
    P::Options o;
    o.business = append_value;
    o.storage = detail::make_file_storage(storage_options(), std::move(io));
    return std::make_unique<P>(std::move(o));
  }
  // Opening with `so` must fail with a StorageError whose message contains
  // each of `parts`.
  void expect_open_error(FileStorageOptions so, const std::vector<std::string>& parts) {
    P::Options o;
    o.business = append_value;
    o.storage = make_file_storage(std::move(so));
    expect_error<StorageError>([&] { P p(std::move(o)); }, "opened", parts);
  }
  fs::path segment(int id) {
    char name[64];
    std::snprintf(name, sizeof name, "journal-%020d.log", id);
    return dir / name;
  }
  fs::path snapshot_file(int id) {
    char name[64];
    std::snprintf(name, sizeof name, "snapshot-%020d.snap", id);
    return dir / name;
  }
  static std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static void write_all(const fs::path& p, const std::string& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  static void flip_byte(const fs::path& p, std::size_t offset) {
    std::string bytes = read_all(p);
    bytes.at(offset) ^= 0x5a;
    write_all(p, bytes);
  }
  std::vector<std::uint64_t> record_offsets(int id) {
    return testing::record_offsets(read_all(segment(id)));
  }
  // Writes events one per group commit and returns the file offsets where
  // each record starts.
  std::vector<std::uint64_t> write_events(int count) {
    {
      auto p = open();
      for (int i = 0; i < count; ++i) p->handle(i);
    }
    return record_offsets(0);
  }
  // Writes events one per group commit and copies the segment while the
  // instance runs: what a crash leaves, its preallocated zeros included.
  // Returns the offset past the last record.
  std::uint64_t crash_image(int count) {
    const fs::path image = tmp.path() / "image.log";
    {
      auto p = open();
      for (int i = 0; i < count; ++i) p->handle(i);
      fs::copy_file(segment(0), image);
    }
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::copy_file(image, segment(0));
    const std::uint64_t after_last = written_end(read_all(segment(0)));
    // The scenario: zeros follow the records.
    EXPECT_GT(fs::file_size(segment(0)), after_last);
    return after_last;
  }
};

TEST_F(FileStorageTest, LayoutHasLockSegmentAndSnapshotFiles) {
  {
    auto p = open();
    p->handle(1);
    p->snapshot();
    p->handle(2);
  }
  EXPECT_TRUE(fs::exists(dir / "LOCK"));
  EXPECT_TRUE(fs::exists(segment(0)));
  EXPECT_TRUE(fs::exists(segment(1)));
  EXPECT_TRUE(fs::exists(snapshot_file(1)));
  EXPECT_EQ(read_all(segment(0)).substr(0, 8), "PVLJRNL1");
  EXPECT_EQ(read_all(snapshot_file(1)).substr(0, 8), "PVLSNAP1");
}

TEST_F(FileStorageTest, TornTailIsCutWithAWarning) {
  write_events(5);
  const auto full = fs::file_size(segment(0));
  // A crash in the middle of the last write: its record is incomplete.
  fs::resize_file(segment(0), full - 3);
  {
    auto p = open();
    EXPECT_EQ(p->state()->values, (std::vector<std::int64_t>{0, 1, 2, 3}));
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("torn record"), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[0].find("journal-00000000000000000000.log"), std::string::npos);
    p->handle(9);  // appends after the cut
  }
  auto p = open();
  EXPECT_EQ(p->state()->values, (std::vector<std::int64_t>{0, 1, 2, 3, 9}));
}

TEST_F(FileStorageTest, GarbageAfterTheLastRecordIsCutAsTorn) {
  write_events(3);
  // Not zeros: those are preallocated space no write reached (below).
  std::ofstream(segment(0), std::ios::binary | std::ios::app) << std::string(100, '\x5a');
  auto p = open();
  EXPECT_EQ(p->state()->values.size(), 3u);
  EXPECT_EQ(warnings.size(), 1u);
}

TEST_F(FileStorageTest, ZerosAfterTheLastRecordAreTheEndNotATornTail) {
  write_events(3);
  std::ofstream(segment(0), std::ios::binary | std::ios::app) << std::string(100, '\0');
  auto p = open();
  EXPECT_EQ(p->state()->values.size(), 3u);
  EXPECT_TRUE(warnings.empty());
}

TEST_F(FileStorageTest, UnwrittenPreallocatedTailOfACrashEndsTheJournalCleanly) {
  crash_image(5);
  {
    auto p = open();
    EXPECT_EQ(p->state()->values, (std::vector<std::int64_t>{0, 1, 2, 3, 4}));
    EXPECT_TRUE(warnings.empty()) << warnings[0];
    p->handle(9);  // in segment 1, after the start record that ends segment 0
    p->handle(10);
  }
  auto p = open();
  EXPECT_EQ(p->state()->values, (std::vector<std::int64_t>{0, 1, 2, 3, 4, 9, 10}));
  EXPECT_TRUE(warnings.empty()) << warnings[0];
}

TEST_F(FileStorageTest, GarbageThenZerosInAPreallocatedTailIsATornTail) {
  const std::uint64_t end = crash_image(5);
  std::string bytes = read_all(segment(0));
  // A torn write into the preallocated zeros: part of a record's bytes.
  for (std::size_t i = 0; i < 20; ++i) bytes[end + i] = static_cast<char>(0x30 + i);
  write_all(segment(0), bytes);
  auto p = open();
  EXPECT_EQ(p->state()->values, (std::vector<std::int64_t>{0, 1, 2, 3, 4}));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("torn record at offset " + std::to_string(end)), std::string::npos)
      << warnings[0];
}

TEST_F(FileStorageTest, ZerosThenGarbageInAPreallocatedTailIsATornTail) {
  const std::uint64_t end = crash_image(5);
  std::string bytes = read_all(segment(0));
  // A torn write whose first sector never landed but a later one did.
  bytes[end + 600] = 0x11;
  write_all(segment(0), bytes);
  auto p = open();
  EXPECT_EQ(p->state()->values.size(), 5u);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("torn record"), std::string::npos) << warnings[0];
}

TEST_F(FileStorageTest, ZeroedRecordBeforeTheLastOneInAPreallocatedSegmentIsCorruption) {
  crash_image(5);
  const auto offsets = record_offsets(0);
  std::string bytes = read_all(segment(0));
  // Record 2 reads as zeros (a lost sector), records 3 to 5 follow it.
  std::fill(bytes.begin() + static_cast<std::ptrdiff_t>(offsets[1]),
            bytes.begin() + static_cast<std::ptrdiff_t>(offsets[2]), '\0');
  write_all(segment(0), bytes);
  try {
    open();
    FAIL() << "damage before the last record was accepted";
  } catch (const CorruptionError& e) {
    EXPECT_NE(std::string(e.what()).find("offset " + std::to_string(offsets[1])), std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(warnings.empty());
}

TEST_F(FileStorageTest, SegmentIsPreallocatedAndCutWhenSealedOrClosed) {
  {
    auto p = open();
    p->handle(1);
    const auto written = fs::file_size(segment(0));
    p->handle(2);
    // Preallocated: the second append did not grow the file.
    EXPECT_EQ(fs::file_size(segment(0)), written);
    p->snapshot();  // seals segment 0: segment 1 continues the journal
    ASSERT_EQ(record_offsets(0).size(), 2u);
    EXPECT_EQ(fs::file_size(segment(0)), written_end(read_all(segment(0))));
    p->handle(3);
    EXPECT_GT(fs::file_size(segment(1)), written_end(read_all(segment(1))));
  }
  // Closed: cut after its records (the start record and one batch).
  ASSERT_EQ(record_offsets(1).size(), 2u);
  EXPECT_EQ(fs::file_size(segment(1)), written_end(read_all(segment(1))));
  auto p = open();
  EXPECT_EQ(p->state()->values, (std::vector<std::int64_t>{1, 2, 3}));
}

TEST_F(FileStorageTest, WithoutPreallocationEachAppendGrowsTheFile) {
  FileStorageOptions so = storage_options();
  so.segment_preallocation_bytes = 0;
  P::Options o;
  o.business = append_value;
  o.storage = make_file_storage(so);
  P p(std::move(o));
  p.handle(1);
  ASSERT_EQ(record_offsets(0).size(), 1u);
  EXPECT_EQ(fs::file_size(segment(0)), written_end(read_all(segment(0))));
}

TEST_F(FileStorageTest, FailedPreallocationWarnsAndAppendsGrowTheFile) {
  auto io = std::make_shared<BreakableIo>();
  {
    auto p = open(io);
    io->fail_preallocations = 1;
    p->handle(1);
    p->handle(2);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("cannot preallocate"), std::string::npos) << warnings[0];
  }
  auto p = open();
  EXPECT_EQ(p->state()->values, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(warnings.size(), 1u);
}

TEST_F(FileStorageTest, ReaderOfAFileThatShrankStartsOver) {
  // A reader that measured a segment with its preallocated zeros, whose
  // writer then cut them off: a FileShrank (recovery and followers start
  // over, tools say to run again), never a read error or a short view.
  fs::create_directories(dir);
  const fs::path path = dir / "shrinking.log";
  write_all(path, std::string(2 * detail::read_buffer_bytes, '\0'));
  auto& io = *detail::posix_file_system();
  std::uint64_t size = 0;
  detail::File file = detail::open_for_read(io, path.string(), size);
  detail::WindowReader reader(io, file.get(), size, path.string());
  (void)reader.view(0, detail::record_header_bytes);
  fs::resize_file(path, 100);
  EXPECT_THROW((void)reader.view(detail::read_buffer_bytes + 10, detail::record_header_bytes),
               detail::FileShrank);
}

TEST_F(FileStorageTest, CorruptionInTheMiddleIsReportedWithFileAndOffset) {
  const auto offsets = write_events(5);
  flip_byte(segment(0), offsets[1] + 12);  // inside record 2's payload
  try {
    open();
    FAIL() << "corruption was not reported";
  } catch (const CorruptionError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("journal-00000000000000000000.log"), std::string::npos) << what;
    EXPECT_NE(what.find("offset " + std::to_string(offsets[1])), std::string::npos) << what;
    EXPECT_NE(what.find("fails its checksum"), std::string::npos) << what;
  }
  EXPECT_TRUE(warnings.empty());
}

TEST_F(FileStorageTest, CorruptLengthInTheMiddleIsNotMistakenForATornTail) {
  const auto offsets = write_events(5);
  std::string bytes = read_all(segment(0));
  // A length field that now points past the end of the file.
  bytes[offsets[2] + 7] = static_cast<char>(0x7f);
  write_all(segment(0), bytes);
  EXPECT_THROW(open(), CorruptionError);
}

TEST_F(FileStorageTest, DamageInAnOlderSegmentIsCorruption) {
  {
    auto p = open();
    p->handle(1);
    p->handle(2);
  }
  {
    // Without a snapshot the next segment cannot start... take one, then
    // remove it so recovery must read segment 0 again.
    auto p = open();
    p->snapshot();
    p->handle(3);
  }
  fs::remove(snapshot_file(1));
  fs::resize_file(segment(0), fs::file_size(segment(0)) - 2);
  try {
    open();
    FAIL() << "damage in a sealed segment was accepted";
  } catch (const CorruptionError& e) {
    // Segment 1's start record says where segment 0 ends: it is short.
    EXPECT_NE(std::string(e.what()).find("journal-00000000000000000000.log"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("restore it from a backup"), std::string::npos)
        << e.what();
  }
}

TEST_F(FileStorageTest, CorruptSnapshotIsReported) {
  {
    auto p = open();
    for (int i = 0; i < 100; ++i) p->handle(i);
    p->snapshot();
  }
  flip_byte(snapshot_file(1), detail::snapshot_header_bytes + 10);
  try {
    open();
    FAIL();
  } catch (const CorruptionError& e) {
    EXPECT_NE(std::string(e.what()).find("snapshot-00000000000000000001.snap"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("checksum"), std::string::npos) << e.what();
  }
}

TEST_F(FileStorageTest, TruncatedSnapshotIsReported) {
  {
    auto p = open();
    p->handle(1);
    p->snapshot();
  }
  fs::resize_file(snapshot_file(1), fs::file_size(snapshot_file(1)) - 5);
  EXPECT_THROW(open(), CorruptionError);
}

TEST_F(FileStorageTest, UnknownSegmentFormatVersionIsRefused) {
  write_events(1);
  std::string bytes = read_all(segment(0));
  bytes[8] = 9;  // version 9
  const std::uint32_t crc =
      detail::crc32c_mask(detail::crc32c(std::string_view(bytes).substr(0, 24)));
  for (int i = 0; i < 4; ++i) bytes[24 + i] = static_cast<char>(crc >> (8 * i));
  write_all(segment(0), bytes);
  try {
    open();
    FAIL();
  } catch (const FormatVersionError& e) {
    EXPECT_NE(std::string(e.what()).find("version 9"), std::string::npos) << e.what();
  }
}

TEST_F(FileStorageTest, UnknownRecordFormatVersionIsRefused) {
  const auto offsets = write_events(2);
  std::string bytes = read_all(segment(0));
  const std::size_t at = offsets[1];
  bytes[at + 8] = 7;  // the record's format version byte
  const std::uint32_t length = detail::get_u32(bytes.data() + at + 4);
  const std::uint32_t crc =
      detail::crc32c_mask(detail::crc32c(std::string_view(bytes).substr(at + 4, 4 + length)));
  for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<char>(crc >> (8 * i));
  write_all(segment(0), bytes);
  EXPECT_THROW(open(), FormatVersionError);
}

TEST_F(FileStorageTest, UnknownSnapshotFormatVersionIsRefused) {
  {
    auto p = open();
    p->handle(1);
    p->snapshot();
  }
  std::string bytes = read_all(snapshot_file(1));
  bytes[8] = 3;  // this build reads versions 1 and 2
  const std::uint32_t crc =
      detail::crc32c_mask(detail::crc32c(std::string_view(bytes).substr(0, 24)));
  for (int i = 0; i < 4; ++i) bytes[24 + i] = static_cast<char>(crc >> (8 * i));
  write_all(snapshot_file(1), bytes);
  EXPECT_THROW(open(), FormatVersionError);
}

TEST_F(FileStorageTest, NotAPrevaylerFileIsCorruption) {
  fs::create_directories(dir);
  write_all(segment(0), "this is not a journal, just some text in the way");
  EXPECT_THROW(open(), CorruptionError);
}

TEST_F(FileStorageTest, MissingSegmentIsReported) {
  {
    auto p = open();
    p->handle(1);
    p->snapshot();
    p->handle(2);
    p->snapshot();
    p->handle(3);
  }
  fs::remove(snapshot_file(2));
  fs::remove(segment(2));
  fs::copy_file(segment(1), segment(3));  // a gap: 1, 3
  EXPECT_THROW(open(), CorruptionError);
}

TEST_F(FileStorageTest, LeftoverTemporaryFilesAreIgnoredAndRemoved) {
  write_events(2);
  write_all(dir / "snapshot-00000000000000000001.snap.tmp", "half a snapshot");
  auto p = open();
  EXPECT_EQ(p->state()->values.size(), 2u);
  EXPECT_FALSE(fs::exists(dir / "snapshot-00000000000000000001.snap.tmp"));
}

TEST_F(FileStorageTest, SecondProcessOnTheDirectoryIsLockedOut) {
  auto first = open();
  try {
    open();
    FAIL() << "two instances opened one directory";
  } catch (const LockedError& e) {
    EXPECT_NE(std::string(e.what()).find(dir.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("pid " + std::to_string(::getpid())), std::string::npos)
        << e.what();
  }
  first->close();
  EXPECT_NO_THROW(open());  // released by close
}

TEST_F(FileStorageTest, MissingDirectoryWithoutCreateIsAClearError) {
  auto so = storage_options();
  so.create_directory = false;
  expect_open_error(so, {"does not exist", dir.string()});
}

TEST_F(FileStorageTest, DirectoryThatCannotBeCreatedIsAClearError) {
  write_all(tmp.path() / "plain-file", "x");
  auto so = storage_options();
  so.directory = tmp.path() / "plain-file" / "data";
  expect_open_error(so, {"cannot create directory"});
}

TEST_F(FileStorageTest, PathThatIsAFileIsAClearError) {
  fs::create_directories(tmp.path());
  write_all(dir, "x");
  EXPECT_THROW(open(), StorageError);
}

TEST_F(FileStorageTest, UnwritableDirectoryIsAClearError) {
  if (::geteuid() == 0) {
    // root writes anywhere; a read-only place all users share is /proc.
    auto so = storage_options();
    so.directory = "/proc/self";
    so.create_directory = false;
    expect_open_error(so, {"cannot write in directory /proc/self"});
    return;
  }
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_read | fs::perms::owner_exec);
  EXPECT_THROW(open(), StorageError);
  fs::permissions(dir, fs::perms::owner_all);
}

TEST_F(FileStorageTest, FullDiskFailsTheWriteRollsForwardAndGoesOn) {
  auto io = std::make_shared<BreakableIo>();
  {
    auto p = open(io);
    p->handle(1);
    io->fail_writes = 1;
    try {
      p->handle(2);
      FAIL();
    } catch (const StorageFailedError& e) {
      FAIL() << e.what();
    } catch (const StorageError& e) {
      EXPECT_NE(std::string(e.what()).find("disk is full"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("journal-00000000000000000000.log"), std::string::npos);
    }
    // The half record stays, but segment 1's start record ends segment 0
    // before it.
    EXPECT_TRUE(fs::exists(segment(1)));
    EXPECT_EQ(p->state()->values, (std::vector<std::int64_t>{1}));
    p->handle(3);
  }
  auto p = open();
  EXPECT_EQ(p->state()->values, (std::vector<std::int64_t>{1, 3}));
  EXPECT_TRUE(warnings.empty());
}

TEST_F(FileStorageTest, FailedSyncIsNotAcknowledged) {
  auto io = std::make_shared<BreakableIo>();
  {
    auto p = open(io);
    p->handle(1);
    io->fail_syncs = 1;
    EXPECT_THROW(p->handle(2), StorageError);
    EXPECT_EQ(p->state()->values, (std::vector<std::int64_t>{1}));
  }
  auto p = open();
  EXPECT_EQ(p->state()->values, (std::vector<std::int64_t>{1}));
}

TEST_F(FileStorageTest, FailureToRollForwardAFailedWriteStopsTheInstance) {
  auto io = std::make_shared<BreakableIo>();
  {
    auto p = open(io);
    p->handle(1);
    io->fail_writes = 1;
    io->fail_creates = 1;
    EXPECT_THROW(p->handle(2), StorageFailedError);
    EXPECT_THROW(p->handle(3), StorageFailedError);
  }
  // The half-written record is a torn tail for the next start.
  auto p = open();
  EXPECT_EQ(p->state()->values, (std::vector<std::int64_t>{1}));
  EXPECT_EQ(warnings.size(), 1u);
}

TEST_F(FileStorageTest, FailedSnapshotWriteLeavesNoFileAndKeepsTheOldSnapshot) {
  auto io = std::make_shared<BreakableIo>();
  {
    auto p = open(io);
    p->handle(1);
    p->snapshot();
    p->handle(2);
    io->skip_writes = 2;  // segment 2's header and start record
    io->fail_writes = 1;  // then the snapshot file
    EXPECT_THROW(p->snapshot(), StorageError);
    p->handle(3);
  }
  EXPECT_FALSE(fs::exists(snapshot_file(2)));
  EXPECT_FALSE(fs::exists(dir / "snapshot-00000000000000000002.snap.tmp"));
  auto p = open();
  EXPECT_EQ(p->state()->values, (std::vector<std::int64_t>{1, 2, 3}));
}

TEST_F(FileStorageTest, GroupCommitIsOneRecordPerWrite) {
  // Three events in one batch become one record: the file holds one frame.
  auto storage = make_file_storage(storage_options());
  struct Nothing : RecoveryHandler {
    void snapshot(std::uint64_t, std::istream&) override {}
    void restart() override {}
    void entry(const JournalPosition&, std::string_view) override {}
  } nothing;
  storage->recover(nothing);
  EntryBatch batch;
  batch.add("one");
  batch.add("two");
  batch.add("three");
  storage->append(batch);
  storage->close();
  struct Collect : RecoveryHandler {
    std::vector<std::pair<JournalPosition, std::string>> seen;
    void snapshot(std::uint64_t, std::istream&) override {}
    void restart() override { seen.clear(); }
    void entry(const JournalPosition& p, std::string_view b) override {
      seen.emplace_back(p, std::string(b));
    }
  } collect;
  auto again = make_file_storage(storage_options());
  again->recover(collect);
  ASSERT_EQ(collect.seen.size(), 3u);
  for (std::uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(collect.seen[i].first.segment, 0u);
    EXPECT_EQ(collect.seen[i].first.record, 1u);
    EXPECT_EQ(collect.seen[i].first.entry, i);
  }
  EXPECT_EQ(collect.seen[2].second, "three");
}

}  // namespace
}  // namespace prevayler::testing
