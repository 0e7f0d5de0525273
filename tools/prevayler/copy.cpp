// `prevayler copy`: copies the newest snapshot and the journal a recovery
// reads after it (`--all`: every snapshot and segment kept) into an empty
// destination, on either storage, positions preserved: a recovery there
// gives the same state. What a recovery would skip (a torn tail, a write
// cut off by a start record or a seal, an incomplete fragment sequence) is
// not copied. Stop the instances first: a copy is a point in time.
#include <algorithm>
#include <iostream>

#include "prevayler/error.hpp"

#include "progress.hpp"
#include "tool.hpp"

namespace prevayler::tool {
namespace {

// Regroups the entries a read delivers into their records and lays them
// down segment by segment.
class CopyingVisitor : public ops::JournalVisitor {
 public:
  CopyingVisitor(ops::JournalDestination& to, std::uint64_t first_segment, Progress& progress)
      : to_(to), next_segment_(first_segment), progress_(progress) {}

  void entry(const JournalPosition& position, std::string_view bytes) override {
    if (!segment_ || position.segment != *segment_ || position.record != record_) flush();
    if (!segment_ || position.segment != *segment_) open_through(position.segment);
    record_ = position.record;
    batch_.add(bytes);
    ++events;
    progress_.add(1, bytes.size());
  }
  void warning(const std::string& message) override {
    std::cerr << program << ": warning: " << message << " (not copied)\n";
  }

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

  ops::JournalDestination& to_;
  std::uint64_t next_segment_;
  Progress& progress_;
  std::optional<std::uint64_t> segment_;
  std::uint64_t record_ = 0;
  EntryBatch batch_;
};

}  // namespace

int run_copy(const StorageFlags& from, const StorageFlags& to, const CopyOptions& options) {
  auto source = open_source(from);
  auto destination = open_destination(to);
  // Read the source's listing first: a missing source fails before the
  // destination is created.
  const std::vector<ops::SnapshotInfo> snapshots = source->snapshots();
  const std::vector<ops::SegmentInfo> segments = source->segments();
  destination->check_empty();

  std::vector<ops::SnapshotInfo> copied;
  if (options.all) {
    copied = snapshots;
  } else if (!snapshots.empty()) {
    copied.push_back(snapshots.back());
  }
  for (const auto& s : copied) destination->put_snapshot(s.id, source->snapshot_bytes(s.id));

  // Recovery starts at the newest snapshot's segment (or at the first one).
  std::uint64_t first = snapshots.empty() ? 0 : snapshots.back().id;
  if (options.all && !segments.empty()) first = std::min(first, segments.front().id);
  std::optional<std::uint64_t> last;
  std::uint64_t total_bytes = 0;
  for (const auto& s : segments) {
    if (s.id < first) continue;
    last = s.id;
    total_bytes += s.bytes;
  }
  if (last && std::none_of(segments.begin(), segments.end(),
                           [&](const ops::SegmentInfo& s) { return s.id == first; })) {
    throw CorruptionError(source->describe() + ": segment " + std::to_string(first) +
                          ", where recovery starts, is missing; run verify");
  }
  Progress progress("copying", total_bytes);
  CopyingVisitor visitor(*destination, first, progress);
  if (last) source->read(first, visitor);
  visitor.finish(last);
  destination->finish();
  progress.done();
  std::cout << "copied " << copied.size() << " snapshots, " << visitor.segments << " segments and "
            << visitor.events << " events from " << source->describe() << " to "
            << destination->describe() << std::endl;
  return exit_ok;
}

}  // namespace prevayler::tool
