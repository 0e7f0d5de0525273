#include "ops/copy_journal.hpp"

#include <algorithm>
#include <optional>
#include <set>

#include "prevayler/error.hpp"

namespace prevayler::ops {
namespace {

// Regroups the entries a read delivers into their records and lays them
// down segment by segment.
class CopyingVisitor : public JournalVisitor {
 public:
  CopyingVisitor(JournalDestination& to, std::uint64_t first_segment, CopyObserver& observer)
      : to_(to), next_segment_(first_segment), observer_(observer) {}

  void entry(const JournalPosition& position, std::string_view bytes) override {
    if (!segment_ || position.segment != *segment_ || position.record != record_) flush();
    if (!segment_ || position.segment != *segment_) open_through(position.segment);
    record_ = position.record;
    batch_.add(bytes);
    ++events;
    observer_.copied(1, bytes.size());
  }
  void warning(const std::string& message) override { observer_.warning(message); }

  // Ends the copy with segment `last` (the source's last one), laying down
  // the segments after the last entry, which hold none.
  void finish(std::optional<std::uint64_t> last) {
    flush();
    if (last && (!segment_ || *segment_ < *last)) open_through(*last);
    if (segment_) to_.end_segment(true);
  }

  std::uint64_t events = 0;
  std::uint64_t segments = 0;

 private:
  void flush() {
    if (batch_.empty()) return;
    to_.add_record(record_, batch_);
    batch_ = EntryBatch();
  }
  // Ends the current segment and begins every one up to `id`.
  void open_through(std::uint64_t id) {
    while (next_segment_ <= id) {
      if (segment_) to_.end_segment(false);
      to_.begin_segment(next_segment_);
      segment_ = next_segment_;
      ++next_segment_;
      ++segments;
    }
  }

  JournalDestination& to_;
  std::uint64_t next_segment_;
  CopyObserver& observer_;
  std::optional<std::uint64_t> segment_;
  std::uint64_t record_ = 0;
  EntryBatch batch_;
};

// Ends a read at the segment recovery starts at.
struct ReachedRecoveryStart {};

// `--all`'s first read: the segments below the newest snapshot, which no
// recovery reads. Prune may have left a gap in them (the DynamoDB storage
// deletes a segment's items in batches, and a failed batch leaves some), and
// a read ends at a gap: so what recovery reads is read apart, after it.
class BelowSnapshotVisitor : public JournalVisitor {
 public:
  BelowSnapshotVisitor(CopyingVisitor& copying, std::uint64_t recovery_start)
      : copying_(copying), recovery_start_(recovery_start) {}
  void entry(const JournalPosition& position, std::string_view bytes) override {
    if (position.segment >= recovery_start_) throw ReachedRecoveryStart{};
    copying_.entry(position, bytes);
  }
  void warning(const std::string& message) override { copying_.warning(message); }

 private:
  CopyingVisitor& copying_;
  std::uint64_t recovery_start_;
};

}  // namespace

namespace {

// `--all`'s first segment: the oldest of the run of consecutive segments
// that ends where recovery starts. A segment below a gap there is no part
// of a journal anyone reads: a file a superseded writer re-created under a
// name retention had deleted (it removes it again at once), or what a gap
// left. It is reported and not copied, rather than failing the copy.
std::uint64_t first_kept_segment(const std::vector<SegmentInfo>& segments,
                                 std::uint64_t recovery_start, CopyObserver& observer) {
  std::set<std::uint64_t> ids;
  for (const auto& s : segments) ids.insert(s.id);
  if (!ids.count(recovery_start)) return segments.front().id;
  std::uint64_t first = recovery_start;
  while (first > 0 && ids.count(first - 1)) --first;
  for (const auto& s : segments) {
    if (s.id >= first) break;
    observer.warning(s.location + ": not copied: segment " + std::to_string(s.id) +
                     " is not joined to the journal recovery reads (segment " +
                     std::to_string(first) + " on); verify reports the gap");
  }
  return first;
}

}  // namespace

CopyJournalResult copy_journal(JournalSource& from, JournalDestination& to,
                               const CopyJournalOptions& options, CopyObserver& observer) {
  // Read the source's listing first: a missing source fails before the
  // destination is created.
  const std::vector<SnapshotInfo> snapshots = from.snapshots();
  const std::vector<SegmentInfo> segments = from.segments();
  to.check_empty();

  std::vector<SnapshotInfo> copied;
  if (options.all) {
    copied = snapshots;
  } else if (!snapshots.empty()) {
    copied.push_back(snapshots.back());
  }
  for (const auto& s : copied) to.put_snapshot(s.id, from.snapshot_bytes(s.id));

  // Recovery starts at the newest snapshot's segment (or at the first one).
  const std::uint64_t recovery_start = snapshots.empty() ? 0 : snapshots.back().id;
  std::uint64_t first = recovery_start;
  if (options.all && !segments.empty())
    first = first_kept_segment(segments, recovery_start, observer);
  std::optional<std::uint64_t> last;
  bool recovery_reads = false;  // a segment from recovery_start on is kept
  std::uint64_t total_bytes = 0;
  for (const auto& s : segments) {
    if (s.id < first) continue;
    last = s.id;
    recovery_reads = recovery_reads || s.id >= recovery_start;
    total_bytes += s.bytes;
  }
  if (recovery_reads && std::none_of(segments.begin(), segments.end(), [&](const SegmentInfo& s) {
        return s.id == recovery_start;
      })) {
    throw CorruptionError(from.describe() + ": segment " + std::to_string(recovery_start) +
                          ", where recovery starts, is missing; run verify");
  }
  observer.started(total_bytes);
  CopyingVisitor visitor(to, first, observer);
  if (last && first < recovery_start) {
    BelowSnapshotVisitor below(visitor, recovery_start);
    try {
      from.read(first, below);
    } catch (const ReachedRecoveryStart&) {
      // The rest is read below, as recovery reads it.
    }
  }
  if (recovery_reads) from.read(recovery_start, visitor);
  visitor.finish(last);
  to.finish();
  return CopyJournalResult{copied.size(), visitor.segments, visitor.events};
}

}  // namespace prevayler::ops
