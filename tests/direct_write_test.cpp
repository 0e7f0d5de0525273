// Large journal records written past the page cache (O_DIRECT), on the real
// filesystem: what they leave in the segment, how recovery reads them next
// to page-cache records, and what happens where direct I/O is refused or a
// direct write fails. The model test mixes them with every other operation
// on the simulated disk (tests/model).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "file/direct_write.hpp"
#include "file/file_storage_impl.hpp"
#include "file/file_system.hpp"
#include "prevayler/prevayler.hpp"
#include "support/expect_error.hpp"
#include "support/file_bytes.hpp"
#include "support/numbers.hpp"
#include "support/temp_dir.hpp"

namespace prevayler::testing {
namespace {

namespace fs = std::filesystem;

struct Texts {
  std::vector<std::string> values;
  template <class A>
  void serialize(A& a) {
    a(values);
  }
};

Texts append_text(const Texts& t, const std::string& v, Timestamp) {
  Texts next = t;
  next.values.push_back(v);
  return next;
}

using TextPrevayler = Prevayler<Texts, std::string>;
using NumberPrevayler = Prevayler<Numbers, std::int64_t>;

// Counts direct writes and passes them on to the real O_DIRECT path (the
// wrapper's default would turn them into page-cache writes); fails chosen
// ones.
class DirectWriteCounter : public detail::FileSystemWrapper {
 public:
  DirectWriteCounter() : FileSystemWrapper(detail::posix_file_system()) {}
  int direct_writes = 0;
  bool refuse_all = false;  // EINVAL, as a filesystem without direct I/O
  int fail_next_with = 0;   // this errno, once, after landing half the blocks
  int pwrite_direct(int fd, const char* data, std::size_t size, std::uint64_t offset,
                    std::size_t& done) override {
    ++direct_writes;
    done = 0;
    if (refuse_all) return EINVAL;
    if (fail_next_with != 0) {
      const int error = fail_next_with;
      fail_next_with = 0;
      const std::size_t half =
          size / 2 / detail::direct_write_alignment_bytes * detail::direct_write_alignment_bytes;
      if (half > 0) (void)target_->pwrite_direct(fd, data, half, offset, done);
      done = 0;
      return error;
    }
    return target_->pwrite_direct(fd, data, size, offset, done);
  }
};

// Whether the temp directory's filesystem takes O_DIRECT (tmpfs before
// Linux 6.6 does not): the tests of the real path need it.
bool direct_io_available(const fs::path& dir) {
  const fs::path probe = dir / "direct-probe";
  const int fd = ::open(probe.c_str(), O_CREAT | O_WRONLY | O_DIRECT, 0644);
  if (fd < 0) return false;
  ::close(fd);
  fs::remove(probe);
  return true;
}

class DirectWriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!direct_io_available(tmp.path())) {
      GTEST_SKIP() << tmp.path() << " does not take O_DIRECT: set TMPDIR to a disk filesystem";
    }
  }
  TempDir tmp;
  fs::path dir = tmp.path() / "data";
  std::vector<std::string> warnings;
  std::shared_ptr<DirectWriteCounter> io = std::make_shared<DirectWriteCounter>();

  FileStorageOptions storage_options(std::uint64_t direct_min) {
    FileStorageOptions o;
    o.directory = dir;
    o.direct_write_bytes_min = direct_min;
    o.common.warn = [this](const std::string& w) { warnings.push_back(w); };
    return o;
  }
  std::unique_ptr<TextPrevayler> open_texts(std::uint64_t direct_min) {
    TextPrevayler::Options o;
    o.business = append_text;
    o.storage = detail::make_file_storage(storage_options(direct_min), io);
    return std::make_unique<TextPrevayler>(std::move(o));
  }
  fs::path segment(int id) {
    char name[64];
    std::snprintf(name, sizeof name, "journal-%020d.log", id);
    return dir / name;
  }
};

// Sizes around the threshold and the block, so records start and end at
// every kind of offset within a block; random bytes, so that compression
// leaves a large record large.
std::string random_bytes(std::size_t size, std::mt19937_64& random) {
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(random());
  return bytes;
}

std::vector<std::string> mixed_events() {
  const std::size_t sizes[] = {100, 5000, 3, 4096, 70'000, 17, (std::size_t{1} << 20) + 7, 4095};
  std::mt19937_64 random(42);
  std::vector<std::string> events;
  for (int round = 0; round < 3; ++round) {
    for (std::size_t size : sizes) events.push_back(random_bytes(size, random));
  }
  return events;
}

// Equal, without printing megabytes when not.
void expect_same(const std::vector<std::string>& actual, const std::vector<std::string>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    EXPECT_TRUE(actual[i] == expected[i]) << "event " << i << " of " << expected[i].size()
                                          << " bytes came back as " << actual[i].size();
  }
}

TEST_F(DirectWriteTest, LargeRecordsGoDirectAndRecoverNextToPageCacheRecords) {
  const std::vector<std::string> events = mixed_events();
  std::size_t large = 0;
  {
    auto p = open_texts(4096);
    for (const std::string& e : events) {
      p->handle(e);
      // Its record (a header and the entry's framing added) reaches the
      // threshold from 4095 bytes of event on.
      if (e.size() >= 4095) ++large;
    }
    // One record per event (each handle waits for its own): the large ones
    // went direct, the small ones through the page cache.
    EXPECT_EQ(io->direct_writes, static_cast<int>(large));
  }
  // Closed: cut after the last record, no padding zeros left.
  const std::string bytes = read_all(segment(0));
  EXPECT_EQ(bytes.size(), written_end(bytes));
  EXPECT_EQ(record_offsets(bytes).size(), events.size());
  auto p = open_texts(4096);
  expect_same(p->state()->values, events);
  EXPECT_TRUE(warnings.empty());
}

TEST_F(DirectWriteTest, EveryRecordDirectWhileItsBlockAlreadyHoldsAcknowledgedOnes) {
  // A threshold of one byte: each small record rewrites the block that
  // holds the records before it, which must come back unchanged.
  {
    NumberPrevayler::Options o;
    o.business = append_value;
    FileStorageOptions so = storage_options(1);
    so.segment_preallocation_bytes = 0;  // the only zeros are the padding
    o.storage = detail::make_file_storage(so, io);
    NumberPrevayler p(std::move(o));
    for (std::int64_t i = 0; i < 300; ++i) p.handle(i * 1'000'003);
    EXPECT_EQ(io->direct_writes, 300);
    // Open, the segment ends in the last record's padding: zeros to the
    // block, which read as the journal's end.
    EXPECT_EQ(fs::file_size(segment(0)) % detail::direct_write_alignment_bytes, 0u);
  }
  // Closed: the padding is cut off like preallocated zeros.
  const std::string bytes = read_all(segment(0));
  EXPECT_EQ(bytes.size(), written_end(bytes));
  EXPECT_EQ(record_offsets(bytes).size(), 300u);
  NumberPrevayler::Options o;
  o.business = append_value;
  o.storage = detail::make_file_storage(storage_options(0), io);
  NumberPrevayler p(std::move(o));
  ASSERT_EQ(p.state()->values.size(), 300u);
  for (std::int64_t i = 0; i < 300; ++i) EXPECT_EQ(p.state()->values[i], i * 1'000'003);
}

TEST_F(DirectWriteTest, FilesystemWithoutDirectIoWarnsOnceAndWritesThroughThePageCache) {
  io->refuse_all = true;
  const std::vector<std::string> events = mixed_events();
  {
    auto p = open_texts(4096);
    for (const std::string& e : events) p->handle(e);
  }
  EXPECT_EQ(io->direct_writes, 1) << "one refusal turns direct writes off for the instance";
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("O_DIRECT"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find(segment(0).string()), std::string::npos) << warnings[0];
  io->refuse_all = false;
  auto p = open_texts(4096);
  expect_same(p->state()->values, events);
}

TEST_F(DirectWriteTest, FailedDirectWriteDoesNotCountAndTheJournalGoesOn) {
  std::mt19937_64 random(7);
  const std::string before = random_bytes(10'000, random), failed = random_bytes(300'000, random),
                    after = random_bytes(20'000, random);
  {
    auto p = open_texts(4096);
    p->handle(before);
    io->fail_next_with = EIO;
    expect_error<StorageError>([&] { p->handle(failed); }, "handled",
                               {"cannot write journal", "offset", "did not count"});
    p->handle(after);  // into the next segment
    EXPECT_EQ(io->direct_writes, 3);
    expect_same(p->state()->values, {before, after});
  }
  auto p = open_texts(4096);
  expect_same(p->state()->values, {before, after});
}

TEST(PosixFileSystem, DirectWriteLeavesTheDescriptorBuffered) {
  TempDir tmp;
  if (!direct_io_available(tmp.path())) GTEST_SKIP() << "no O_DIRECT in " << tmp.path();
  auto posix = detail::posix_file_system();
  const fs::path path = tmp.path() / "segment";
  int fd = -1;
  ASSERT_EQ(posix->open(path.string(), detail::OpenMode::create_or_truncate, fd), 0);
  detail::File file(*posix, fd);
  detail::AlignedBuffer block;
  char* data = block.reserve(detail::direct_write_alignment_bytes);
  ASSERT_EQ(reinterpret_cast<std::uintptr_t>(data) % detail::direct_write_alignment_bytes, 0u);
  std::memset(data, 'd', detail::direct_write_alignment_bytes);
  std::size_t done = 0;
  ASSERT_EQ(posix->pwrite_direct(fd, data, detail::direct_write_alignment_bytes, 0, done), 0);
  EXPECT_EQ(done, detail::direct_write_alignment_bytes);
  // Unaligned, as the appends after it are: refused if O_DIRECT stayed on.
  EXPECT_EQ(detail::write_fully(*posix, fd, std::string_view("tail"), 4097), 0);
  // And a misaligned direct write is refused with nothing written.
  EXPECT_EQ(posix->pwrite_direct(fd, data + 1, 512, 3, done), EINVAL);
  EXPECT_EQ(done, 0u);
  const std::string bytes = read_all(path);
  ASSERT_EQ(bytes.size(), 4101u);
  EXPECT_EQ(bytes.substr(0, 4096), std::string(4096, 'd'));
  EXPECT_EQ(bytes.substr(4096), std::string("\0tail", 5));
}

TEST(WriteRecordDirect, RewritesTheBlockHeadAndPadsTheTail) {
  TempDir tmp;
  if (!direct_io_available(tmp.path())) GTEST_SKIP() << "no O_DIRECT in " << tmp.path();
  auto posix = detail::posix_file_system();
  const fs::path path = tmp.path() / "segment";
  const std::string head(5000, 'h');
  write_all(path, head);
  int fd = -1;
  ASSERT_EQ(posix->open(path.string(), detail::OpenMode::read_write, fd), 0);
  detail::File file(*posix, fd);
  detail::AlignedBuffer staging;
  const std::string a(3000, 'a'), b(1000, 'b');
  const detail::DirectWriteOutcome out =
      detail::write_record_direct(*posix, fd, head.size(), {a, b}, staging);
  ASSERT_EQ(out.error, 0);
  EXPECT_EQ(out.padded_end, 12288u);  // 9000 rounded up to the block
  const std::string bytes = read_all(path);
  ASSERT_EQ(bytes.size(), 12288u);
  EXPECT_EQ(bytes.substr(0, 5000), head);
  EXPECT_EQ(bytes.substr(5000, 4000), a + b);
  EXPECT_EQ(bytes.substr(9000), std::string(12288 - 9000, '\0'));
}

}  // namespace
}  // namespace prevayler::testing
