// Retention of the DynamoDB journal: deleting the segments that no
// recovery needs any more, without removing what a fence depends on.
//
// Contract (docs/protocol.md, I4):
// - Only segments below `boundary` are touched, and the caller passes a
//   boundary no higher than a snapshot id that is durable in S3: a recovery
//   starting from that snapshot, or a newer one, never reads them.
// - Seal items are never deleted. A seal is the fence of its segment: an
//   old owner (a zombie paused for minutes) that still writes into the
//   segment hits the seal and stops (SupersededError) instead of getting a
//   write acknowledged into a journal no recovery reads. A pruned segment
//   therefore keeps its seal (one small item per snapshot, forever).
// - Segments are pruned oldest first, so at every moment the pruned ones
//   are exactly those below some segment: a run that fails (an error, a
//   crash) between two segments leaves that shape, and the next run finds
//   where it stopped by walking down from its boundary to the first segment
//   already pruned (only seals left), then prunes upwards from there.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "aws/dynamodb.hpp"
#include "aws/s3.hpp"
#include "core/monthly_retention.hpp"

namespace prevayler::detail {

// True when `content` is a seal record (docs/format.md): never deleted.
bool is_seal_content(std::string_view content) noexcept;

// Deletes every item that is not a seal from the segments below `boundary`
// (see the contract above). Returns the number of items deleted.
std::uint64_t prune_journal_below(aws::DynamoDbClient& dynamo, const std::string& table,
                                  std::uint64_t boundary);

struct SnapshotLedger;

// The storage's retention, once a new snapshot is durable (and, thanks to
// conditional writes, cannot be replaced by an older one): prunes the
// segments below the oldest snapshot retention_boundary() keeps. A policy
// with both 0 keeps everything. A failure is only warned about: the
// segments are kept, and the next snapshot tries again.
void prune_after_snapshot(aws::DynamoDbClient& dynamo, const std::string& table,
                          SnapshotLedger& ledger, RetentionPolicy policy,
                          const std::function<void(const std::string&)>& warn);

// The segment below which the ledger's snapshots allow deleting, 0 for
// none: below the last `keep_snapshots` it knows (when it knows that many)
// and below the monthly restore points (keep_monthly_snapshots), dated as
// the ledger records them. The ledger cannot date the snapshots before the
// one recovery read (at most as old as the open): while the window of
// months reaches the month of the open, they may be restore points, and
// nothing is deleted by age.
std::uint64_t retention_boundary(const SnapshotLedger& ledger, RetentionPolicy policy);

// The operator prune (prevayler prune --aws): the segments below the snapshot
// in S3, whose id is read from the object's header. Returns the items deleted.
std::uint64_t prune_below_current_snapshot(aws::DynamoDbClient& dynamo, const std::string& table,
                                           aws::S3Client& s3, const std::string& bucket,
                                           const std::string& snapshot_key);

}  // namespace prevayler::detail
