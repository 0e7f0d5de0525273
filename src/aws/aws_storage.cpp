#include "aws/aws_storage_impl.hpp"

#include <algorithm>
#include <functional>
#include <future>
#include <iostream>
#include <mutex>
#include <random>
#include <streambuf>
#include <thread>

#include "aws/aws_config.hpp"
#include "aws/aws_error.hpp"
#include "aws/curl_transport.hpp"
#include "aws/dynamodb.hpp"
#include "aws/s3.hpp"
#include "core/container_header.hpp"
#include "core/crc32c.hpp"
#include "core/formats.hpp"
#include "core/record_codec.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {
namespace {

// One item's `content`, leaving room in DynamoDB's 400 KB item limit for the
// attribute names and the two numbers of the key.
constexpr std::size_t item_content_bytes_max = 350 * 1024;
static_assert(item_content_bytes_max + 1024 < aws::dynamodb_item_bytes_max,
              "a journal item must fit DynamoDB's item limit with its key");
constexpr std::size_t aws_entry_bytes_max = std::size_t{256} << 20;
constexpr std::size_t snapshot_read_chunk_bytes = std::size_t{8} << 20;
constexpr std::chrono::milliseconds unknown_outcome_backoff_max{2000};

std::uint64_t random_writer_id() {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

// Streams the snapshot object from S3 in ranged GETs, the next range
// fetched while the codec consumes the current one, checksumming the body.
class S3SnapshotReader : public std::streambuf {
 public:
  S3SnapshotReader(aws::S3Client& s3, std::string bucket, std::string key, std::string first_chunk,
                   std::uint64_t body_end)
      : s3_(s3), bucket_(std::move(bucket)), key_(std::move(key)), body_end_(body_end) {
    // The first chunk holds the header; the body starts after it.
    position_ = std::min<std::uint64_t>(first_chunk.size(), body_end_);
    chunk_ = std::move(first_chunk);
    chunk_.resize(position_);
    chunk_.erase(0, snapshot_header_bytes);
    start_prefetch();
    expose_chunk();
  }
  ~S3SnapshotReader() override {
    if (next_.valid()) next_.wait();
  }
  std::uint32_t body_crc() const { return crc_; }
  // Reads and checksums whatever the codec did not consume.
  void drain() {
    while (underflow() != traits_type::eof()) setg(egptr(), egptr(), egptr());
    consume_current();
  }

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    consume_current();
    if (!next_.valid()) return traits_type::eof();
    chunk_ = next_.get();
    start_prefetch();
    expose_chunk();
    if (chunk_.empty()) return traits_type::eof();
    return traits_type::to_int_type(chunk_[0]);
  }

 private:
  void expose_chunk() {
    setg(chunk_.data(), chunk_.data(), chunk_.data() + chunk_.size());
    counted_ = false;
  }
  void consume_current() {
    if (!counted_) {
      crc_ = crc32c_extend(crc_, chunk_.data(), chunk_.size());
      counted_ = true;
    }
  }
  void start_prefetch() {
    if (position_ >= body_end_) return;
    const std::uint64_t first = position_;
    const std::uint64_t last = std::min(body_end_, first + snapshot_read_chunk_bytes) - 1;
    position_ = last + 1;
    next_ = std::async(std::launch::async, [this, first, last] {
      return s3_.get_object(bucket_, key_, aws::ByteRange{first, last}).body;
    });
  }

  aws::S3Client& s3_;
  std::string bucket_;
  std::string key_;
  std::uint64_t body_end_;
  std::uint64_t position_ = 0;
  std::string chunk_;
  bool counted_ = false;
  std::uint32_t crc_ = 0;
  std::future<std::string> next_;
};

// What this instance knows of the snapshot object: its ETag (for
// conditional writes, so an old writer can never put an older snapshot
// back) and the ids of the snapshots it read or wrote (for retention).
struct SnapshotLedger {
  std::mutex mutex;
  bool exists = false;
  std::string etag;
  std::vector<std::uint64_t> ids;
};

// Buffers the serialised state into parts and uploads them as they fill:
// one PutObject for a small snapshot, a multipart upload otherwise. Never
// holds more than about one part in memory.
class S3SnapshotWriter : public SnapshotWriter, private std::streambuf {
 public:
  S3SnapshotWriter(aws::S3Client& s3, std::string bucket, std::string key, std::uint64_t id,
                   std::size_t part_bytes, std::shared_ptr<SnapshotLedger> ledger,
                   std::function<void(std::uint64_t)> on_committed)
      : ledger_(std::move(ledger)),
        on_committed_(std::move(on_committed)),
        s3_(s3),
        bucket_(std::move(bucket)),
        key_(std::move(key)),
        id_(id),
        part_bytes_(
            std::max(part_bytes, static_cast<std::size_t>(aws::s3_multipart_part_bytes_min))),
        stream_(this) {
    pending_ = make_container_header(snapshot_magic, snapshot_format_version, id);
    pending_.reserve(part_bytes_ + put_area_bytes);
    put_area_.resize(put_area_bytes);
    setp(put_area_.data(), put_area_.data() + put_area_.size());
    stream_.exceptions(std::ios::badbit);
  }
  ~S3SnapshotWriter() override {
    if (!committed_ && !upload_id_.empty()) {
      try {
        s3_.abort_multipart_upload(bucket_, key_, upload_id_);
      } catch (...) {
        // An abandoned upload costs storage until a lifecycle rule ends it.
      }
    }
  }

  std::uint64_t snapshot_id() const override { return id_; }
  std::ostream& stream() override { return stream_; }

  void commit() override {
    flush_put_area();
    if (error_) std::rethrow_exception(error_);
    pending_ += make_snapshot_trailer(body_bytes_, crc_);
    aws::WriteCondition condition;
    {
      std::lock_guard lock(ledger_->mutex);
      condition = ledger_->exists ? aws::WriteCondition::if_match(ledger_->etag)
                                  : aws::WriteCondition::if_none_match_star();
    }
    if (!upload_id_.empty()) upload_pending();
    std::string etag;
    for (int attempt = 0;; ++attempt) {
      try {
        if (upload_id_.empty()) {
          etag = s3_.put_object(bucket_, key_, pending_, condition);
        } else {
          check_condition(condition);
          etag = s3_.complete_multipart_upload(bucket_, key_, upload_id_, parts_, condition);
        }
        break;
      } catch (const aws::PreconditionFailedError&) {
        // Someone replaced the object since we read it. Snapshot ids only
        // grow with ownership: replace it only if it is older than ours,
        // so an old writer can never put an older snapshot back.
        const auto current = current_object();
        if (attempt >= 3 || (current && current->first >= id_)) {
          throw StorageError("snapshot " + std::to_string(id_) + " not written: s3://" + bucket_ +
                             "/" + key_ + " now holds snapshot " +
                             (current ? std::to_string(current->first) : std::string("?")) +
                             " from another instance, and an older snapshot must never replace "
                             "a newer one");
        }
        condition = current ? aws::WriteCondition::if_match(current->second)
                            : aws::WriteCondition::if_none_match_star();
      }
    }
    committed_ = true;
    {
      std::lock_guard lock(ledger_->mutex);
      ledger_->exists = true;
      ledger_->etag = etag;
      ledger_->ids.push_back(id_);
    }
    if (on_committed_) on_committed_(id_);
  }

 private:
  static constexpr std::size_t put_area_bytes = std::size_t{1} << 20;

  int_type overflow(int_type ch) override {
    if (!flush_put_area()) return traits_type::eof();
    if (ch != traits_type::eof()) {
      *pptr() = static_cast<char>(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  int sync() override { return flush_put_area() ? 0 : -1; }

  bool flush_put_area() {
    if (error_) return false;
    const std::size_t n = static_cast<std::size_t>(pptr() - pbase());
    crc_ = crc32c_extend(crc_, pbase(), n);
    body_bytes_ += n;
    pending_.append(pbase(), n);
    setp(put_area_.data(), put_area_.data() + put_area_.size());
    if (pending_.size() >= part_bytes_) {
      try {
        if (upload_id_.empty()) upload_id_ = s3_.create_multipart_upload(bucket_, key_);
        upload_pending();
      } catch (...) {
        error_ = std::current_exception();
        return false;
      }
    }
    return true;
  }
  // The id and ETag of the snapshot object now in S3, if any.
  std::optional<std::pair<std::uint64_t, std::string>> current_object() {
    try {
      const auto head = s3_.get_object(bucket_, key_, aws::ByteRange{0, snapshot_header_bytes - 1});
      return std::make_pair(
          check_container_header(head.body, snapshot_magic, snapshot_format_version,
                                 "s3://" + bucket_ + "/" + key_, "snapshot"),
          head.etag);
    } catch (const aws::ResourceNotFoundError&) {
      return std::nullopt;
    }
  }

  // S3 checks If-Match on CompleteMultipartUpload, but some emulators
  // (moto 5) ignore it there: look first, so an emulator is safe too, short
  // of a race in the instant between the check and the completion.
  void check_condition(const aws::WriteCondition& condition) {
    std::optional<std::string> current;
    try {
      current = s3_.head_object(bucket_, key_).etag;
    } catch (const aws::ResourceNotFoundError&) {
    }
    const bool holds = condition.kind == aws::WriteCondition::Kind::if_match
                           ? current && *current == condition.etag
                           : !current.has_value();
    if (!holds) {
      aws::AwsErrorInfo info;
      info.service = "S3";
      info.operation = "CompleteMultipartUpload";
      info.resource = "s3://" + bucket_ + "/" + key_;
      info.http_status = 412;
      info.code = "PreconditionFailed";
      info.message = "the snapshot object changed since this instance read it";
      throw aws::PreconditionFailedError(info);
    }
  }

  void upload_pending() {
    const int number = static_cast<int>(parts_.size()) + 1;
    if (number > aws::s3_multipart_parts_max) {
      throw StorageError("snapshot for s3://" + bucket_ + "/" + key_ +
                         " needs more than 10,000 parts: raise snapshot_part_bytes");
    }
    parts_.push_back({number, s3_.upload_part(bucket_, key_, upload_id_, number, pending_)});
    pending_.clear();
  }

  std::shared_ptr<SnapshotLedger> ledger_;
  std::function<void(std::uint64_t)> on_committed_;
  aws::S3Client& s3_;
  std::string bucket_;
  std::string key_;
  std::uint64_t id_;
  std::size_t part_bytes_;
  std::ostream stream_;
  std::string put_area_;
  std::string pending_;
  std::string upload_id_;
  std::vector<aws::CompletedPart> parts_;
  std::uint64_t body_bytes_ = 0;
  std::uint32_t crc_ = 0;
  std::exception_ptr error_;
  bool committed_ = false;
};

}  // namespace

class AwsStorage : public Storage {
 public:
  AwsStorage(AwsStorageOptions options, std::shared_ptr<aws::HttpTransport> transport)
      : options_(std::move(options)) {
    if (options_.table.empty()) throw ConfigError("AWS storage: the DynamoDB table name is empty");
    if (options_.bucket.empty()) throw ConfigError("AWS storage: the S3 bucket name is empty");
    if (options_.snapshot_path.empty())
      throw ConfigError("AWS storage: the snapshot path is empty");
    if (options_.replay_page_size == 0) {
      throw ConfigError("AWS storage: replay_page_size must be at least 1");
    }
    if (!options_.warn) {
      options_.warn = [](const std::string& m) {
        std::cerr << "prevayler: warning: " << m << std::endl;
      };
    }
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
  }

  void recover(RecoveryHandler& handler) override {
    dynamo_->check_journal_table(options_.table);
    s3_->head_bucket(options_.bucket);
    writer_id_ = random_writer_id();
    ReplayCursor cursor;
    cursor.segment = read_snapshot(handler);
    replay(cursor, handler);
    take_ownership(cursor, handler);
  }

  void append(const EntryBatch& batch) override {
    throw_if_failed();
    record_.clear();
    encode_batch_record(record_, writer_id_, batch, 0, batch.size());
    if (record_.size() <= item_content_bytes_max) {
      put_durably(next_order_, record_);
      ++next_order_;
      return;
    }
    // Too large for one item: consecutive fragment items, all or nothing at
    // replay. A failure part-way leaves an incomplete sequence that replay
    // ignores, and the next record follows it.
    const std::size_t slice_bytes = item_content_bytes_max - fragment_header_bytes;
    const auto count = static_cast<std::uint32_t>((record_.size() + slice_bytes - 1) / slice_bytes);
    std::string item;
    for (std::uint32_t i = 0; i < count; ++i) {
      item.clear();
      encode_fragment_record(item, writer_id_, i, count,
                             std::string_view(record_).substr(i * slice_bytes, slice_bytes));
      put_durably(next_order_, item);
      ++next_order_;
    }
  }

  std::unique_ptr<SnapshotWriter> begin_snapshot() override {
    throw_if_failed();
    // Nothing journaled in this segment yet: the state is the state at its
    // start, so the snapshot takes the segment's id and no seal is needed.
    if (next_order_ > 1) seal_segment();
    return std::make_unique<S3SnapshotWriter>(*s3_, options_.bucket, options_.snapshot_path,
                                              segment_, options_.snapshot_part_bytes, snapshots_,
                                              [this](std::uint64_t id) { retain_after(id); });
  }

  void close() override {}

  std::size_t entry_bytes_max() const override { return aws_entry_bytes_max; }

  std::string describe() const override {
    return "DynamoDB table " + options_.table + " and s3://" + options_.bucket + "/" +
           options_.snapshot_path;
  }

 private:
  void throw_if_failed() const {
    if (failed_) std::rethrow_exception(failed_);
  }

  [[noreturn]] void fail_stop(std::exception_ptr error) {
    failed_ = error;
    std::rethrow_exception(error);
  }

  std::string item_name(std::uint64_t segment, std::uint64_t order) const {
    return "table " + options_.table + ", item (partkey " + std::to_string(segment) + ", order " +
           std::to_string(order) + ")";
  }

  // Writes `content` at (segment_, order) so that it is durable exactly
  // once. A write whose outcome is unknown is sent again, same key and same
  // content; a conditional failure then means either our own earlier
  // attempt (same bytes: success) or another writer (this instance stops).
  void put_durably(std::uint64_t order, std::string_view content) {
    if (put_or_conflict(segment_, order, content)) {
      fail_stop(std::make_exception_ptr(SupersededError(
          item_name(segment_, order) +
          " was written by another writer: another instance took over this journal. This "
          "instance stopped; its unacknowledged events were not applied.")));
    }
  }

  // Returns nullopt once `content` is durable at (segment, order), or the
  // content another writer put there first.
  std::optional<std::string> put_or_conflict(std::uint64_t segment, std::uint64_t order,
                                             std::string_view content) {
    const auto deadline = std::chrono::steady_clock::now() + options_.unknown_outcome_budget;
    auto backoff = std::chrono::milliseconds(100);
    bool outcome_unknown = false;
    std::string last_error;
    for (;;) {
      try {
        auto result = dynamo_->put_item_if_absent(options_.table, segment, order, content);
        if (result.stored()) return std::nullopt;
        if (!result.existing_content) continue;  // vanished between put and read: try again
        if (*result.existing_content == content) return std::nullopt;  // our earlier attempt
        return std::move(result.existing_content);
      } catch (const aws::AwsError& e) {
        const bool ambiguous = e.after_ambiguous_attempt() || e.http_status() >= 500;
        if (!ambiguous && !outcome_unknown) throw;  // definitely not stored
        outcome_unknown = true;
        last_error = e.what();
      } catch (const aws::TransportError& e) {
        // Conservative: an earlier attempt inside the client's retries may
        // have reached the server even if this last one did not.
        outcome_unknown = true;
        last_error = e.what();
      }
      if (std::chrono::steady_clock::now() + backoff > deadline) {
        fail_stop(std::make_exception_ptr(StorageFailedError(
            "the outcome of the write of " + item_name(segment, order) +
            " is unknown after retrying for " +
            std::to_string(options_.unknown_outcome_budget.count()) +
            " ms (last error: " + last_error +
            "). This instance stopped so the journal never holds an event the live state lacks; "
            "a restart recovers exactly what the journal holds.")));
      }
      std::this_thread::sleep_for(backoff);
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
    const std::string where = "s3://" + options_.bucket + "/" + options_.snapshot_path;
    aws::GetObjectResult first;
    try {
      first = s3_->get_object(options_.bucket, options_.snapshot_path,
                              aws::ByteRange{0, snapshot_read_chunk_bytes - 1});
    } catch (const aws::ResourceNotFoundError& e) {
      if (e.code() == "NoSuchBucket") throw;
      return 0;  // no snapshot yet: the initial state
    }
    const std::uint64_t total = first.total_size;
    if (total < snapshot_header_bytes + snapshot_trailer_bytes ||
        first.body.size() < snapshot_header_bytes) {
      throw CorruptionError(where + ": snapshot object of " + std::to_string(total) +
                            " bytes is shorter than its header and trailer");
    }
    const std::uint64_t id = check_container_header(first.body, snapshot_magic,
                                                    snapshot_format_version, where, "snapshot");
    {
      std::lock_guard lock(snapshots_->mutex);
      snapshots_->exists = true;
      snapshots_->etag = first.etag;
      snapshots_->ids = {id};
    }
    const std::uint64_t body_end = total - snapshot_trailer_bytes;
    // The trailer: from the first chunk when it reached the end, else one
    // more ranged GET.
    std::string trailer = first.body.size() >= total
                              ? first.body.substr(body_end, snapshot_trailer_bytes)
                              : s3_->get_object(options_.bucket, options_.snapshot_path,
                                                aws::ByteRange{body_end, total - 1})
                                    .body;
    const std::uint32_t stored_crc =
        check_snapshot_trailer(trailer, body_end - snapshot_header_bytes, where, body_end);
    S3SnapshotReader reader(*s3_, options_.bucket, options_.snapshot_path, std::move(first.body),
                            body_end);
    std::istream in(&reader);
    handler.snapshot(id, in);
    reader.drain();
    if (reader.body_crc() != stored_crc) {
      throw CorruptionError(where +
                            ": snapshot body fails its checksum; restore the object from "
                            "a backup or a previous version");
    }
    return id;
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
    options_.warn(item_name(c.segment, c.fragments_first_order) +
                  ": ignored an incomplete group commit (" + std::to_string(c.fragments_next) +
                  " of " + std::to_string(c.fragments_count) + " items, " + why +
                  "): a write that failed or crashed, never acknowledged");
    c.fragments.clear();
    c.fragments_next = c.fragments_count = 0;
  }

  // Replays from the cursor, segment after segment, following seals, up to
  // the unsealed tail (or a gap).
  void replay(ReplayCursor& c, RecoveryHandler& handler) {
    while (replay_segment(c, handler)) {
    }
  }

  // Replays the rest of c.segment. Returns true when it ended in a seal
  // (the cursor then points at the start of the next segment).
  bool replay_segment(ReplayCursor& c, RecoveryHandler& handler) {
    const std::uint64_t segment = c.segment;
    auto fetch = [this, segment](std::optional<std::uint64_t> after) {
      return dynamo_->query_page(options_.table, segment, after, options_.replay_page_size, true);
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
        const std::string where = item_name(segment, item.order);
        if (item.order != c.expected) {
          // A gap: nothing after a failed write was acknowledged. The tail
          // ends here; taking ownership seals the gap, which hides the rest.
          options_.warn(where + " follows a gap at order " + std::to_string(c.expected) +
                        "; items from there on were never acknowledged and are sealed off");
          c.gap = true;
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
          options_.warn(where + ": ignored a stray fragment " +
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
    for (;;) {
      std::string seal;
      encode_seal_record(seal, writer_id_, c.segment + 1);
      auto conflict = put_or_conflict(c.segment, c.expected, seal);
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
    if (options_.keep_snapshots == 0) return;
    std::uint64_t boundary = 0;
    {
      std::lock_guard lock(snapshots_->mutex);
      auto ids = snapshots_->ids;
      std::sort(ids.begin(), ids.end());
      if (ids.size() < options_.keep_snapshots) return;
      boundary = ids[ids.size() - options_.keep_snapshots];
    }
    try {
      delete_segments_below(boundary);
    } catch (const std::exception& e) {
      options_.warn("retention: could not delete journal segments below " +
                    std::to_string(boundary) + " of table " + options_.table + ": " + e.what() +
                    " (they are kept; the next snapshot tries again)");
    }
  }

 public:
  // Deletes every segment below `boundary`, newest first, down to the first
  // one already gone (every segment below the tail holds at least its seal).
  // Returns the number of items deleted.
  std::uint64_t delete_segments_below(std::uint64_t boundary) {
    std::uint64_t deleted = 0;
    for (std::uint64_t segment = boundary; segment-- > 0;) {
      std::vector<std::uint64_t> orders;
      std::optional<std::uint64_t> after;
      do {
        auto page = dynamo_->query_page(options_.table, segment, after, 1000, true);
        for (const auto& item : page.items) orders.push_back(item.order);
        after = page.last_evaluated_order;
      } while (after);
      if (orders.empty()) break;
      dynamo_->delete_items(options_.table, segment, orders);
      deleted += orders.size();
    }
    return deleted;
  }

  // The id of the snapshot in S3 (0 when there is none), from its header.
  std::uint64_t current_snapshot_id() {
    const std::string where = "s3://" + options_.bucket + "/" + options_.snapshot_path;
    try {
      const auto head = s3_->get_object(options_.bucket, options_.snapshot_path,
                                        aws::ByteRange{0, snapshot_header_bytes - 1});
      return check_container_header(head.body, snapshot_magic, snapshot_format_version, where,
                                    "snapshot");
    } catch (const aws::ResourceNotFoundError& e) {
      if (e.code() == "NoSuchBucket") throw;
      return 0;
    }
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
  std::shared_ptr<SnapshotLedger> snapshots_ = std::make_shared<SnapshotLedger>();
  std::unique_ptr<aws::DynamoDbClient> dynamo_;
  std::unique_ptr<aws::S3Client> s3_;
  std::uint64_t segment_ = 0;
  std::uint64_t next_order_ = 1;
  std::uint64_t writer_id_ = 0;
  std::exception_ptr failed_;
  std::string record_;
};

std::unique_ptr<Storage> make_aws_storage(AwsStorageOptions options,
                                          std::shared_ptr<aws::HttpTransport> transport) {
  return std::make_unique<AwsStorage>(std::move(options), std::move(transport));
}

}  // namespace prevayler::detail

namespace prevayler {

std::unique_ptr<Storage> make_aws_storage(AwsStorageOptions options) {
  return detail::make_aws_storage(std::move(options), nullptr);
}

std::uint64_t prune_aws_journal(const AwsStorageOptions& options) {
  detail::AwsStorage storage(options, nullptr);
  return storage.delete_segments_below(storage.current_snapshot_id());
}

}  // namespace prevayler
