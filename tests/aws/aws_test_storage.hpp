// A DynamoDB table and S3 bucket in the shared moto_server, created with the
// journal layout, and options that point the AWS storage at them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/aws_storage_impl.hpp"
#include "aws/client_config.hpp"
#include "aws/dynamodb.hpp"
#include "aws/moto_server.hpp"
#include "aws/s3.hpp"

namespace prevayler::testing {

// A DynamoDbConfig or S3Config in the test region with the test
// credentials, at `endpoint` through `transport` (the shared moto_server's
// by default).
template <class Config>
Config test_client_config(
    std::string endpoint = aws::testing::moto().endpoint(),
    std::shared_ptr<aws::HttpTransport> transport = aws::testing::test_transport()) {
  return aws::client_config<Config>(aws::testing::kTestRegion, std::move(endpoint),
                                    aws::testing::test_credentials(), std::move(transport));
}

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
    static aws::DynamoDbClient client(test_client_config<aws::DynamoDbConfig>());
    return client;
  }
  static aws::S3Client& s3() {
    static aws::S3Client client(test_client_config<aws::S3Config>());
    return client;
  }
};

// Every item of a segment, across Query pages (a page stops at 1 MB).
inline std::vector<aws::JournalItem> all_items(const std::string& table, std::uint64_t segment) {
  constexpr std::uint32_t page_items_max = 1000;
  std::vector<aws::JournalItem> items;
  std::optional<std::uint64_t> after;
  do {
    auto page = MotoJournal::dynamodb().query_page(table, segment, after, page_items_max);
    for (auto& item : page.items) items.push_back(std::move(item));
    after = page.last_evaluated_order;
  } while (after);
  return items;
}

}  // namespace prevayler::testing
