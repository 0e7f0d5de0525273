#include "aws/sim_aws.hpp"

#include <algorithm>
#include <cassert>
#include <functional>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>
#include <sstream>
#include <thread>
#include <utility>

#include "aws/crypto.hpp"
#include "aws/s3.hpp"

namespace prevayler::testing {

using nlohmann::json;

namespace {

constexpr std::string_view kTargetPrefix = "DynamoDB_20120810.";
constexpr std::string_view kErrorTypePrefix = "com.amazonaws.dynamodb.v20120810#";
constexpr std::size_t kItemBytesMax = 400 * 1024;        // DynamoDB's item limit
constexpr std::size_t kQueryPageBytesMax = 1024 * 1024;  // DynamoDB's Query page limit
// Writes an eventually consistent read may lag behind.
constexpr std::uint64_t kEventualLagWrites = 3;
constexpr std::size_t kBatchWriteRequestsMax = 25;           // per BatchWriteItem
constexpr std::uint64_t kPartBytesMin = 5ULL * 1024 * 1024;  // S3, all parts but the last
constexpr int kListKeysMax = 1000;                           // S3 ListObjectsV2 max-keys
// A request held at a gate goes on after this long even unreleased, so that
// a test that fails before release() cannot hang the storage's threads.
constexpr std::chrono::seconds kGateHoldMax{60};

// A service's answer to a bad request: thrown by the handlers, turned into
// the service's error response by the dispatcher.
struct ServiceError {
  int status;
  std::string code;
  std::string message;
  json extra = json::object();  // DynamoDB: more fields of the error body (ALL_OLD's Item)
};

std::string md5_hex(std::string_view data) {
  const std::string raw = aws::base64_decode(aws::md5_base64(data));
  return aws::hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

std::string percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::uint64_t parse_u64(const std::string& text, const std::string& what) {
  try {
    std::size_t used = 0;
    const std::uint64_t v = std::stoull(text, &used);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  throw ServiceError{400, "ValidationException", what + ": \"" + text + "\" is not a number"};
}

bool is_ip_or_localhost(std::string_view host) {
  if (host == "localhost" || (!host.empty() && host.front() == '[')) return true;
  return !host.empty() && std::all_of(host.begin(), host.end(),
                                      [](char c) { return c == '.' || (c >= '0' && c <= '9'); });
}

}  // namespace

struct SimAws::State {
  struct Table {
    std::string hash_name;
    std::string range_name;
    json key_schema;
    json attribute_definitions;
    std::map<std::pair<std::uint64_t, std::uint64_t>, json> items;
    // Eventual consistency: the write number of each item, and how many
    // PutItems the table has seen. An eventually consistent read does not
    // see the items of the newest kEventualLagWrites writes.
    std::map<std::pair<std::uint64_t, std::uint64_t>, std::uint64_t> written_at;
    std::uint64_t writes = 0;
  };
  struct Upload {
    std::string bucket;
    std::string key;
    std::map<int, SimObject> parts;
  };
  std::map<std::string, Table> tables;
  std::map<std::string, std::map<std::string, SimObject>> buckets;
  std::map<std::string, Upload> uploads;
  // Completed uploads and their ETags: completing one again answers as the
  // first time did, as S3 (and moto) do, so a retry after a lost response
  // succeeds.
  std::map<std::string, std::string> completed_uploads;
  std::map<std::string, std::uint64_t> counts;
  std::uint64_t requests = 0;
  std::uint64_t eventually_consistent_reads = 0;  // Query / GetItem without ConsistentRead
  std::uint64_t next_upload = 1;
};

namespace {

using State = SimAws::State;

// ---------------------------------------------------------------- DynamoDB

State::Table& table_of(State& s, const json& request) {
  const std::string name = request.value("TableName", "");
  auto it = s.tables.find(name);
  if (it == s.tables.end())
    throw ServiceError{400, "ResourceNotFoundException",
                       "Requested resource not found: Table: " + name + " not found"};
  return it->second;
}

// DynamoDB's item size: names plus values (a number takes about one byte
// per two digits, plus one).
std::size_t item_bytes(const json& item) {
  std::size_t bytes = 0;
  for (const auto& [name, value] : item.items()) {
    bytes += name.size();
    if (value.contains("B")) {
      bytes += aws::base64_decode(value["B"].get<std::string>()).size();
    } else if (value.contains("S")) {
      bytes += value["S"].get<std::string>().size();
    } else if (value.contains("N")) {
      bytes += value["N"].get<std::string>().size() / 2 + 1;
    } else {
      bytes += value.dump().size();
    }
  }
  return bytes;
}

std::pair<std::uint64_t, std::uint64_t> key_of(const State::Table& t, const json& item) {
  for (const auto* name : {&t.hash_name, &t.range_name}) {
    if (!item.contains(*name) || !item[*name].contains("N"))
      throw ServiceError{400, "ValidationException",
                         "One of the required keys was not given a value: " + *name};
  }
  return {parse_u64(item[t.hash_name]["N"].get<std::string>(), t.hash_name),
          parse_u64(item[t.range_name]["N"].get<std::string>(), t.range_name)};
}

json key_json(const State::Table& t, std::pair<std::uint64_t, std::uint64_t> key) {
  return json{{t.hash_name, {{"N", std::to_string(key.first)}}},
              {t.range_name, {{"N", std::to_string(key.second)}}}};
}

std::string resolve_name(const json& request, const std::string& token) {
  if (token.empty() || token[0] != '#') return token;
  const json names = request.value("ExpressionAttributeNames", json::object());
  if (!names.contains(token))
    throw ServiceError{400, "ValidationException",
                       "An expression attribute name used in the document path is not defined; "
                       "attribute name: " +
                           token};
  return names[token].get<std::string>();
}

std::uint64_t resolve_number(const json& request, const std::string& token) {
  const json values = request.value("ExpressionAttributeValues", json::object());
  if (!values.contains(token) || !values[token].contains("N"))
    throw ServiceError{400, "ValidationException",
                       "An expression attribute value used in expression is not defined or not a "
                       "number; attribute value: " +
                           token};
  return parse_u64(values[token]["N"].get<std::string>(), token);
}

json description(const std::string& name, const State::Table& t) {
  return json{
      {"TableName", name},           {"TableStatus", "ACTIVE"},
      {"KeySchema", t.key_schema},   {"AttributeDefinitions", t.attribute_definitions},
      {"ItemCount", t.items.size()}, {"BillingModeSummary", {{"BillingMode", "PAY_PER_REQUEST"}}}};
}

json create_table(State& s, const json& r) {
  const std::string name = r.value("TableName", "");
  if (s.tables.count(name))
    throw ServiceError{400, "ResourceInUseException", "Table already exists: " + name};
  State::Table t;
  t.key_schema = r.value("KeySchema", json::array());
  t.attribute_definitions = r.value("AttributeDefinitions", json::array());
  for (const auto& k : t.key_schema) {
    (k.value("KeyType", "") == "HASH" ? t.hash_name : t.range_name) = k.value("AttributeName", "");
  }
  if (t.hash_name.empty())
    throw ServiceError{400, "ValidationException", "No hash key in the KeySchema"};
  auto& stored = s.tables[name] = std::move(t);
  return json{{"TableDescription", description(name, stored)}};
}

json put_item(State& s, const json& r) {
  State::Table& t = table_of(s, r);
  const json item = r.value("Item", json::object());
  if (item_bytes(item) > kItemBytesMax)
    throw ServiceError{400, "ValidationException",
                       "Item size has exceeded the maximum allowed size"};
  const auto key = key_of(t, item);
  if (r.contains("ConditionExpression")) {
    // The forms our client sends: attribute_(not_)exists(name).
    const std::string cond = r["ConditionExpression"].get<std::string>();
    const bool not_exists = cond.rfind("attribute_not_exists(", 0) == 0;
    const bool exists = cond.rfind("attribute_exists(", 0) == 0;
    if ((!not_exists && !exists) || cond.back() != ')')
      throw ServiceError{400, "ValidationException", "unsupported ConditionExpression: " + cond};
    const std::size_t open = cond.find('(');
    const std::string attr = resolve_name(r, cond.substr(open + 1, cond.size() - open - 2));
    auto it = t.items.find(key);
    const bool has = it != t.items.end() && it->second.contains(attr);
    if (has == not_exists) {
      json extra = json::object();
      if (it != t.items.end() && r.value("ReturnValuesOnConditionCheckFailure", "") == "ALL_OLD")
        extra["Item"] = it->second;
      throw ServiceError{400, "ConditionalCheckFailedException", "The conditional request failed",
                         std::move(extra)};
    }
  }
  t.items[key] = item;
  t.written_at[key] = ++t.writes;
  return json::object();
}

json get_item(State& s, const json& r) {
  State::Table& t = table_of(s, r);
  auto it = t.items.find(key_of(t, r.value("Key", json::object())));
  return it == t.items.end() ? json::object() : json{{"Item", it->second}};
}

json project(const json& request, const json& item) {
  if (!request.contains("ProjectionExpression")) return item;
  json out = json::object();
  std::stringstream names(request["ProjectionExpression"].get<std::string>());
  for (std::string token; std::getline(names, token, ',');) {
    token.erase(0, token.find_first_not_of(' '));
    token.erase(token.find_last_not_of(' ') + 1);
    const std::string name = resolve_name(request, token);
    if (item.contains(name)) out[name] = item[name];
  }
  return out;
}

json query(State& s, const json& r) {
  State::Table& t = table_of(s, r);
  // partkey = :p [AND order (=|<|<=|>|>=) :v | AND order BETWEEN :a AND :b]
  std::vector<std::string> tokens;
  {
    std::stringstream in(r.value("KeyConditionExpression", ""));
    for (std::string token; in >> token;) tokens.push_back(token);
  }
  auto bad = [&] {
    return ServiceError{
        400, "ValidationException",
        "unsupported KeyConditionExpression: " + r.value("KeyConditionExpression", "")};
  };
  if (tokens.size() < 3 || resolve_name(r, tokens[0]) != t.hash_name || tokens[1] != "=")
    throw bad();
  const std::uint64_t partkey = resolve_number(r, tokens[2]);
  std::uint64_t low = 0;
  std::uint64_t high = UINT64_MAX;
  if (tokens.size() > 3) {
    if (tokens.size() < 7 || tokens[3] != "AND" || resolve_name(r, tokens[4]) != t.range_name)
      throw bad();
    const std::string& op = tokens[5];
    const std::uint64_t v = resolve_number(r, tokens[6]);
    if (op == "BETWEEN") {
      if (tokens.size() != 9 || tokens[7] != "AND") throw bad();
      low = v;
      high = resolve_number(r, tokens[8]);
      if (low > high)
        throw ServiceError{400, "ValidationException",
                           "Invalid KeyConditionExpression: the BETWEEN bounds are reversed"};
    } else if (tokens.size() != 7) {
      throw bad();
    } else if (op == "=") {
      low = high = v;
    } else if (op == ">=") {
      low = v;
    } else if (op == ">") {
      if (v == UINT64_MAX) return json{{"Items", json::array()}, {"Count", 0}};
      low = v + 1;
    } else if (op == "<=") {
      high = v;
    } else if (op == "<") {
      if (v == 0) return json{{"Items", json::array()}, {"Count", 0}};
      high = v - 1;
    } else {
      throw bad();
    }
  }
  const bool forward = r.value("ScanIndexForward", true);
  if (r.contains("ExclusiveStartKey")) {
    const auto start = key_of(t, r["ExclusiveStartKey"]);
    if (start.first != partkey)
      throw ServiceError{400, "ValidationException",
                         "The provided starting key does not match the key condition"};
    if (forward) {
      if (start.second == UINT64_MAX) return json{{"Items", json::array()}, {"Count", 0}};
      low = std::max(low, start.second + 1);
    } else {
      if (start.second == 0) return json{{"Items", json::array()}, {"Count", 0}};
      high = std::min(high, start.second - 1);
    }
  }
  const std::uint64_t limit = r.value("Limit", std::uint64_t{0});
  const bool consistent = r.value("ConsistentRead", false);
  if (!consistent) ++s.eventually_consistent_reads;
  json items = json::array();
  std::size_t bytes = 0;
  std::optional<std::pair<std::uint64_t, std::uint64_t>> last_key;
  auto visit = [&](const auto& entry) {
    if (!consistent) {
      auto written = t.written_at.find(entry.first);
      if (written != t.written_at.end() && written->second + kEventualLagWrites > t.writes) {
        return true;  // not propagated yet
      }
    }
    items.push_back(project(r, entry.second));
    bytes += item_bytes(entry.second);
    // DynamoDB stops at the limit or once it has read 1 MB, and then
    // returns LastEvaluatedKey even when nothing follows.
    if ((limit > 0 && items.size() >= limit) || bytes >= kQueryPageBytesMax) {
      last_key = entry.first;
      return false;
    }
    return true;
  };
  if (low <= high) {
    auto first = t.items.lower_bound({partkey, low});
    auto end = t.items.upper_bound({partkey, high});
    if (forward) {
      for (auto it = first; it != end && visit(*it); ++it) {
      }
    } else {
      for (auto it = std::make_reverse_iterator(end);
           it != std::make_reverse_iterator(first) && visit(*it); ++it) {
      }
    }
  }
  json reply = {{"Count", items.size()}, {"ScannedCount", items.size()}};
  reply["Items"] = std::move(items);
  if (last_key) reply["LastEvaluatedKey"] = key_json(t, *last_key);
  return reply;
}

json batch_write_item(State& s, const json& r, const std::function<bool()>& leave_unprocessed,
                      std::uint64_t& unprocessed_count) {
  const json request_items = r.value("RequestItems", json::object());
  std::size_t total = 0;
  for (const auto& [table, requests] : request_items.items()) total += requests.size();
  if (total == 0 || total > kBatchWriteRequestsMax)
    throw ServiceError{400, "ValidationException",
                       "Too many items requested for the BatchWriteItem call (1 to 25)"};
  for (const auto& [table, requests] : request_items.items())
    table_of(s, json{{"TableName", table}});  // all tables exist, or nothing applies
  json unprocessed = json::object();
  for (const auto& [name, requests] : request_items.items()) {
    State::Table& t = s.tables[name];
    for (const auto& request : requests) {
      if (leave_unprocessed()) {
        unprocessed[name].push_back(request);
        ++unprocessed_count;
      } else if (request.contains("DeleteRequest")) {
        t.items.erase(key_of(t, request["DeleteRequest"].value("Key", json::object())));
      } else if (request.contains("PutRequest")) {
        const json item = request["PutRequest"].value("Item", json::object());
        if (item_bytes(item) > kItemBytesMax)
          throw ServiceError{400, "ValidationException",
                             "Item size has exceeded the maximum allowed size"};
        t.items[key_of(t, item)] = item;
      } else {
        throw ServiceError{400, "ValidationException", "a request is neither Put nor Delete"};
      }
    }
  }
  return json{{"UnprocessedItems", unprocessed}};
}

aws::HttpResponse dynamodb_response(int status, const std::string& body, std::uint64_t id) {
  aws::HttpResponse response;
  response.status = status;
  response.body = body;
  response.headers = {{"Content-Type", "application/x-amz-json-1.0"},
                      {"x-amzn-RequestId", "SIM" + std::to_string(id)},
                      {"x-amz-crc32", std::to_string(aws::crc32(body))}};
  return response;
}

aws::HttpResponse dynamodb_error(const ServiceError& e, std::uint64_t id) {
  json body = e.extra;
  body["__type"] = std::string(kErrorTypePrefix) + e.code;
  body["message"] = e.message;
  return dynamodb_response(e.status, body.dump(), id);
}

// ---------------------------------------------------------------------- S3

struct S3Request {
  std::string bucket;
  std::string key;
  std::map<std::string, std::string> query;
  bool has(const char* name) const { return query.count(name) != 0; }
};

S3Request parse_s3_url(const std::string& url) {
  S3Request r;
  const std::size_t host_begin = url.find("://") + 3;
  std::size_t path_begin = url.find('/', host_begin);
  if (path_begin == std::string::npos) path_begin = url.size();
  std::string host = url.substr(host_begin, path_begin - host_begin);
  const std::size_t q = url.find('?', path_begin);
  std::string path = url.substr(path_begin, q == std::string::npos ? q : q - path_begin);
  if (q != std::string::npos) {
    std::stringstream in(url.substr(q + 1));
    for (std::string pair; std::getline(in, pair, '&');) {
      const std::size_t eq = pair.find('=');
      r.query[percent_decode(pair.substr(0, eq))] =
          eq == std::string::npos ? "" : percent_decode(pair.substr(eq + 1));
    }
  }
  if (!path.empty() && path[0] == '/') path.erase(0, 1);
  std::string host_only = host.substr(
      0, host.rfind(':') == std::string::npos || host[0] == '[' ? host.size() : host.rfind(':'));
  if (is_ip_or_localhost(host_only) || host_only.rfind("s3.", 0) == 0) {
    const std::size_t slash = path.find('/');
    r.bucket = path.substr(0, slash);
    if (slash != std::string::npos) r.key = percent_decode(path.substr(slash + 1));
  } else {  // virtual-hosted: bucket.host/key
    r.bucket = host_only.substr(0, host_only.find('.'));
    r.key = percent_decode(path);
  }
  return r;
}

std::string s3_error_xml(const ServiceError& e, const S3Request& r, std::uint64_t id) {
  pugi::xml_document doc;
  pugi::xml_node error = doc.append_child("Error");
  error.append_child("Code").text().set(e.code.c_str());
  error.append_child("Message").text().set(e.message.c_str());
  if (!r.key.empty()) error.append_child("Key").text().set(r.key.c_str());
  if (!r.bucket.empty()) error.append_child("BucketName").text().set(r.bucket.c_str());
  error.append_child("RequestId").text().set(("SIM" + std::to_string(id)).c_str());
  std::ostringstream out;
  doc.save(out, "", pugi::format_raw);
  return out.str();
}

std::string xml_text(const pugi::xml_document& doc) {
  std::ostringstream out;
  doc.save(out, "", pugi::format_raw);
  return out.str();
}

const std::string* header(const aws::HttpRequest& request, std::string_view name) {
  for (const auto& [k, v] : request.headers)
    if (aws::iequals(k, name)) return &v;
  return nullptr;
}

std::map<std::string, SimObject>& bucket_of(State& s, const S3Request& r) {
  auto it = s.buckets.find(r.bucket);
  if (it == s.buckets.end())
    throw ServiceError{404, "NoSuchBucket", "The specified bucket does not exist"};
  return it->second;
}

// If-Match / If-None-Match: * of a write, against the current object.
void check_write_condition(const aws::HttpRequest& request, const SimObject* current) {
  if (const std::string* none_match = header(request, "If-None-Match")) {
    if (*none_match != "*") throw ServiceError{501, "NotImplemented", "If-None-Match takes only *"};
    if (current)
      throw ServiceError{412, "PreconditionFailed",
                         "At least one of the pre-conditions you specified did not hold"};
  }
  if (const std::string* match = header(request, "If-Match")) {
    if (!current) throw ServiceError{404, "NoSuchKey", "The specified key does not exist."};
    if (*match != current->etag)
      throw ServiceError{412, "PreconditionFailed",
                         "At least one of the pre-conditions you specified did not hold"};
  }
}

void check_content_md5(const aws::HttpRequest& request) {
  const std::string* md5 = header(request, "Content-MD5");
  if (md5 && *md5 != aws::md5_base64(request.body))
    throw ServiceError{400, "BadDigest",
                       "The Content-MD5 you specified did not match what we received."};
}

}  // namespace

// ------------------------------------------------------------------ SimAws

SimAws::SimAws(SimFaultOptions faults, int)
    : state_(std::make_unique<State>()), faults_(faults), rng_(faults.seed) {}
SimAws::~SimAws() = default;

std::shared_ptr<SimAws> SimAws::create(SimFaultOptions faults) {
  return std::make_shared<SimAws>(faults, 0);
}

std::shared_ptr<SimAwsClient> SimAws::connect(std::string name) {
  return std::make_shared<SimAwsClient>(shared_from_this(), std::move(name));
}

aws::HttpResponse SimAws::send(const aws::HttpRequest& request) {
  return deliver(request, nullptr);
}

void SimAws::set_faults(const SimFaultOptions& faults) {
  std::lock_guard lock(mutex_);
  faults_ = faults;
  rng_.seed(faults.seed);
}

void SimAws::fail_next(const std::string& operation, SimFault fault, int count) {
  std::lock_guard lock(mutex_);
  auto& script = scripted_[operation];
  script.insert(script.begin(), static_cast<std::size_t>(std::max(0, count)), fault);
}

SimFaultCounters SimAws::fault_counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

void SimAws::set_unique_etags(bool unique) {
  std::lock_guard lock(mutex_);
  unique_etags_ = unique;
}

void SimAws::create_table(const std::string& table) {
  std::lock_guard lock(mutex_);
  prevayler::testing::create_table(*state_,
                                   json{{"TableName", table},
                                        {"AttributeDefinitions",
                                         {{{"AttributeName", "partkey"}, {"AttributeType", "N"}},
                                          {{"AttributeName", "order"}, {"AttributeType", "N"}}}},
                                        {"KeySchema",
                                         {{{"AttributeName", "partkey"}, {"KeyType", "HASH"}},
                                          {{"AttributeName", "order"}, {"KeyType", "RANGE"}}}}});
}

void SimAws::create_bucket(const std::string& bucket) {
  std::lock_guard lock(mutex_);
  state_->buckets[bucket];
}

bool SimAws::has_table(const std::string& table) const {
  std::lock_guard lock(mutex_);
  return state_->tables.count(table) != 0;
}

std::vector<SimItem> SimAws::items(const std::string& table) const {
  std::lock_guard lock(mutex_);
  std::vector<SimItem> out;
  auto it = state_->tables.find(table);
  if (it == state_->tables.end()) return out;
  for (const auto& [key, item] : it->second.items) {
    SimItem i{key.first, key.second, ""};
    if (item.contains("content") && item["content"].contains("B"))
      i.content = aws::base64_decode(item["content"]["B"].get<std::string>());
    out.push_back(std::move(i));
  }
  return out;
}

bool SimAws::delete_item(const std::string& table, std::uint64_t partkey, std::uint64_t order) {
  std::lock_guard lock(mutex_);
  auto it = state_->tables.find(table);
  return it != state_->tables.end() && it->second.items.erase({partkey, order}) != 0;
}

std::optional<SimObject> SimAws::object(const std::string& bucket, const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto b = state_->buckets.find(bucket);
  if (b == state_->buckets.end()) return std::nullopt;
  auto o = b->second.find(key);
  if (o == b->second.end()) return std::nullopt;
  return o->second;
}

std::vector<std::string> SimAws::object_keys(const std::string& bucket) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> keys;
  auto b = state_->buckets.find(bucket);
  if (b != state_->buckets.end())
    for (const auto& [key, object] : b->second) keys.push_back(key);
  return keys;
}

bool SimAws::delete_object(const std::string& bucket, const std::string& key) {
  std::lock_guard lock(mutex_);
  auto b = state_->buckets.find(bucket);
  return b != state_->buckets.end() && b->second.erase(key) != 0;
}

std::size_t SimAws::multipart_uploads(const std::string& bucket) const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(
      std::count_if(state_->uploads.begin(), state_->uploads.end(),
                    [&](const auto& u) { return u.second.bucket == bucket; }));
}

std::map<std::string, std::uint64_t> SimAws::request_counts() const {
  std::lock_guard lock(mutex_);
  return state_->counts;
}

std::uint64_t SimAws::requests() const {
  std::lock_guard lock(mutex_);
  return state_->requests;
}

std::uint64_t SimAws::eventually_consistent_reads() const {
  std::lock_guard lock(mutex_);
  return state_->eventually_consistent_reads;
}

AwsStorageOptions SimAws::storage_options(const std::string& table, const std::string& bucket) {
  AwsStorageOptions o;
  o.table = table;
  o.bucket = bucket;
  o.region = region;
  o.endpoint = endpoint;
  o.credentials = AwsCredentials{"sim-access-key", "sim-secret-key", ""};
  o.common.warn = [](const std::string&) {};
  return o;
}

namespace {

// Applies one S3 request to the state. `new_etag` makes the ETag of a write.
aws::HttpResponse apply_s3(State& s, const aws::HttpRequest& request, const S3Request& r,
                           const std::string& op,
                           const std::function<std::string(std::string)>& new_etag) {
  aws::HttpResponse response;
  response.status = 200;
  if (op == "HeadBucket") {
    bucket_of(s, r);
  } else if (op == "CreateBucket") {
    if (s.buckets.count(r.bucket) && request.body.find("LocationConstraint") != std::string::npos)
      throw ServiceError{409, "BucketAlreadyOwnedByYou", "You already own this bucket"};
    s.buckets[r.bucket];
  } else if (op == "DeleteBucket") {
    if (!bucket_of(s, r).empty())
      throw ServiceError{409, "BucketNotEmpty", "The bucket you tried to delete is not empty"};
    s.buckets.erase(r.bucket);
    response.status = 204;
  } else if (op == "ListObjectsV2") {
    auto& objects = bucket_of(s, r);
    const std::string prefix = r.query.count("prefix") ? r.query.at("prefix") : "";
    const int max_keys = r.query.count("max-keys")
                             ? std::clamp(std::stoi(r.query.at("max-keys")), 1, kListKeysMax)
                             : kListKeysMax;
    pugi::xml_document doc;
    pugi::xml_node result = doc.append_child("ListBucketResult");
    auto it = r.has("continuation-token") ? objects.upper_bound(r.query.at("continuation-token"))
                                          : objects.lower_bound(prefix);
    int count = 0;
    std::string last;
    for (; it != objects.end() && it->first.rfind(prefix, 0) == 0 && count < max_keys; ++it) {
      pugi::xml_node c = result.append_child("Contents");
      c.append_child("Key").text().set(it->first.c_str());
      c.append_child("Size").text().set(static_cast<unsigned long long>(it->second.body.size()));
      c.append_child("ETag").text().set(it->second.etag.c_str());
      last = it->first;
      ++count;
    }
    const bool truncated = it != objects.end() && it->first.rfind(prefix, 0) == 0;
    result.append_child("KeyCount").text().set(count);
    result.append_child("IsTruncated").text().set(truncated ? "true" : "false");
    if (truncated) result.append_child("NextContinuationToken").text().set(last.c_str());
    response.body = xml_text(doc);
  } else if (op == "PutObject") {
    auto& objects = bucket_of(s, r);
    check_content_md5(request);
    auto it = objects.find(r.key);
    check_write_condition(request, it == objects.end() ? nullptr : &it->second);
    SimObject o{request.body, new_etag("\"" + md5_hex(request.body) + "\"")};
    response.headers.emplace_back("ETag", o.etag);
    objects[r.key] = std::move(o);
  } else if (op == "GetObject" || op == "HeadObject") {
    auto& objects = bucket_of(s, r);
    auto it = objects.find(r.key);
    if (it == objects.end())
      throw ServiceError{404, "NoSuchKey", "The specified key does not exist."};
    const SimObject& o = it->second;
    if (const std::string* match = header(request, "If-Match"); match && *match != o.etag)
      throw ServiceError{412, "PreconditionFailed",
                         "At least one of the pre-conditions you specified did not hold"};
    if (const std::string* none = header(request, "If-None-Match");
        none && (*none == "*" || *none == o.etag)) {
      response.status = 304;
      return response;
    }
    response.headers.emplace_back("ETag", o.etag);
    response.headers.emplace_back("Accept-Ranges", "bytes");
    std::uint64_t first = 0;
    std::uint64_t last = o.body.empty() ? 0 : o.body.size() - 1;
    const std::string* range = header(request, "Range");
    if (range) {
      // bytes=a-b, bytes=a- or bytes=-n
      const std::size_t dash = range->find('-');
      if (range->rfind("bytes=", 0) != 0 || dash == std::string::npos)
        throw ServiceError{400, "InvalidArgument", "bad Range header: " + *range};
      const std::string a = range->substr(6, dash - 6);
      const std::string b = range->substr(dash + 1);
      if (a.empty()) {
        const std::uint64_t n = parse_u64(b, "Range");
        first = n >= o.body.size() ? 0 : o.body.size() - n;
      } else {
        first = parse_u64(a, "Range");
        if (!b.empty()) last = std::min(last, parse_u64(b, "Range"));
      }
      if (first >= o.body.size() || first > last)
        throw ServiceError{416, "InvalidRange", "The requested range is not satisfiable"};
      response.status = 206;
      response.headers.emplace_back("Content-Range", "bytes " + std::to_string(first) + "-" +
                                                         std::to_string(last) + "/" +
                                                         std::to_string(o.body.size()));
    }
    const std::uint64_t length = o.body.empty() ? 0 : last - first + 1;
    response.headers.emplace_back("Content-Length", std::to_string(length));
    if (op == "GetObject") response.body = o.body.substr(first, length);
  } else if (op == "DeleteObject") {
    bucket_of(s, r).erase(r.key);
    response.status = 204;
  } else if (op == "CreateMultipartUpload") {
    bucket_of(s, r);
    const std::string id = "upload-" + std::to_string(s.next_upload++);
    s.uploads[id] = State::Upload{r.bucket, r.key, {}};
    pugi::xml_document doc;
    pugi::xml_node result = doc.append_child("InitiateMultipartUploadResult");
    result.append_child("Bucket").text().set(r.bucket.c_str());
    result.append_child("Key").text().set(r.key.c_str());
    result.append_child("UploadId").text().set(id.c_str());
    response.body = xml_text(doc);
  } else if (op == "UploadPart" || op == "CompleteMultipartUpload" ||
             op == "AbortMultipartUpload") {
    auto& objects = bucket_of(s, r);
    auto u = s.uploads.find(r.query.at("uploadId"));
    if (auto done = s.completed_uploads.find(r.query.at("uploadId"));
        op == "CompleteMultipartUpload" && done != s.completed_uploads.end()) {
      pugi::xml_document reply;
      pugi::xml_node result = reply.append_child("CompleteMultipartUploadResult");
      result.append_child("Bucket").text().set(r.bucket.c_str());
      result.append_child("Key").text().set(r.key.c_str());
      result.append_child("ETag").text().set(done->second.c_str());
      response.body = xml_text(reply);
      return response;
    }
    if (u == s.uploads.end() || u->second.bucket != r.bucket || u->second.key != r.key)
      throw ServiceError{404, "NoSuchUpload", "The specified upload does not exist."};
    if (op == "AbortMultipartUpload") {
      s.uploads.erase(u);
      response.status = 204;
    } else if (op == "UploadPart") {
      check_content_md5(request);
      const int number = std::stoi(r.query.at("partNumber"));
      if (number < 1 || number > aws::s3_multipart_parts_max)
        throw ServiceError{400, "InvalidArgument", "Part number must be 1 to 10000"};
      SimObject part{request.body, "\"" + md5_hex(request.body) + "\""};
      response.headers.emplace_back("ETag", part.etag);
      u->second.parts[number] = std::move(part);
    } else {
      pugi::xml_document doc;
      if (!doc.load_buffer(request.body.data(), request.body.size()))
        throw ServiceError{400, "MalformedXML", "The XML you provided was not well-formed"};
      std::string body;
      std::string md5s;
      int previous = 0;
      int count = 0;
      pugi::xml_node root = doc.child("CompleteMultipartUpload");
      for (pugi::xml_node p = root.child("Part"); p; p = p.next_sibling("Part")) {
        const int number = p.child("PartNumber").text().as_int();
        if (number <= previous)
          throw ServiceError{400, "InvalidPartOrder", "The parts are not in ascending order"};
        auto part = u->second.parts.find(number);
        if (part == u->second.parts.end() ||
            part->second.etag != p.child("ETag").text().as_string())
          throw ServiceError{400, "InvalidPart", "One or more of the parts could not be found"};
        if (count > 0 && u->second.parts.at(previous).body.size() < kPartBytesMin)
          throw ServiceError{400, "EntityTooSmall",
                             "Your proposed upload is smaller than the minimum allowed size"};
        body += part->second.body;
        md5s += aws::base64_decode(aws::md5_base64(part->second.body));
        previous = number;
        ++count;
      }
      if (count == 0)
        throw ServiceError{400, "MalformedXML", "The XML you provided was not well-formed"};
      auto it = objects.find(r.key);
      check_write_condition(request, it == objects.end() ? nullptr : &it->second);
      SimObject o{std::move(body),
                  new_etag("\"" + md5_hex(md5s) + "-" + std::to_string(count) + "\"")};
      pugi::xml_document reply;
      pugi::xml_node result = reply.append_child("CompleteMultipartUploadResult");
      result.append_child("Bucket").text().set(r.bucket.c_str());
      result.append_child("Key").text().set(r.key.c_str());
      result.append_child("ETag").text().set(o.etag.c_str());
      response.body = xml_text(reply);
      s.completed_uploads[u->first] = o.etag;
      objects[r.key] = std::move(o);
      s.uploads.erase(u);
    }
  } else {
    throw ServiceError{501, "NotImplemented", "the simulator does not implement " + op};
  }
  return response;
}

std::string s3_operation(const aws::HttpRequest& request, const S3Request& r) {
  const std::string& m = request.method;
  if (r.key.empty()) {
    if (m == "HEAD") return "HeadBucket";
    if (m == "PUT") return "CreateBucket";
    if (m == "DELETE") return "DeleteBucket";
    if (m == "GET" && r.has("list-type")) return "ListObjectsV2";
  } else {
    if (m == "PUT") return r.has("uploadId") && r.has("partNumber") ? "UploadPart" : "PutObject";
    if (m == "GET") return "GetObject";
    if (m == "HEAD") return "HeadObject";
    if (m == "DELETE") return r.has("uploadId") ? "AbortMultipartUpload" : "DeleteObject";
    if (m == "POST" && r.has("uploads")) return "CreateMultipartUpload";
    if (m == "POST" && r.has("uploadId")) return "CompleteMultipartUpload";
  }
  return m + "?";
}

}  // namespace

aws::HttpResponse SimAws::deliver(const aws::HttpRequest& request, SimAwsClient* client) {
  // The delay is drawn first and slept outside the lock, so that requests
  // sent at once by several threads take the lock in another order.
  {
    std::chrono::microseconds delay{0};
    {
      std::lock_guard lock(mutex_);
      if (faults_.delay > 0 && std::uniform_real_distribution<>(0, 1)(rng_) < faults_.delay) {
        delay = std::chrono::microseconds(
            std::uniform_int_distribution<std::int64_t>(0, faults_.delay_max.count())(rng_));
        ++counters_.delays;
      }
    }
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
  }
  std::lock_guard lock(mutex_);
  if (client && client->crashed()) {
    ++counters_.crashed_requests;
    throw aws::TransportError("simulated host " + client->name() + " crashed: connection refused",
                              false);
  }
  const std::uint64_t id = ++state_->requests;
  const std::string* target = header(request, "X-Amz-Target");
  const bool dynamodb = target != nullptr;
  S3Request s3;
  std::string op;
  if (dynamodb) {
    op = target->rfind(kTargetPrefix, 0) == 0 ? target->substr(kTargetPrefix.size()) : *target;
  } else {
    s3 = parse_s3_url(request.url);
    op = s3_operation(request, s3);
  }
  ++state_->counts[(dynamodb ? "DynamoDB." : "S3.") + op];

  std::optional<SimFault> fault;
  {
    double u = std::uniform_real_distribution<>(0, 1)(rng_);
    const std::pair<double, SimFault> kinds[] = {
        {faults_.throttle, SimFault::throttle},
        {faults_.server_error, SimFault::server_error},
        {faults_.server_error_after_apply, SimFault::server_error_after_apply},
        {faults_.reset_before_apply, SimFault::reset_before_apply},
        {faults_.reset_after_apply, SimFault::reset_after_apply},
        {dynamodb ? faults_.bad_crc : 0.0, SimFault::bad_crc}};
    for (const auto& [p, kind] : kinds) {
      if (u < p) {
        fault = kind;
        break;
      }
      u -= p;
    }
    auto script = scripted_.find((dynamodb ? "DynamoDB." : "S3.") + op);
    if (script != scripted_.end() && !script->second.empty()) {
      fault = script->second.back();
      script->second.pop_back();
    }
  }
  auto s3_error = [&](const ServiceError& e) {
    aws::HttpResponse response;
    response.status = e.status;
    response.headers = {{"x-amz-request-id", "SIM" + std::to_string(id)}};
    if (request.method != "HEAD") {
      response.headers.emplace_back("Content-Type", "application/xml");
      response.body = s3_error_xml(e, s3, id);
    }
    return response;
  };
  auto error = [&](const ServiceError& e) {
    return dynamodb ? dynamodb_error(e, id) : s3_error(e);
  };
  // Faults that answer instead of the service, the request unapplied.
  if (fault) switch (*fault) {
      case SimFault::throttle:
        ++counters_.throttles;
        if (!dynamodb) return s3_error({503, "SlowDown", "Please reduce your request rate."});
        return error(id % 2 ? ServiceError{400, "ThrottlingException",
                                           "Rate of requests exceeds "
                                           "the allowed throughput."}
                            : ServiceError{400, "ProvisionedThroughputExceededException",
                                           "The level of configured provisioned throughput for "
                                           "the table was exceeded."});
      case SimFault::server_error:
        ++counters_.server_errors;
        return error({500, dynamodb ? "InternalServerError" : "InternalError",
                      "We encountered an internal error. Please try again."});
      case SimFault::reset_before_apply:
        ++counters_.resets_before_apply;
        throw aws::TransportError("simulated connection reset before the request was applied",
                                  false);
      default:
        break;
    }

  aws::HttpResponse response;
  if (!header(request, "Authorization")) {
    response = error(dynamodb ? ServiceError{400, "MissingAuthenticationTokenException",
                                             "Request is missing Authentication Token"}
                              : ServiceError{403, "AccessDenied", "Access Denied"});
  } else if (dynamodb) {
    try {
      json r;
      try {
        r = json::parse(request.body);
      } catch (const json::exception&) {
        throw ServiceError{400, "SerializationException", "the body is not JSON"};
      }
      json reply;
      try {
        if (op == "PutItem") {
          reply = put_item(*state_, r);
        } else if (op == "GetItem") {
          reply = get_item(*state_, r);
        } else if (op == "Query") {
          reply = query(*state_, r);
        } else if (op == "BatchWriteItem") {
          auto leave = [&] {
            return faults_.unprocessed > 0 &&
                   std::uniform_real_distribution<>(0, 1)(rng_) < faults_.unprocessed;
          };
          reply = batch_write_item(*state_, r, leave, counters_.unprocessed_items);
        } else if (op == "DescribeTable") {
          reply = json{{"Table", description(r.value("TableName", ""), table_of(*state_, r))}};
        } else if (op == "CreateTable") {
          reply = prevayler::testing::create_table(*state_, r);
        } else if (op == "DeleteTable") {
          const std::string name = r.value("TableName", "");
          reply = json{{"TableDescription", description(name, table_of(*state_, r))}};
          reply["TableDescription"]["TableStatus"] = "DELETING";
          state_->tables.erase(name);
        } else {
          throw ServiceError{400, "UnknownOperationException", "unknown operation " + op};
        }
      } catch (const json::exception& e) {
        throw ServiceError{400, "ValidationException",
                           std::string("a field has the wrong type: ") + e.what()};
      }
      response = dynamodb_response(200, reply.dump(), id);
    } catch (const ServiceError& e) {
      response = dynamodb_error(e, id);
    }
  } else {
    try {
      response = apply_s3(*state_, request, s3, op, [this](std::string etag) {
        if (!unique_etags_) return etag;
        return "\"" + md5_hex(etag + std::to_string(++etag_generation_)) + "\"";
      });
      response.headers.emplace_back("x-amz-request-id", "SIM" + std::to_string(id));
    } catch (const ServiceError& e) {
      response = s3_error(e);
    } catch (const std::exception& e) {
      response = s3_error({400, "InvalidRequest", e.what()});
    }
  }

  if (!fault) return response;
  switch (*fault) {
    case SimFault::server_error_after_apply:
      ++counters_.server_errors_after_apply;
      return error({500, dynamodb ? "InternalServerError" : "InternalError",
                    "We encountered an internal error. Please try again."});
    case SimFault::reset_after_apply:
      ++counters_.resets_after_apply;
      throw aws::TransportError("simulated time-out after the request was applied", true);
    case SimFault::bad_crc:
      if (!dynamodb) return response;  // S3 sends no x-amz-crc32
      ++counters_.bad_crcs;
      // Damaged on the way: the header is the CRC of what was sent, the
      // body has one bit flipped, so a client that skips the check reads
      // wrong bytes.
      if (!response.body.empty()) response.body[id % response.body.size()] ^= 0x20;
      return response;
    default:
      return response;
  }
}

// ------------------------------------------------------------ SimAwsClient

SimAwsClient::SimAwsClient(std::shared_ptr<SimAws> sim, std::string name)
    : sim_(std::move(sim)), name_(std::move(name)) {}

aws::HttpResponse SimAwsClient::send(const aws::HttpRequest& request) {
  pass_gate();
  return sim_->deliver(request, this);
}

void SimAwsClient::pass_gate() {
  std::unique_lock lock(mutex_);
  if (!hold_armed_) return;
  hold_armed_ = false;
  held_ = true;
  cv_.notify_all();
  cv_.wait_for(lock, kGateHoldMax, [&] { return !held_; });
  held_ = false;
}

void SimAwsClient::crash() {
  std::lock_guard lock(mutex_);
  crashed_ = true;
  // A held request goes on, to fail in deliver().
  hold_armed_ = false;
  held_ = false;
  cv_.notify_all();
}

bool SimAwsClient::crashed() const {
  std::lock_guard lock(mutex_);
  return crashed_;
}

void SimAwsClient::hold_next() {
  std::lock_guard lock(mutex_);
  assert(!held_);
  hold_armed_ = true;
}

bool SimAwsClient::wait_held(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] { return held_; });
}

void SimAwsClient::release() {
  std::lock_guard lock(mutex_);
  hold_armed_ = false;
  held_ = false;
  cv_.notify_all();
}

}  // namespace prevayler::testing
