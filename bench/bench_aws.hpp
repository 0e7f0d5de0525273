// What the AWS benches share: a fresh table and bucket on the endpoint under
// test (moto_server, possibly behind prevayler_latency_proxy), and the
// storage options that point at them.
#pragma once

#include <string>

#include "aws/client_config.hpp"
#include "aws/credentials.hpp"
#include "aws/curl_transport.hpp"
#include "aws/dynamodb.hpp"
#include "aws/s3.hpp"
#include "prevayler/aws_storage.hpp"

namespace bench {

inline constexpr const char* aws_region = "us-east-1";

// Creates the journal table and the snapshot bucket, both called `name`,
// at `endpoint`; returns an S3 client for the bucket.
inline prevayler::aws::S3Client create_table_and_bucket(const std::string& endpoint,
                                                        const std::string& name) {
  namespace aws = prevayler::aws;
  auto credentials = aws::static_credentials({"bench", "bench", "", {}});
  auto transport = aws::make_curl_transport();
  aws::DynamoDbClient dynamo(
      aws::client_config<aws::DynamoDbConfig>(aws_region, endpoint, credentials, transport));
  dynamo.create_table(name);
  dynamo.wait_until_active(name);
  aws::S3Client s3(aws::client_config<aws::S3Config>(aws_region, endpoint, credentials, transport));
  s3.create_bucket(name);
  return s3;
}

// Storage options for the table and bucket create_table_and_bucket made.
inline prevayler::AwsStorageOptions aws_storage_options(const std::string& endpoint,
                                                        const std::string& name) {
  prevayler::AwsStorageOptions o;
  o.table = name;
  o.bucket = name;
  o.region = aws_region;
  o.endpoint = endpoint;
  o.credentials = prevayler::AwsCredentials{"bench", "bench", ""};
  return o;
}

}  // namespace bench
