// The operator side of the AWS storage, against the shared moto_server:
// the `prevayler` command's setup and check (and usage), the CloudFormation
// template (cfn-lint), and the journal items as other AWS clients (boto3,
// the aws CLI) see them — exactly prevayler-clj-aws's attributes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cereal/types/vector.hpp>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "aws/aws_test_storage.hpp"
#include "prevayler/prevayler.hpp"
#include "support/operator_command.hpp"
#include "support/run_program.hpp"

namespace prevayler::testing {
namespace {

using aws::testing::kTestRegion;
using aws::testing::moto;
using aws::testing::unique_name;

// Distinctive values, so a test can prove they never appear in the output.
constexpr const char* kAccessKeyId = "AKIATOOLTESTKEYID0000";
constexpr const char* kSecretAccessKey = "tool-test-secret-never-printed";

// The child's AWS environment: moto's fake credentials and nothing from the
// developer's own AWS configuration, so the tests are hermetic.
Environment moto_environment() {
  return {{"AWS_ACCESS_KEY_ID", kAccessKeyId},
          {"AWS_SECRET_ACCESS_KEY", kSecretAccessKey},
          {"AWS_CONFIG_FILE", "/nonexistent/prevayler-tool-test/config"},
          {"AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/prevayler-tool-test/credentials"},
          // Never wait for EC2 instance metadata on a developer machine.
          {"AWS_EC2_METADATA_DISABLED", "true"}};
}

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::string dirs = path;
  std::size_t begin = 0;
  while (begin <= dirs.size()) {
    const std::size_t end = std::min(dirs.find(':', begin), dirs.size());
    const std::string dir = dirs.substr(begin, end - begin);
    if (!dir.empty() && ::access((dir + "/" + program).c_str(), X_OK) == 0) return true;
    begin = end + 1;
  }
  return false;
}

// Runs a Python snippet with boto3 against moto; argv[1] is the endpoint.
RunResult run_boto3(const std::string& script, const std::vector<std::string>& args = {}) {
  std::vector<std::string> argv = {"python3", "-c", script, moto().endpoint()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, moto_environment());
}

// ---- The journal items as other AWS clients see them ----

using Events = std::vector<std::int64_t>;
using P = Prevayler<Events, std::int64_t>;

P::Options journal_options(const MotoJournal& journal) {
  P::Options o;
  o.business = [](const Events& state, const std::int64_t& e, Timestamp) {
    Events next = state;
    next.push_back(e);
    return next;
  };
  o.storage = journal.open();
  return o;
}

// Three events, a snapshot (which starts a new segment), two more events:
// each handle() waits for its own group commit, so every event is one item.
void write_journal(const MotoJournal& journal) {
  P p(journal_options(journal));
  for (std::int64_t e : {1, 2, 3}) p.handle(e);
  p.snapshot();
  for (std::int64_t e : {4, 5}) p.handle(e);
  p.close();
}

TEST(JournalItems, HaveExactlyPartkeyOrderAndContentWithOrdersWithoutGaps) {
  MotoJournal journal;
  write_journal(journal);

  const RunResult r = run_boto3(R"(
import json, sys, boto3
c = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1")
items = []
for page in c.get_paginator("scan").paginate(TableName=sys.argv[2], ConsistentRead=True):
    for item in page["Items"]:
        items.append({name: {"type": next(iter(value)),
                             "value": value["N"] if "N" in value else len(next(iter(value.values())))}
                      for name, value in item.items()})
print(json.dumps(items))
)",
                                {journal.table});
  ASSERT_EQ(r.status, 0) << describe(r);
  const auto items = nlohmann::json::parse(r.out);

  std::map<std::uint64_t, std::vector<std::uint64_t>> orders_by_partkey;
  for (const auto& item : items) {
    std::set<std::string> names;
    for (auto it = item.begin(); it != item.end(); ++it) names.insert(it.key());
    ASSERT_EQ(names, (std::set<std::string>{"partkey", "order", "content"})) << item.dump();
    EXPECT_EQ(item["partkey"]["type"], "N") << item.dump();
    EXPECT_EQ(item["order"]["type"], "N") << item.dump();
    EXPECT_EQ(item["content"]["type"], "B") << item.dump();
    EXPECT_GT(item["content"]["value"].get<int>(), 0) << item.dump();
    orders_by_partkey[std::stoull(item["partkey"]["value"].get<std::string>())].push_back(
        std::stoull(item["order"]["value"].get<std::string>()));
  }
  // Segments are consecutive from 0 (the storage seals a segment at each
  // snapshot, and when an instance takes over the journal), each numbered
  // 1..n without gaps; besides the five events there are only seals.
  std::uint64_t next_partkey = 0;
  std::size_t total = 0;
  for (auto& [partkey, orders] : orders_by_partkey) {
    EXPECT_EQ(partkey, next_partkey++) << r.out;
    std::sort(orders.begin(), orders.end());
    for (std::size_t i = 0; i < orders.size(); ++i) {
      EXPECT_EQ(orders[i], i + 1) << "partkey " << partkey << ": orders must be 1..n";
    }
    total += orders.size();
  }
  EXPECT_GE(total, 5u) << r.out;
  EXPECT_GE(orders_by_partkey.size(), 2u) << "the snapshot starts a new segment: " << r.out;

  // The journal the other clients see is the one we replay.
  P again(journal_options(journal));
  EXPECT_EQ(*again.state(), (Events{1, 2, 3, 4, 5}));
}

TEST(JournalItems, AreListedByTheAwsCli) {
  if (!on_path("aws")) GTEST_SKIP() << "the aws CLI is not on PATH (pip install awscli)";
  MotoJournal journal;
  write_journal(journal);
  Environment env = moto_environment();
  env.emplace_back("AWS_DEFAULT_OUTPUT", "json");
  const RunResult r =
      run({"aws", "dynamodb", "scan", "--table-name", journal.table, "--consistent-read",
           "--endpoint-url", moto().endpoint(), "--region", kTestRegion, "--output", "json"},
          env);
  ASSERT_EQ(r.status, 0) << describe(r);
  const auto reply = nlohmann::json::parse(r.out);
  // The five events, and the seals between segments.
  EXPECT_GE(reply.at("Count").get<int>(), 6) << r.out;
  for (const auto& item : reply.at("Items")) {
    EXPECT_TRUE(item.at("content").contains("B")) << item.dump();
  }
}

// ---- The CloudFormation template ----

TEST(CloudFormationTemplate, PassesCfnLint) {
  if (!on_path("cfn-lint")) {
    GTEST_SKIP() << "cfn-lint is not on PATH (pip install cfn-lint); the template is unchecked";
  }
  const std::string path = std::string(PREVAYLER_SOURCE_DIR) + "/deploy/cloudformation.yaml";
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  const RunResult r = run({"cfn-lint", path}, {});
  EXPECT_EQ(r.status, 0) << "cfn-lint found errors or warnings:\n" << describe(r);
}

// ---- prevayler setup and check ----

#ifdef PREVAYLER_TOOL

// Creates a table with a key schema the journal cannot use.
void create_table_with_key(const std::string& table, const std::string& key_json,
                           const std::string& attributes_json) {
  const RunResult r = run_boto3(R"(
import json, sys, boto3
c = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1")
c.create_table(TableName=sys.argv[2], KeySchema=json.loads(sys.argv[3]),
               AttributeDefinitions=json.loads(sys.argv[4]), BillingMode="PAY_PER_REQUEST")
c.get_waiter("table_exists").wait(TableName=sys.argv[2])
)",
                                {table, key_json, attributes_json});
  ASSERT_EQ(r.status, 0) << describe(r);
}

RunResult tool(std::vector<std::string> args, Environment environment = moto_environment()) {
  args.insert(args.begin(), PREVAYLER_TOOL);
  return run(args, environment);
}

// A command against moto with --endpoint and --region.
RunResult tool_on_moto(const std::string& command, const std::string& table,
                       const std::string& bucket) {
  return tool({command, "--table", table, "--bucket", bucket, "--endpoint", moto().endpoint(),
               "--region", kTestRegion});
}

void expect_no_credentials(const RunResult& r) {
  for (const std::string secret : {kAccessKeyId, kSecretAccessKey}) {
    EXPECT_EQ(r.out.find(secret), std::string::npos) << describe(r);
    EXPECT_EQ(r.err.find(secret), std::string::npos) << describe(r);
  }
}

bool bucket_exists(const std::string& bucket) {
  try {
    MotoJournal::s3().head_bucket(bucket);
    return true;
  } catch (const aws::ResourceNotFoundError&) {
    return false;
  }
}

TEST(OperatorCommandSetup, HelpPrintsUsage) {
  for (const std::string arg : {"help", "--help", "-h"}) {
    const RunResult r = tool({arg});
    EXPECT_EQ(r.status, 0) << arg << ": " << describe(r);
    EXPECT_NE(r.out.find("Usage: prevayler"), std::string::npos) << describe(r);
    EXPECT_NE(r.out.find("setup"), std::string::npos) << describe(r);
  }
}

TEST(OperatorCommandSetup, UsageErrorsExitTwo) {
  const std::vector<std::vector<std::string>> mistakes = {
      {},
      {"frobnicate", "--table", "t", "--bucket", "b"},
      {"setup", "--bucket", "b"},
      {"setup", "--table", "t"},
      {"check", "--table", "t", "--bucket", "b", "--colour", "red"},
      {"check", "--table", "t", "--bucket"},
      {"check", "--table=", "--bucket", "b"},
      {"setup", "extra", "--table", "t", "--bucket", "b"},
  };
  tool_testing::expect_usage_errors([](const std::vector<std::string>& args) { return tool(args); },
                                    mistakes);
}

TEST(OperatorCommandSetup, SetupCreatesTheJournalTableAndTheBucket) {
  const std::string table = unique_name("tool-table");
  const std::string bucket = unique_name("tool-bucket");
  const RunResult r = tool_on_moto("setup", table, bucket);
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_NE(r.out.find("DynamoDB table " + table + ": created"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("S3 bucket " + bucket + ": created"), std::string::npos) << r.out;
  expect_no_credentials(r);

  const aws::TableDescription d = MotoJournal::dynamodb().check_journal_table(table);
  EXPECT_EQ(d.status, "ACTIVE");
  EXPECT_EQ(d.billing_mode, "PAY_PER_REQUEST");
  EXPECT_EQ(d.key_schema.size(), 2u);
  EXPECT_TRUE(bucket_exists(bucket));

  const RunResult check = tool_on_moto("check", table, bucket);
  EXPECT_EQ(check.status, 0) << describe(check);
  expect_no_credentials(check);
}

TEST(OperatorCommandSetup, SetupIsIdempotent) {
  const std::string table = unique_name("tool-table");
  const std::string bucket = unique_name("tool-bucket");
  ASSERT_EQ(tool_on_moto("setup", table, bucket).status, 0);
  const RunResult again = tool_on_moto("setup", table, bucket);
  ASSERT_EQ(again.status, 0) << describe(again);
  EXPECT_NE(again.out.find("DynamoDB table " + table + ": already exists"), std::string::npos)
      << again.out;
  EXPECT_NE(again.out.find("S3 bucket " + bucket + ": already exists"), std::string::npos)
      << again.out;
  EXPECT_NO_THROW(MotoJournal::dynamodb().check_journal_table(table));
}

TEST(OperatorCommandSetup, SetupKeepsTheResourcesOfAWorkingJournal) {
  MotoJournal journal;
  write_journal(journal);
  const RunResult r = tool_on_moto("setup", journal.table, journal.bucket);
  ASSERT_EQ(r.status, 0) << describe(r);
  P again(journal_options(journal));
  EXPECT_EQ(*again.state(), (Events{1, 2, 3, 4, 5}));
  const RunResult check = tool_on_moto("check", journal.table, journal.bucket);
  EXPECT_EQ(check.status, 0) << describe(check);
  EXPECT_NE(check.out.find("snapshot s3://" + journal.bucket + "/snapshot present"),
            std::string::npos)
      << check.out;
}

TEST(OperatorCommandSetup, SetupRefusesAnExistingTableWithAnotherKeySchema) {
  const std::string table = unique_name("tool-wrong");
  const std::string bucket = unique_name("tool-bucket");
  create_table_with_key(table, R"([{"AttributeName": "id", "KeyType": "HASH"}])",
                        R"([{"AttributeName": "id", "AttributeType": "S"}])");
  const RunResult r = tool_on_moto("setup", table, bucket);
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_EQ(r.err.rfind("prevayler: error: ", 0), 0u) << describe(r);
  EXPECT_NE(r.err.find("DynamoDB table " + table), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("id (S, HASH)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cannot be used"), std::string::npos) << r.err;
  // It stops before creating anything else.
  EXPECT_FALSE(bucket_exists(bucket));

  // The right names with the wrong types are just as unusable.
  const std::string typed = unique_name("tool-wrong");
  create_table_with_key(
      typed,
      R"([{"AttributeName": "partkey", "KeyType": "HASH"}, {"AttributeName": "order", "KeyType": "RANGE"}])",
      R"([{"AttributeName": "partkey", "AttributeType": "S"}, {"AttributeName": "order", "AttributeType": "N"}])");
  const RunResult typed_run = tool_on_moto("setup", typed, bucket);
  EXPECT_EQ(typed_run.status, 1) << describe(typed_run);
  EXPECT_NE(typed_run.err.find("partkey (S, HASH) + order (N, RANGE)"), std::string::npos)
      << typed_run.err;

  const RunResult check = tool_on_moto("check", table, bucket);
  EXPECT_EQ(check.status, 1) << describe(check);
  EXPECT_NE(check.err.find("id (S, HASH)"), std::string::npos) << check.err;
}

TEST(OperatorCommandSetup, CheckNamesAMissingTableAndAMissingBucket) {
  const std::string table = unique_name("tool-missing");
  const std::string bucket = unique_name("tool-missing");
  const RunResult r = tool_on_moto("check", table, bucket);
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_NE(r.err.find("prevayler: error: DynamoDB table " + table + " does not exist"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("prevayler: error: S3 bucket " + bucket + " does not exist"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("prevayler setup --table " + table), std::string::npos) << r.err;
  expect_no_credentials(r);

  // Only the table missing: the bucket is reported fine.
  ASSERT_TRUE(MotoJournal::s3().create_bucket(bucket));
  const RunResult table_only = tool_on_moto("check", table, bucket);
  EXPECT_EQ(table_only.status, 1) << describe(table_only);
  EXPECT_NE(table_only.err.find(table), std::string::npos) << table_only.err;
  EXPECT_NE(table_only.out.find("S3 bucket " + bucket + ": exists"), std::string::npos)
      << table_only.out;
}

TEST(OperatorCommandSetup, TakesRegionAndEndpointFromTheEnvironment) {
  const std::string table = unique_name("tool-env");
  const std::string bucket = unique_name("tool-env");
  Environment env = moto_environment();
  env.emplace_back("AWS_REGION", kTestRegion);
  env.emplace_back("AWS_ENDPOINT_URL", moto().endpoint());
  const RunResult r = tool({"setup", "--table", table, "--bucket", bucket}, env);
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_NO_THROW(MotoJournal::dynamodb().check_journal_table(table));
  EXPECT_TRUE(bucket_exists(bucket));
}

TEST(OperatorCommandSetup, WithoutARegionSaysWhereItLooked) {
  const RunResult r = tool({"check", "--table", "t-t-t", "--bucket", "b-b-b"});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_EQ(r.err.rfind("prevayler: error: ", 0), 0u) << describe(r);
  EXPECT_NE(r.err.find("AWS_REGION"), std::string::npos) << r.err;
}

TEST(OperatorCommandSetup, NamesTheResourceAndEndpointItCannotReach) {
  // Port 1 on loopback: nothing listens there, the connection is refused.
  const std::string endpoint = "http://127.0.0.1:1";
  const RunResult r = tool({"check", "--table", "t-t-t", "--bucket", "b-b-b", "--endpoint",
                            endpoint, "--region", kTestRegion});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_NE(r.err.find("DynamoDB table t-t-t: cannot reach " + endpoint), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("S3 bucket b-b-b: cannot reach " + endpoint), std::string::npos) << r.err;
}

#endif  // PREVAYLER_TOOL

}  // namespace
}  // namespace prevayler::testing
