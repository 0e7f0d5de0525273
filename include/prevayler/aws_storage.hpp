// The DynamoDB + S3 storage, with prevayler-clj-aws's layout:
//
//   DynamoDB table   partkey (N, HASH) + order (N, RANGE), binary `content`.
//                    partkey = the snapshot after which the events were
//                    created; order = 1, 2, 3, ... within a partkey, no gaps.
//                    One item per group commit (PutItem conditioned on
//                    attribute_not_exists(partkey): an item never changes).
//   S3 object        `snapshot_path` (default "snapshot") in the bucket: the
//                    snapshot id (partkey) and the serialised state.
//
// Region, endpoints and credentials default to the standard AWS
// configuration (AWS_REGION, AWS_ENDPOINT_URL[_DYNAMODB|_S3], the credentials
// chain: environment, ~/.aws files with AWS_PROFILE, web identity, ECS, EC2
// IMDSv2). Setup, IAM policy and costs: docs/aws.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "prevayler/journal_reader.hpp"
#include "prevayler/point_in_time.hpp"
#include "prevayler/storage.hpp"
#include "prevayler/storage_options.hpp"

namespace prevayler {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty unless temporary credentials
};

// AwsStorageOptions::common.compress_journal_records_over's default: one
// DynamoDB write unit's worth of item.
inline constexpr std::size_t dynamodb_compress_records_over_bytes = 1024;

inline StorageOptions dynamodb_storage_options_defaults() {
  StorageOptions common;
  common.compress_journal_records_over = dynamodb_compress_records_over_bytes;
  return common;
}

struct AwsStorageOptions {
  std::string table;   // required
  std::string bucket;  // required
  std::string snapshot_path = "snapshot";
  // Items per strongly consistent Query page during replay (the seed's 1000).
  std::uint32_t replay_page_size = 1000;
  // Query pages in flight during replay. A segment longer than two pages is
  // read as consecutive order ranges of one page each, this many at a time,
  // and applied strictly in order; memory: about (replay_parallel_queries +
  // 1) pages of at most 1 MB. 1 reads one page ahead, sequentially.
  std::uint32_t replay_parallel_queries = 4;
  // Unset: the standard AWS configuration.
  std::optional<std::string> region;
  std::optional<std::string> endpoint;           // both services
  std::optional<std::string> dynamodb_endpoint;  // overrides `endpoint`
  std::optional<std::string> s3_endpoint;        // overrides `endpoint`
  std::optional<AwsCredentials> credentials;
  // S3 addressing: virtual-hosted by default; path style when set, or
  // automatically for an IP or localhost endpoint (moto, MinIO).
  std::optional<bool> s3_path_style;
  // TLS certificate checks. Turn off only for a local test endpoint.
  bool verify_tls = true;
  // Per attempt of a DynamoDB request. S3 requests use
  // snapshot_request_timeout.
  std::chrono::milliseconds request_timeout{10'000};
  // Per request of a snapshot upload or download: a part, and above all the
  // completion of a large multipart upload, can take minutes.
  std::chrono::milliseconds snapshot_request_timeout{300'000};
  // Attempts per request in the AWS standard retry mode.
  int max_attempts = 3;
  // How long a read (at open: DescribeTable, HeadBucket, the snapshot GETs,
  // the journal Queries; and retention's Queries) keeps being retried after
  // transient errors (throttling, 5xx, resets, time-outs) before it fails
  // with a StorageError that says so. Reads are idempotent: an open rides
  // out a burst of faults instead of failing the instance's start.
  std::chrono::milliseconds read_retry_budget{60'000};
  // How long an append keeps re-sending a write whose outcome is unknown
  // (time-out, reset, 5xx) before the instance stops (StorageFailedError).
  std::chrono::milliseconds unknown_outcome_budget{30'000};
  // Journal writes (PutItem of one group commit) in flight at once, each on
  // its own connection. Events are still acknowledged in journal order; a
  // write that fails fails every later one in flight, and if one of those
  // had already landed the instance stops (a restart recovers exactly the
  // journal). 1 writes one item at a time. See also
  // WriterLimits::writes_in_flight_max.
  std::size_t writes_in_flight_max = 4;
  // A follower (prevayler::Follower, docs/followers.md) polls the segment
  // it stands in with a strongly consistent Query for the orders after the
  // last one it applied. The interval halves, down to the minimum, after a
  // look that found records, and doubles, up to the maximum, after an empty
  // one: an idle follower costs one Query per maximum interval.
  std::chrono::milliseconds follow_poll_interval_min{20};
  std::chrono::milliseconds follow_poll_interval_max{1'000};
  // Snapshots up to this size go up in one PutObject; larger ones stream as
  // a multipart upload of parts of this size (at least S3's 5 MiB minimum).
  // Recovery downloads the snapshot in ranged GETs of this size.
  std::size_t snapshot_part_bytes = std::size_t{8} << 20;
  // Parts uploaded, and ranges downloaded, at the same time (at least 1).
  // Memory of a snapshot upload or download: about
  // 2 x (snapshot_parallel_requests + 1) x snapshot_part_bytes.
  std::uint32_t snapshot_parallel_requests = 4;
  // Retention (keep_snapshots: the journal segments that only snapshots
  // older than the last N this instance read or wrote need are deleted once
  // a new snapshot is durable; the S3 object is always the newest
  // snapshot), compression (a large group commit is compressed before it
  // is cut into fragments: fewer items, fewer write units) and warnings
  // (e.g. an incomplete group commit ignored at replay). Records compress
  // from 1 KiB here (4 KiB on the file storage): DynamoDB charges a write
  // unit per started KB of an item, so a group commit of 1 KB or more is
  // where compression saves units (measured: docs/benchmarks.md, DynamoDB
  // capacity model).
  StorageOptions common = dynamodb_storage_options_defaults();
};

// Checks the options without I/O: ConfigError for an empty table, bucket
// or snapshot path, a zero replay_page_size or replay_parallel_queries, or
// no region. The table and bucket are checked by recover(), with errors
// that name them (missing, wrong key schema, access denied, region).
std::unique_ptr<Storage> make_aws_storage(AwsStorageOptions options);

// A read-only storage showing the journal as of `point`
// (prevayler/point_in_time.hpp), from the snapshot object and the segments
// still in the table: on DynamoDB+S3 the oldest point kept is the snapshot
// object's cut (it holds one snapshot). Reads only, strongly consistent.
std::unique_ptr<Storage> make_aws_storage_as_of(const AwsStorageOptions& storage,
                                                const PointInTime& point);

// Operator pruning: deletes the journal segments older than the snapshot in
// S3 (recovery starts there and never reads them). Safe while an instance
// runs. Returns the number of items deleted.
std::uint64_t prune_aws_journal(const AwsStorageOptions& options);

// Reads every entry kept in the journal, read-only, from the oldest
// segment not pruned, with strongly consistent Queries: the AWS overload of
// read_journal_entries (prevayler/journal_reader.hpp, which also has the
// decoding read_journal<Event>). Throws StorageError when the table or the
// bucket does not exist, CorruptionError naming the item on damage.
void read_journal_entries(const AwsStorageOptions& storage, const JournalEntryCallback& callback);

}  // namespace prevayler
