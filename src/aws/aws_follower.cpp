#include "aws/aws_follower.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>

#include "aws/aws_error.hpp"
#include "aws/journal_items.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {
namespace {

// A follower starts over at most this many times in a row when the
// snapshot object is replaced while it reads it.
constexpr int follow_restarts_max = 8;

// Looks that end at the same gap before the follower asks S3 whether
// retention explains it: a pipelined write fills its gap within a round
// trip, so a second look finds it filled. A gap before a seal is checked at
// once (only retention makes one).
constexpr int gap_looks_before_check = 2;

// Counts the records delivered through it (entry 0 of each record).
class CountingHandler : public RecoveryHandler {
 public:
  explicit CountingHandler(RecoveryHandler& inner) : inner_(inner) {}
  void snapshot(std::uint64_t snapshot_id, std::istream& state) override {
    inner_.snapshot(snapshot_id, state);
  }
  void versioned_snapshot(std::uint64_t snapshot_id, std::istream& state,
                          std::uint32_t state_schema_version) override {
    inner_.versioned_snapshot(snapshot_id, state, state_schema_version);
  }
  void restart() override { inner_.restart(); }
  void entry(const JournalPosition& position, std::string_view bytes) override {
    if (position.entry == 0) ++records;
    inner_.entry(position, bytes);
  }
  std::uint64_t records = 0;

 private:
  RecoveryHandler& inner_;
};

class AwsFollower : public JournalFollower {
 public:
  AwsFollower(const AwsStorageOptions& options, AwsClients& clients, const KeyRing& keys,
              AwsPromotion promotion)
      : options_(options),
        clients_(clients),
        keys_(keys),
        promotion_(std::move(promotion)),
        // From the shortest: a follower starts where the writer is busy
        // until a few empty looks say otherwise.
        interval_ms_(static_cast<std::uint64_t>(options.follow_poll_interval_min.count())) {}

  void start(RecoveryHandler& handler) override {
    try {
      clients_.dynamodb_reads->check_journal_table(options_.table);
      clients_.s3_reads->head_bucket(options_.bucket);
    } catch (const aws::AwsError& e) {
      if (!e.retryable()) throw;
      throw_gave_up(e);
    } catch (const aws::TransportError& e) {
      throw_gave_up(e);
    }
    CountingHandler counting(handler);
    bootstrap(counting, false);
  }

  std::uint64_t poll(RecoveryHandler& handler) override {
    CountingHandler counting(handler);
    const ReplayCursor gap_before = cursor_;
    cursor_.gap = false;
    replay_->replay(cursor_, counting, /*ranges=*/false);
    if (cursor_.stopped_at_seal) {
      // A seal a newer snapshot may have voided (seal_is_trusted()): the
      // newest snapshot is the state, so start over from it.
      bootstrap(counting, true);  // publishes
      adapt_interval(true);
      return counting.records;
    }
    if (!cursor_.gap) {
      gap_looks_ = 0;
    } else if (gap_before.gap && gap_before.segment == cursor_.segment &&
               gap_before.expected == cursor_.expected) {
      ++gap_looks_;
    } else {
      gap_looks_ = 1;
    }
    if (cursor_.gap && (cursor_.gap_before_seal || gap_looks_ >= gap_looks_before_check)) {
      check_gap(counting);
    }
    publish();
    adapt_interval(counting.records > 0 || cursor_.gap);
    return counting.records;
  }

  bool wait_for_change(std::uint64_t timeout_ms) override {
    std::unique_lock lock(wake_mutex_);
    wake_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return woken_; });
    const bool woken = woken_;
    woken_ = false;
    return woken;
  }

  void wake() override {
    {
      const std::lock_guard lock(wake_mutex_);
      woken_ = true;
    }
    wake_cv_.notify_all();
  }

  std::uint64_t poll_interval_ms() const override { return interval_ms_.load(); }

  JournalPosition position() const override {
    const std::lock_guard lock(position_mutex_);
    return position_;
  }

  std::unique_ptr<Storage> promote() override {
    AwsResumePoint resume;
    resume.cursor = replay_->applied(cursor_);
    resume.first_segment = first_segment_;
    {
      const std::lock_guard lock(ledger_->mutex);
      resume.snapshot_exists = ledger_->exists;
      resume.snapshot_etag = ledger_->etag;
      resume.snapshot_ids = ledger_->ids;
      resume.snapshot_committed_ms = ledger_->committed_ms;
      resume.snapshot_opened_ms = ledger_->opened_ms;
    }
    return promotion_(std::move(resume));
  }

 private:
  // The snapshot, then every item after it up to the tail or a gap;
  // restarts the handler first when `restart`.
  void bootstrap(RecoveryHandler& handler, bool restart) {
    for (int attempt = 1;; ++attempt) {
      try {
        if (restart) handler.restart();
        ReplayCursor cursor;
        cursor.segment = read_s3_snapshot(*clients_.s3_reads, reading_options(), *ledger_, handler);
        first_segment_ = cursor.segment;
        replay_.emplace(*clients_.dynamodb_reads, options_, Decryption{&keys_, false},
                        GapRole::follower);
        replay_->set_seal_check(
            [this](std::uint64_t sealed_segment) { return seal_is_trusted(sealed_segment); });
        cursor_ = cursor;
        gap_looks_ = 0;
        replay_->replay(cursor_, handler);
        if (cursor_.stopped_at_seal) {
          if (attempt == follow_restarts_max) {
            throw StorageError(describe() +
                               ": snapshots kept appearing past the journal it "
                               "read (" +
                               std::to_string(attempt) + " times); follow again");
          }
          restart = true;
          continue;
        }
        if (cursor_.gap) gap_looks_ = 1;
        publish();
        return;
      } catch (const aws::PreconditionFailedError&) {
        if (attempt == follow_restarts_max) {
          throw StorageError(describe() + ": the snapshot object was replaced " +
                             std::to_string(attempt) +
                             " times while the follower read it; follow again");
        }
        restart = true;
      }
    }
  }

  // Whether the follower may go on past the seal it just read in
  // `sealed_segment`. An opener that found a gap seals there, and a gap can
  // be retention's: once a snapshot past that segment is durable, its
  // owner deletes the segment's items, and a later opener's seal at the
  // emptied orders says the segment ended before events that were
  // acknowledged (and are in that snapshot). Recovery then starts over from
  // the newest snapshot (aws_storage.cpp, recover_from()); a follower that
  // went on past such a seal would apply the next segments to a state
  // lacking them. No such seal exists before that snapshot is durable
  // (retention runs after the commit), so a snapshot id not past the
  // sealed segment, read after the seal, proves the seal sound. Otherwise
  // the follower starts over from the newest snapshot, which is the state
  // at least up to the seal: one snapshot read when a follower crosses a
  // seal after the next snapshot was already committed.
  bool seal_is_trusted(std::uint64_t sealed_segment) {
    return read_s3_snapshot_id(*clients_.s3_reads, options_.bucket, options_.snapshot_path) <=
           sealed_segment;
  }

  // The follower stood at the same gap on two looks: a newer snapshot means
  // retention deleted what it stands in, so it starts over from there.
  void check_gap(RecoveryHandler& handler) {
    const std::uint64_t newest =
        read_s3_snapshot_id(*clients_.s3_reads, options_.bucket, options_.snapshot_path);
    if (newest > cursor_.segment) {
      bootstrap(handler, true);
      return;
    }
    aws::DynamoDbClient& reads = *clients_.dynamodb_reads;
    if (reads.last_order(options_.table, cursor_.segment + 1) &&
        !reads.get_item(options_.table, cursor_.segment, cursor_.expected)) {
      throw StorageError(
          describe() + ": " + journal_item_name(options_.table, cursor_.segment, cursor_.expected) +
          " is missing and segment " + std::to_string(cursor_.segment + 1) +
          " holds items, but the snapshot object (segment " + std::to_string(newest) +
          ") is not past it: was an older version of the snapshot object "
          "restored? Restore the newest version, then follow again");
    }
  }

  void publish() {
    const ReplayCursor at = replay_->applied(cursor_);
    const std::lock_guard lock(position_mutex_);
    position_ = JournalPosition{at.segment, at.expected - 1, 0};
  }

  // Halves the interval after a look that found records (or a gap, which
  // fills within a round trip), doubles it after an empty one.
  void adapt_interval(bool busy) {
    const auto min_ms = static_cast<std::uint64_t>(options_.follow_poll_interval_min.count());
    const auto max_ms = static_cast<std::uint64_t>(options_.follow_poll_interval_max.count());
    const std::uint64_t now = interval_ms_.load();
    interval_ms_ = busy ? std::max(min_ms, now / 2) : std::min(max_ms, now * 2);
  }

  S3SnapshotOptions reading_options() const {
    S3SnapshotOptions options = s3_snapshot_options(options_);
    options.decryption = Decryption{&keys_, false};
    return options;
  }

  std::string describe() const {
    return "following DynamoDB table " + options_.table + " and s3://" + options_.bucket + "/" +
           options_.snapshot_path;
  }

  [[noreturn]] void throw_gave_up(const StorageError& e) const {
    throw StorageError(describe() + ": starting failed: " + e.what() +
                       " (still failing after retrying for " +
                       std::to_string(options_.read_retry_budget.count()) +
                       " ms, read_retry_budget); check the endpoint and the network, then "
                       "follow again");
  }

  const AwsStorageOptions& options_;
  AwsClients& clients_;
  const KeyRing& keys_;
  const AwsPromotion promotion_;
  std::shared_ptr<SnapshotLedger> ledger_ = std::make_shared<SnapshotLedger>();
  std::optional<JournalReplay> replay_;  // keeps a group commit's fragments across looks
  ReplayCursor cursor_;
  std::uint64_t first_segment_ = 0;
  int gap_looks_ = 0;  // looks in a row that ended at the gap at cursor_
  std::atomic<std::uint64_t> interval_ms_;
  std::mutex wake_mutex_;
  std::condition_variable wake_cv_;
  bool woken_ = false;
  mutable std::mutex position_mutex_;
  JournalPosition position_;
};

}  // namespace

std::unique_ptr<JournalFollower> make_aws_follower(const AwsStorageOptions& options,
                                                   AwsClients& clients, const KeyRing& keys,
                                                   AwsPromotion promotion) {
  return std::make_unique<AwsFollower>(options, clients, keys, std::move(promotion));
}

}  // namespace prevayler::detail
