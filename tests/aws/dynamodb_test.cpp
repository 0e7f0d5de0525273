// DynamoDbClient against moto_server: real HTTP, the curl transport, SigV4.
#include "aws/dynamodb.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "aws/aws_test_storage.hpp"
#include "aws/fault_injecting_transport.hpp"
#include "aws/moto_server.hpp"
#include "aws/s3.hpp"
#include "aws/sigv4.hpp"

namespace prevayler::aws {
namespace {

using testing::moto;
using testing::unique_name;

StandardRetryOptions fast_retries() {
  StandardRetryOptions o;
  o.seed = 7;
  o.base_delay = std::chrono::milliseconds(1);
  o.throttling_base_delay = std::chrono::milliseconds(2);
  return o;
}

DynamoDbConfig config_with(std::shared_ptr<HttpTransport> transport) {
  DynamoDbConfig c = prevayler::testing::test_client_config<DynamoDbConfig>(moto().endpoint(),
                                                                            std::move(transport));
  c.retry = make_standard_retry_strategy(fast_retries());
  return c;
}

class DynamoDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = std::make_unique<DynamoDbClient>(config_with(testing::test_transport()));
    table_ = unique_name("journal");
    ASSERT_TRUE(client_->create_table(table_));
    client_->wait_until_active(table_, std::chrono::seconds(30));
  }
  void TearDown() override {
    if (client_) client_->delete_table(table_);
  }

  std::unique_ptr<DynamoDbClient> client_;
  std::string table_;
};

TEST_F(DynamoDbTest, CreatedTableHasTheJournalSchema) {
  TableDescription d = client_->check_journal_table(table_);
  EXPECT_EQ(d.status, "ACTIVE");
  EXPECT_EQ(d.billing_mode, "PAY_PER_REQUEST");
  ASSERT_EQ(d.key_schema.size(), 2u);
  EXPECT_EQ(d.key_schema[0].name, "partkey");
  EXPECT_EQ(d.key_schema[0].type, "N");
  EXPECT_EQ(d.key_schema[0].key_type, "HASH");
  EXPECT_EQ(d.key_schema[1].name, "order");
  EXPECT_EQ(d.key_schema[1].type, "N");
  EXPECT_EQ(d.key_schema[1].key_type, "RANGE");
  EXPECT_FALSE(client_->create_table(table_)) << "a second create reports the existing table";
}

TEST_F(DynamoDbTest, WronglyKeyedTableIsRejectedNamingWhatWasFound) {
  // Create a table keyed by a string `id` only, with a raw request.
  const std::string wrong = unique_name("wrong");
  HttpRequest r;
  r.method = "POST";
  r.url = moto().endpoint() + "/";
  r.headers = {{"Content-Type", "application/x-amz-json-1.0"},
               {"X-Amz-Target", "DynamoDB_20120810.CreateTable"}};
  r.body =
      nlohmann::json{{"TableName", wrong},
                     {"AttributeDefinitions", {{{"AttributeName", "id"}, {"AttributeType", "S"}}}},
                     {"KeySchema", {{{"AttributeName", "id"}, {"KeyType", "HASH"}}}},
                     {"BillingMode", "PAY_PER_REQUEST"}}
          .dump();
  sign_request(r, testing::test_credentials()->get(),
               SigningOptions{testing::kTestRegion, "dynamodb", std::chrono::system_clock::now()});
  ASSERT_EQ(testing::test_transport()->send(r).status, 200);
  try {
    client_->check_journal_table(wrong);
    FAIL() << "expected JournalTableSchemaError";
  } catch (const JournalTableSchemaError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(wrong), std::string::npos) << m;
    EXPECT_NE(m.find("id (S, HASH)"), std::string::npos) << m;
    EXPECT_NE(m.find("partkey (N, HASH) + order (N, RANGE)"), std::string::npos) << m;
  }
  client_->delete_table(wrong);
}

TEST_F(DynamoDbTest, MissingTableErrorNamesTheTableAndTheRemedy) {
  const std::string missing = unique_name("missing");
  try {
    client_->check_journal_table(missing);
    FAIL() << "expected ResourceNotFoundError";
  } catch (const ResourceNotFoundError& e) {
    const std::string m = e.what();
    EXPECT_EQ(e.code(), "ResourceNotFoundException");
    EXPECT_NE(m.find("DynamoDB DescribeTable on table " + missing), std::string::npos) << m;
    EXPECT_NE(m.find("prevayler setup --table " + missing), std::string::npos) << m;
    EXPECT_NE(m.find("docs/aws.md"), std::string::npos) << m;
    EXPECT_EQ(m.find("testing"), std::string::npos) << "no credentials in messages: " << m;
  }
  EXPECT_THROW(client_->get_item(missing, 1, 1), ResourceNotFoundError);
  EXPECT_THROW(client_->put_item_if_absent(missing, 1, 1, "x"), ResourceNotFoundError);
}

TEST_F(DynamoDbTest, PutIfAbsentStoresThenReportsTheExistingContent) {
  const std::string binary("ev\0ent\xff\x01", 8);
  PutIfAbsentResult first = client_->put_item_if_absent(table_, 1, 10, binary);
  EXPECT_TRUE(first.stored());
  EXPECT_FALSE(first.after_ambiguous_attempt);

  // One request: the existing item comes back in the ConditionalCheckFailed
  // body (ReturnValuesOnConditionCheckFailure=ALL_OLD), not from a read-back.
  auto counting = std::make_shared<FaultInjectingTransport>(testing::test_transport());
  DynamoDbClient client(config_with(counting));
  PutIfAbsentResult second = client.put_item_if_absent(table_, 1, 10, "other");
  EXPECT_EQ(counting->counters().requests, 1u);
  EXPECT_EQ(second.outcome, PutIfAbsentResult::Outcome::condition_failed);
  ASSERT_TRUE(second.existing_content.has_value());
  EXPECT_EQ(*second.existing_content, binary);
  EXPECT_FALSE(second.after_ambiguous_attempt);

  // Same order, other partition: no conflict.
  EXPECT_TRUE(client_->put_item_if_absent(table_, 2, 10, "p2").stored());
  EXPECT_EQ(client_->get_item(table_, 1, 10), binary);
  EXPECT_EQ(client_->get_item(table_, 2, 10), "p2");
}

TEST_F(DynamoDbTest, GetItemConsistentAndEventual) {
  EXPECT_FALSE(client_->get_item(table_, 1, 1).has_value());
  ASSERT_TRUE(client_->put_item_if_absent(table_, 1, 1, "one").stored());
  EXPECT_EQ(client_->get_item(table_, 1, 1, /*consistent=*/true), "one");
  // moto is strongly consistent either way; this checks the request is accepted.
  EXPECT_EQ(client_->get_item(table_, 1, 1, /*consistent=*/false), "one");
  EXPECT_FALSE(client_->get_item(table_, 1, 2).has_value());
}

TEST_F(DynamoDbTest, ItemsOverTheLimitAreRejectedBeforeSending) {
  EXPECT_THROW(client_->put_item_if_absent(table_, 1, 1, std::string(dynamodb_item_bytes_max, 'x')),
               EventTooLargeError);
}

TEST_F(DynamoDbTest, QueryPaginatesWithLimitOne) {
  for (std::uint64_t o = 1; o <= 5; ++o)
    ASSERT_TRUE(client_->put_item_if_absent(table_, 7, o, "c" + std::to_string(o)).stored());
  ASSERT_TRUE(client_->put_item_if_absent(table_, 8, 3, "other partition").stored());

  std::vector<JournalItem> all;
  std::optional<std::uint64_t> start;
  int pages = 0;
  do {
    QueryPage page = client_->query_page(table_, 7, start, 1, /*consistent=*/true);
    ++pages;
    ASSERT_LE(page.items.size(), 1u);
    all.insert(all.end(), page.items.begin(), page.items.end());
    start = page.last_evaluated_order;
    ASSERT_LE(pages, 10) << "pagination does not end";
  } while (start);
  ASSERT_EQ(all.size(), 5u);
  for (std::uint64_t o = 1; o <= 5; ++o) {
    EXPECT_EQ(all[o - 1].order, o);
    EXPECT_EQ(all[o - 1].content, "c" + std::to_string(o));
  }
  EXPECT_GE(pages, 5);

  QueryPage from3 = client_->query_page(table_, 7, std::nullopt, 100, true, 3);
  ASSERT_EQ(from3.items.size(), 3u);
  EXPECT_EQ(from3.items.front().order, 3u);
  EXPECT_FALSE(from3.last_evaluated_order.has_value());

  QueryPage eventual = client_->query_page(table_, 7, 2, 100, /*consistent=*/false);
  ASSERT_EQ(eventual.items.size(), 3u);
  EXPECT_EQ(eventual.items.front().order, 3u);
}

TEST_F(DynamoDbTest, LastOrderIsTheHighestOfThePartition) {
  EXPECT_FALSE(client_->last_order(table_, 7).has_value()) << "an empty partition";
  for (std::uint64_t o : {1, 2, 3, 10, 11})
    ASSERT_TRUE(client_->put_item_if_absent(table_, 7, o, std::string(1000, 'x')).stored());
  ASSERT_TRUE(client_->put_item_if_absent(table_, 8, 500, "next partition").stored());
  ASSERT_TRUE(client_->put_item_if_absent(table_, 6, 900, "previous partition").stored());
  EXPECT_EQ(client_->last_order(table_, 7), 11u);
  EXPECT_EQ(client_->last_order(table_, 8), 500u);
  EXPECT_EQ(client_->last_order(table_, 7, /*consistent=*/false), 11u);
}

TEST_F(DynamoDbTest, QueryRangeReturnsOnlyTheOrdersBetweenItsBounds) {
  for (std::uint64_t o = 1; o <= 20; ++o)
    ASSERT_TRUE(client_->put_item_if_absent(table_, 7, o, "c" + std::to_string(o)).stored());
  ASSERT_TRUE(client_->put_item_if_absent(table_, 8, 5, "other partition").stored());

  QueryPage middle = client_->query_range(table_, 7, 5, 9, 100);
  ASSERT_EQ(middle.items.size(), 5u);
  for (std::uint64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(middle.items[i].order, 5 + i);
    EXPECT_EQ(middle.items[i].content, "c" + std::to_string(5 + i));
  }
  EXPECT_FALSE(middle.last_evaluated_order.has_value());

  QueryPage one = client_->query_range(table_, 7, 20, 20, 1);
  ASSERT_EQ(one.items.size(), 1u);
  EXPECT_EQ(one.items[0].order, 20u);
  EXPECT_TRUE(client_->query_range(table_, 7, 21, 40, 10).items.empty()) << "past the end";

  // A limit below the span: the page stops and says where.
  std::vector<std::uint64_t> seen;
  std::uint64_t first = 3;
  int pages = 0;
  for (;;) {
    QueryPage page = client_->query_range(table_, 7, first, 12, 4);
    ASSERT_LE(page.items.size(), 4u);
    for (const auto& item : page.items) seen.push_back(item.order);
    ASSERT_LE(++pages, 10) << "pagination does not end";
    if (!page.last_evaluated_order) break;
    first = *page.last_evaluated_order + 1;
  }
  ASSERT_EQ(seen.size(), 10u);
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], 3 + i);
}

TEST_F(DynamoDbTest, DeleteItemsInBatches) {
  std::vector<std::uint64_t> orders;
  for (std::uint64_t o = 1; o <= 60; ++o) {
    ASSERT_TRUE(client_->put_item_if_absent(table_, 1, o, "x").stored());
    if (o <= 55) orders.push_back(o);
  }
  orders.push_back(1000);  // missing: no error
  client_->delete_items(table_, 1, orders);
  QueryPage rest = client_->query_page(table_, 1, std::nullopt, 1000);
  ASSERT_EQ(rest.items.size(), 5u);
  EXPECT_EQ(rest.items.front().order, 56u);
}

TEST_F(DynamoDbTest, Crc32MismatchIsDetectedAndRetried) {
  auto faults = std::make_shared<FaultInjectingTransport>(testing::test_transport());
  DynamoDbClient client(config_with(faults));
  ASSERT_TRUE(client.put_item_if_absent(table_, 1, 1, "payload").stored());

  // One damaged response: detected through x-amz-crc32, then retried.
  faults->script({Fault::corrupt_body});
  EXPECT_EQ(client.get_item(table_, 1, 1), "payload");
  EXPECT_EQ(faults->counters().corrupted_bodies, 1u);
  EXPECT_EQ(faults->counters().requests, 3u);

  // Damaged every time: the error says what happened.
  faults->script({Fault::corrupt_body, Fault::corrupt_body, Fault::corrupt_body});
  try {
    client.get_item(table_, 1, 1);
    FAIL() << "expected a CRC32CheckFailed error";
  } catch (const AwsError& e) {
    EXPECT_EQ(e.code(), "CRC32CheckFailed");
    EXPECT_TRUE(e.retryable());
    EXPECT_NE(std::string(e.what()).find("x-amz-crc32"), std::string::npos) << e.what();
  }
}

TEST_F(DynamoDbTest, AmbiguousTimeoutThenConditionFailedReturnsOurOwnContent) {
  auto faults = std::make_shared<FaultInjectingTransport>(testing::test_transport());
  DynamoDbClient client(config_with(faults));
  // The first attempt is applied but its response lost; the retry finds the item.
  faults->script({Fault::timeout_after_apply});
  PutIfAbsentResult r = client.put_item_if_absent(table_, 3, 1, "mine");
  EXPECT_EQ(r.outcome, PutIfAbsentResult::Outcome::condition_failed);
  EXPECT_TRUE(r.after_ambiguous_attempt);
  EXPECT_EQ(r.existing_content, "mine");

  // A damaged response to a write that was applied is ambiguous too.
  faults->script({Fault::corrupt_body});
  PutIfAbsentResult c = client.put_item_if_absent(table_, 3, 3, "crc");
  EXPECT_EQ(c.outcome, PutIfAbsentResult::Outcome::condition_failed);
  EXPECT_TRUE(c.after_ambiguous_attempt);
  EXPECT_EQ(c.existing_content, "crc");

  // A reset before sending is not ambiguous: the retry stores.
  faults->script({Fault::connection_reset});
  PutIfAbsentResult s = client.put_item_if_absent(table_, 3, 2, "second");
  EXPECT_TRUE(s.stored());
}

TEST(DynamoDbClientConfig, RejectsIncompleteConfig) {
  DynamoDbConfig c;
  EXPECT_THROW(DynamoDbClient{c}, ConfigError);
  c.region = "us-east-1";
  c.endpoint = "localhost:8000";
  c.credentials = testing::test_credentials();
  c.transport = testing::test_transport();
  EXPECT_THROW(DynamoDbClient{c}, ConfigError);
}

}  // namespace
}  // namespace prevayler::aws

namespace prevayler::aws {
namespace {

// moto accepts any credentials unless IAM authentication is switched on with
// INITIAL_NO_AUTH_ACTION_COUNT; then unknown access keys are rejected, which
// lets us check the wording of the credentials error. A server of its own,
// so the shared one stays permissive.
TEST(WrongCredentials, ErrorsSayToCheckTheCredentials) {
  testing::MotoServer strict(
      std::vector<std::pair<std::string, std::string>>{{"INITIAL_NO_AUTH_ACTION_COUNT", "0"}});
  DynamoDbConfig c;
  c.region = testing::kTestRegion;
  c.endpoint = strict.endpoint();
  c.credentials = static_credentials(Credentials{"AKIDNOTKNOWN", "not-the-secret", "", {}});
  c.transport = testing::test_transport();
  DynamoDbClient dynamodb(c);
  try {
    dynamodb.describe_table("some-table");
    FAIL() << "moto accepted unknown credentials";
  } catch (const AwsError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("AWS_ACCESS_KEY_ID"), std::string::npos) << m;
    EXPECT_NE(m.find("AWS_PROFILE"), std::string::npos) << m;
    EXPECT_EQ(m.find("not-the-secret"), std::string::npos) << "secret leaked: " << m;
    std::cout << "[ NOTE     ] DynamoDB with unknown credentials: " << m << "\n";
  }
  S3Config s;
  s.region = testing::kTestRegion;
  s.endpoint = strict.endpoint();
  s.credentials = c.credentials;
  s.transport = testing::test_transport();
  S3Client s3(s);
  try {
    s3.put_object("some-bucket", "k", "x");
    FAIL() << "moto accepted unknown credentials";
  } catch (const AwsError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("AWS_ACCESS_KEY_ID"), std::string::npos) << m;
    EXPECT_EQ(m.find("not-the-secret"), std::string::npos) << "secret leaked: " << m;
    std::cout << "[ NOTE     ] S3 with unknown credentials: " << m << "\n";
  }
}

TEST(MotoServerFixture, MissingExecutableSaysHowToInstall) {
  const char* path = std::getenv("PATH");
  const std::string saved = path ? path : "";
  ::setenv("PATH", "/nonexistent", 1);
  try {
    testing::MotoServer server;
    ::setenv("PATH", saved.c_str(), 1);
    FAIL() << "started without moto_server on PATH";
  } catch (const std::runtime_error& e) {
    ::setenv("PATH", saved.c_str(), 1);
    EXPECT_NE(std::string(e.what()).find("pip install 'moto[server]'"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace prevayler::aws
