#include "aws/aws_clients.hpp"

#include <algorithm>
#include <utility>

#include "aws/aws_config.hpp"
#include "aws/counting_retry_strategy.hpp"
#include "aws/credentials.hpp"
#include "aws/curl_transport.hpp"
#include "aws/retry.hpp"

namespace prevayler::detail {
namespace {

std::shared_ptr<aws::CredentialsProvider> resolve_credentials(
    const AwsStorageOptions& options, const std::shared_ptr<aws::HttpTransport>& transport,
    const std::string& region) {
  if (options.credentials) {
    return aws::static_credentials({options.credentials->access_key_id,
                                    options.credentials->secret_access_key,
                                    options.credentials->session_token,
                                    {}});
  }
  aws::CredentialsEnvironment environment = aws::credentials_environment_from_process();
  // Web identity asks STS in the region the storage was given, rather than
  // only in the environment's (which may be unset or another one).
  if (options.region || environment.region.empty()) {
    environment.region = region;
    if (environment.sts_endpoint.empty() || options.region) {
      environment.sts_endpoint = aws::resolve_endpoint("sts", std::nullopt, region).url;
    }
  }
  return aws::default_credentials_chain(transport, std::move(environment));
}

}  // namespace

AwsClients resolve_aws_clients(const AwsStorageOptions& options,
                               std::shared_ptr<aws::HttpTransport> transport,
                               const AwsStorageTestHooks& hooks) {
  if (!transport) {
    aws::CurlTransportOptions curl;
    curl.verify_tls = options.verify_tls;
    curl.request_timeout = options.request_timeout;
    transport = aws::make_curl_transport(curl);
  }
  AwsClients clients;
  clients.retry_counters = std::make_shared<aws::AwsRetryCounters>();
  // Aliasing pointers: each service's counters keep the whole set alive.
  const std::shared_ptr<aws::RetryCounters> dynamodb_counters(clients.retry_counters,
                                                              &clients.retry_counters->dynamodb);
  const std::shared_ptr<aws::RetryCounters> s3_counters(clients.retry_counters,
                                                        &clients.retry_counters->s3);
  clients.region = aws::resolve_region(options.region);
  const std::string& region = clients.region;
  auto credentials = resolve_credentials(options, transport, region);
  aws::StandardRetryOptions retry;
  retry.max_attempts = std::max(1, options.max_attempts);
  retry.sleep = hooks.sleep;
  retry.seed = hooks.retry_seed;

  aws::DynamoDbConfig dynamodb;
  dynamodb.region = region;
  dynamodb.endpoint =
      aws::resolve_endpoint(
          "dynamodb", options.dynamodb_endpoint ? options.dynamodb_endpoint : options.endpoint,
          region)
          .url;
  dynamodb.credentials = credentials;
  dynamodb.transport = transport;
  dynamodb.retry = aws::counted(aws::make_standard_retry_strategy(retry), dynamodb_counters);
  dynamodb.request_timeout = options.request_timeout;
  clients.dynamodb_endpoint = dynamodb.endpoint;
  clients.dynamodb = std::make_unique<aws::DynamoDbClient>(dynamodb);

  aws::S3Config s3;
  s3.region = region;
  s3.endpoint = aws::resolve_endpoint(
                    "s3", options.s3_endpoint ? options.s3_endpoint : options.endpoint, region)
                    .url;
  s3.credentials = credentials;
  s3.transport = transport;
  s3.retry = aws::counted(aws::make_standard_retry_strategy(retry), s3_counters);
  s3.path_style = options.s3_path_style;
  s3.request_timeout = options.snapshot_request_timeout;
  clients.s3_endpoint = s3.endpoint;
  clients.s3 = std::make_unique<aws::S3Client>(s3);

  aws::BudgetRetryOptions reads;
  reads.budget = options.read_retry_budget;
  reads.sleep = hooks.sleep;
  dynamodb.retry =
      aws::counted(std::make_shared<aws::BudgetRetryStrategy>(reads), dynamodb_counters);
  clients.dynamodb_reads = std::make_unique<aws::DynamoDbClient>(dynamodb);
  s3.retry = aws::counted(std::make_shared<aws::BudgetRetryStrategy>(reads), s3_counters);
  clients.s3_reads = std::make_unique<aws::S3Client>(s3);
  return clients;
}

}  // namespace prevayler::detail
