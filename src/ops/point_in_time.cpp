// Recovery as of a point in time on the read-only journal access layer.
//
// Which snapshot: for a position, the newest kept at or before its
// segment. For a time, the newest whose journal's first entry is at or
// before it (timestamps are non-decreasing, so every event before that
// snapshot's cut is too); a snapshot with no entry after it qualifies when
// it was written at or before the time. A candidate that fails sends the
// search to the next older one, and none left is a PointInTimeError: what
// the point needs was removed by retention.
#include "ops/point_in_time.hpp"

#include <iostream>
#include <limits>
#include <optional>
#include <tuple>

#include "core/assert.hpp"
#include "core/entry_codec.hpp"
#include "prevayler/error.hpp"

namespace prevayler::ops {
namespace {

// Ends a read early: the point (or the first entry looked for) is reached.
struct Stop {};

bool after(const JournalPosition& a, const JournalPosition& b) {
  return std::tie(a.segment, a.record, a.entry) > std::tie(b.segment, b.record, b.entry);
}

std::string position_text(const JournalPosition& p) {
  return std::to_string(p.segment) + ":" + std::to_string(p.record) + ":" + std::to_string(p.entry);
}

// A place recovery can start: a kept snapshot, or the initial state.
struct Start {
  std::optional<SnapshotInfo> snapshot;  // none: the initial state, segment 0
  std::uint64_t first_segment() const { return snapshot ? snapshot->id : 0; }
  std::string describe() const {
    return snapshot ? "snapshot " + std::to_string(snapshot->id) + " (" + snapshot->location + ")"
                    : "the initial state (segment 0)";
  }
};

struct FirstEntry {
  JournalPosition position;
  Timestamp timestamp;
};

class FirstEntryVisitor : public JournalVisitor {
 public:
  std::optional<FirstEntry> first;
  void entry(const JournalPosition& position, std::string_view bytes) override {
    first = FirstEntry{
        position,
        detail::parse_entry(bytes, "journal position " + position_text(position)).timestamp};
    throw Stop{};
  }
};

// Passes entries on to the recovery until the point.
class UpToPointVisitor : public JournalVisitor {
 public:
  UpToPointVisitor(const PointInTime& point, RecoveryHandler& handler,
                   const std::function<void(const std::string&)>& warn)
      : point_(point), handler_(handler), warn_(warn) {}

  void entry(const JournalPosition& position, std::string_view bytes) override {
    if (point_.position && after(position, *point_.position)) throw Stop{};
    if (point_.time) {
      const Timestamp t =
          detail::parse_entry(bytes, "journal position " + position_text(position)).timestamp;
      if (t > *point_.time) throw Stop{};
    }
    handler_.entry(position, bytes);
    last = position;
  }
  void warning(const std::string& message) override {
    if (warn_) {
      warn_(message);
    } else {
      std::cerr << "prevayler: warning: " << message << std::endl;
    }
  }

  std::optional<JournalPosition> last;

 private:
  const PointInTime& point_;
  RecoveryHandler& handler_;
  const std::function<void(const std::string&)>& warn_;
};

// Checks that the snapshot delivered is the one chosen (the AWS object can
// be replaced by a newer one between the listing and the read).
class ExpectedSnapshotHandler : public RecoveryHandler {
 public:
  ExpectedSnapshotHandler(RecoveryHandler& inner, std::uint64_t id, std::string where)
      : inner_(inner), id_(id), where_(std::move(where)) {}
  void snapshot(std::uint64_t id, std::istream& state) override {
    check(id);
    inner_.snapshot(id, state);
  }
  void versioned_snapshot(std::uint64_t id, std::istream& state,
                          std::uint32_t schema_version) override {
    check(id);
    inner_.versioned_snapshot(id, state, schema_version);
  }
  void restart() override { inner_.restart(); }
  void entry(const JournalPosition& position, std::string_view bytes) override {
    inner_.entry(position, bytes);
  }

 private:
  void check(std::uint64_t id) const {
    if (id != id_) {
      throw PointInTimeError(where_ + " now holds snapshot " + std::to_string(id) + ", not " +
                             std::to_string(id_) +
                             " (an instance wrote a newer one since the listing); open again");
    }
  }
  RecoveryHandler& inner_;
  const std::uint64_t id_;
  const std::string where_;
};

class PointInTimeStorage : public Storage {
 public:
  PointInTimeStorage(std::unique_ptr<JournalSource> source, PointInTime point,
                     std::function<void(const std::string&)> warn, bool initial_state)
      : source_(std::move(source)),
        point_(std::move(point)),
        warn_(std::move(warn)),
        initial_state_(initial_state) {
    PREVAYLER_ASSERT(point_.position.has_value() != point_.time.has_value());
  }

  void recover(RecoveryHandler& handler) override {
    const std::vector<SegmentInfo> segments = source_->segments();
    const Start start = choose_start(segments);
    if (start.snapshot) {
      ExpectedSnapshotHandler expected(handler, start.snapshot->id, start.snapshot->location);
      source_->read_snapshot(start.snapshot->id, expected);
    }
    UpToPointVisitor visitor(point_, handler, warn_);
    bool stopped = false;
    try {
      source_->read(start.first_segment(), visitor);
    } catch (const Stop&) {
      stopped = true;
    }
    if (!stopped && point_.position && !reached(visitor.last, segments)) {
      throw PointInTimeError(describe() + ": the journal has not reached position " +
                             point_.to_string() + " yet; it ends at " +
                             (visitor.last ? position_text(*visitor.last) : "its start"));
    }
  }

  void append(const EntryBatch&) override { throw_read_only(); }
  std::unique_ptr<SnapshotWriter> begin_snapshot() override { throw_read_only(); }
  void close() override {}
  std::size_t entry_bytes_max() const override { return entry_bytes_unlimited; }
  std::string describe() const override {
    return source_->describe() + " as of " + point_.to_string();
  }
  bool read_only() const override { return true; }

 private:
  // The engine refuses changes first (Storage::read_only); this is a backstop.
  static constexpr std::size_t entry_bytes_unlimited = std::size_t{1} << 40;

  [[noreturn]] void throw_read_only() const { throw ReadOnlyError(describe() + " is read-only"); }

  // Whether a read that ended without passing the point got to it: its
  // last entry is the point's, or in the point's record when the point
  // names a whole record ("7:120"); or the point is the start of a segment
  // that exists ("7:0").
  bool reached(const std::optional<JournalPosition>& last,
               const std::vector<SegmentInfo>& segments) const {
    const JournalPosition& p = *point_.position;
    if (p.record == 0) {
      for (const SegmentInfo& s : segments) {
        if (s.id == p.segment) return true;
      }
    }
    if (!last) return false;
    if (last->segment != p.segment) return last->segment > p.segment;
    if (last->record != p.record) return last->record > p.record;
    return p.entry == std::numeric_limits<std::uint32_t>::max() || last->entry >= p.entry;
  }

  std::vector<Start> starts(const std::vector<SegmentInfo>& segments) {
    std::vector<Start> found;  // oldest first
    const std::vector<SnapshotInfo> snapshots = source_->snapshots();
    if (snapshots.empty() && initial_state_ && (segments.empty() || segments.front().id == 0)) {
      found.push_back(Start{});
    }
    for (const SnapshotInfo& s : snapshots) found.push_back(Start{s});
    return found;
  }

  Start choose_start(const std::vector<SegmentInfo>& segments) {
    const std::vector<Start> candidates = starts(segments);
    if (candidates.empty()) {
      throw PointInTimeError(source_->describe() +
                             " keeps no snapshot to start from (and its journal may have been "
                             "pruned): no state as of " +
                             point_.to_string() + " can be rebuilt");
    }
    for (auto it = candidates.rbegin(); it != candidates.rend(); ++it) {
      if (point_.position) {
        if (it->first_segment() <= point_.position->segment) return *it;
        continue;
      }
      FirstEntryVisitor first;
      try {
        source_->read(it->first_segment(), first);
      } catch (const Stop&) {
      }
      if (first.first ? first.first->timestamp <= *point_.time
                      : !it->snapshot || (it->snapshot->modified_ms &&
                                          *it->snapshot->modified_ms <=
                                              point_.time->time_since_epoch().count())) {
        return *it;
      }
      // Before the first event ever: the initial state, or snapshot 0 (the
      // first open's, which holds it).
      if (!it->snapshot || it->snapshot->id == 0) return *it;
    }
    const Start& oldest = candidates.front();
    throw PointInTimeError(source_->describe() + " no longer keeps the state as of " +
                           point_.to_string() + ": the oldest point kept is " + oldest.describe() +
                           "; what came before it is no longer kept (the file storage's "
                           "retention removed it: keep more with StorageOptions::keep_snapshots; "
                           "the S3 object holds the newest snapshot only)");
  }

  const std::unique_ptr<JournalSource> source_;
  const PointInTime point_;
  const std::function<void(const std::string&)> warn_;
  const bool initial_state_;
};

}  // namespace

std::unique_ptr<Storage> make_point_in_time_storage(std::unique_ptr<JournalSource> source,
                                                    PointInTime point,
                                                    std::function<void(const std::string&)> warn,
                                                    bool initial_state_when_no_snapshot) {
  return std::make_unique<PointInTimeStorage>(std::move(source), std::move(point), std::move(warn),
                                              initial_state_when_no_snapshot);
}

}  // namespace prevayler::ops
