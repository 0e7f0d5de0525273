#include "aws/aws_storage_impl.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <random>
#include <streambuf>
#include <thread>

#include "aws/aws_config.hpp"
#include "aws/aws_error.hpp"
#include "aws/curl_transport.hpp"
#include "aws/dynamodb.hpp"
#include "aws/journal_retention.hpp"
#include "aws/s3.hpp"
#include "aws/s3_snapshot.hpp"
#include "core/container_header.hpp"
#include "core/crc32c.hpp"
#include "core/formats.hpp"
#include "core/record_codec.hpp"
#include "core/task_pool.hpp"
#include "core/warning.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {
namespace {

// One item's `content`, leaving room in DynamoDB's 400 KB item limit for the
// attribute names and the two numbers of the key.
constexpr std::size_t item_content_bytes_max = 350 * 1024;
static_assert(item_content_bytes_max + 1024 < aws::dynamodb_item_bytes_max,
              "a journal item must fit DynamoDB's item limit with its key");
constexpr std::size_t aws_entry_bytes_max = std::size_t{256} << 20;
constexpr std::chrono::milliseconds unknown_outcome_backoff_max{2000};
// Replay reads a segment with parallel range Queries only when more than
// this many pages of it are left: below, the Query for its last order costs
// more than the parallelism gains.
constexpr std::uint64_t replay_parallel_pages_min = 2;
// Recoveries that start over because the snapshot or the journal changed
// under them before open gives up (each one means another instance cut a
// snapshot and pruned within the time of one replay).
constexpr std::uint32_t recovery_attempts_max = 8;

std::uint64_t random_writer_id() {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace

class AwsStorage : public Storage {
 public:
  AwsStorage(AwsStorageOptions options, std::shared_ptr<aws::HttpTransport> transport,
             AwsStorageTestHooks hooks = {})
      : options_(std::move(options)), hooks_(std::move(hooks)) {
    if (options_.table.empty()) throw ConfigError("AWS storage: the DynamoDB table name is empty");
    if (options_.bucket.empty()) throw ConfigError("AWS storage: the S3 bucket name is empty");
    if (options_.snapshot_path.empty())
      throw ConfigError("AWS storage: the snapshot path is empty");
    if (options_.replay_page_size == 0) {
      throw ConfigError("AWS storage: replay_page_size must be at least 1");
    }
    if (options_.replay_parallel_queries == 0) {
      throw ConfigError("AWS storage: replay_parallel_queries must be at least 1");
    }
    options_.common.warn = warning_or_default(std::move(options_.common.warn));
    if (!transport) {
      aws::CurlTransportOptions curl;
      curl.verify_tls = options_.verify_tls;
      curl.request_timeout = options_.request_timeout;
      transport = aws::make_curl_transport(curl);
    }
    const std::string region = aws::resolve_region(options_.region);
    auto credentials = options_.credentials
                           ? aws::static_credentials({options_.credentials->access_key_id,
                                                      options_.credentials->secret_access_key,
                                                      options_.credentials->session_token,
                                                      {}})
                           : aws::default_credentials_chain(transport);
    aws::StandardRetryOptions retry;
    retry.max_attempts = std::max(1, options_.max_attempts);
    retry.sleep = hooks_.sleep;
    retry.seed = hooks_.retry_seed;

    aws::DynamoDbConfig dynamo;
    dynamo.region = region;
    dynamo.endpoint =
        aws::resolve_endpoint(
            "dynamodb", options_.dynamodb_endpoint ? options_.dynamodb_endpoint : options_.endpoint,
            region)
            .url;
    dynamo.credentials = credentials;
    dynamo.transport = transport;
    dynamo.retry = aws::make_standard_retry_strategy(retry);
    dynamo.request_timeout = options_.request_timeout;
    dynamo_ = std::make_unique<aws::DynamoDbClient>(dynamo);

    aws::S3Config s3;
    s3.region = region;
    s3.endpoint = aws::resolve_endpoint(
                      "s3", options_.s3_endpoint ? options_.s3_endpoint : options_.endpoint, region)
                      .url;
    s3.credentials = credentials;
    s3.transport = transport;
    s3.retry = aws::make_standard_retry_strategy(retry);
    s3.path_style = options_.s3_path_style;
    s3.request_timeout = options_.snapshot_request_timeout;
    s3_ = std::make_unique<aws::S3Client>(s3);

    // Reads are idempotent: retried within a time budget rather than a few
    // attempts, so that an open (and retention) rides out a burst of
    // transient faults instead of failing the start of an instance.
    aws::BudgetRetryOptions reads;
    reads.budget = options_.read_retry_budget;
    reads.sleep = hooks_.sleep;
    dynamo.retry = std::make_shared<aws::BudgetRetryStrategy>(reads);
    dynamo_reads_ = std::make_unique<aws::DynamoDbClient>(dynamo);
    s3.retry = std::make_shared<aws::BudgetRetryStrategy>(reads);
    s3_reads_ = std::make_unique<aws::S3Client>(s3);
  }

  void recover(RecoveryHandler& handler) override {
    try {
      dynamo_reads_->check_journal_table(options_.table);
      s3_reads_->head_bucket(options_.bucket);
      writer_id_ = random_writer_id();
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

  void append(const EntryBatch& batch) override {
    throw_if_failed();
    // A failure part-way through a fragmented group commit leaves an
    // incomplete sequence that replay ignores, and the next record follows it.
    for (const std::string& item : encode_items(batch)) {
      put_durably(next_order_, item);
      ++next_order_;
    }
  }

  std::size_t writes_in_flight_max() const override {
    return std::max<std::size_t>(1, options_.writes_in_flight_max);
  }

  std::unique_ptr<PendingAppend> start_append(EntryBatch batch) override {
    auto write = std::make_shared<PipelinedWrite>();
    write->items = encode_items(batch);
    {
      std::lock_guard lock(pipeline_mutex_);
      if (failed_) std::rethrow_exception(failed_);
      write->segment = segment_;
      write->first_order = next_order_;
      next_order_ += write->items.size();
      ++writes_in_flight_;
    }
    if (!pool_) pool_ = std::make_unique<TaskPool>(writes_in_flight_max());
    pool_->submit([this, write] { send(*write); });
    return std::make_unique<PendingWrite>(*this, write);
  }

  // Every write started after the failed one has finished (the engine
  // waited for them all), so nothing can land behind the gap any more: the
  // next write goes where the first failed one was to go.
  void resume_after_failure() override {
    std::lock_guard lock(pipeline_mutex_);
    if (failed_ || writes_in_flight_ != 0) return;
    if (resume_order_) next_order_ = *resume_order_;
    resume_order_.reset();
    pipeline_broken_ = false;
  }

  std::unique_ptr<SnapshotWriter> begin_snapshot() override {
    throw_if_failed();
    // Nothing journaled in this segment yet: the state is the state at its
    // start, so the snapshot takes the segment's id and no seal is needed.
    if (next_order_ > 1) seal_segment();
    return make_s3_snapshot_writer(*s3_, s3_snapshot_options(options_), segment_, snapshots_,
                                   [this](std::uint64_t id) { retain_after(id); });
  }

  void close() override { pool_.reset(); }

  std::size_t entry_bytes_max() const override { return aws_entry_bytes_max; }

  std::string describe() const override {
    return "DynamoDB table " + options_.table + " and s3://" + options_.bucket + "/" +
           options_.snapshot_path;
  }

 private:
  // One recovery: the snapshot, the journal after it, and the seal that
  // takes ownership. False when it must start over: the snapshot object
  // was replaced while it was downloaded, or a newer snapshot appeared and
  // retention may have pruned segments under the replay.
  bool recover_once(RecoveryHandler& handler) {
    ReplayCursor cursor;
    try {
      cursor.segment = read_snapshot(handler);
    } catch (const aws::PreconditionFailedError&) {
      options_.common.warn(describe() +
                           ": the snapshot object was replaced while recovery read it; " +
                           "recovery starts over from the new one");
      return false;
    }
    const std::uint64_t first_segment = cursor.segment;
    replay(cursor, handler);
    take_ownership(cursor, handler);
    // Retention deletes only segments below a snapshot that is durable in
    // S3, and snapshot ids only grow. Every read of the replay happened
    // before this one, so if the newest snapshot is not past the segment we
    // sealed, nothing we replayed was pruned. If it is, the tail we found
    // may be a pruned segment (its items gone, its seal kept) and our seal
    // there is void: no live writer writes below the newest snapshot.
    const std::uint64_t sealed = segment_ - 1;
    const std::uint64_t newest = current_snapshot_id();
    if (newest <= sealed) return true;
    options_.common.warn(describe() + ": snapshot " + std::to_string(newest) +
                         " appeared while recovery replayed from " + std::to_string(first_segment) +
                         " to segment " + std::to_string(sealed) +
                         "; retention may have pruned what it read, so it starts over from there");
    return false;
  }

  [[noreturn]] void throw_open_gave_up(const StorageError& e) const {
    throw StorageError(describe() + ": opening failed: " + e.what() +
                       " (still failing after retrying for " +
                       std::to_string(options_.read_retry_budget.count()) +
                       " ms, read_retry_budget); check the endpoint, the network and the "
                       "service's health, then open again");
  }

  void throw_if_failed() const {
    std::lock_guard lock(pipeline_mutex_);
    if (failed_) std::rethrow_exception(failed_);
  }

  [[noreturn]] void fail_stop(std::exception_ptr error) {
    {
      std::lock_guard lock(pipeline_mutex_);
      failed_ = error;
    }
    std::rethrow_exception(error);
  }

  // One group commit as items (one, or consecutive fragments when it is
  // larger than an item may be).
  std::vector<std::string> encode_items(const EntryBatch& batch) const {
    std::vector<std::string> items(1);
    encode_batch_record(items[0], writer_id_, batch, 0, batch.size(), &compressor_);
    if (items[0].size() <= item_content_bytes_max) return items;
    const std::string record = std::move(items[0]);
    items.clear();
    const std::size_t slice_bytes = item_content_bytes_max - fragment_header_bytes;
    const auto count = static_cast<std::uint32_t>((record.size() + slice_bytes - 1) / slice_bytes);
    for (std::uint32_t i = 0; i < count; ++i) {
      encode_fragment_record(items.emplace_back(), writer_id_, i, count,
                             std::string_view(record).substr(i * slice_bytes, slice_bytes));
    }
    return items;
  }

  // A group commit on its way (pipelined appends). Its items go out in
  // order on a pool thread; `stored` counts those that are durable.
  struct PipelinedWrite {
    std::vector<std::string> items;
    std::uint64_t segment = 0;
    std::uint64_t first_order = 0;
    std::mutex mutex;
    std::condition_variable finished_cv;
    bool finished = false;
    std::size_t stored = 0;
    std::optional<std::string> conflict;  // another writer's content at the first unstored item
    std::exception_ptr error;
  };

  class PendingWrite : public PendingAppend {
   public:
    PendingWrite(AwsStorage& storage, std::shared_ptr<PipelinedWrite> write)
        : storage_(storage), write_(std::move(write)) {}
    ~PendingWrite() override {
      if (!waited_) {
        try {
          wait();
        } catch (...) {
          // Its failure was (or will be) reported through a later wait().
        }
      }
    }
    void wait() override {
      waited_ = true;
      storage_.finish(*write_);
    }

   private:
    AwsStorage& storage_;
    std::shared_ptr<PipelinedWrite> write_;
    bool waited_ = false;
  };

  // Pool thread: puts the write's items in order.
  void send(PipelinedWrite& w) {
    std::size_t stored = 0;
    std::optional<std::string> conflict;
    std::exception_ptr error;
    for (; stored < w.items.size(); ++stored) {
      // A write that failed before this one was sent: nothing of this one
      // may land after the gap it leaves.
      if (pipeline_broken_.load()) {
        error =
            std::make_exception_ptr(StorageError("not written: an earlier journal write failed"));
        break;
      }
      try {
        conflict = put_or_conflict(w.segment, w.first_order + stored, w.items[stored]);
      } catch (...) {
        error = std::current_exception();
      }
      if (conflict || error) break;
    }
    if (conflict || error) pipeline_broken_ = true;
    std::lock_guard lock(w.mutex);
    w.stored = stored;
    w.conflict = std::move(conflict);
    w.error = error;
    w.finished = true;
    w.finished_cv.notify_all();
  }

  // Waits for a pipelined write; called in start order. Acknowledges it
  // only when all its items are durable, and nothing earlier failed.
  void finish(PipelinedWrite& w) {
    {
      std::unique_lock lock(w.mutex);
      w.finished_cv.wait(lock, [&] { return w.finished; });
    }
    std::lock_guard lock(pipeline_mutex_);
    --writes_in_flight_;
    const bool complete = w.stored == w.items.size();
    if (w.conflict) {
      if (!failed_) {
        failed_ = superseded_at(w.segment, w.first_order + w.stored);
      }
    } else if (w.error && !failed_) {
      try {
        std::rethrow_exception(w.error);
      } catch (const StorageFailedError&) {
        failed_ = w.error;
      } catch (...) {
      }
    }
    if (!failed_ && !resume_order_ && !complete) {
      // The first write of this pipeline that did not land: the next
      // append goes here, once every later write in flight has finished.
      resume_order_ = w.first_order + w.stored;
    } else if (!failed_ && resume_order_ && w.stored > 0) {
      // Items of a later write landed behind the gap: the journal now
      // holds events after a failed write that no one will acknowledge.
      failed_ = std::make_exception_ptr(StorageFailedError(
          item_name(w.segment, w.first_order) +
          " was stored after an earlier journal write failed; this instance stopped so the "
          "live state never differs from the journal (a restart recovers it)"));
    }
    if (failed_) std::rethrow_exception(failed_);
    if (!complete) std::rethrow_exception(w.error);
    if (resume_order_) {
      throw StorageError(item_name(w.segment, w.first_order) +
                         " not acknowledged: an earlier journal write failed");
    }
  }

  std::string item_name(std::uint64_t segment, std::uint64_t order) const {
    return "table " + options_.table + ", item (partkey " + std::to_string(segment) + ", order " +
           std::to_string(order) + ")";
  }

  // Another writer's item where ours was to go: a new owner took over.
  std::exception_ptr superseded_at(std::uint64_t segment, std::uint64_t order) const {
    return std::make_exception_ptr(SupersededError(
        item_name(segment, order) +
        " was written by another writer: another instance took over this journal. This "
        "instance stopped; its unacknowledged events were not applied."));
  }

  // Writes `content` at (segment_, order) so that it is durable exactly
  // once. A write whose outcome is unknown is sent again, same key and same
  // content; a conditional failure then means either our own earlier
  // attempt (same bytes: success) or another writer (this instance stops).
  void put_durably(std::uint64_t order, std::string_view content) {
    std::optional<std::string> conflict;
    try {
      conflict = put_or_conflict(segment_, order, content);
    } catch (const StorageFailedError&) {
      fail_stop(std::current_exception());
    }
    if (conflict) {
      fail_stop(superseded_at(segment_, order));
    }
  }

  // Returns nullopt once `content` is durable at (segment, order), or the
  // content another writer put there first.
  std::optional<std::string> put_or_conflict(std::uint64_t segment, std::uint64_t order,
                                             std::string_view content) {
    aws::RetryBudget budget(options_.unknown_outcome_budget, hooks_.sleep);
    auto backoff = std::chrono::milliseconds(100);
    bool outcome_unknown = false;
    std::string last_error;
    for (;;) {
      try {
        auto result = dynamo_->put_item_if_absent(options_.table, segment, order, content);
        if (result.stored()) return std::nullopt;
        if (result.existing_content) {
          if (*result.existing_content == content) return std::nullopt;  // our earlier attempt
          return std::move(result.existing_content);
        }
        // The item vanished between the put and the read (retention):
        // try again, within the budget.
        last_error = "the conflicting item vanished before it could be read";
      } catch (const aws::AwsError& e) {
        // A 5xx, or a 2xx whose body failed its checksum, may come after
        // the write was applied: its outcome is unknown, not failed.
        const int status = e.http_status();
        const bool ambiguous =
            e.after_ambiguous_attempt() || status >= 500 || (status >= 200 && status < 300);
        if (!ambiguous && !outcome_unknown) throw;  // definitely not stored
        outcome_unknown = true;
        last_error = e.what();
      } catch (const aws::TransportError& e) {
        // Conservative: an earlier attempt inside the client's retries may
        // have reached the server even if this last one did not.
        outcome_unknown = true;
        last_error = e.what();
      } catch (const std::exception& e) {
        // Not a service answer: nothing tells whether an earlier attempt
        // landed, so reporting the write as failed could be a lie.
        if (!outcome_unknown) throw;
        throw StorageFailedError("the outcome of the write of " + item_name(segment, order) +
                                 " is unknown (" + e.what() +
                                 " after an attempt that may have landed). This instance stopped "
                                 "so the journal never holds an event the live state lacks; a "
                                 "restart recovers exactly what the journal holds.");
      }
      if (budget.exhausted_after(backoff)) {
        if (!outcome_unknown) throw StorageError(item_name(segment, order) + ": " + last_error);
        throw StorageFailedError(
            ("the outcome of the write of " + item_name(segment, order) +
             " is unknown after retrying for " +
             std::to_string(options_.unknown_outcome_budget.count()) +
             " ms (last error: " + last_error +
             "). This instance stopped so the journal never holds an event the live state lacks; "
             "a restart recovers exactly what the journal holds."));
      }
      budget.sleep(backoff);
      backoff = std::min(backoff * 2, unknown_outcome_backoff_max);
    }
  }

  void seal_segment() {
    std::string seal;
    encode_seal_record(seal, writer_id_, segment_ + 1);
    put_durably(next_order_, seal);
    ++segment_;
    next_order_ = 1;
  }

  // Returns the segment the snapshot precedes (0 without a snapshot).
  std::uint64_t read_snapshot(RecoveryHandler& handler) {
    return read_s3_snapshot(*s3_reads_, s3_snapshot_options(options_), *snapshots_, handler);
  }

  // Where replay stands: the next item expected, and a group commit whose
  // fragments are being reassembled. Kept across calls so that replay can
  // continue when another writer appends while we take ownership.
  struct ReplayCursor {
    std::uint64_t segment = 0;
    std::uint64_t expected = 1;
    bool gap = false;  // items follow a missing order: the tail ends at `expected`
    std::string fragments;
    std::uint32_t fragments_next = 0;
    std::uint32_t fragments_count = 0;
    std::uint64_t fragments_first_order = 0;
    std::uint64_t fragments_writer = 0;
  };

  void drop_partial_fragments(ReplayCursor& c, const char* why) {
    if (c.fragments_count == 0) return;
    options_.common.warn(
        item_name(c.segment, c.fragments_first_order) + ": ignored an incomplete group commit (" +
        std::to_string(c.fragments_next) + " of " + std::to_string(c.fragments_count) + " items, " +
        why + "): a write that failed or crashed, never acknowledged");
    c.fragments.clear();
    c.fragments_next = c.fragments_count = 0;
  }

  // Replays from the cursor, segment after segment, following seals, up to
  // the unsealed tail (or a gap).
  void replay(ReplayCursor& c, RecoveryHandler& handler) {
    while (replay_segment(c, handler)) {
    }
  }

  // A gap: nothing after a failed write was acknowledged. The tail ends at
  // c.expected; taking ownership seals the gap, which hides the rest.
  void end_at_gap(ReplayCursor& c, std::uint64_t found_order) {
    options_.common.warn(item_name(c.segment, found_order) + " follows a gap at order " +
                         std::to_string(c.expected) +
                         "; items from there on were never acknowledged and are sealed off");
    c.gap = true;
  }

  // Replays the rest of c.segment. Returns true when it ended in a seal
  // (the cursor then points at the start of the next segment).
  bool replay_segment(ReplayCursor& c, RecoveryHandler& handler) {
    if (options_.replay_parallel_queries > 1) {
      if (const std::optional<bool> sealed = replay_ranges(c, handler)) return *sealed;
    }
    const std::uint64_t segment = c.segment;
    auto fetch = [this, segment](std::optional<std::uint64_t> after) {
      return dynamo_reads_->query_page(options_.table, segment, after, options_.replay_page_size,
                                       true);
    };
    std::optional<std::uint64_t> start;
    if (c.expected > 1) start = c.expected - 1;
    std::future<aws::QueryPage> next_page = std::async(std::launch::async, fetch, start);
    auto stop_prefetch = [&] {
      if (next_page.valid()) next_page.wait();
    };
    for (;;) {
      aws::QueryPage page = next_page.get();
      // Fetch the next page while this one is applied.
      if (page.last_evaluated_order) {
        next_page = std::async(std::launch::async, fetch, page.last_evaluated_order);
      }
      for (const aws::JournalItem& item : page.items) {
        if (item.order != c.expected) {
          end_at_gap(c, item.order);
          stop_prefetch();
          return false;
        }
        if (apply_item(c, item, handler)) {
          stop_prefetch();
          return true;
        }
      }
      if (!page.last_evaluated_order) return false;
    }
  }

  // Replays c.segment from c.expected up to the highest order it holds now,
  // with up to replay_parallel_queries range Queries of one page each in
  // flight, applying their items strictly in order. Items never change, so
  // this reads what a sequential replay would; and the checks (gap, seal)
  // are the same, made in order. Returns nullopt when it reached that
  // order, or when too little is left to be worth it: the rest (written
  // since, perhaps) is then replayed sequentially. Otherwise returns
  // whether it ended in a seal (true) or at a gap (false).
  std::optional<bool> replay_ranges(ReplayCursor& c, RecoveryHandler& handler) {
    const std::uint64_t segment = c.segment;
    const std::uint64_t page_orders = options_.replay_page_size;
    std::uint64_t range_orders = page_orders;  // shrinks to what fits in a 1 MB page
    const std::optional<std::uint64_t> highest = dynamo_reads_->last_order(options_.table, segment);
    if (!highest || *highest < c.expected ||
        *highest - c.expected + 1 <= replay_parallel_pages_min * page_orders) {
      return std::nullopt;
    }
    struct Range {
      std::uint64_t first = 0;
      std::uint64_t last = 0;
      std::future<aws::QueryPage> page;
    };
    TaskPool pool(options_.replay_parallel_queries);
    auto fetch = [&](std::uint64_t first, std::uint64_t last) {
      auto query =
          std::make_shared<std::packaged_task<aws::QueryPage()>>([this, segment, first, last] {
            return dynamo_reads_->query_range(options_.table, segment, first, last,
                                              static_cast<std::uint32_t>(last - first + 1));
          });
      Range r{first, last, query->get_future()};
      pool.submit([query] { (*query)(); });  // its exception goes to the future
      return r;
    };
    // The ranges in flight or fetched, in order: at most
    // replay_parallel_queries pages besides the one being applied. Only one
    // until the first page is back: if it stopped at 1 MB, the ranges after
    // it are cut to what fitted, instead of each needing a continuation.
    std::deque<Range> window;
    std::size_t window_max = 1;
    std::uint64_t next_first = c.expected;
    auto refill = [&] {
      while (window.size() < window_max && next_first <= *highest) {
        const std::uint64_t last = std::min(*highest, next_first + range_orders - 1);
        window.push_back(fetch(next_first, last));
        next_first = last + 1;
      }
    };
    // Whatever way this returns, the pool's destructor first runs the
    // queries still queued (at most the window) and waits for them.
    refill();
    while (!window.empty()) {
      Range range = std::move(window.front());
      window.pop_front();
      // A Query that failed after its retries throws here, before anything
      // after the items already applied.
      aws::QueryPage page = range.page.get();
      if (page.last_evaluated_order && *page.last_evaluated_order < range.last) {
        // The page stopped at DynamoDB's 1 MB: the rest of the range is
        // next, and later ranges are cut to what fitted, so that they do
        // not stop short too.
        window.push_front(fetch(*page.last_evaluated_order + 1, range.last));
        range_orders = std::max<std::uint64_t>(1, std::min(range_orders, page.items.size()));
      }
      window_max = options_.replay_parallel_queries;
      refill();
      for (const aws::JournalItem& item : page.items) {
        if (item.order != c.expected) {
          end_at_gap(c, item.order);
          return false;
        }
        if (apply_item(c, item, handler)) return true;
      }
    }
    return std::nullopt;
  }

  // Applies the item at c.expected. Returns true when it is a seal (the
  // cursor then points at the start of the next segment).
  bool apply_item(ReplayCursor& c, const aws::JournalItem& item, RecoveryHandler& handler) {
    const std::uint64_t segment = c.segment;
    const std::string where = item_name(segment, item.order);
    ++c.expected;
    const DecodedRecord record = decode_record(item.content, where);
    if (record.type == RecordType::seal) {
      drop_partial_fragments(c, "followed by a seal");
      c = ReplayCursor{};
      c.segment = record.next_segment;
      return true;
    }
    if (record.type == RecordType::fragment) {
      const bool continues = c.fragments_count != 0 && record.fragment_index == c.fragments_next &&
                             record.fragment_count == c.fragments_count &&
                             record.writer_id == c.fragments_writer;
      if (!continues) {
        drop_partial_fragments(c, "followed by another record");
        if (record.fragment_index != 0) {
          options_.common.warn(where + ": ignored a stray fragment " +
                               std::to_string(record.fragment_index) + " of " +
                               std::to_string(record.fragment_count));
          return false;
        }
        c.fragments_count = record.fragment_count;
        c.fragments_writer = record.writer_id;
        c.fragments_first_order = item.order;
      }
      c.fragments.append(record.fragment_bytes);
      if (++c.fragments_next < c.fragments_count) return false;
      const std::string whole = std::move(c.fragments);
      c.fragments.clear();
      c.fragments_next = c.fragments_count = 0;
      deliver(handler, segment, c.fragments_first_order, decode_record(whole, where));
      return false;
    }
    drop_partial_fragments(c, "followed by another record");
    deliver(handler, segment, item.order, record);
    return false;
  }

  // Seals the tail so that no earlier writer can get another event
  // acknowledged, then opens the next segment for our appends. If another
  // writer got to the tail first (the old owner's late events, or another
  // instance's seal), replay what it wrote and try again at the new end.
  void take_ownership(ReplayCursor& c, RecoveryHandler& handler) {
    aws::RetryBudget budget(options_.read_retry_budget, hooks_.sleep);
    auto backoff = std::chrono::milliseconds(100);
    for (;;) {
      std::string seal;
      encode_seal_record(seal, writer_id_, c.segment + 1);
      std::optional<std::string> conflict;
      try {
        conflict = put_or_conflict(c.segment, c.expected, seal);
      } catch (const aws::AwsError& e) {
        // Certainly not written (throttled after every attempt): an open
        // keeps trying within the budget, like its reads.
        if (!e.retryable() || budget.exhausted_after(backoff)) throw;
        budget.sleep(backoff);
        backoff = std::min(backoff * 2, unknown_outcome_backoff_max);
        continue;
      }
      if (!conflict) {
        drop_partial_fragments(c, "sealed off by a new owner");
        segment_ = c.segment + 1;
        next_order_ = 1;
        return;
      }
      // Apply what is there straight from the conditional failure's
      // ALL_OLD and try the next order at once: a fresh Query per attempt
      // would let a busy old owner, one round trip ahead, win every time.
      c.gap = false;
      if (apply_item(c, aws::JournalItem{c.expected, std::move(*conflict)}, handler)) {
        replay(c, handler);  // another new owner sealed it: follow
      }
    }
  }

  // Retention: once snapshot `id` is durable (and, thanks to conditional
  // writes, cannot be replaced by an older one), delete the segments that
  // only the snapshots older than the last keep_snapshots need.
  void retain_after(std::uint64_t) {
    if (options_.common.keep_snapshots == 0) return;
    std::uint64_t boundary = 0;
    {
      std::lock_guard lock(snapshots_->mutex);
      auto ids = snapshots_->ids;
      std::sort(ids.begin(), ids.end());
      if (ids.size() < options_.common.keep_snapshots) return;
      boundary = ids[ids.size() - options_.common.keep_snapshots];
    }
    try {
      delete_segments_below(boundary);
    } catch (const std::exception& e) {
      options_.common.warn("retention: could not delete journal segments below " +
                           std::to_string(boundary) + " of table " + options_.table + ": " +
                           e.what() + " (they are kept; the next snapshot tries again)");
    }
  }

 public:
  // Retention and the operator prune: journal_retention.hpp.
  std::uint64_t delete_segments_below(std::uint64_t boundary) {
    return prune_journal_below(*dynamo_reads_, options_.table, boundary);
  }

  // The id of the snapshot in S3 (0 when there is none), from its header.
  std::uint64_t current_snapshot_id() {
    return read_s3_snapshot_id(*s3_reads_, options_.bucket, options_.snapshot_path);
  }

 private:
  static void deliver(RecoveryHandler& handler, std::uint64_t segment, std::uint64_t order,
                      const DecodedRecord& record) {
    if (record.type != RecordType::batch) {
      throw CorruptionError("segment " + std::to_string(segment) + ", order " +
                            std::to_string(order) + ": fragments do not form a batch record");
    }
    for (std::uint32_t e = 0; e < record.entries.size(); ++e) {
      handler.entry(JournalPosition{segment, order, e}, record.entries[e]);
    }
  }

  AwsStorageOptions options_;
  AwsStorageTestHooks hooks_;
  // Compresses before encode_items fragments; used by the engine's writer.
  mutable RecordCompressor compressor_{options_.common.compress_journal_records_over,
                                       options_.common.journal_compression_level, "AWS storage"};
  std::shared_ptr<SnapshotLedger> snapshots_ = std::make_shared<SnapshotLedger>();
  std::unique_ptr<aws::DynamoDbClient> dynamo_;
  std::unique_ptr<aws::S3Client> s3_;
  // The same services, for idempotent reads: retried within read_retry_budget.
  std::unique_ptr<aws::DynamoDbClient> dynamo_reads_;
  std::unique_ptr<aws::S3Client> s3_reads_;
  std::uint64_t segment_ = 0;
  std::uint64_t next_order_ = 1;
  std::uint64_t writer_id_ = 0;
  // Pipelined appends: start_append() runs on the engine's writer thread,
  // finish() on its acknowledger, send() on the pool.
  mutable std::mutex pipeline_mutex_;  // guards failed_, next_order_ and the pipeline state
  std::exception_ptr failed_;
  std::size_t writes_in_flight_ = 0;
  std::optional<std::uint64_t> resume_order_;  // first order of a failed pipelined write
  std::atomic<bool> pipeline_broken_{false};   // a write failed: send nothing more
  std::unique_ptr<TaskPool> pool_;             // last: its threads use the members above
};

std::unique_ptr<Storage> make_aws_storage(AwsStorageOptions options,
                                          std::shared_ptr<aws::HttpTransport> transport,
                                          AwsStorageTestHooks hooks) {
  return std::make_unique<AwsStorage>(std::move(options), std::move(transport), std::move(hooks));
}

std::uint64_t prune_aws_journal(const AwsStorageOptions& options,
                                std::shared_ptr<aws::HttpTransport> transport,
                                AwsStorageTestHooks hooks) {
  AwsStorage storage(options, std::move(transport), std::move(hooks));
  return storage.delete_segments_below(storage.current_snapshot_id());
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
