// The DynamoDB+S3 storage's own behaviour against moto_server: snapshot
// paths, paging, large events and states, faults, other writers, bad
// configuration.
#include <gtest/gtest.h>

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "aws/aws_test_storage.hpp"
#include "aws/fault_injecting_transport.hpp"
#include "aws/sigv4.hpp"
#include "core/record_codec.hpp"
#include "prevayler/prevayler.hpp"
#include "support/crash_model.hpp"
#include "support/string_log.hpp"

namespace prevayler::testing {
namespace {

using namespace std::chrono_literals;

using P = Prevayler<StringLog, std::string>;

std::string pattern(std::size_t size, char seed) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>(seed + i * 31 % 251);
  return s;
}

TEST(AwsStorage, SnapshotGoesToTheDefaultPath) {
  MotoJournal journal;
  {
    auto p = open_string_log(journal.open());
    p->handle("a");
    p->snapshot();
  }
  const auto info = MotoJournal::s3().head_object(journal.bucket, "snapshot");
  EXPECT_GT(info.size, 0u);
  auto p = open_string_log(journal.open());
  EXPECT_EQ(p->state()->items, (std::vector<std::string>{"a"}));
  // Open: seal (0,1), snapshot 1; "a" at (1,1); snapshot(): seal (1,2), snapshot 2.
  EXPECT_EQ(p->stats().snapshot_id, 2u);
  EXPECT_EQ(p->stats().events_replayed, 0u);
}

TEST(AwsStorage, SnapshotGoesToAnOverriddenPath) {
  MotoJournal journal;
  auto options = journal.options();
  options.snapshot_path = "apps/ledger/state.bin";
  {
    auto p = open_string_log(detail::make_aws_storage(options, nullptr));
    p->handle("a");
    p->snapshot();
    p->handle("b");
  }
  EXPECT_GT(MotoJournal::s3().head_object(journal.bucket, "apps/ledger/state.bin").size, 0u);
  EXPECT_THROW(MotoJournal::s3().head_object(journal.bucket, "snapshot"), aws::AwsError);
  auto p = open_string_log(detail::make_aws_storage(options, nullptr));
  EXPECT_EQ(p->state()->items, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(p->stats().events_replayed, 1u);
}

TEST(AwsStorage, ReplayAcrossManyPagesOfOne) {
  MotoJournal journal;
  {
    auto p = open_string_log(journal.open());
    for (int i = 0; i < 40; ++i) p->handle(std::to_string(i));  // one item each
  }
  auto options = journal.options();
  options.replay_page_size = 1;
  auto p = open_string_log(detail::make_aws_storage(options, nullptr));
  ASSERT_EQ(p->state()->items.size(), 40u);
  for (int i = 0; i < 40; ++i) EXPECT_EQ(p->state()->items[i], std::to_string(i));
  // The first open sealed the empty segment 0 at order 1; the events are in
  // segment 1, orders 1..40, and the second open sealed it at order 41: the
  // seed's layout plus one seal item per start.
  EXPECT_EQ(all_items(journal.table, 0).size(), 1u);
  const auto items = all_items(journal.table, 1);
  ASSERT_EQ(items.size(), 41u);
  EXPECT_EQ(items[39].order, 40u);
  EXPECT_EQ(items.back().order, 41u);
}

TEST(AwsStorage, RestartAfterSnapshotFollowsTheSeal) {
  MotoJournal journal;
  {
    auto p = open_string_log(journal.open());
    p->handle("before");
    p->snapshot();
    p->handle("after");
  }
  // Segment 0: the opening seal; segment 1: the event, then the seal of the
  // snapshot at order 2; segment 2: "after".
  EXPECT_EQ(all_items(journal.table, 0).size(), 1u);
  EXPECT_EQ(all_items(journal.table, 1).size(), 2u);
  EXPECT_EQ(all_items(journal.table, 2).size(), 1u);
  // Even with the snapshot object gone, recovery follows the seals.
  MotoJournal::s3().delete_object(journal.bucket, "snapshot");
  auto p = open_string_log(journal.open());
  EXPECT_EQ(p->state()->items, (std::vector<std::string>{"before", "after"}));
}

TEST(AwsStorage, OneMebibyteEventIsSplitOverItemsAndRecovered) {
  MotoJournal journal;
  const std::string big = pattern(1 << 20, 'x');
  auto options = journal.options();
  options.common.compress_journal_records_over = 0;  // the pattern would fit one item
  {
    auto p = open_string_log(detail::make_aws_storage(options, nullptr));
    p->handle("small");
    p->handle(big);
    p->handle("tail");
  }
  const auto items = all_items(journal.table, 1);
  EXPECT_EQ(items.size(), 5u);  // "small", 3 fragments of the 1 MiB event, "tail"
  for (std::size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(items[i].order, i + 1);
    EXPECT_LE(items[i].content.size(), 350u * 1024);
  }
  auto p = open_string_log(journal.open());
  ASSERT_EQ(p->state()->items.size(), 3u);
  EXPECT_EQ(p->state()->items[1], big);
  EXPECT_EQ(p->state()->items[2], "tail");
}

TEST(AwsStorage, SixtyFourMebibyteEventIsDurableBeforeItsAcknowledgement) {
  MotoJournal journal;
  const std::string huge = pattern(64u << 20, 'h');
  auto options = journal.options();
  options.common.compress_journal_records_over = 0;  // 190 fragments, not a few
  {
    auto p = open_string_log(detail::make_aws_storage(options, nullptr));
    p->handle(huge);
  }
  auto p = open_string_log(journal.open());
  ASSERT_EQ(p->state()->items.size(), 1u);
  EXPECT_TRUE(p->state()->items[0] == huge);
}

TEST(AwsStorage, IncompleteFragmentSequenceIsNeverApplied) {
  MotoJournal journal;
  auto inner = aws::testing::test_transport();
  auto faulty = std::make_shared<aws::FaultInjectingTransport>(inner);
  const std::string big = pattern(1 << 20, 'f');
  {
    auto options = journal.options();
    options.max_attempts = 1;
    options.common.compress_journal_records_over = 0;  // the pattern would fit one item
    auto p = open_string_log(detail::make_aws_storage(options, faulty));
    p->handle("first");
    // The second fragment's PutItem is throttled: a definite failure (not
    // stored), so the instance goes on, with the first fragment left behind.
    faulty->script({aws::Fault::none, aws::Fault::throttle});
    EXPECT_THROW(p->handle(big), StorageError);
    EXPECT_EQ(p->state()->items, (std::vector<std::string>{"first"}));
    p->handle("after");
  }
  // The orphan is in the journal: the first fragment of a group commit
  // whose other fragments are not (open: seal (0,1), snapshot 1; "first"
  // at (1,1); the big event from (1,2)).
  int first_fragments = 0;
  int later_fragments = 0;
  for (const aws::JournalItem& item : all_items(journal.table, 1)) {
    const auto record = detail::decode_record(item.content, "order " + std::to_string(item.order));
    if (record.type != detail::RecordType::fragment) continue;
    EXPECT_GT(record.fragment_count, 1u);
    ++(record.fragment_index == 0 ? first_fragments : later_fragments);
  }
  EXPECT_EQ(first_fragments, 1) << "the failed write left no orphan fragment to ignore";
  EXPECT_EQ(later_fragments, 0);
  // Recovery ignores it, and says so.
  std::vector<std::string> warnings;
  auto options = journal.options();
  options.common.warn = [&](const std::string& m) { warnings.push_back(m); };
  auto p = open_string_log(detail::make_aws_storage(options, nullptr));
  EXPECT_EQ(p->state()->items, (std::vector<std::string>{"first", "after"}));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("ignored an incomplete group commit (1 of "), std::string::npos)
      << warnings[0];
}

TEST(AwsStorage, TwoHundredMegabyteStateIsSnapshottedAndRecovered) {
  MotoJournal journal;
  constexpr int chunks = 200;
  auto options = journal.options();
  options.common.compress_snapshots = false;  // a 200 MB object: many parts
  options.common.compress_journal_records_over = 0;
  {
    auto p = open_string_log(detail::make_aws_storage(options, nullptr));
    for (int i = 0; i < chunks; ++i) {
      // Each event ~1 MB: large events also exercise the fragment path.
      p->handle(pattern(1'000'000, static_cast<char>(i)));
    }
    p->snapshot();
  }
  const auto info = MotoJournal::s3().head_object(journal.bucket, "snapshot");
  EXPECT_GT(info.size, 200'000'000u);
  P::Options reopen;
  reopen.business = append_string;
  reopen.storage = detail::make_aws_storage(options, nullptr);
  reopen.snapshot_on_open = false;
  auto p = std::make_unique<P>(std::move(reopen));
  ASSERT_EQ(p->state()->items.size(), static_cast<std::size_t>(chunks));
  EXPECT_EQ(p->stats().events_replayed, 0u);
  EXPECT_EQ(p->state()->items[123], pattern(1'000'000, static_cast<char>(123)));
}

TEST(AwsStorage, TimeoutAfterTheServerStoredTheWriteIsNotAppliedTwice) {
  MotoJournal journal;
  auto faulty = std::make_shared<aws::FaultInjectingTransport>(aws::testing::test_transport());
  {
    auto p = open_string_log(journal.open(faulty));
    p->handle("one");
    faulty->script({aws::Fault::timeout_after_apply});
    p->handle("two");  // stored, response lost, retried: our own item
    p->handle("three");
    EXPECT_EQ(faulty->counters().timeouts_after_apply, 1u);
  }
  auto p = open_string_log(journal.open());
  EXPECT_EQ(p->state()->items, (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(all_items(journal.table, 1).size(), 4u);  // each event once, then the seal
}

TEST(AwsStorage, AnotherWriterOnTheJournalStopsThisInstance) {
  MotoJournal journal;
  auto first = open_string_log(journal.open());
  first->handle("a");
  auto second = open_string_log(journal.open());  // the seed's "second instance"
  second->handle("b");                            // takes order 2 of segment 0
  try {
    first->handle("c");  // also wants order 2
    FAIL() << "two writers wrote one journal";
  } catch (const SupersededError& e) {
    EXPECT_NE(std::string(e.what()).find("another writer"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(journal.table), std::string::npos) << e.what();
  }
  EXPECT_THROW(first->handle("d"), SupersededError);
  EXPECT_EQ(first->state()->items, (std::vector<std::string>{"a"}));
  second->close();
  auto third = open_string_log(journal.open());
  EXPECT_EQ(third->state()->items, (std::vector<std::string>{"a", "b"}));
}

// InjectedFaultsLoseNothingAndDuplicateNothing (the engine over a faulty
// transport) is in fault_injection_test.cpp, with the fault counters it
// asserts.

TEST(AwsStorageConfig, MissingTableNamesItAndTheRemedy) {
  MotoJournal journal;
  auto options = journal.options();
  options.table = "no-such-table-" + aws::testing::unique_name("t");
  try {
    open_string_log(detail::make_aws_storage(options, nullptr));
    FAIL();
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find(options.table), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("prevayler setup"), std::string::npos) << e.what();
  }
}

TEST(AwsStorageConfig, TableWithAnotherKeySchemaIsRefused) {
  MotoJournal journal;
  const std::string table = aws::testing::unique_name("wrongkeys");
  aws::HttpRequest r;
  r.method = "POST";
  r.url = aws::testing::moto().endpoint() + "/";
  r.headers = {{"X-Amz-Target", "DynamoDB_20120810.CreateTable"},
               {"Content-Type", "application/x-amz-json-1.0"}};
  r.body =
      R"({"TableName":")" + table +
      R"(","AttributeDefinitions":[{"AttributeName":"id","AttributeType":"S"}],)"
      R"("KeySchema":[{"AttributeName":"id","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST"})";
  aws::sign_request(r, aws::testing::test_credentials()->get(),
                    {aws::testing::kTestRegion, "dynamodb", std::chrono::system_clock::now()});
  ASSERT_EQ(aws::testing::test_transport()->send(r).status, 200);
  auto options = journal.options();
  options.table = table;
  try {
    open_string_log(detail::make_aws_storage(options, nullptr));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(table), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("id"), std::string::npos) << e.what();
  }
}

TEST(AwsStorageConfig, MissingBucketNamesIt) {
  MotoJournal journal;
  auto options = journal.options();
  options.bucket = aws::testing::unique_name("nobucket");
  try {
    open_string_log(detail::make_aws_storage(options, nullptr));
    FAIL();
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find(options.bucket), std::string::npos) << e.what();
  }
}

TEST(AwsStorageConfig, EmptyNamesAreConfigErrors) {
  AwsStorageOptions options;
  options.region = "us-east-1";
  options.bucket = "b";
  EXPECT_THROW(make_aws_storage(options), ConfigError);
  options.table = "t";
  options.bucket = "";
  EXPECT_THROW(make_aws_storage(options), ConfigError);
  options.bucket = "b";
  options.replay_page_size = 0;
  EXPECT_THROW(make_aws_storage(options), ConfigError);
}

// Complete options for table t and bucket b at `endpoint`, no moto needed.
AwsStorageOptions options_at(const std::string& endpoint) {
  AwsStorageOptions options;
  options.table = "t";
  options.bucket = "b";
  options.region = "us-east-1";
  options.endpoint = endpoint;
  options.credentials = AwsCredentials{"AKID", "SECRET", ""};
  return options;
}

TEST(AwsStorageConfig, BadEndpointIsAConfigError) {
  EXPECT_THROW(make_aws_storage(options_at("not a url")), ConfigError);
}

TEST(AwsStorageConfig, UnreachableEndpointFailsClearly) {
  AwsStorageOptions options = options_at("http://127.0.0.1:1");
  options.max_attempts = 1;
  try {
    open_string_log(make_aws_storage(options));
    FAIL();
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:1"), std::string::npos) << e.what();
  }
}

TEST(AwsStorageConfig, OversizedEventIsRefusedBeforeAnyWrite) {
  MotoJournal journal;
  auto p = open_string_log(journal.open());
  EXPECT_THROW(p->handle(std::string((256u << 20) + 1, 'x')), EventTooLargeError);
  EXPECT_TRUE(all_items(journal.table, 1).empty());
}

TEST(AwsStorageConfig, WrongCredentialsAreReportedWithoutTheSecret) {
  // A second moto that checks credentials (moto skips auth by default).
  aws::testing::MotoServer strict(
      std::vector<std::pair<std::string, std::string>>{{"INITIAL_NO_AUTH_ACTION_COUNT", "0"}});
  AwsStorageOptions options;
  options.table = "t";
  options.bucket = "b";
  options.region = "us-east-1";
  options.endpoint = strict.endpoint();
  const std::string secret = "Sup3rS3cretValueThatMustNotLeak";
  options.credentials = AwsCredentials{"AKIAWRONGWRONGWRONG1", secret, ""};
  options.max_attempts = 1;
  try {
    open_string_log(make_aws_storage(options));
    FAIL();
  } catch (const StorageError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find(secret), std::string::npos) << what;
    EXPECT_NE(what.find("credentials"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace prevayler::testing

namespace prevayler::testing {
namespace {

// Holds every S3 request back, like a slow link to the bucket: each waits
// until `release()` says so (or 60 s pass), so the test does not depend on
// how fast the machine is.
class SlowS3Transport : public aws::HttpTransport {
 public:
  SlowS3Transport(std::shared_ptr<aws::HttpTransport> inner, std::string bucket)
      : inner_(std::move(inner)), bucket_(std::move(bucket)) {}
  aws::HttpResponse send(const aws::HttpRequest& request) override {
    if (request.url.find("/" + bucket_) != std::string::npos) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (release && !release() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      ++s3_requests;
    }
    return inner_->send(request);
  }
  std::function<bool()> release;
  std::atomic<int> s3_requests{0};

 private:
  std::shared_ptr<aws::HttpTransport> inner_;
  std::string bucket_;
};

TEST(AwsStorage, SlowSnapshotUploadDoesNotStallWriters) {
  MotoJournal journal;
  auto slow = std::make_shared<SlowS3Transport>(aws::testing::test_transport(), journal.bucket);
  auto options = journal.options();
  options.snapshot_part_bytes = 5u << 20;     // several parts, each slow
  options.common.compress_snapshots = false;  // the patterns would compress into one part
  P::Options o;
  o.business = append_string;
  o.storage = detail::make_aws_storage(options, slow);
  o.snapshot_on_open = false;
  P p(std::move(o));
  for (int i = 0; i < 20; ++i) p.handle(pattern(1'000'000, static_cast<char>(i)));  // ~20 MB state
  // The upload goes on only once writers got 11 events acknowledged while
  // it was held back: if they stalled behind it, it waits out its 60 s.
  std::atomic<int> handled_during_snapshot{0};
  slow->release = [&] { return handled_during_snapshot.load() > 10; };
  std::atomic<bool> snapshot_done{false};
  std::thread snapshotter([&] {
    p.snapshot();
    snapshot_done = true;
  });
  while (!snapshot_done) {
    p.handle("during");
    if (!snapshot_done) ++handled_during_snapshot;
  }
  snapshotter.join();
  EXPECT_GE(slow->s3_requests.load(), 4);  // create, parts, complete: each delayed
  EXPECT_GT(handled_during_snapshot.load(), 10) << "writers stalled behind the snapshot upload";
  const auto live = p.state();
  p.close();
  auto again = open_string_log(journal.open());
  EXPECT_EQ(again->state()->items.size(), live->items.size());
  EXPECT_EQ(again->state()->items.back(), "during");
}

}  // namespace
}  // namespace prevayler::testing
