// An in-process DynamoDB + S3 behind the AWS client's HTTP transport seam:
// it parses the requests our client really sends (JSON 1.0 with
// X-Amz-Target; path-style or virtual-hosted S3 REST) and answers as the
// services do, without a socket. Faults come from one seeded PRNG with
// per-kind probabilities, and every fault injected is counted so a test can
// assert that it happened.
//
// What it implements, what it does not, and its knobs: docs/sim_aws.md.
//
//   auto sim = prevayler::testing::SimAws::create();
//   sim->create_table("journal");
//   sim->create_bucket("snapshots");
//   auto storage = prevayler::detail::make_aws_storage(sim_options(*sim, "journal",
//                                                      "snapshots"), sim->connect("a"));
//
// Thread-safety: every member may be called from many threads at once (one
// mutex guards the services' state). Free of gtest, so any test executable
// can compile it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "aws/http.hpp"
#include "prevayler/aws_storage.hpp"

namespace prevayler::testing {

// Probabilities per request (0..1), drawn in this order from one PRNG; at
// most one of the first five per request.
struct SimFaultOptions {
  std::uint64_t seed = 1;
  // DynamoDB 400 ThrottlingException / ProvisionedThroughputExceededException,
  // S3 503 SlowDown. Not applied.
  double throttle = 0;
  // 500 InternalServerError / InternalError. Not applied.
  double server_error = 0;
  // 500 after the request was applied (DynamoDB and S3 may do both).
  double server_error_after_apply = 0;
  // TransportError(maybe_delivered=false); not applied.
  double reset_before_apply = 0;
  // Applied, then TransportError(maybe_delivered=true): a reset or time-out
  // while the response was on its way.
  double reset_after_apply = 0;
  // DynamoDB only: applied, 2xx, but one bit of the body flipped on the way
  // (x-amz-crc32 is that of the body sent, so it no longer matches).
  double bad_crc = 0;
  // BatchWriteItem: each request of a batch is left in UnprocessedItems
  // (not applied) with this probability.
  double unprocessed = 0;
  // A request sleeps up to delay_max before it takes the lock, so requests
  // sent at once apply in another order.
  double delay = 0;
  std::chrono::microseconds delay_max{300};
};

// One fault kind, for the scripted faults of SimAws::fail_next.
enum class SimFault {
  throttle,
  server_error,
  server_error_after_apply,
  reset_before_apply,
  reset_after_apply,
  bad_crc,
};

struct SimFaultCounters {
  std::uint64_t throttles = 0;
  std::uint64_t server_errors = 0;
  std::uint64_t server_errors_after_apply = 0;
  std::uint64_t resets_before_apply = 0;
  std::uint64_t resets_after_apply = 0;
  std::uint64_t bad_crcs = 0;
  std::uint64_t unprocessed_items = 0;
  std::uint64_t delays = 0;
  std::uint64_t crashed_requests = 0;  // refused because their client had crashed

  std::uint64_t faults() const noexcept {
    return throttles + server_errors + server_errors_after_apply + resets_before_apply +
           resets_after_apply + bad_crcs + unprocessed_items;
  }
};

// One item of a journal table, as the tests see it.
struct SimItem {
  std::uint64_t partkey = 0;
  std::uint64_t order = 0;
  std::string content;  // the decoded `content` binary attribute ("" when absent)

  friend bool operator==(const SimItem&, const SimItem&) = default;
};

struct SimObject {
  std::string body;
  std::string etag;  // with its quotes, as S3 sends it
};

class SimAws;

// One simulated host: a transport handle of its own, which can crash (every
// later request fails without being applied, as if the machine vanished)
// and can hold its next request at a gate until the test releases it.
class SimAwsClient : public aws::HttpTransport {
 public:
  SimAwsClient(std::shared_ptr<SimAws> sim, std::string name);

  aws::HttpResponse send(const aws::HttpRequest& request) override;

  // From now on every request, also one held at the gate or waiting for
  // the lock, throws TransportError(maybe_delivered=false) unapplied.
  void crash();
  bool crashed() const;

  // Arms the gate: the next request through this client waits before it is
  // applied until release(). REQUIRES: no request is held.
  void hold_next();
  // Waits until a request is held at the gate; false after `timeout`.
  bool wait_held(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Lets the held request (or, if none arrived yet, the next one) go on.
  void release();

  const std::string& name() const noexcept { return name_; }

 private:
  void pass_gate();

  std::shared_ptr<SimAws> sim_;
  std::string name_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool crashed_ = false;
  bool hold_armed_ = false;
  bool held_ = false;
};

class SimAws : public aws::HttpTransport, public std::enable_shared_from_this<SimAws> {
 public:
  // http://127.0.0.1:1: an IP endpoint, so the S3 client uses path style.
  static constexpr const char* endpoint = "http://127.0.0.1:1";
  static constexpr const char* region = "us-east-1";

  // SimAws lives in a shared_ptr: its clients keep it alive.
  static std::shared_ptr<SimAws> create(SimFaultOptions faults = {});

  // send() of a default client that never crashes.
  aws::HttpResponse send(const aws::HttpRequest& request) override;
  // A new simulated host.
  std::shared_ptr<SimAwsClient> connect(std::string name);

  void set_faults(const SimFaultOptions& faults);  // also reseeds the PRNG
  // Scripted faults, before any drawn one: the next `count` requests of
  // `operation` ("DynamoDB.PutItem", "S3.CompleteMultipartUpload", ...)
  // meet `fault`. Stages one failure deterministically.
  void fail_next(const std::string& operation, SimFault fault, int count = 1);
  SimFaultCounters fault_counters() const;

  // ETags: S3's (MD5 of a PutObject body, MD5 of the part MD5s "-N" for a
  // multipart upload), so the same bytes written twice get the same ETag.
  // With unique_etags, every write gets a new ETag instead.
  void set_unique_etags(bool unique);

  // Direct access, for setup and inspection (no faults, not counted).
  void create_table(const std::string& table);  // the journal key schema
  void create_bucket(const std::string& bucket);
  bool has_table(const std::string& table) const;
  std::vector<SimItem> items(const std::string& table) const;  // by (partkey, order)
  bool delete_item(const std::string& table, std::uint64_t partkey, std::uint64_t order);
  std::optional<SimObject> object(const std::string& bucket, const std::string& key) const;
  std::vector<std::string> object_keys(const std::string& bucket) const;
  bool delete_object(const std::string& bucket, const std::string& key);
  std::size_t multipart_uploads(const std::string& bucket) const;  // in progress

  // Requests applied or answered per operation ("DynamoDB.PutItem",
  // "S3.GetObject", ...), faulty ones included, crashed ones not.
  std::map<std::string, std::uint64_t> request_counts() const;
  std::uint64_t requests() const;
  // Queries without ConsistentRead (which miss the newest few writes).
  std::uint64_t eventually_consistent_reads() const;

  // The options of an AWS storage on `table` and `bucket` of this simulator.
  static AwsStorageOptions storage_options(const std::string& table, const std::string& bucket);

  struct State;  // the services' data, in sim_aws.cpp

  SimAws(SimFaultOptions faults, int);  // use create()
  ~SimAws() override;

 private:
  friend class SimAwsClient;
  // Draws the faults of one request, sleeps its delay, and applies it.
  aws::HttpResponse deliver(const aws::HttpRequest& request, SimAwsClient* client);

  mutable std::mutex mutex_;
  std::unique_ptr<State> state_;
  SimFaultOptions faults_;
  SimFaultCounters counters_;
  std::map<std::string, std::vector<SimFault>> scripted_;  // per operation, next first
  std::mt19937_64 rng_;
  bool unique_etags_ = false;
  std::uint64_t etag_generation_ = 0;
};

}  // namespace prevayler::testing
