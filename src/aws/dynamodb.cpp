#include "aws/dynamodb.hpp"

#include <nlohmann/json.hpp>
#include <pugixml.hpp>
#include <thread>
#include <utility>

#include "aws/crypto.hpp"
#include "aws/sigv4.hpp"

namespace prevayler::aws {
namespace {

using nlohmann::json;

constexpr std::string_view target_prefix = "DynamoDB_20120810.";
constexpr std::string_view json_content_type = "application/x-amz-json-1.0";
constexpr std::string_view service_name = "DynamoDB";
constexpr std::chrono::milliseconds active_poll_interval_ms{200};
// Rounds of resubmitting UnprocessedItems before giving up on a batch.
constexpr int unprocessed_rounds_max = 10;
// Bytes DynamoDB counts for a number attribute value, at most (21 bytes for 38
// significant digits, plus one).
constexpr std::size_t number_bytes_max = 22;
// Characters of an unparseable error body quoted in the message.
constexpr std::size_t error_body_excerpt_chars_max = 200;

std::string table_resource(const std::string& table) { return "table " + table; }

json number(std::uint64_t value) { return json{{"N", std::to_string(value)}}; }

json journal_key(std::uint64_t partkey, std::uint64_t order) {
  return json{{std::string(journal_partition_key), number(partkey)},
              {std::string(journal_sort_key), number(order)}};
}

std::uint64_t parse_number(const json& attribute, std::string_view what) {
  if (!attribute.is_object() || !attribute.contains("N") || !attribute["N"].is_string())
    throw StorageError("DynamoDB returned an item whose " + std::string(what) +
                       " is not a number attribute: " + attribute.dump());
  const std::string& text = attribute["N"].get_ref<const std::string&>();
  try {
    std::size_t used = 0;
    std::uint64_t value = std::stoull(text, &used);
    if (used != text.size()) throw std::invalid_argument(text);
    return value;
  } catch (const std::exception&) {
    throw StorageError("DynamoDB returned " + std::string(what) + " \"" + text +
                       "\", not an unsigned 64-bit integer");
  }
}

std::string parse_content(const json& item, const std::string& table) {
  auto it = item.find(std::string(journal_content_attribute));
  if (it == item.end() || !it->is_object() || !it->contains("B") || !(*it)["B"].is_string())
    throw CorruptionError("DynamoDB table " + table +
                          ": an item has no binary `content` attribute: key " +
                          item.value(std::string(journal_sort_key), json()).dump());
  try {
    return base64_decode((*it)["B"].get_ref<const std::string&>());
  } catch (const Error&) {
    throw CorruptionError("DynamoDB table " + table + ": invalid base64 in `content`");
  }
}

json parse_json(const std::string& body, std::string_view operation, const std::string& resource) {
  json parsed;
  try {
    parsed = body.empty() ? json::object() : json::parse(body);
  } catch (const json::exception&) {
    throw StorageError("DynamoDB " + std::string(operation) + " on " + resource +
                       " returned a body that is not JSON (" + std::to_string(body.size()) +
                       " bytes)");
  }
  if (!parsed.is_object()) {
    throw StorageError("DynamoDB " + std::string(operation) + " on " + resource +
                       " returned JSON that is not an object");
  }
  return parsed;
}

// Runs `walk` over a parsed reply; a reply of an unexpected shape (a field
// of the wrong type) becomes a StorageError instead of a json exception.
template <class Walk>
auto walk_reply(std::string_view operation, const std::string& resource, Walk&& walk) {
  try {
    return walk();
  } catch (const json::exception&) {
    throw StorageError("DynamoDB " + std::string(operation) + " on " + resource +
                       " returned a response of an unexpected shape");
  }
}

TableDescription parse_table_description(const json& table) {
  TableDescription d;
  d.status = table.value("TableStatus", "");
  for (const auto& a : table.value("AttributeDefinitions", json::array()))
    d.attribute_definitions.push_back({a.value("AttributeName", ""), a.value("AttributeType", "")});
  for (const auto& k : table.value("KeySchema", json::array())) {
    KeySchemaElement e{k.value("AttributeName", ""), "", k.value("KeyType", "")};
    for (const auto& a : d.attribute_definitions)
      if (a.name == e.name) e.type = a.type;
    d.key_schema.push_back(std::move(e));
  }
  d.item_count = table.value("ItemCount", std::uint64_t{0});
  // Tables created before on-demand existed have no BillingModeSummary.
  d.billing_mode = table.contains("BillingModeSummary")
                       ? table["BillingModeSummary"].value("BillingMode", "PROVISIONED")
                       : "PROVISIONED";
  return d;
}

// The items and LastEvaluatedKey of a Query reply.
QueryPage parse_query_page(const json& reply, const std::string& table) {
  QueryPage page;
  for (const auto& item : reply.value("Items", json::array())) {
    if (!item.is_object())
      throw CorruptionError("DynamoDB table " + table + ": an item is not an object");
    auto order_it = item.find(std::string(journal_sort_key));
    if (order_it == item.end())
      throw CorruptionError("DynamoDB table " + table + ": an item has no `order` attribute");
    page.items.push_back({parse_number(*order_it, "order"), parse_content(item, table)});
  }
  if (reply.contains("LastEvaluatedKey") && reply["LastEvaluatedKey"].is_object()) {
    auto it = reply["LastEvaluatedKey"].find(std::string(journal_sort_key));
    if (it != reply["LastEvaluatedKey"].end())
      page.last_evaluated_order = parse_number(*it, "LastEvaluatedKey.order");
  }
  return page;
}

}  // namespace

DynamoDbClient::DynamoDbClient(DynamoDbConfig config) : config_(std::move(config)) {
  if (config_.region.empty()) throw ConfigError("DynamoDB client: no region");
  if (config_.endpoint.empty()) throw ConfigError("DynamoDB client: no endpoint URL");
  while (!config_.endpoint.empty() && config_.endpoint.back() == '/') config_.endpoint.pop_back();
  if (config_.endpoint.find("://") == std::string::npos)
    throw ConfigError("DynamoDB client: endpoint \"" + config_.endpoint +
                      "\" is not an absolute URL (scheme://host[:port])");
  if (!config_.credentials) throw ConfigError("DynamoDB client: no credentials provider");
  if (!config_.transport) throw ConfigError("DynamoDB client: no HTTP transport");
  if (!config_.retry) config_.retry = make_standard_retry_strategy();
}

DynamoDbClient::Reply DynamoDbClient::attempt(std::string_view operation, const std::string& body,
                                              const std::string& resource,
                                              bool condition_failed_is_result) const {
  HttpRequest request;
  request.method = "POST";
  request.url = config_.endpoint + "/";
  request.headers = {{"Content-Type", std::string(json_content_type)},
                     {"X-Amz-Target", std::string(target_prefix) + std::string(operation)}};
  request.body = body;
  request.timeout = config_.request_timeout;
  sign_request(request, config_.credentials->get(),
               SigningOptions{config_.region, "dynamodb", std::chrono::system_clock::now()});
  HttpResponse response = config_.transport->send(request);

  const std::string* request_id = response.header("x-amzn-RequestId");
  // DynamoDB sends the CRC-32 of the body it sent; a mismatch means the body
  // was damaged on the way, and asking again is the cure.
  if (const std::string* crc_header = response.header("x-amz-crc32")) {
    std::uint32_t expected = 0;
    try {
      expected = static_cast<std::uint32_t>(std::stoul(*crc_header));
    } catch (const std::exception&) {
      expected = ~crc32(response.body);  // unparseable header: treat as a mismatch
    }
    if (crc32(response.body) != expected) {
      throw AwsError(AwsErrorInfo{std::string(service_name), std::string(operation), resource,
                                  response.status, "CRC32CheckFailed",
                                  "the x-amz-crc32 header (" + *crc_header +
                                      ") does not match the response body",
                                  request_id ? *request_id : "", ""},
                     ErrorClass::retryable);
    }
  }
  if (response.status >= 200 && response.status < 300) return {std::move(response.body), false};

  AwsErrorInfo info{std::string(service_name),
                    std::string(operation),
                    resource,
                    response.status,
                    "",
                    "",
                    request_id ? *request_id : "",
                    ""};
  try {
    json error = json::parse(response.body);
    std::string type = error.value("__type", "");
    auto hash = type.rfind('#');
    info.code = hash == std::string::npos ? type : type.substr(hash + 1);
    info.message =
        error.contains("message") ? error.value("message", "") : error.value("Message", "");
  } catch (const json::exception&) {
    // Not JSON: the authentication layer (and moto's emulation of it) answers
    // in the XML shape of the query protocol; proxies send HTML.
    pugi::xml_document doc;
    if (doc.load_buffer(response.body.data(), response.body.size())) {
      info.code = doc.select_node("//Code").node().text().as_string();
      info.message = doc.select_node("//Message").node().text().as_string();
    }
    if (info.code.empty()) info.message = response.body.substr(0, error_body_excerpt_chars_max);
  }
  if (info.code.empty() && response.status == 413) info.code = "RequestEntityTooLarge";
  if (condition_failed_is_result && info.code == "ConditionalCheckFailedException")
    return {std::move(response.body), true};
  throw_aws_error(std::move(info), config_.region);
}

std::string DynamoDbClient::call(std::string_view operation, const std::string& body,
                                 const std::string& resource) const {
  return run_with_retries(*config_.retry, [&](const RetryState&) {
    return attempt(operation, body, resource, false).body;
  });
}

PutIfAbsentResult DynamoDbClient::put_item_if_absent(const std::string& table,
                                                     std::uint64_t partkey, std::uint64_t order,
                                                     std::string_view content) {
  const std::size_t item_bytes = journal_partition_key.size() + journal_sort_key.size() +
                                 journal_content_attribute.size() + 2 * number_bytes_max +
                                 content.size();
  if (item_bytes > dynamodb_item_bytes_max)
    throw EventTooLargeError("DynamoDB table " + table + ": item (" + std::to_string(partkey) +
                             ", " + std::to_string(order) + ") would take " +
                             std::to_string(item_bytes) + " bytes, over the limit of " +
                             std::to_string(dynamodb_item_bytes_max) + " bytes per item");
  json item = journal_key(partkey, order);
  item[std::string(journal_content_attribute)] = json{{"B", base64_encode(content)}};
  const std::string body = json{
      {"TableName", table},
      {"Item", std::move(item)},
      {"ConditionExpression", "attribute_not_exists(partkey)"},
      {"ReturnValuesOnConditionCheckFailure",
       "ALL_OLD"}}.dump();
  const std::string resource = table_resource(table);
  bool ambiguous = false;
  Reply reply = run_with_retries(*config_.retry, [&](const RetryState& state) {
    ambiguous = state.ambiguous_attempt;
    return attempt("PutItem", body, resource, true);
  });
  PutIfAbsentResult result;
  if (!reply.condition_failed) return result;
  result.outcome = PutIfAbsentResult::Outcome::condition_failed;
  result.after_ambiguous_attempt = ambiguous;
  json error = parse_json(reply.body, "PutItem", resource);
  if (error.contains("Item") && error["Item"].is_object()) {
    result.existing_content =
        walk_reply("PutItem", resource, [&] { return parse_content(error["Item"], table); });
  } else {
    // Older DynamoDB-compatible services ignore ReturnValuesOnConditionCheckFailure:
    // read the item back.
    result.existing_content = get_item(table, partkey, order, true);
  }
  return result;
}

std::optional<std::string> DynamoDbClient::get_item(const std::string& table, std::uint64_t partkey,
                                                    std::uint64_t order, bool consistent) {
  const std::string body = json{
      {"TableName", table},
      {"Key", journal_key(partkey, order)},
      {"ConsistentRead",
       consistent}}.dump();
  const std::string resource = table_resource(table);
  json reply = parse_json(call("GetItem", body, resource), "GetItem", resource);
  if (!reply.contains("Item") || !reply["Item"].is_object()) return std::nullopt;
  return walk_reply("GetItem", resource, [&] { return parse_content(reply["Item"], table); });
}

QueryPage DynamoDbClient::query_page(const std::string& table, std::uint64_t partkey,
                                     std::optional<std::uint64_t> exclusive_start_order,
                                     std::uint32_t limit, bool consistent,
                                     std::optional<std::uint64_t> min_order) {
  // `order` is a DynamoDB reserved word, hence the #o placeholder.
  json request = {{"TableName", table},
                  {"KeyConditionExpression", min_order ? "#pk = :pk AND #o >= :min" : "#pk = :pk"},
                  {"ExpressionAttributeNames",
                   min_order ? json{{"#pk", journal_partition_key}, {"#o", journal_sort_key}}
                             : json{{"#pk", journal_partition_key}}},
                  {"ExpressionAttributeValues", {{":pk", number(partkey)}}},
                  {"ConsistentRead", consistent},
                  {"ScanIndexForward", true}};
  if (min_order) request["ExpressionAttributeValues"][":min"] = number(*min_order);
  if (limit > 0) request["Limit"] = limit;
  if (exclusive_start_order)
    request["ExclusiveStartKey"] = journal_key(partkey, *exclusive_start_order);
  const std::string resource = table_resource(table);
  json reply = parse_json(call("Query", request.dump(), resource), "Query", resource);
  return walk_reply("Query", resource, [&] { return parse_query_page(reply, table); });
}

QueryPage DynamoDbClient::query_range(const std::string& table, std::uint64_t partkey,
                                      std::uint64_t first_order, std::uint64_t last_order,
                                      std::uint32_t limit, bool consistent) {
  json request = {
      {"TableName", table},
      {"KeyConditionExpression", "#pk = :pk AND #o BETWEEN :first AND :last"},
      {"ExpressionAttributeNames", {{"#pk", journal_partition_key}, {"#o", journal_sort_key}}},
      {"ExpressionAttributeValues",
       {{":pk", number(partkey)}, {":first", number(first_order)}, {":last", number(last_order)}}},
      {"ConsistentRead", consistent},
      {"ScanIndexForward", true}};
  if (limit > 0) request["Limit"] = limit;
  const std::string resource = table_resource(table);
  json reply = parse_json(call("Query", request.dump(), resource), "Query", resource);
  return walk_reply("Query", resource, [&] { return parse_query_page(reply, table); });
}

std::optional<std::uint64_t> DynamoDbClient::last_order(const std::string& table,
                                                        std::uint64_t partkey, bool consistent) {
  const json request = {
      {"TableName", table},
      {"KeyConditionExpression", "#pk = :pk"},
      {"ProjectionExpression", "#o"},
      {"ExpressionAttributeNames", {{"#pk", journal_partition_key}, {"#o", journal_sort_key}}},
      {"ExpressionAttributeValues", {{":pk", number(partkey)}}},
      {"ConsistentRead", consistent},
      {"ScanIndexForward", false},
      {"Limit", 1}};
  const std::string resource = table_resource(table);
  json reply = parse_json(call("Query", request.dump(), resource), "Query", resource);
  return walk_reply("Query", resource, [&]() -> std::optional<std::uint64_t> {
    const json items = reply.value("Items", json::array());
    if (items.empty()) return std::nullopt;
    auto it = items.front().find(std::string(journal_sort_key));
    if (it == items.front().end())
      throw CorruptionError("DynamoDB table " + table + ": an item has no `order` attribute");
    return parse_number(*it, "order");
  });
}

TableDescription DynamoDbClient::describe_table(const std::string& table) {
  const std::string resource = table_resource(table);
  json reply = parse_json(call("DescribeTable", json{{"TableName", table}}.dump(), resource),
                          "DescribeTable", resource);
  return walk_reply("DescribeTable", resource,
                    [&] { return parse_table_description(reply.value("Table", json::object())); });
}

bool DynamoDbClient::create_table(const std::string& table) {
  if (table.size() < dynamodb_table_name_chars_min || table.size() > dynamodb_table_name_chars_max)
    throw ConfigError("DynamoDB table name \"" + table + "\" must have 3 to 255 characters");
  const json request = {{"TableName", table},
                        {"AttributeDefinitions",
                         {{{"AttributeName", journal_partition_key}, {"AttributeType", "N"}},
                          {{"AttributeName", journal_sort_key}, {"AttributeType", "N"}}}},
                        {"KeySchema",
                         {{{"AttributeName", journal_partition_key}, {"KeyType", "HASH"}},
                          {{"AttributeName", journal_sort_key}, {"KeyType", "RANGE"}}}},
                        {"BillingMode", "PAY_PER_REQUEST"}};
  try {
    call("CreateTable", request.dump(), table_resource(table));
    return true;
  } catch (const AwsError& e) {
    // Also what a retry after an ambiguous first attempt sees.
    if (e.code() == "ResourceInUseException") return false;
    throw;
  }
}

TableDescription DynamoDbClient::wait_until_active(const std::string& table,
                                                   std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    TableDescription d = describe_table(table);
    if (d.status == "ACTIVE") return d;
    if (std::chrono::steady_clock::now() >= deadline)
      throw StorageError("DynamoDB table " + table + " is still " + d.status + " after " +
                         std::to_string(timeout.count()) + " ms; it should become ACTIVE");
    std::this_thread::sleep_for(active_poll_interval_ms);
  }
}

bool DynamoDbClient::delete_table(const std::string& table) {
  try {
    call("DeleteTable", json{{"TableName", table}}.dump(), table_resource(table));
    return true;
  } catch (const ResourceNotFoundError&) {
    return false;
  }
}

void DynamoDbClient::delete_items(const std::string& table, std::uint64_t partkey,
                                  const std::vector<std::uint64_t>& orders) {
  const std::string resource = table_resource(table);
  for (std::size_t begin = 0; begin < orders.size(); begin += dynamodb_batch_write_items_max) {
    const std::size_t end = std::min(orders.size(), begin + dynamodb_batch_write_items_max);
    json requests = json::array();
    for (std::size_t i = begin; i < end; ++i)
      requests.push_back({{"DeleteRequest", {{"Key", journal_key(partkey, orders[i])}}}});
    RetryState rounds;
    for (;;) {
      const json request = {{"RequestItems", {{table, requests}}}};
      json reply =
          parse_json(call("BatchWriteItem", request.dump(), resource), "BatchWriteItem", resource);
      json unprocessed = reply.value("UnprocessedItems", json::object());
      if (!unprocessed.contains(table) || unprocessed[table].empty()) break;
      // Unprocessed items mean throttling of part of the batch: back off as
      // for a throttling error.
      if (++rounds.attempts >= unprocessed_rounds_max)
        throw StorageError("DynamoDB BatchWriteItem on " + resource + ": " +
                           std::to_string(unprocessed[table].size()) +
                           " deletes still unprocessed after " +
                           std::to_string(unprocessed_rounds_max) + " rounds");
      requests = unprocessed[table];
      AttemptFailure throttled;
      throttled.classification = ErrorClass::throttling;
      config_.retry->sleep_for(config_.retry->delay(throttled, rounds));
    }
  }
}

std::string describe_key_schema(const TableDescription& d) {
  std::string s;
  for (const auto& k : d.key_schema) {
    if (!s.empty()) s += " + ";
    s += k.name + " (" + (k.type.empty() ? "?" : k.type) + ", " + k.key_type + ")";
  }
  return s.empty() ? "no key schema" : s;
}

bool has_journal_key_schema(const TableDescription& d) {
  if (d.key_schema.size() != 2) return false;
  bool hash = false;
  bool range = false;
  for (const auto& k : d.key_schema) {
    if (k.name == journal_partition_key && k.type == "N" && k.key_type == "HASH") hash = true;
    if (k.name == journal_sort_key && k.type == "N" && k.key_type == "RANGE") range = true;
  }
  return hash && range;
}

TableDescription DynamoDbClient::check_journal_table(const std::string& table) {
  TableDescription d = describe_table(table);
  if (!has_journal_key_schema(d))
    throw JournalTableSchemaError(
        "DynamoDB table " + table + " has the key schema " + describe_key_schema(d) +
        "; the journal needs partkey (N, HASH) + order (N, RANGE). Use another table name, or "
        "create the table with `prevayler setup --table " +
        table + " --bucket B` (see docs/aws.md)");
  return d;
}

}  // namespace prevayler::aws
