// A follower of the DynamoDB+S3 journal (storage.hpp, JournalFollower;
// docs/followers.md): it bootstraps as a recovery does (the S3 snapshot,
// then the segments, following seals) and then polls the segment it stands
// in with strongly consistent Queries for the orders after the last one it
// applied. It writes nothing: no seal, no snapshot.
//
// Why what it applies is what a recovery would apply (journal_replay.hpp):
// every item is written with a conditional put, so an order holds at most
// one item, forever; the follower applies items strictly in order, so it
// never applies past a gap (a pipelined write behind one still on its way,
// or a crashed writer's tail: the next opener seals there, and the follower
// applies that seal and follows it), and applies a fragmented group commit
// only once its last fragment is read.
//
// Retention deletes the items (never the seals) of segments below a durable
// snapshot: a follower that stood there finds a gap that does not fill.
// When it stands at the same gap on two looks in a row it reads the S3
// snapshot's id; a newer snapshot than its segment means it starts over
// from that snapshot (RecoveryHandler::restart). A gap that another segment
// already follows, with no newer snapshot, is the restored-older-snapshot
// case an open refuses (aws_storage.cpp): the follower stops with the same
// error.
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include "aws/aws_clients.hpp"
#include "aws/journal_replay.hpp"
#include "aws/s3_snapshot.hpp"
#include "core/encryption.hpp"
#include "prevayler/aws_storage.hpp"
#include "prevayler/storage.hpp"

namespace prevayler::detail {

// Where a promoted follower stands: the promoted storage's recovery
// resumes there instead of reading the snapshot, with the snapshot ledger
// the follower built (retention and snapshot dates go on from it).
struct AwsResumePoint {
  ReplayCursor cursor;              // the first order not applied
  std::uint64_t first_segment = 0;  // the snapshot it bootstrapped from
  bool snapshot_exists = false;
  std::string snapshot_etag;
  std::vector<std::uint64_t> snapshot_ids;
  std::map<std::uint64_t, std::int64_t> snapshot_committed_ms;
  std::optional<std::int64_t> snapshot_opened_ms;
};

using AwsPromotion = std::function<std::unique_ptr<Storage>(AwsResumePoint)>;

// `options`, `clients` and `keys` belong to the storage the follower came
// from and must outlive it (Follower keeps that storage). `promotion` makes
// the storage promote() returns.
std::unique_ptr<JournalFollower> make_aws_follower(const AwsStorageOptions& options,
                                                   AwsClients& clients, const KeyRing& keys,
                                                   AwsPromotion promotion);

}  // namespace prevayler::detail
