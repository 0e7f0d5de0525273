// The S3 snapshot object against moto_server: zstd compression, parallel
// multipart uploads and parallel ranged downloads, old uncompressed
// (version 1) objects, damage, and the conditional-write fencing.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <cstring>
#include <random>
#include <sstream>
#include <thread>

#include "aws/aws_test_storage.hpp"
#include "core/bytes.hpp"
#include "core/crc32c.hpp"
#include "core/formats.hpp"
#include "prevayler/prevayler.hpp"
#include "support/string_log.hpp"
#include "support/v1_snapshot.hpp"

namespace prevayler::testing {
namespace {

using P = Prevayler<StringLog, std::string>;

std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string s(size, '\0');
  for (std::size_t i = 0; i + 8 <= size; i += 8) {
    const std::uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  return s;
}

// Records the snapshot bytes recovery streams, ignores entries.
struct CapturingHandler : RecoveryHandler {
  std::optional<std::uint64_t> snapshot_id;
  std::string bytes;
  void snapshot(std::uint64_t id, std::istream& state) override {
    snapshot_id = id;
    bytes.assign(std::istreambuf_iterator<char>(state), {});
  }
  void restart() override {
    snapshot_id.reset();
    bytes.clear();
  }
  void entry(const JournalPosition&, std::string_view) override {}
};

// Counts the S3 requests of a snapshot and the most of each kind in flight
// at once; each one is held a little so that overlap shows.
class ConcurrencyProbe : public aws::HttpTransport {
 public:
  explicit ConcurrencyProbe(std::string bucket)
      : inner_(aws::testing::test_transport()), bucket_(std::move(bucket)) {}

  aws::HttpResponse send(const aws::HttpRequest& request) override {
    std::atomic<int>* now = nullptr;
    std::atomic<int>* max = nullptr;
    if (request.url.find("/" + bucket_) != std::string::npos) {
      const bool ranged = std::any_of(request.headers.begin(), request.headers.end(),
                                      [](const auto& h) { return aws::iequals(h.first, "Range"); });
      if (request.method == "PUT" && request.url.find("partNumber=") != std::string::npos) {
        ++parts;
        now = &parts_now_;
        max = &parts_max;
      } else if (request.method == "GET" && ranged) {
        ++ranges;
        now = &ranges_now_;
        max = &ranges_max;
      }
    }
    if (!now) return inner_->send(request);
    const int in_flight = ++*now;
    int seen = max->load();
    while (in_flight > seen && !max->compare_exchange_weak(seen, in_flight)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    try {
      auto response = inner_->send(request);
      --*now;
      return response;
    } catch (...) {
      --*now;
      throw;
    }
  }

  std::atomic<int> parts{0};
  std::atomic<int> parts_max{0};
  std::atomic<int> ranges{0};
  std::atomic<int> ranges_max{0};

 private:
  std::shared_ptr<aws::HttpTransport> inner_;
  std::string bucket_;
  std::atomic<int> parts_now_{0};
  std::atomic<int> ranges_now_{0};
};

std::uint32_t object_version(const std::string& object) {
  return detail::get_u32(object.data() + 8);
}
std::uint32_t object_flags(const std::string& object) {
  return detail::get_u32(object.data() + 12);
}

TEST(S3Snapshot, CompressedByDefaultAndRoundTrips) {
  MotoJournal journal;
  StringLog live;
  {
    auto p = open_string_log(journal.open());
    for (int i = 0; i < 200; ++i)
      p->handle("line " + std::to_string(i % 7) + std::string(500, 'x'));
    p->snapshot();
    live = *p->state();
  }
  const std::string object = MotoJournal::s3().get_object(journal.bucket, "snapshot").body;
  EXPECT_EQ(object_version(object), 2u);
  EXPECT_EQ(object_flags(object), detail::snapshot_flag_zstd);
  EXPECT_LT(object.size(), 200u * 500 / 10);
  auto p = open_string_log(journal.open());
  EXPECT_EQ(p->state()->items, live.items);
  EXPECT_EQ(p->stats().events_replayed, 0u);
}

void check_parallel_round_trip(bool compress) {
  MotoJournal journal;
  auto options = journal.options();
  options.snapshot_part_bytes = 5u << 20;  // S3's minimum part size
  options.snapshot_parallel_requests = 3;
  options.common.compress_snapshots = compress;
  // Random bytes: incompressible, so the object has ~9 parts either way.
  const std::string state = random_bytes(42u << 20, 11);
  {
    auto probe = std::make_shared<ConcurrencyProbe>(journal.bucket);
    auto storage = detail::make_aws_storage(options, probe);
    CapturingHandler nothing;
    storage->recover(nothing);
    EXPECT_FALSE(nothing.snapshot_id);
    auto writer = storage->begin_snapshot();
    writer->stream().write(state.data(), static_cast<std::streamsize>(state.size()));
    writer->commit();
    EXPECT_GE(probe->parts.load(), 8);
    EXPECT_GE(probe->parts_max.load(), 2) << "parts were not uploaded in parallel";
    EXPECT_LE(probe->parts_max.load(), 3) << "more parts in flight than snapshot_parallel_requests";
  }
  const auto info = MotoJournal::s3().head_object(journal.bucket, "snapshot");
  EXPECT_GT(info.size, state.size());
  const std::string head =
      MotoJournal::s3().get_object(journal.bucket, "snapshot", aws::ByteRange{0, 27}).body;
  EXPECT_EQ(object_flags(head), compress ? detail::snapshot_flag_zstd : 0u);

  auto probe = std::make_shared<ConcurrencyProbe>(journal.bucket);
  auto storage = detail::make_aws_storage(options, probe);
  CapturingHandler recovered;
  storage->recover(recovered);
  ASSERT_TRUE(recovered.snapshot_id);
  EXPECT_TRUE(recovered.bytes == state) << "the recovered snapshot differs";
  EXPECT_GE(probe->ranges.load(), 9);
  EXPECT_GE(probe->ranges_max.load(), 2) << "ranges were not downloaded in parallel";
  EXPECT_LE(probe->ranges_max.load(), 3) << "more ranges in flight than snapshot_parallel_requests";
}

TEST(S3Snapshot, ParallelMultipartUploadAndRangedDownload) { check_parallel_round_trip(false); }

TEST(S3Snapshot, ParallelMultipartUploadAndRangedDownloadCompressed) {
  check_parallel_round_trip(true);
}

TEST(S3Snapshot, OldFormatSnapshotObjectStillLoads) {
  MotoJournal journal;
  StringLog old;
  old.items = {"written", "by", "an", "old", "build"};
  MotoJournal::s3().put_object(journal.bucket, "snapshot", hand_made_v1_snapshot(old));
  {
    auto p = open_string_log(journal.open());
    EXPECT_EQ(p->state()->items, old.items);
    p->handle("new");
  }
  auto p = open_string_log(journal.open());
  old.items.push_back("new");
  EXPECT_EQ(p->state()->items, old.items);
  const std::string now = MotoJournal::s3().get_object(journal.bucket, "snapshot").body;
  EXPECT_EQ(object_version(now), 2u);  // replaced by a compressed snapshot
}

TEST(S3Snapshot, DamagedCompressedObjectIsCorruptionNamingTheObject) {
  MotoJournal journal;
  {
    auto p = open_string_log(journal.open());
    for (int i = 0; i < 100; ++i) p->handle("line " + std::to_string(i) + std::string(300, 'y'));
    p->snapshot();
  }
  std::string object = MotoJournal::s3().get_object(journal.bucket, "snapshot").body;
  ASSERT_EQ(object_flags(object), detail::snapshot_flag_zstd);
  object.at(detail::snapshot_header_bytes + 30) ^= 0x5a;
  MotoJournal::s3().put_object(journal.bucket, "snapshot", object);
  try {
    open_string_log(journal.open());
    FAIL() << "a damaged snapshot was accepted";
  } catch (const CorruptionError& e) {
    EXPECT_NE(std::string(e.what()).find("s3://" + journal.bucket + "/snapshot"), std::string::npos)
        << e.what();
  }
}

// An instance whose snapshot id is older than the object's (another
// instance took over and wrote its snapshot meanwhile) must not replace it,
// whether its snapshot goes up in one PutObject or in parallel parts.
void check_older_snapshot_never_replaces_newer(std::size_t state_bytes) {
  MotoJournal journal;
  auto options = journal.options();
  options.snapshot_part_bytes = 5u << 20;
  options.snapshot_parallel_requests = 2;
  auto old_owner = detail::make_aws_storage(options, nullptr);
  CapturingHandler h1;
  old_owner->recover(h1);
  auto stale = old_owner->begin_snapshot();

  auto new_owner = detail::make_aws_storage(options, nullptr);
  CapturingHandler h2;
  new_owner->recover(h2);
  auto fresh = new_owner->begin_snapshot();
  ASSERT_GT(fresh->snapshot_id(), stale->snapshot_id());
  fresh->stream() << "newer";
  fresh->commit();

  const std::string state = random_bytes(state_bytes, 3);
  stale->stream().write(state.data(), static_cast<std::streamsize>(state.size()));
  try {
    stale->commit();
    FAIL() << "an older snapshot replaced a newer one";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("older snapshot must never replace"), std::string::npos)
        << e.what();
  }
  stale.reset();
  auto reader = detail::make_aws_storage(options, nullptr);
  CapturingHandler h3;
  reader->recover(h3);
  EXPECT_EQ(h3.snapshot_id, fresh->snapshot_id());
  EXPECT_EQ(h3.bytes, "newer");
}

TEST(S3Snapshot, OlderSnapshotNeverReplacesNewerPutObject) {
  check_older_snapshot_never_replaces_newer(1000);
}

TEST(S3Snapshot, OlderSnapshotNeverReplacesNewerMultipart) {
  check_older_snapshot_never_replaces_newer(16u << 20);
}

TEST(S3Snapshot, BadSnapshotOptionsAreConfigErrors) {
  MotoJournal journal;
  auto options = journal.options();
  options.snapshot_parallel_requests = 0;
  CapturingHandler h;
  EXPECT_THROW(detail::make_aws_storage(options, nullptr)->recover(h), ConfigError);
  options = journal.options();
  options.common.snapshot_compression_level = 42;
  EXPECT_THROW(detail::make_aws_storage(options, nullptr)->recover(h), ConfigError);
}

}  // namespace
}  // namespace prevayler::testing
