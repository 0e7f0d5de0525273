// A small DynamoDB client for the journal table: JSON 1.0 protocol over the
// HttpTransport seam, SigV4-signed, every call retried through the
// RetryStrategy, responses checked against x-amz-crc32.
//
// The journal table has the key partkey (N, HASH) + order (N, RANGE) and the
// event bytes in the binary attribute `content`.
//
// Thread-safety: a DynamoDbClient is immutable after construction and all
// its members are safe to call from many threads at once (the transport,
// the credentials provider and the retry strategy are thread-safe).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/aws_error.hpp"
#include "aws/credentials.hpp"
#include "aws/http.hpp"
#include "aws/retry.hpp"

namespace prevayler::aws {

// Service limits
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html).
inline constexpr std::size_t dynamodb_item_bytes_max = 400 * 1024;  // names + values of one item
inline constexpr std::size_t dynamodb_batch_write_items_max = 25;   // per BatchWriteItem
inline constexpr std::size_t dynamodb_query_response_bytes_max = 1024 * 1024;  // per Query page
inline constexpr std::size_t dynamodb_table_name_chars_min = 3;
inline constexpr std::size_t dynamodb_table_name_chars_max = 255;

// Attribute names of the journal table.
inline constexpr std::string_view journal_partition_key = "partkey";
inline constexpr std::string_view journal_sort_key = "order";
inline constexpr std::string_view journal_content_attribute = "content";

struct DynamoDbConfig {
  std::string region;    // e.g. "us-east-1"
  std::string endpoint;  // scheme://host[:port], e.g. https://dynamodb.us-east-1.amazonaws.com
  std::shared_ptr<CredentialsProvider> credentials;
  std::shared_ptr<HttpTransport> transport;
  std::shared_ptr<RetryStrategy> retry;          // the standard strategy when null
  std::chrono::milliseconds request_timeout{0};  // per attempt; 0 = the transport's default
};

struct PutIfAbsentResult {
  enum class Outcome { stored, condition_failed };
  Outcome outcome = Outcome::stored;
  // For condition_failed: the content of the item already at that key (absent
  // only if the item vanished between the failed put and the read-back).
  std::optional<std::string> existing_content;
  // An earlier attempt of this call failed ambiguously (time-out after
  // sending, 5xx), so a condition_failed may be our own write: compare
  // existing_content with what was written to decide.
  bool after_ambiguous_attempt = false;

  bool stored() const noexcept { return outcome == Outcome::stored; }
};

struct JournalItem {
  std::uint64_t order = 0;
  std::string content;
};

struct QueryPage {
  std::vector<JournalItem> items;  // ascending order
  // Set when there may be more items: pass it as exclusive_start_order.
  std::optional<std::uint64_t> last_evaluated_order;
};

struct KeySchemaElement {
  std::string name;
  std::string type;      // "N", "S", "B" (from the attribute definitions)
  std::string key_type;  // "HASH", "RANGE"
};

struct AttributeDefinition {
  std::string name;
  std::string type;
};

struct TableDescription {
  std::string status;  // "CREATING", "ACTIVE", ...
  std::vector<KeySchemaElement> key_schema;
  std::vector<AttributeDefinition> attribute_definitions;
  std::uint64_t item_count = 0;  // approximate, refreshed by DynamoDB every ~6 hours
  std::string billing_mode;      // "PAY_PER_REQUEST" or "PROVISIONED"
};

// True when the key schema is exactly partkey (N, HASH) + order (N, RANGE):
// the one check of the journal table, used by the storage and the tool.
bool has_journal_key_schema(const TableDescription& d);
// "partkey (N, HASH) + order (N, RANGE)", for messages.
std::string describe_key_schema(const TableDescription& d);

// The table exists but cannot hold the journal (wrong key schema).
class JournalTableSchemaError : public ConfigError {
 public:
  using ConfigError::ConfigError;
};

class DynamoDbClient {
 public:
  // Throws ConfigError when the region, endpoint, credentials or transport is
  // missing.
  explicit DynamoDbClient(DynamoDbConfig config);

  // PutItem with attribute_not_exists(partkey): stores the item unless one
  // exists at (partkey, order). On a condition failure, returns the existing
  // item's content (from ReturnValuesOnConditionCheckFailure=ALL_OLD, or a
  // consistent GetItem when the service does not return it).
  // Throws EventTooLargeError when the item exceeds dynamodb_item_bytes_max,
  // AwsError / TransportError when retries are exhausted.
  PutIfAbsentResult put_item_if_absent(const std::string& table, std::uint64_t partkey,
                                       std::uint64_t order, std::string_view content);

  // The content at (partkey, order), or nullopt when there is no item.
  std::optional<std::string> get_item(const std::string& table, std::uint64_t partkey,
                                      std::uint64_t order, bool consistent = true);

  // One Query page of the partition in ascending order, starting after
  // exclusive_start_order (when set) and at min_order (when set).
  QueryPage query_page(const std::string& table, std::uint64_t partkey,
                       std::optional<std::uint64_t> exclusive_start_order, std::uint32_t limit,
                       bool consistent = true, std::optional<std::uint64_t> min_order = {});

  // One Query page of the items with first_order <= order <= last_order
  // (`order BETWEEN`), ascending, at most `limit` items (0: no limit; a page
  // also stops at dynamodb_query_response_bytes_max). When the page stops
  // early, last_evaluated_order is set: continue from it + 1.
  // REQUIRES: first_order <= last_order.
  QueryPage query_range(const std::string& table, std::uint64_t partkey, std::uint64_t first_order,
                        std::uint64_t last_order, std::uint32_t limit, bool consistent = true);

  // The highest order of the partition, or nullopt when it is empty: one
  // Query with ScanIndexForward=false and Limit=1 that reads only the key.
  std::optional<std::uint64_t> last_order(const std::string& table, std::uint64_t partkey,
                                          bool consistent = true);

  // Throws ResourceNotFoundError (with the remedy) when the table is missing.
  TableDescription describe_table(const std::string& table);

  // Creates the journal table (partkey N HASH + order N RANGE,
  // PAY_PER_REQUEST). Returns false when a table of that name already exists
  // (its schema is not checked: use check_journal_table).
  bool create_table(const std::string& table);

  // Polls DescribeTable until the table is ACTIVE; throws StorageError after
  // `timeout`.
  TableDescription wait_until_active(const std::string& table,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(60));

  // Deletes the table (tests and tooling). Returns false when it did not exist.
  bool delete_table(const std::string& table);

  // Deletes the items (partkey, order) with BatchWriteItem, 25 at a time,
  // resubmitting UnprocessedItems with backoff. Missing items are no error.
  void delete_items(const std::string& table, std::uint64_t partkey,
                    const std::vector<std::uint64_t>& orders);

  // Throws ResourceNotFoundError when the table is missing and
  // JournalTableSchemaError when its key schema is not exactly
  // partkey (N, HASH) + order (N, RANGE); the message says what was found.
  TableDescription check_journal_table(const std::string& table);

  const DynamoDbConfig& config() const noexcept { return config_; }

 private:
  struct Reply {
    std::string body;               // JSON text
    bool condition_failed = false;  // a ConditionalCheckFailedException body
  };
  // One signed attempt: POST / with X-Amz-Target. Returns the body of a 2xx
  // response (or of a ConditionalCheckFailedException when
  // condition_failed_is_result); throws AwsError (built from the error body)
  // or TransportError.
  Reply attempt(std::string_view operation, const std::string& body, const std::string& resource,
                bool condition_failed_is_result) const;
  // attempt() through the retry strategy; returns the 2xx body.
  std::string call(std::string_view operation, const std::string& body,
                   const std::string& resource) const;

  DynamoDbConfig config_;
};

}  // namespace prevayler::aws
