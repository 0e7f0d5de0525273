// The one place that turns AwsStorageOptions into DynamoDB and S3 clients:
// region, endpoints, credentials (with STS in the resolved region), the
// HTTP transport and its time-outs, and the two retry policies. The storage
// and the operator tool (tools/prevayler_aws) both call it, so the tool
// talks to AWS exactly as the storage will.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "aws/dynamodb.hpp"
#include "aws/http.hpp"
#include "aws/retry_counters.hpp"
#include "aws/s3.hpp"
#include "prevayler/aws_storage.hpp"

namespace prevayler::detail {

// What a simulation test replaces besides the transport: every wait
// between attempts (retries, unknown outcomes) goes through `sleep`, and
// the retry jitter through a seeded generator, so that a seed runs fast
// and the same way twice.
struct AwsStorageTestHooks {
  std::function<void(std::chrono::milliseconds)> sleep;  // real sleeps when unset
  std::optional<std::uint64_t> retry_seed;               // random when unset
  // Dates snapshots for retention by age (ms since the Unix epoch); the
  // system clock when unset.
  std::function<std::int64_t()> now_ms;
};

// The clients of one storage (or one tool run). Writes go through the AWS
// standard retry mode (options.max_attempts attempts); reads, idempotent,
// are retried within options.read_retry_budget so that an open rides out a
// burst of transient faults. Each client is thread-safe (dynamodb.hpp).
// Every client counts its retries in retry_counters, by service.
struct AwsClients {
  std::string region;
  std::string dynamodb_endpoint;  // scheme://host[:port], for messages
  std::string s3_endpoint;
  std::unique_ptr<aws::DynamoDbClient> dynamodb;
  std::unique_ptr<aws::S3Client> s3;
  std::unique_ptr<aws::DynamoDbClient> dynamodb_reads;
  std::unique_ptr<aws::S3Client> s3_reads;
  std::shared_ptr<aws::AwsRetryCounters> retry_counters;
};

// Resolves the region (options.region, else the standard AWS configuration),
// the endpoints (dynamodb_endpoint / s3_endpoint, else endpoint, else the
// environment and the profile), and the credentials (options.credentials,
// else the standard chain; its STS calls use the resolved region). A null
// transport means curl with options.verify_tls and options.request_timeout.
// Throws ConfigError when no region is configured or an endpoint is invalid.
AwsClients resolve_aws_clients(const AwsStorageOptions& options,
                               std::shared_ptr<aws::HttpTransport> transport,
                               const AwsStorageTestHooks& hooks = {});

}  // namespace prevayler::detail
