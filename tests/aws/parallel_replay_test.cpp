// Replay with parallel range Queries (AwsStorageOptions::replay_parallel_queries)
// against moto_server: the same entries as the sequential replay, in the same
// order, across segments and fragments that straddle range boundaries; gaps
// end the tail exactly as before; a failing range Query is retried, or fails
// recovery with nothing applied after it.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "aws/aws_test_storage.hpp"
#include "aws/journal_retention.hpp"
#include "core/record_codec.hpp"
#include "prevayler/error.hpp"

namespace prevayler::testing {
namespace {

using detail::decode_record;
using detail::encode_batch_record;
using detail::encode_fragment_record;
using detail::encode_seal_record;
using detail::RecordType;

constexpr std::uint32_t kPageOrders = 50;  // replay_page_size: many range boundaries
constexpr std::uint64_t kWriterId = 0x5eed;

struct Entry {
  std::uint64_t segment = 0;
  std::uint64_t order = 0;
  std::uint32_t index = 0;
  std::string bytes;
  bool operator==(const Entry&) const = default;
};

struct Item {
  std::uint64_t segment = 0;
  std::uint64_t order = 0;
  std::string content;
};

// A journal written item by item with the record codec, so that fragments
// can be put exactly where a range ends.
struct Journal {
  std::vector<Item> items;
  std::vector<Entry> expected;  // what a replay delivers, in order
};

// Segments of `lengths[s]` records each (every segment but the last ends
// with a seal). Fragment groups of 2 to 4 items start now and then, and
// always just before a multiple of kPageOrders, so they straddle the
// boundaries of the ranges replay reads. Orders in `plain` hold batches.
Journal make_journal(const std::vector<std::uint64_t>& lengths, std::uint64_t seed,
                     const std::set<std::uint64_t>& plain = {}) {
  std::cout << "[ SEED     ] " << seed << "\n";
  std::mt19937_64 rng(seed);
  Journal j;
  for (std::uint64_t segment = 0; segment < lengths.size(); ++segment) {
    std::uint64_t order = 1;
    const std::uint64_t end = lengths[segment] + 1;
    while (order < end) {
      EntryBatch batch;
      const std::size_t entries = 1 + rng() % 3;
      for (std::size_t e = 0; e < entries; ++e) {
        batch.add("s" + std::to_string(segment) + "o" + std::to_string(order) + "e" +
                  std::to_string(e) + std::string(rng() % 200, static_cast<char>('a' + e)));
      }
      std::string record;
      encode_batch_record(record, kWriterId, batch, 0, batch.size());
      std::uint32_t fragments = 1;
      const bool before_boundary = order % kPageOrders >= kPageOrders - 2;
      if ((before_boundary || rng() % 20 == 0)) fragments = 2 + rng() % 3;
      for (std::uint64_t o = order; o < order + fragments; ++o) {
        if (o >= end || plain.count(o)) fragments = 1;
      }
      for (std::size_t e = 0; e < batch.size(); ++e) {
        j.expected.push_back(
            {segment, order, static_cast<std::uint32_t>(e), std::string(batch[e])});
      }
      if (fragments == 1) {
        j.items.push_back({segment, order++, std::move(record)});
        continue;
      }
      const std::size_t slice = (record.size() + fragments - 1) / fragments;
      for (std::uint32_t f = 0; f < fragments; ++f) {
        std::string item;
        encode_fragment_record(item, kWriterId, f, fragments,
                               std::string_view(record).substr(f * slice, slice));
        j.items.push_back({segment, order++, std::move(item)});
      }
    }
    if (segment + 1 < lengths.size()) {
      std::string seal;
      encode_seal_record(seal, kWriterId, segment + 1);
      j.items.push_back({segment, order, std::move(seal)});
    }
  }
  return j;
}

void store(const std::string& table, const std::vector<Item>& items) {
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (std::size_t i; (i = next++) < items.size();) {
        const Item& item = items[i];
        MotoJournal::dynamodb().put_item_if_absent(table, item.segment, item.order, item.content);
      }
    });
  }
  for (auto& t : threads) t.join();
}

class Recorder : public RecoveryHandler {
 public:
  void snapshot(std::uint64_t, std::istream&) override { ADD_FAILURE() << "no snapshot expected"; }
  void restart() override { ADD_FAILURE() << "no restart expected"; }
  void entry(const JournalPosition& p, std::string_view bytes) override {
    entries.push_back({p.segment, p.record, p.entry, std::string(bytes)});
  }
  std::vector<Entry> entries;
};

struct Replayed {
  std::vector<Entry> entries;
  std::vector<std::string> warnings;
};

Replayed replay(const MotoJournal& journal, std::uint32_t parallel_queries,
                std::shared_ptr<aws::HttpTransport> transport = nullptr) {
  auto options = journal.options();
  options.replay_page_size = kPageOrders;
  options.replay_parallel_queries = parallel_queries;
  auto warnings = std::make_shared<std::vector<std::string>>();
  options.common.warn = [warnings](const std::string& m) { warnings->push_back(m); };
  auto storage = detail::make_aws_storage(options, std::move(transport));
  Recorder recorder;
  storage->recover(recorder);
  storage->close();
  return {std::move(recorder.entries), *warnings};
}

// Fails the range Queries that start at `first_order` (a 500), `times`
// times; everything else goes through.
class FailRangeQuery : public aws::HttpTransport {
 public:
  FailRangeQuery(std::uint64_t first_order, int times)
      : needle_("\":first\":{\"N\":\"" + std::to_string(first_order) + "\"}"), left_(times) {}
  aws::HttpResponse send(const aws::HttpRequest& request) override {
    const std::string* target = nullptr;
    for (const auto& [name, value] : request.headers)
      if (aws::iequals(name, "X-Amz-Target")) target = &value;
    if (target && target->ends_with(".Query") && request.body.find(needle_) != std::string::npos &&
        left_-- > 0) {
      ++failed;
      return {500, {}, R"({"__type":"InternalServerError","message":"injected"})"};
    }
    return inner_->send(request);
  }
  std::atomic<int> failed{0};

 private:
  std::shared_ptr<aws::HttpTransport> inner_ = aws::testing::test_transport();
  std::string needle_;
  std::atomic<int> left_;
};

TEST(ParallelReplay, SameEntriesAsSequentialAcrossSegmentsAndFragments) {
  MotoJournal journal;
  const Journal j = make_journal({1200, 1500, 800}, std::random_device{}());
  store(journal.table, j.items);
  ASSERT_GT(j.items.size(), 3500u);

  const Replayed sequential = replay(journal, 1);
  EXPECT_EQ(sequential.entries, j.expected);
  EXPECT_TRUE(sequential.warnings.empty());
  // Each open sealed the tail and moved on to an empty segment: the later
  // ones replay the same entries.
  for (std::uint32_t parallel : {4u, 2u, 7u}) {
    const Replayed r = replay(journal, parallel);
    EXPECT_EQ(r.entries, j.expected) << parallel << " queries in flight";
    EXPECT_TRUE(r.warnings.empty());
  }
}

TEST(ParallelReplay, ShortSegmentsAndPagesOfOne) {
  MotoJournal journal;
  const Journal j = make_journal({3, 0, 101, 2}, 11);
  store(journal.table, j.items);
  auto options = journal.options();
  options.replay_page_size = 1;
  for (std::uint32_t parallel : {1u, 4u}) {
    options.replay_parallel_queries = parallel;
    auto storage = detail::make_aws_storage(options, nullptr);
    Recorder recorder;
    storage->recover(recorder);
    EXPECT_EQ(recorder.entries, j.expected) << parallel;
  }
}

TEST(ParallelReplay, GapEndsTheTailAsInTheSequentialReplay) {
  // The same journal in two tables, order 377 of segment 1 missing: replay
  // stops before it, warns naming the table and order, and the new owner's
  // seal goes into the gap, whichever way it was read. Segment 1 is the
  // tail, as a writer that died with writes in flight leaves it: unsealed,
  // nothing after it (a gap before later segments is a pruned journal,
  // which recovery refuses: AwsProtocolRegression.*AfterAPruneIsRefused).
  const std::uint64_t gap = 377;
  const Journal j = make_journal({120, 600, 30}, 5, {gap});
  std::vector<Item> items;
  for (const Item& item : j.items) {
    const bool tail_or_later =
        item.segment == 2 || (item.segment == 1 && detail::is_seal_content(item.content));
    if (!(item.segment == 1 && item.order == gap) && !tail_or_later) items.push_back(item);
  }
  std::vector<Entry> expected;
  for (const Entry& e : j.expected)
    if (e.segment == 0 || (e.segment == 1 && e.order < gap)) expected.push_back(e);

  for (std::uint32_t parallel : {1u, 4u}) {
    MotoJournal journal;
    store(journal.table, items);
    const Replayed r = replay(journal, parallel);
    EXPECT_EQ(r.entries, expected) << parallel;
    ASSERT_EQ(r.warnings.size(), 1u) << parallel;
    EXPECT_NE(r.warnings[0].find("table " + journal.table), std::string::npos) << r.warnings[0];
    EXPECT_NE(r.warnings[0].find("follows a gap at order 377"), std::string::npos) << r.warnings[0];
    const auto sealed = MotoJournal::dynamodb().get_item(journal.table, 1, gap);
    ASSERT_TRUE(sealed.has_value());
    EXPECT_EQ(decode_record(*sealed, "the gap").type, RecordType::seal);
  }
}

TEST(ParallelReplay, FailedRangeQueryIsRetried) {
  MotoJournal journal;
  const Journal j = make_journal({600, 40}, 3);
  store(journal.table, j.items);
  auto faults = std::make_shared<FailRangeQuery>(501, 2);  // a range of segment 0
  const Replayed r = replay(journal, 4, faults);
  EXPECT_EQ(faults->failed.load(), 2);
  EXPECT_EQ(r.entries, j.expected);
}

TEST(ParallelReplay, RangeQueryThatKeepsFailingFailsRecoveryWithNothingAfterIt) {
  MotoJournal journal;
  const Journal j = make_journal({600, 40}, 4);
  store(journal.table, j.items);
  auto faults = std::make_shared<FailRangeQuery>(501, 1000);
  auto options = journal.options();
  options.replay_page_size = kPageOrders;
  options.replay_parallel_queries = 4;
  auto storage = detail::make_aws_storage(options, faults);
  Recorder recorder;
  try {
    storage->recover(recorder);
    FAIL() << "recovery succeeded with a range that cannot be read";
  } catch (const StorageError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("Query"), std::string::npos) << what;
    EXPECT_NE(what.find(journal.table), std::string::npos) << what;
  }
  EXPECT_GE(faults->failed.load(), 2);
  // Exactly the entries before the failed range, in order (a fragment group
  // that straddles order 500/501 is not delivered either).
  std::vector<Entry> before;
  for (const Entry& e : j.expected)
    if (e.segment == 0 && e.order < 501) before.push_back(e);
  ASSERT_LE(recorder.entries.size(), before.size());
  EXPECT_TRUE(std::equal(recorder.entries.begin(), recorder.entries.end(), before.begin()));
  EXPECT_GE(recorder.entries.size() + 8, before.size());
  // Nothing was sealed: a recovery without the fault gets everything.
  EXPECT_EQ(replay(journal, 4).entries, j.expected);
}

// Appends items to the segment right after replay asked for its last order,
// as an old owner still writing would.
class AppendAfterLastOrder : public aws::HttpTransport {
 public:
  AppendAfterLastOrder(std::string table, std::vector<Item> late)
      : table_(std::move(table)), late_(std::move(late)) {}
  aws::HttpResponse send(const aws::HttpRequest& request) override {
    aws::HttpResponse response = inner_->send(request);
    if (request.body.find("\"ScanIndexForward\":false") != std::string::npos &&
        !done_.exchange(true))
      store(table_, late_);
    return response;
  }

 private:
  std::shared_ptr<aws::HttpTransport> inner_ = aws::testing::test_transport();
  std::string table_;
  std::vector<Item> late_;
  std::atomic<bool> done_{false};
};

TEST(ParallelReplay, ItemsWrittenAfterTheLastOrderQueryAreReplayedToo) {
  MotoJournal journal;
  const Journal j = make_journal({500}, 8);
  // Items after order 300 land only once replay has asked for the last order.
  std::vector<Item> early;
  std::vector<Item> late;
  for (const Item& item : j.items) (item.order <= 300 ? early : late).push_back(item);
  store(journal.table, early);
  auto transport = std::make_shared<AppendAfterLastOrder>(journal.table, late);
  const Replayed r = replay(journal, 4, transport);
  EXPECT_EQ(r.entries, j.expected);
  EXPECT_TRUE(r.warnings.empty());
}

TEST(ParallelReplay, RangesCutShortByTheOneMegabytePageLimitContinue) {
  // 200 KB items: a range of 10 orders does not fit in one 1 MB page.
  MotoJournal journal;
  Journal j;
  for (std::uint64_t order = 1; order <= 60; ++order) {
    EntryBatch batch;
    batch.add(std::string(200 * 1024, static_cast<char>('A' + order % 26)) + std::to_string(order));
    std::string record;
    encode_batch_record(record, kWriterId, batch, 0, 1);
    j.items.push_back({1, order, std::move(record)});
    j.expected.push_back({1, order, 0, std::string(batch[0])});
  }
  std::string seal;
  encode_seal_record(seal, kWriterId, 1);
  j.items.push_back({0, 1, std::move(seal)});
  store(journal.table, j.items);
  auto options = journal.options();
  options.replay_page_size = 10;
  options.replay_parallel_queries = 3;
  auto storage = detail::make_aws_storage(options, nullptr);
  Recorder recorder;
  storage->recover(recorder);
  EXPECT_EQ(recorder.entries, j.expected);
}

TEST(ParallelReplay, ZeroQueriesIsAConfigError) {
  MotoJournal journal;
  auto options = journal.options();
  options.replay_parallel_queries = 0;
  EXPECT_THROW(detail::make_aws_storage(options, nullptr), ConfigError);
}

}  // namespace
}  // namespace prevayler::testing
