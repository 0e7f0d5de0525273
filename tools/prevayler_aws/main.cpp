// prevayler-aws: the operator command for the AWS storage. `setup` creates
// the DynamoDB journal table and the S3 snapshot bucket (idempotent), `check`
// verifies that they exist and can be used, `prune` deletes what no recovery
// reads. Its clients come from the storage's own resolve_aws_clients()
// (src/aws/aws_clients.hpp), so it resolves the region, endpoints,
// credentials, retries and time-outs exactly as the storage will at run
// time, and it checks the table with the storage's key-schema check.
// Docs: docs/aws.md.
//
// Exit status: 0 success, 1 a resource is missing, unusable or AWS failed,
// 2 a usage error. Credentials are never printed (the client's errors never
// contain them either).
#include <chrono>
#include <cstdio>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "aws/aws_clients.hpp"
#include "aws/aws_error.hpp"
#include "aws/dynamodb.hpp"
#include "aws/http.hpp"
#include "aws/s3.hpp"
#include "prevayler/aws_storage.hpp"
#include "prevayler/error.hpp"

namespace {

using namespace prevayler;

constexpr std::string_view program_name = "prevayler-aws";
constexpr int exit_ok = 0;
constexpr int exit_failure = 1;
constexpr int exit_usage = 2;
// A new on-demand table is usually ACTIVE within seconds, but AWS documents
// no bound; five minutes covers a busy region without hanging forever.
constexpr std::chrono::milliseconds table_active_timeout_ms = std::chrono::minutes(5);
// HeadBucket's answer for a bucket that exists but these credentials cannot use.
constexpr int http_status_forbidden = 403;
// Items the check's Query reads: one proves dynamodb:Query is allowed.
constexpr std::uint32_t check_query_items = 1;

constexpr std::string_view usage_text = R"(Usage: prevayler-aws <command> [options]

Creates and checks the AWS resources of prevayler-cpp's DynamoDB+S3 storage:
a DynamoDB table for the journal and an S3 bucket for the snapshot.

Commands:
  setup    Create the table (partkey N HASH + order N RANGE, on-demand
           capacity), wait until it is ACTIVE, and create the bucket.
           Idempotent: an existing table with exactly that key schema and an
           existing bucket you can access are kept as they are.
  check    Check that the table has the journal key schema and is ACTIVE,
           and that the bucket exists and can be read. Writes nothing.
  prune    Delete the journal segments older than the snapshot in the bucket
           (recovery starts at the snapshot and never reads them). Safe while
           an instance runs.
  help     Show this help (also --help, -h).

Options:
  --table NAME          DynamoDB table (required for setup and check)
  --bucket NAME         S3 bucket (required for setup and check)
  --snapshot-path KEY   snapshot object key that check reads (default "snapshot")
  --region REGION       instead of AWS_REGION / AWS_DEFAULT_REGION / the profile
  --endpoint URL        for both services, instead of AWS_ENDPOINT_URL[_DYNAMODB|_S3]
                        (e.g. http://localhost:5000 for moto or LocalStack)

Credentials come from the standard AWS chain: AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), the shared files with
AWS_PROFILE, web identity, ECS container credentials, EC2 instance metadata.

Exit status: 0 success, 1 a resource is missing or unusable or AWS failed,
2 a usage error. See docs/aws.md.
)";

// A mistake on the command line: exit 2 with a pointer to the help.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CommandLine {
  std::string command;
  std::string table;
  std::string bucket;
  std::string snapshot_path = "snapshot";
  std::optional<std::string> region;
  std::optional<std::string> endpoint;
  bool help = false;
};

// Accepts `--name value` and `--name=value`.
CommandLine parse_command_line(int argc, char** argv) {
  CommandLine cl;
  std::vector<std::string_view> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      cl.help = true;
      continue;
    }
    if (arg.substr(0, 2) != "--") {
      if (!cl.command.empty()) {
        throw UsageError("unexpected argument '" + std::string(arg) + "' after the command '" +
                         cl.command + "'");
      }
      cl.command = arg;
      continue;
    }
    std::string name(arg);
    std::optional<std::string> value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    std::string* target = nullptr;
    std::optional<std::string>* optional_target = nullptr;
    if (name == "--table") {
      target = &cl.table;
    } else if (name == "--bucket") {
      target = &cl.bucket;
    } else if (name == "--snapshot-path") {
      target = &cl.snapshot_path;
    } else if (name == "--region") {
      optional_target = &cl.region;
    } else if (name == "--endpoint") {
      optional_target = &cl.endpoint;
    } else {
      throw UsageError("unknown option '" + name + "'");
    }
    if (!value) {
      if (i + 1 >= args.size()) throw UsageError("option '" + name + "' needs a value");
      value = std::string(args[++i]);
    }
    if (value->empty()) throw UsageError("option '" + name + "' needs a non-empty value");
    if (target) {
      *target = std::move(*value);
    } else {
      *optional_target = std::move(*value);
    }
  }
  if (cl.help || cl.command == "help") return cl;
  if (cl.command.empty()) throw UsageError("no command given");
  if (cl.command != "setup" && cl.command != "check" && cl.command != "prune") {
    throw UsageError("unknown command '" + cl.command + "'");
  }
  if (cl.table.empty()) throw UsageError(cl.command + " needs --table NAME");
  if (cl.bucket.empty()) throw UsageError(cl.command + " needs --bucket NAME");
  return cl;
}

// The storage's options for what the command line says; the clients come
// from them through the storage's own resolve_aws_clients().
AwsStorageOptions storage_options(const CommandLine& cl) {
  AwsStorageOptions options;
  options.table = cl.table;
  options.bucket = cl.bucket;
  options.snapshot_path = cl.snapshot_path;
  options.region = cl.region;
  options.endpoint = cl.endpoint;
  return options;
}

using Clients = detail::AwsClients;

Clients make_clients(const CommandLine& cl) {
  return detail::resolve_aws_clients(storage_options(cl), nullptr);
}

void print_error(std::string_view message) {
  std::cerr << program_name << ": error: " << message << std::endl;
}

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

int run_setup(const CommandLine& cl) {
  Clients c = make_clients(cl);
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
                  "with `prevayler-aws setup`)");
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
                c.dynamodb_endpoint + "; create it with `prevayler-aws setup --table " + table +
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
                "); create it with `prevayler-aws setup --table " + table + " --bucket " + bucket +
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

int run_prune(const CommandLine& cl) {
  const std::uint64_t deleted = prune_aws_journal(storage_options(cl));
  std::cout << "DynamoDB table " << cl.table << ": deleted " << deleted
            << " journal items older than the snapshot s3://" << cl.bucket << "/"
            << cl.snapshot_path << std::endl;
  return exit_ok;
}

int run_check(const CommandLine& cl) {
  Clients c = make_clients(cl);
  const bool table_ok = check_table(c, cl.table, cl.bucket);
  const bool bucket_ok = check_bucket(c, cl.table, cl.bucket, cl.snapshot_path);
  return table_ok && bucket_ok ? exit_ok : exit_failure;
}

}  // namespace

int main(int argc, char** argv) {
  CommandLine cl;
  try {
    cl = parse_command_line(argc, argv);
  } catch (const UsageError& e) {
    print_error(e.what());
    std::cerr << "Run '" << program_name << " help' for usage." << std::endl;
    return exit_usage;
  }
  if (cl.help || cl.command == "help") {
    std::cout << usage_text;
    return exit_ok;
  }
  try {
    if (cl.command == "prune") return run_prune(cl);
    return cl.command == "setup" ? run_setup(cl) : run_check(cl);
  } catch (const std::exception& e) {
    print_error(e.what());
    return exit_failure;
  }
}
