// A DynamoDB table and S3 bucket in the shared moto_server, created with the
// journal layout, and options that point the AWS storage at them.
#pragma once

#include <memory>
#include <string>

#include "aws/aws_storage_impl.hpp"
#include "aws/dynamodb.hpp"
#include "aws/moto_server.hpp"
#include "aws/s3.hpp"

namespace prevayler::testing {

struct MotoJournal {
  std::string table = aws::testing::unique_name("journal");
  std::string bucket = aws::testing::unique_name("snapshots");

  MotoJournal() {
    dynamodb().create_table(table);
    dynamodb().wait_until_active(table);
    s3().create_bucket(bucket);
  }

  AwsStorageOptions options() const {
    AwsStorageOptions o;
    o.table = table;
    o.bucket = bucket;
    o.region = aws::testing::kTestRegion;
    o.endpoint = aws::testing::moto().endpoint();
    o.credentials =
        AwsCredentials{aws::testing::kTestAccessKeyId, aws::testing::kTestSecretAccessKey, ""};
    o.common.warn = [](const std::string&) {};
    return o;
  }

  std::unique_ptr<Storage> open(std::shared_ptr<aws::HttpTransport> transport = nullptr) const {
    return detail::make_aws_storage(options(), std::move(transport));
  }

  static aws::DynamoDbClient& dynamodb() {
    static aws::DynamoDbClient client([] {
      aws::DynamoDbConfig c;
      c.region = aws::testing::kTestRegion;
      c.endpoint = aws::testing::moto().endpoint();
      c.credentials = aws::testing::test_credentials();
      c.transport = aws::testing::test_transport();
      return c;
    }());
    return client;
  }
  static aws::S3Client& s3() {
    static aws::S3Client client([] {
      aws::S3Config c;
      c.region = aws::testing::kTestRegion;
      c.endpoint = aws::testing::moto().endpoint();
      c.credentials = aws::testing::test_credentials();
      c.transport = aws::testing::test_transport();
      return c;
    }());
    return client;
  }
};

}  // namespace prevayler::testing
