// The snapshot object of the DynamoDB+S3 storage: streaming it up as a
// PutObject or a parallel multipart upload, and down in parallel ranged
// GETs, optionally zstd-compressed (layout: docs/format.md; costs and
// options: docs/aws.md).
//
// Memory: a writer holds at most (parallel_requests + 1) parts, each in our
// buffer and in the HTTP request being sent; a reader at most
// (parallel_requests + 1) ranges. Neither ever holds the whole state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "aws/s3.hpp"
#include "core/encryption.hpp"
#include "prevayler/aws_storage.hpp"
#include "prevayler/storage.hpp"

namespace prevayler::detail {

// What this instance knows of the snapshot object: its ETag (for
// conditional writes, so an old writer can never put an older snapshot
// back) and the ids of the snapshots it read or wrote (for retention),
// with the times of those it wrote (for retention by age).
struct SnapshotLedger {
  std::mutex mutex;
  bool exists = false;
  std::string etag;
  std::vector<std::uint64_t> ids;
  // The clock that dates snapshots, in ms since the Unix epoch: when one is
  // committed, and when recovery read the object (every snapshot before it
  // is at least that old). Default: the system clock.
  std::function<std::int64_t()> now_ms;
  std::map<std::uint64_t, std::int64_t> committed_ms;
  // When recovery read the snapshot object; nullopt when there was none
  // (no snapshot is older than this instance).
  std::optional<std::int64_t> opened_ms;
};

// ledger.now_ms(), or the system clock when unset.
std::int64_t ledger_now_ms(const SnapshotLedger& ledger);

struct S3SnapshotOptions {
  std::string bucket;
  std::string key;
  // Size of a multipart part and of a ranged GET; a snapshot up to this size
  // goes up in one PutObject. At least S3's 5 MiB part minimum.
  std::size_t part_bytes = std::size_t{8} << 20;
  // Parts uploaded, or ranges downloaded, at the same time (at least 1).
  std::uint32_t parallel_requests = 4;
  // A zstd level, or nullopt to store the state uncompressed.
  std::optional<int> compression_level;
  // What a writer's header records (the reader takes it from the header).
  std::uint32_t state_schema_version = 1;
  // A writer encrypts under this key ring's current key, after compression
  // (null: not). It must outlive the writer.
  const KeyRing* encrypt = nullptr;
  // How a reader opens an encrypted snapshot (check_only: its CRC and
  // structure are checked, nothing is delivered).
  Decryption decryption;
};

// The snapshot options of the storage's options. Throws ConfigError for a
// compression level zstd does not have or zero parallel requests.
S3SnapshotOptions s3_snapshot_options(const AwsStorageOptions& options);

// A writer for snapshot `id`. commit() writes with If-None-Match (no object
// yet) or If-Match (the ETag in the ledger), and replaces an object written
// by someone else only when it holds an older snapshot id. `s3` must outlive
// the writer; on_committed runs after the ledger is updated.
std::unique_ptr<SnapshotWriter> make_s3_snapshot_writer(
    aws::S3Client& s3, const S3SnapshotOptions& options, std::uint64_t id,
    std::shared_ptr<SnapshotLedger> ledger, std::function<void(std::uint64_t)> on_committed);

// Streams the snapshot object, with the state schema version its header
// records, to `handler` and records it in the ledger.
// Returns its id, or 0 when there is no snapshot object (the bucket exists:
// NoSuchBucket is rethrown). Throws CorruptionError naming the object when
// the body fails its checksum, also when the damage first showed as a
// decoding error.
std::uint64_t read_s3_snapshot(aws::S3Client& s3, const S3SnapshotOptions& options,
                               SnapshotLedger& ledger, RecoveryHandler& handler);

// The id of the snapshot object, from its header; 0 when there is none.
std::uint64_t read_s3_snapshot_id(aws::S3Client& s3, const std::string& bucket,
                                  const std::string& key);

}  // namespace prevayler::detail
