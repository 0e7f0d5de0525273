// Replay of the DynamoDB journal: from a position (a segment and the next
// order expected in it), item after item, following seals from segment to
// segment, up to the unsealed tail or the first gap.
//
// Contract:
// - Items are applied strictly in order. The item at the expected order is
//   decoded and applied: a batch delivers its entries, fragments are
//   reassembled (journal_items.hpp), a seal moves the cursor to order 1 of
//   the segment it names.
// - A gap (an item whose order is not the expected one) ends the tail: no
//   write after a failed one was ever acknowledged, so nothing after the gap
//   is replayed; the cursor keeps `expected` (where the ownership seal goes)
//   and sets `gap`.
// - A segment of more than replay_parallel_pages_min pages is read as
//   consecutive order ranges, up to replay_parallel_queries Queries in
//   flight; otherwise (and for what was written since) one page ahead,
//   sequentially. Both feed the same loop (apply_page), so both make the
//   same gap and seal decisions; items never change, so both read the same.
// - Every read is a strongly consistent Query through the reads client,
//   retried within read_retry_budget; a read that still fails throws before
//   anything after the items already applied.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "aws/dynamodb.hpp"
#include "aws/journal_items.hpp"
#include "core/encryption.hpp"
#include "prevayler/aws_storage.hpp"
#include "prevayler/storage.hpp"

namespace prevayler::detail {

// Replay reads a segment with parallel range Queries only when more than
// this many pages of it are left: below, the Query for its last order costs
// more than the parallelism gains.
inline constexpr std::uint64_t replay_parallel_pages_min = 2;

// Where replay stands. Kept across calls so that replay can continue when
// another writer appends while this instance takes ownership.
struct ReplayCursor {
  std::uint64_t segment = 0;
  std::uint64_t expected = 1;  // the next order
  bool gap = false;            // items follow a missing order: the tail ends at `expected`
  // The first item after the gap is a seal. No writer seals past a gap (an
  // opener seals at it, a writer only with nothing pending), so the orders
  // before the seal were deleted: retention, not a write on its way.
  bool gap_before_seal = false;
  // The replay stopped right after a seal its seal check refused
  // (set_seal_check): the cursor is at the start of the next segment.
  bool stopped_at_seal = false;
};

// What a gap means to whoever replays. To an opener it is the tail, where
// its seal goes (warned about: the items after it are sealed off). To a
// follower it is where it waits: a pipelined write still on its way, or a
// crashed writer's tail that the next opener seals (silent).
enum class GapRole { opener, follower };

class JournalReplay {
 public:
  // `dynamodb` (the reads client) and `options` must outlive the replay.
  // Encrypted records are opened with `decryption` (its keys must outlive
  // the replay too).
  JournalReplay(aws::DynamoDbClient& dynamodb, const AwsStorageOptions& options,
                const Decryption& decryption = {}, GapRole role = GapRole::opener);

  // Where the journal is applied up to: the cursor, less the fragments of
  // a group commit still incomplete. A replay resumed there (a promotion)
  // reads those fragments again.
  ReplayCursor applied(const ReplayCursor& c) const;

  // Replays from the cursor, segment after segment, up to the tail or a gap.
  // `ranges`: a long segment is read with parallel range Queries, which
  // cost one Query more (its last order) before anything is read; a
  // follower's look and a promotion, which read little, go without.
  void replay(ReplayCursor& c, RecoveryHandler& handler, bool ranges = true);

  // Applies the item at c.expected. True when it is a seal (the cursor then
  // points at the start of the next segment).
  bool apply_item(ReplayCursor& c, const aws::JournalItem& item, RecoveryHandler& handler);

  // Drops a group commit whose fragments stopped coming (see journal_items.hpp).
  void drop_partial_fragments(const ReplayCursor& c, const char* why);

  // Called with the sealed segment at each seal the replay follows, before
  // anything after it is applied; false stops the replay there
  // (ReplayCursor::stopped_at_seal). A follower's: see aws_follower.cpp.
  void set_seal_check(std::function<bool(std::uint64_t sealed_segment)> check) {
    seal_check_ = std::move(check);
  }

  // The lowest segment whose seal this replay followed without seeing that
  // the segment's owner wrote it, or nullopt. A seal whose item comes right
  // after a record this replay applied, with that record's writer id, is
  // the owner closing its own segment (a snapshot's seal). Any other seal
  // may be an opener's at orders retention emptied, which says the segment
  // ended before acknowledged events; it exists only once a snapshot past
  // its segment is durable, so a recovery that followed one checks the
  // newest snapshot against it (AwsStorage::recover_from()).
  std::optional<std::uint64_t> lowest_unproven_seal() const { return lowest_unproven_seal_; }

 private:
  enum class PageEnd { consumed, seal, gap };
  PageEnd apply_page(ReplayCursor& c, const std::vector<aws::JournalItem>& items,
                     RecoveryHandler& handler);
  bool replay_segment(ReplayCursor& c, RecoveryHandler& handler, bool ranges);
  bool replay_pages(ReplayCursor& c, RecoveryHandler& handler);
  std::optional<bool> replay_ranges(ReplayCursor& c, RecoveryHandler& handler);
  void end_at_gap(ReplayCursor& c, const aws::JournalItem& found);

  aws::DynamoDbClient& dynamodb_;
  const AwsStorageOptions& options_;
  Decryption decryption_;
  GapRole role_;
  FragmentAssembler fragments_;
  std::function<bool(std::uint64_t)> seal_check_;
  std::optional<std::uint64_t> lowest_unproven_seal_;
  // The last batch or fragment item applied: where, and by which writer.
  struct AppliedItem {
    std::uint64_t segment = 0;
    std::uint64_t order = 0;
    std::uint64_t writer_id = 0;
  };
  std::optional<AppliedItem> last_applied_;
};

}  // namespace prevayler::detail
