// The options every storage shares: retention, compression, encryption and
// warnings.
// FileStorageOptions and AwsStorageOptions hold them as their `common`
// field:
//
//   prevayler::make_file_storage({.directory = "bank-data",
//                                 .common = {.keep_snapshots = 2}});
//   aws.common.compress_journal_records_over = 0;
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "prevayler/encryption.hpp"

namespace prevayler {

struct StorageOptions {
  // Retention: 0 keeps every snapshot and the whole journal (the seed's
  // behaviour). N > 0 deletes, once a new snapshot is durable, the journal
  // segments (and, in a directory, the snapshot files) that only snapshots
  // older than the newest N need. Details per storage: file_storage.hpp,
  // aws_storage.hpp.
  std::uint32_t keep_snapshots = 0;
  // Retention by age, as prevayler-clj 5: N > 0 also keeps, as restore
  // points, the newest snapshot of each of the last N calendar months (UTC;
  // the month of the newest snapshot and the N - 1 before it), and the
  // whole journal from the oldest of them on, so every moment since it can
  // still be recovered. Set alone (keep_snapshots 0), it turns retention on
  // and keeps the newest snapshot. A snapshot's time: the file's
  // modification time in a directory; on DynamoDB+S3, when the instance
  // saw it committed or read it, and the storage deletes nothing it cannot
  // date (docs/operations.md#retention-by-age).
  std::uint32_t keep_monthly_snapshots = 0;
  // Snapshots are compressed with zstd (format version 2, docs/format.md)
  // as they are written, in bounded memory. Uncompressed snapshots, old or
  // new, are read either way.
  bool compress_snapshots = true;
  // zstd level: 1 (fastest) to 19 (smallest, slow); -7..-1 are faster
  // still. Another value is a ConfigError.
  int snapshot_compression_level = 1;
  // A group commit whose journal record would have at least this many bytes
  // of entries is zstd-compressed, when that makes it smaller (record type
  // 5, docs/format.md; builds older than it cannot read such a journal).
  // 0 never compresses. Compressed records are read either way.
  std::size_t compress_journal_records_over = 4096;
  // zstd level of journal records, as snapshot_compression_level.
  int journal_compression_level = 1;
  // Authenticated encryption (AES-256-GCM) of journal records and snapshots,
  // after compression, under rotating key ids (docs/encryption.md). Off by
  // default; encrypted data needs `encryption.key` to be read.
  EncryptionOptions encryption;
  // Receives warnings (a torn record cut off the journal's end, an
  // incomplete group commit ignored at replay, a retention run that
  // failed). Default: a line on stderr.
  std::function<void(const std::string&)> warn;
};

}  // namespace prevayler
