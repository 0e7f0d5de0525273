// The DynamoDB+S3 storage: orchestration of its parts.
//   aws_clients      region, endpoints, credentials, retries (shared with the tool)
//   s3_snapshot      the snapshot object, up and down
//   journal_replay   the journal after the snapshot, up to the tail
//   ownership        the seal at the tail that fences the previous owner
//   journal_writer   the writes of group commits (journal_items: their items)
//   throttle_batching_policy  fewer writes in flight, more compression, while throttled
//   journal_retention  pruning the segments no recovery needs
#include <algorithm>
#include <chrono>
#include <mutex>
#include <random>

#include "aws/aws_clients.hpp"
#include "aws/aws_error.hpp"
#include "aws/aws_follower.hpp"
#include "aws/aws_storage_impl.hpp"
#include "aws/journal_items.hpp"
#include "aws/journal_put.hpp"
#include "aws/journal_replay.hpp"
#include "aws/journal_retention.hpp"
#include "aws/journal_writer.hpp"
#include "aws/ownership.hpp"
#include "aws/retry_counters.hpp"
#include "aws/s3_snapshot.hpp"
#include "aws/throttle_batching_policy.hpp"
#include "core/record_codec.hpp"
#include "core/warning.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {
namespace {

// Recoveries that start over because the snapshot or the journal changed
// under them before open gives up (each one means another instance cut a
// snapshot and pruned within the time of one replay).
constexpr std::uint32_t recovery_attempts_max = 8;

std::uint64_t random_writer_id() {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

AwsStorageOptions validated(AwsStorageOptions options) {
  if (options.table.empty()) throw ConfigError("AWS storage: the DynamoDB table name is empty");
  if (options.bucket.empty()) throw ConfigError("AWS storage: the S3 bucket name is empty");
  if (options.snapshot_path.empty()) throw ConfigError("AWS storage: the snapshot path is empty");
  if (options.replay_page_size == 0) {
    throw ConfigError("AWS storage: replay_page_size must be at least 1");
  }
  if (options.replay_parallel_queries == 0) {
    throw ConfigError("AWS storage: replay_parallel_queries must be at least 1");
  }
  if (options.follow_poll_interval_min.count() < 1 ||
      options.follow_poll_interval_max < options.follow_poll_interval_min) {
    throw ConfigError(
        "AWS storage: follow_poll_interval_min must be at least 1 ms and at most "
        "follow_poll_interval_max");
  }
  options.common.warn = warning_or_default(std::move(options.common.warn));
  return options;
}

class AwsStorage : public Storage {
 public:
  AwsStorage(AwsStorageOptions options, std::shared_ptr<aws::HttpTransport> transport,
             AwsStorageTestHooks hooks, std::optional<AwsResumePoint> resume = std::nullopt)
      : options_(validated(std::move(options))),
        transport_(transport),
        hooks_(hooks),
        clients_(resolve_aws_clients(options_, std::move(transport), hooks)),
        put_(*clients_.dynamodb, options_.table, options_.unknown_outcome_budget, hooks.sleep),
        resume_(std::move(resume)),
        writer_(put_, writes_in_flight_max()) {
    snapshots_->now_ms = hooks.now_ms;
  }

  void recover(RecoveryHandler& handler) override {
    try {
      // A promoted follower checked them when it started: failover skips
      // two round trips.
      if (!resume_) {
        clients_.dynamodb_reads->check_journal_table(options_.table);
        clients_.s3_reads->head_bucket(options_.bucket);
      }
      writer_id_ = random_writer_id();
      if (resume_ && recover_promoted(handler)) return;
      for (std::uint32_t attempt = 1;; ++attempt) {
        if (recover_once(handler)) return;
        if (attempt == recovery_attempts_max) {
          throw StorageError(describe() + ": recovery started over " +
                             std::to_string(recovery_attempts_max) +
                             " times because the snapshot or the journal changed while it was "
                             "read (another instance snapshotting and pruning); open it again");
        }
        handler.restart();
      }
    } catch (const aws::AwsError& e) {
      if (!e.retryable()) throw;
      throw_open_gave_up(e);
    } catch (const aws::TransportError& e) {
      throw_open_gave_up(e);
    }
  }

  void append(const EntryBatch& batch) override { writer_.append(encode(batch)); }

  std::size_t writes_in_flight_max() const override {
    return std::max<std::size_t>(1, options_.writes_in_flight_max);
  }

  std::size_t writes_in_flight_advised() const override {
    std::lock_guard lock(batching_mutex_);
    observe_throttles();
    return batching_.writes_in_flight_advised();
  }

  std::unique_ptr<PendingAppend> start_append(EntryBatch batch) override {
    return writer_.start(encode(batch));
  }

  void resume_after_failure() override { writer_.resume_after_failure(); }

  std::unique_ptr<SnapshotWriter> begin_snapshot() override { return begin_versioned_snapshot(1); }

  std::unique_ptr<SnapshotWriter> begin_versioned_snapshot(
      std::uint32_t state_schema_version) override {
    // Nothing journaled in this segment yet: the state is the state at its
    // start, so the snapshot takes the segment's id and no seal is needed.
    if (!writer_.segment_empty()) writer_.seal_segment(writer_id_);
    S3SnapshotOptions snapshot_options = s3_snapshot_options(options_);
    snapshot_options.state_schema_version = state_schema_version;
    if (keys_.encrypts()) snapshot_options.encrypt = &keys_;
    return make_s3_snapshot_writer(
        *clients_.s3, snapshot_options, writer_.segment(), snapshots_, [this](std::uint64_t) {
          prune_after_snapshot(
              *clients_.dynamodb_reads, options_.table, *snapshots_,
              {options_.common.keep_snapshots, options_.common.keep_monthly_snapshots},
              options_.common.warn);
        });
  }

  void close() override { writer_.close(); }

  JournalPosition position() const override { return writer_.acknowledged(); }

  std::unique_ptr<JournalFollower> follow() override {
    return make_aws_follower(options_, clients_, keys_,
                             [options = options_, transport = transport_,
                              hooks = hooks_](AwsResumePoint resume) -> std::unique_ptr<Storage> {
                               return std::make_unique<AwsStorage>(options, transport, hooks,
                                                                   std::move(resume));
                             });
  }

  std::size_t entry_bytes_max() const override { return journal_entry_bytes_max; }

  StorageCounters counters() const override { return clients_.retry_counters->storage_counters(); }

  std::string describe() const override {
    return "DynamoDB table " + options_.table + " and s3://" + options_.bucket + "/" +
           options_.snapshot_path;
  }

 private:
  // The items of a group commit, encrypted (after compression) when a key
  // is current, bound to where the writer puts them.
  std::vector<std::string> encode(const EntryBatch& batch) {
    {
      std::lock_guard lock(batching_mutex_);
      observe_throttles();
      compressor_.set_threshold_bytes(batching_.compress_records_over_bytes());
    }
    if (!keys_.encrypts()) return encode_journal_items(batch, writer_id_, &compressor_);
    return encode_journal_items(batch, writer_id_, &compressor_, &keys_, writer_.next_position());
  }

  // REQUIRES: batching_mutex_ held. Every throttled DynamoDB attempt counts,
  // retried or not: the journal's PutItems are nearly all of them (reads
  // are the open's and retention's Queries).
  void observe_throttles() const {
    const aws::RetryCounters& counters = clients_.retry_counters->dynamodb;
    batching_.observe(counters.retries(aws::RetryReason::throttled) +
                          counters.retries_exhausted(aws::RetryReason::throttled),
                      ThrottleBatchingPolicy::Clock::now());
  }

  S3SnapshotOptions reading_options() const {
    S3SnapshotOptions options = s3_snapshot_options(options_);
    options.decryption = Decryption{&keys_, false};
    return options;
  }

  // One recovery: the snapshot, the journal after it, and the seal that
  // takes ownership. False when it must start over: the snapshot object
  // was replaced while it was downloaded, or a newer snapshot appeared and
  // retention may have pruned segments under the replay.
  bool recover_once(RecoveryHandler& handler) {
    ReplayCursor cursor;
    try {
      cursor.segment =
          read_s3_snapshot(*clients_.s3_reads, reading_options(), *snapshots_, handler);
    } catch (const aws::PreconditionFailedError&) {
      options_.common.warn(describe() +
                           ": the snapshot object was replaced while recovery read it; " +
                           "recovery starts over from the new one");
      return false;
    }
    return recover_from(cursor, cursor.segment, handler);
  }

  // A promoted follower's recovery: the handler holds the state up to the
  // resume point already, so the journal is read from there, and ownership
  // taken as any open does. False when it must start over (the handler is
  // then restarted and recovered whole).
  bool recover_promoted(RecoveryHandler& handler) {
    const AwsResumePoint resume = std::move(*resume_);
    resume_.reset();
    {
      const std::lock_guard lock(snapshots_->mutex);
      snapshots_->exists = resume.snapshot_exists;
      snapshots_->etag = resume.snapshot_etag;
      snapshots_->ids = resume.snapshot_ids;
      snapshots_->committed_ms = resume.snapshot_committed_ms;
      snapshots_->opened_ms = resume.snapshot_opened_ms;
    }
    if (recover_from(resume.cursor, resume.first_segment, handler, /*ranges=*/false)) return true;
    handler.restart();
    return false;
  }

  // The journal from `cursor` on (after the snapshot of `first_segment`),
  // then the seal that takes ownership.
  bool recover_from(ReplayCursor cursor, std::uint64_t first_segment, RecoveryHandler& handler,
                    bool ranges = true) {
    JournalReplay replay(*clients_.dynamodb_reads, options_, Decryption{&keys_, false});
    replay.replay(cursor, handler, ranges);
    if (cursor.gap && gap_was_pruned(cursor)) return start_over_or_refuse(cursor, first_segment);
    const std::uint64_t owned =
        take_ownership(cursor, handler, replay, put_, writer_id_, options_.read_retry_budget);
    writer_.own(owned);
    // Retention deletes only segments below a snapshot that is durable in
    // S3, and snapshot ids only grow. Every read of the replay happened
    // before this one, so if the newest snapshot is not past the segment we
    // sealed, nothing we replayed was pruned. If it is, the tail we found
    // may be a pruned segment (its items gone, its seal kept) and our seal
    // there is void: no live writer writes below the newest snapshot.
    // The same holds for a seal the replay followed that its segment's
    // owner may not have written (JournalReplay::lowest_unproven_seal()):
    // an opener's seal at orders retention emptied skips acknowledged
    // events (they are in the newer snapshot). Such a seal exists only once
    // a snapshot past its segment is durable, so a newest snapshot not past
    // it proves it sound; otherwise recovery starts over from the newest.
    // A promotion resuming in an old segment meets this most; the
    // follower's seal check (aws_follower.cpp) is the same rule.
    const std::uint64_t sealed = owned - 1;
    const std::uint64_t trusted_up_to =
        std::min(sealed, replay.lowest_unproven_seal().value_or(sealed));
    const std::uint64_t newest =
        read_s3_snapshot_id(*clients_.s3_reads, options_.bucket, options_.snapshot_path);
    if (newest <= trusted_up_to) return true;
    options_.common.warn(describe() + ": snapshot " + std::to_string(newest) +
                         " appeared while recovery replayed from " + std::to_string(first_segment) +
                         " to segment " + std::to_string(sealed) +
                         "; retention may have pruned what it read or voided a seal it followed "
                         "(in segment " +
                         std::to_string(trusted_up_to) + "), so it starts over from there");
    return false;
  }

  // A gap is the journal's tail only if nothing was written after it. A
  // writer enters segment S+1 only through a seal in S, written at or before
  // the order where this replay found S's gap (a seal earlier in S would
  // have been followed). So when S+1 holds items and the order at the gap is
  // still empty (read after S+1, strongly consistent: an opener that sealed
  // it since is then seen, and take_ownership follows its seal), something
  // at or before that seal was deleted, and only retention deletes.
  bool gap_was_pruned(const ReplayCursor& c) {
    aws::DynamoDbClient& reads = *clients_.dynamodb_reads;
    if (!reads.last_order(options_.table, c.segment + 1)) return false;
    return !reads.get_item(options_.table, c.segment, c.expected);
  }

  // After a pruned gap: a newer snapshot than the one replayed from means
  // retention ran under this replay, so it starts over from the newer one.
  // Otherwise the snapshot is older than what retention kept (an older S3
  // object version restored): sealing at the gap would drop every
  // acknowledged event after it, so the open refuses before writing.
  bool start_over_or_refuse(const ReplayCursor& c, std::uint64_t first_segment) {
    const std::string gap = journal_item_name(options_.table, c.segment, c.expected);
    const std::uint64_t newest =
        read_s3_snapshot_id(*clients_.s3_reads, options_.bucket, options_.snapshot_path);
    if (newest != first_segment) {
      options_.common.warn(describe() + ": " + gap +
                           " was pruned while recovery replayed it; recovery starts over from "
                           "snapshot " +
                           std::to_string(newest));
      return false;
    }
    const std::string snapshot = first_segment == 0
                                     ? "there is no snapshot object, but the journal was pruned"
                                     : "the snapshot (segment " + std::to_string(first_segment) +
                                           ") is older than the journal";
    throw StorageError(describe() + ": " + snapshot + ": " + gap +
                       " was deleted by retention and segment " + std::to_string(c.segment + 1) +
                       " holds items, so recovering from it would drop acknowledged events. Was "
                       "an older version of the snapshot object restored? Restore the newest "
                       "version (the one retention kept the journal for), then open again; "
                       "nothing was written");
  }

  [[noreturn]] void throw_open_gave_up(const StorageError& e) const {
    throw StorageError(describe() + ": opening failed: " + e.what() +
                       " (still failing after retrying for " +
                       std::to_string(options_.read_retry_budget.count()) +
                       " ms, read_retry_budget); check the endpoint, the network and the "
                       "service's health, then open again");
  }

  const AwsStorageOptions options_;
  // Kept for the storage a promoted follower becomes (follow()).
  const std::shared_ptr<aws::HttpTransport> transport_;
  const AwsStorageTestHooks hooks_;
  AwsClients clients_;
  const JournalPut put_;
  // Compresses before encode_journal_items fragments; used by the engine's writer.
  RecordCompressor compressor_{options_.common.compress_journal_records_over,
                               options_.common.journal_compression_level, "AWS storage"};
  // What throttling changes (docs/aws.md "Batching under throttling"):
  // asked by the engine under its event lock and by encode() on its writer.
  mutable std::mutex batching_mutex_;
  mutable ThrottleBatchingPolicy batching_{std::max<std::size_t>(1, options_.writes_in_flight_max),
                                           options_.common.compress_journal_records_over};
  KeyRing keys_{options_.common.encryption, "AWS storage"};
  std::shared_ptr<SnapshotLedger> snapshots_ = std::make_shared<SnapshotLedger>();
  std::uint64_t writer_id_ = 0;
  std::optional<AwsResumePoint> resume_;  // a promoted follower's, until recovered
  JournalWriter writer_;                  // last: its pool's threads use the members above
};

}  // namespace

std::unique_ptr<Storage> make_aws_storage(AwsStorageOptions options,
                                          std::shared_ptr<aws::HttpTransport> transport,
                                          AwsStorageTestHooks hooks) {
  return std::make_unique<AwsStorage>(std::move(options), std::move(transport), std::move(hooks));
}

std::uint64_t prune_aws_journal(const AwsStorageOptions& options,
                                std::shared_ptr<aws::HttpTransport> transport,
                                AwsStorageTestHooks hooks) {
  const AwsStorageOptions checked = validated(options);
  AwsClients clients = resolve_aws_clients(checked, std::move(transport), hooks);
  return prune_below_current_snapshot(*clients.dynamodb_reads, checked.table, *clients.s3_reads,
                                      checked.bucket, checked.snapshot_path);
}

}  // namespace prevayler::detail

namespace prevayler {

std::unique_ptr<Storage> make_aws_storage(AwsStorageOptions options) {
  return detail::make_aws_storage(std::move(options), nullptr);
}

std::uint64_t prune_aws_journal(const AwsStorageOptions& options) {
  return detail::prune_aws_journal(options, nullptr);
}

}  // namespace prevayler
