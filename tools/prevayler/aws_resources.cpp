// `prevayler setup` and `prevayler check`: the DynamoDB journal table and
// the S3 snapshot bucket of the AWS storage (docs/aws.md). The clients come
// from the storage's own resolve_aws_clients() (src/aws/aws_clients.hpp),
// so the command resolves the region, endpoints, credentials, retries and
// time-outs exactly as the storage will at run time, and it checks the
// table with the storage's key-schema check. Credentials are never printed
// (the clients' errors never contain them either).
#include <chrono>
#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "aws/aws_clients.hpp"
#include "aws/aws_error.hpp"
#include "aws/dynamodb.hpp"
#include "aws/s3.hpp"
#include "prevayler/error.hpp"
#include "tool.hpp"

namespace prevayler::tool {
namespace {

using Clients = detail::AwsClients;

// A new on-demand table is usually ACTIVE within seconds, but AWS documents
// no bound; five minutes covers a busy region without hanging forever.
constexpr std::chrono::milliseconds table_active_timeout_ms = std::chrono::minutes(5);
// HeadBucket's answer for a bucket that exists but these credentials cannot use.
constexpr int http_status_forbidden = 403;
// Items the check's Query reads: one proves dynamodb:Query is allowed.
constexpr std::uint32_t check_query_items = 1;

// Transport failures (connection refused, time-out, TLS) do not say which
// service they were talking to; say it, with the endpoint to check.
std::string unreachable(std::string_view resource, const std::string& endpoint,
                        const aws::TransportError& e) {
  return std::string(resource) + ": cannot reach " + endpoint + " (" + e.what() +
         "); check the region, --endpoint / AWS_ENDPOINT_URL and the network";
}

std::string wrong_schema_message(const std::string& table, const aws::TableDescription& d) {
  return "DynamoDB table " + table + " exists with the key schema " + aws::describe_key_schema(d) +
         "; the journal needs exactly partkey (N, HASH) + order (N, RANGE), so this table cannot "
         "be used. Choose another --table, or delete this table if nothing in it is needed.";
}

std::string billing(const aws::TableDescription& d) {
  // DynamoDB omits BillingModeSummary for tables created as PROVISIONED.
  return d.billing_mode.empty() ? "PROVISIONED" : d.billing_mode;
}

// ---- setup ----

int setup_table(Clients& c, const std::string& table) {
  const bool created = c.dynamodb->create_table(table);
  if (!created) {
    // Check the schema before waiting: a wrong table stays wrong.
    const aws::TableDescription found = c.dynamodb->describe_table(table);
    if (!aws::has_journal_key_schema(found)) {
      print_error(wrong_schema_message(table, found));
      return exit_failure;
    }
  }
  const aws::TableDescription d = c.dynamodb->wait_until_active(table, table_active_timeout_ms);
  if (!aws::has_journal_key_schema(d)) {
    // Someone replaced the table between our calls.
    print_error(wrong_schema_message(table, d));
    return exit_failure;
  }
  std::cout << "DynamoDB table " << table << ": " << (created ? "created" : "already exists, kept")
            << ", key partkey (N, HASH) + order (N, RANGE), " << billing(d) << ", ACTIVE"
            << std::endl;
  return exit_ok;
}

int setup_bucket(Clients& c, const std::string& bucket) {
  // HeadBucket first: in us-east-1 CreateBucket answers 200 for a bucket we
  // already own, so its answer cannot tell "created" from "existed".
  try {
    c.s3->head_bucket(bucket);
    std::cout << "S3 bucket " << bucket << ": already exists and is accessible, kept" << std::endl;
    return exit_ok;
  } catch (const aws::ResourceNotFoundError&) {
    // Create it below.
  } catch (const aws::AwsError& e) {
    if (e.http_status() == http_status_forbidden) {
      print_error("S3 bucket " + bucket +
                  " exists but these credentials cannot access it (HeadBucket answered 403): it "
                  "belongs to another account, or the caller lacks s3:ListBucket on it. Choose "
                  "another --bucket, or grant access (see docs/aws.md).");
      return exit_failure;
    }
    throw;
  }
  try {
    const bool created = c.s3->create_bucket(bucket);
    std::cout << "S3 bucket " << bucket << ": "
              << (created ? "created in " + c.region : std::string("already exists, kept"))
              << std::endl;
    return exit_ok;
  } catch (const aws::AwsError& e) {
    if (e.code() == "BucketAlreadyExists") {
      print_error("S3 bucket name " + bucket +
                  " is taken by another AWS account (bucket names are global); choose another "
                  "--bucket.");
      return exit_failure;
    }
    throw;
  }
}

// ---- check ----

// Each check prints one line on success or one error and returns whether
// the resource is usable; all checks run so one run reports every problem.
bool check_table(Clients& c, const std::string& table, const std::string& bucket) {
  try {
    const aws::TableDescription d = c.dynamodb->describe_table(table);
    if (!aws::has_journal_key_schema(d)) {
      print_error(wrong_schema_message(table, d));
      return false;
    }
    // UPDATING (e.g. a capacity or PITR change) still serves reads and writes.
    if (d.status != "ACTIVE" && d.status != "UPDATING") {
      print_error("DynamoDB table " + table + " is " + d.status +
                  ", not ACTIVE; wait until it is ACTIVE (or, when DELETING, create it again "
                  "with `prevayler setup`)");
      return false;
    }
    // A one-item strongly consistent Query proves the caller may read the
    // journal as recovery does (dynamodb:Query), not only describe it.
    (void)c.dynamodb->query_page(table, 0, std::nullopt, check_query_items, true);
    std::cout << "DynamoDB table " << table << ": key partkey (N, HASH) + order (N, RANGE), "
              << billing(d) << ", " << d.status << ", readable" << std::endl;
    return true;
  } catch (const aws::ResourceNotFoundError&) {
    print_error("DynamoDB table " + table + " does not exist in region " + c.region + " at " +
                c.dynamodb_endpoint + "; create it with `prevayler setup --table " + table +
                " --bucket " + bucket + "`");
    return false;
  } catch (const ConfigError&) {
    throw;  // no region or credentials: one message from main() is enough
  } catch (const aws::TransportError& e) {
    print_error(unreachable("DynamoDB table " + table, c.dynamodb_endpoint, e));
    return false;
  } catch (const std::exception& e) {
    print_error(e.what());
    return false;
  }
}

bool check_bucket(Clients& c, const std::string& table, const std::string& bucket,
                  const std::string& snapshot_path) {
  try {
    c.s3->head_bucket(bucket);
  } catch (const aws::ResourceNotFoundError&) {
    print_error("S3 bucket " + bucket + " does not exist (at " + c.s3_endpoint +
                "); create it with `prevayler setup --table " + table + " --bucket " + bucket +
                "`");
    return false;
  } catch (const aws::AwsError& e) {
    if (e.http_status() == http_status_forbidden) {
      print_error("S3 bucket " + bucket +
                  " is not accessible with these credentials (HeadBucket answered 403): it "
                  "belongs to another account, or the caller lacks s3:ListBucket on it (see "
                  "docs/aws.md)");
      return false;
    }
    print_error(e.what());
    return false;
  } catch (const ConfigError&) {
    throw;
  } catch (const aws::TransportError& e) {
    print_error(unreachable("S3 bucket " + bucket, c.s3_endpoint, e));
    return false;
  } catch (const std::exception& e) {
    print_error(e.what());
    return false;
  }
  // Read the first byte of the snapshot as recovery would (s3:GetObject);
  // a missing object is fine: the first snapshot creates it.
  std::string snapshot;
  try {
    const auto first = c.s3->get_object(bucket, snapshot_path, aws::ByteRange{0, 0});
    snapshot = "snapshot s3://" + bucket + "/" + snapshot_path + " present (" +
               std::to_string(first.total_size) + " bytes)";
  } catch (const aws::ResourceNotFoundError&) {
    snapshot = "no snapshot at s3://" + bucket + "/" + snapshot_path + " yet";
  } catch (const aws::AwsError& e) {
    if (e.code() == "InvalidRange") {
      // An empty object: recovery will report it as corrupt.
      print_error("s3://" + bucket + "/" + snapshot_path +
                  " is empty, not a snapshot; delete it or restore a previous version");
      return false;
    }
    print_error(e.what());
    return false;
  } catch (const std::exception& e) {
    print_error(e.what());
    return false;
  }
  std::cout << "S3 bucket " << bucket << ": exists and is accessible, " << snapshot << std::endl;
  return true;
}

}  // namespace

int run_setup(const StorageFlags& cl) {
  Clients c = detail::resolve_aws_clients(aws_options(cl), nullptr);
  // The table first: it is the part that can be found unusable.
  int status = exit_ok;
  try {
    status = setup_table(c, cl.table);
  } catch (const aws::TransportError& e) {
    print_error(unreachable("DynamoDB table " + cl.table, c.dynamodb_endpoint, e));
    return exit_failure;
  }
  if (status != exit_ok) return status;
  try {
    return setup_bucket(c, cl.bucket);
  } catch (const aws::TransportError& e) {
    print_error(unreachable("S3 bucket " + cl.bucket, c.s3_endpoint, e));
    return exit_failure;
  }
}

int run_check(const StorageFlags& cl) {
  Clients c = detail::resolve_aws_clients(aws_options(cl), nullptr);
  const bool table_ok = check_table(c, cl.table, cl.bucket);
  const bool bucket_ok = check_bucket(c, cl.table, cl.bucket, cl.snapshot_path);
  return table_ok && bucket_ok ? exit_ok : exit_failure;
}

}  // namespace prevayler::tool
