// The fence of the DynamoDB journal: how an instance takes the journal
// over, and why an older owner can then get nothing more acknowledged.
// (The file storage's counterpart is its lock and segment-start record.)
//
// Invariant: every item is written with a conditional PutItem
// (attribute_not_exists), so an order of a segment holds at most one item,
// forever. A writer acknowledges a write only once its item is durable at
// the order it chose.
//
// Protocol. A new owner replays to the tail of the journal (the first order
// of the last segment that holds no item, or the first gap), then writes a
// seal record there pointing at the next segment, and writes only in that
// next segment from then on. The old owner's next write in the sealed
// segment meets the seal (or an item the new owner replayed past) at its
// order: its conditional put fails, it sees another writer's content and
// stops with SupersededError, its write unacknowledged.
//
// Failure cases:
// - The old owner wrote at the tail first: the seal's put fails with the old
//   owner's item, which (acknowledged or not) is the journal's now. It is
//   applied straight from the conditional failure's ALL_OLD and the seal is
//   tried at the next order: a fresh Query per attempt would let a busy old
//   owner, one round trip ahead, win every time.
// - Another new owner sealed first: its seal is applied like any item, and
//   replay follows it to the segment it opened; the race goes on there.
// - The seal's put is throttled after every client attempt (certainly not
//   written): tried again within read_retry_budget, like the open's reads.
// - A writer that keeps winning: after seal_conflicts_max items found at the
//   tail the open gives up (StorageError) rather than chase it forever.
// - Retention never deletes a seal (journal_retention.hpp): a pruned segment
//   still fences its old owner.
#pragma once

#include <cstdint>

#include "aws/journal_put.hpp"
#include "aws/journal_replay.hpp"
#include "prevayler/aws_storage.hpp"
#include "prevayler/storage.hpp"

namespace prevayler::detail {

// Items found at the tail, one seal attempt each, before an open gives up:
// an old owner's pipeline holds a few writes, so thousands mean a writer
// that is still accepting events, which must be stopped first.
inline constexpr std::uint32_t seal_conflicts_max = 10'000;

// Seals the tail at the cursor (see the protocol above), replaying through
// `replay` whatever another writer put there first. Returns the segment the
// new owner writes in; the cursor is left at the sealed order's segment.
std::uint64_t take_ownership(ReplayCursor& c, RecoveryHandler& handler, JournalReplay& replay,
                             const JournalPut& put, std::uint64_t writer_id,
                             std::chrono::milliseconds retry_budget);

}  // namespace prevayler::detail
