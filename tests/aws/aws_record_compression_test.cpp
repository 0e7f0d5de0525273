// zstd-compressed journal records (type 5) on the DynamoDB+S3 storage,
// against moto_server: a group commit is compressed before it is cut into
// fragments, so large compressible events take fewer items.
#include <gtest/gtest.h>

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <random>
#include <set>
#include <thread>

#include "aws/aws_test_storage.hpp"
#include "core/record_codec.hpp"
#include "prevayler/prevayler.hpp"
#include "support/compressible_text.hpp"
#include "support/string_log.hpp"

namespace prevayler::testing {
namespace {

using P = Prevayler<StringLog, std::string>;

unsigned type_of(const std::string& content) { return static_cast<unsigned char>(content[1]); }

TEST(AwsRecordCompression, LargeCompressibleEventsTakeOneItemEachAndRecover) {
  MotoJournal journal;
  std::vector<std::string> events;
  {
    auto p = open_string_log(journal.open());
    // 1 MiB each: three fragments each uncompressed, one item compressed.
    for (unsigned i = 0; i < 4; ++i) p->handle(events.emplace_back(compressible_text(1 << 20, i)));
    p->handle(events.emplace_back("small"));
  }
  const auto items = all_items(journal.table, 1);
  ASSERT_EQ(items.size(), 5u);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(type_of(items[i].content), 5u) << "item " << i;
    EXPECT_LE(items[i].content.size(), (1u << 20) / 2);
  }
  EXPECT_EQ(type_of(items[4].content), 1u);
  auto p = open_string_log(journal.open());
  EXPECT_EQ(p->state()->items, events);
  EXPECT_EQ(p->stats().events_replayed, events.size());
}

// The default compresses from one write unit (1 KB) of item: a 2 KB record
// of text takes one unit compressed instead of two; a 900-byte one stays
// as it is (it costs one unit either way).
TEST(AwsRecordCompression, DefaultCompressesRecordsFromOneWriteUnit) {
  MotoJournal journal;
  EXPECT_EQ(journal.options().common.compress_journal_records_over, 1024u);
  const std::string two_kb = compressible_text(2048, 1);
  const std::string under_one_kb = compressible_text(900, 2);
  {
    auto p = open_string_log(journal.open());
    p->handle(two_kb);
    p->handle(under_one_kb);
  }
  const auto items = all_items(journal.table, 1);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(type_of(items[0].content), 5u);
  EXPECT_LT(items[0].content.size(), 1024u);
  EXPECT_EQ(type_of(items[1].content), 1u);
  auto p = open_string_log(journal.open());
  EXPECT_EQ(p->state()->items, (std::vector<std::string>{two_kb, under_one_kb}));
}

TEST(AwsRecordCompression, CompressedRecordTooLargeForAnItemIsFragmented) {
  MotoJournal journal;
  // 8 MiB of text compresses to more than one 350 KiB item: fragments of a
  // compressed batch record.
  const std::string big = compressible_text(8 << 20, 7);
  {
    auto p = open_string_log(journal.open());
    p->handle("first");
    p->handle(big);
    p->handle("last");
  }
  const auto items = all_items(journal.table, 1);
  ASSERT_GE(items.size(), 4u);
  ASSERT_LT(items.size(), 2u + (8u << 20) / (350u * 1024));
  const detail::DecodedRecord first_fragment = detail::decode_record(items[1].content, "item 2");
  ASSERT_EQ(first_fragment.type, detail::RecordType::fragment);
  // The slice starts with the compressed batch record's head.
  EXPECT_EQ(static_cast<unsigned char>(first_fragment.fragment_bytes[0]), 2u);
  EXPECT_EQ(static_cast<unsigned char>(first_fragment.fragment_bytes[1]), 5u);
  auto p = open_string_log(journal.open());
  ASSERT_EQ(p->state()->items.size(), 3u);
  EXPECT_TRUE(p->state()->items[1] == big);
  EXPECT_EQ(p->state()->items[2], "last");
}

TEST(AwsRecordCompression, PipelinedProducersWithCompressionOnAndOffRecover) {
  MotoJournal journal;
  std::size_t expected = 0;
  for (std::size_t threshold : {std::size_t{4096}, std::size_t{0}}) {
    auto options = journal.options();
    options.common.compress_journal_records_over = threshold;
    auto p = open_string_log(detail::make_aws_storage(options, nullptr));
    std::vector<std::thread> producers;
    for (unsigned t = 0; t < 4; ++t) {
      producers.emplace_back([&p, t, threshold] {
        for (unsigned i = 0; i < 5; ++i) {
          p->handle(compressible_text(200 << 10, static_cast<unsigned>(threshold) + t * 100 + i));
        }
      });
    }
    for (auto& t : producers) t.join();
    expected += 20;
  }
  const auto live = [&] {
    auto p = open_string_log(journal.open());
    return p->state()->items;
  }();
  ASSERT_EQ(live.size(), expected);
  std::multiset<std::string> got(live.begin(), live.end());
  for (std::size_t threshold : {std::size_t{4096}, std::size_t{0}}) {
    for (unsigned t = 0; t < 4; ++t) {
      for (unsigned i = 0; i < 5; ++i) {
        EXPECT_EQ(
            got.count(compressible_text(200 << 10, static_cast<unsigned>(threshold) + t * 100 + i)),
            1u);
      }
    }
  }
}

}  // namespace
}  // namespace prevayler::testing
