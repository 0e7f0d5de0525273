#include "aws/s3_snapshot.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <exception>
#include <future>
#include <istream>
#include <ostream>
#include <streambuf>
#include <utility>

#include "aws/aws_error.hpp"
#include "core/container_header.hpp"
#include "core/crc32c.hpp"
#include "core/formats.hpp"
#include "core/snapshot_cipher.hpp"
#include "core/zstd_stream.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {
namespace {

// Conditional commits of one snapshot that lose to another change of the
// object before it gives up: each loss means another instance wrote the
// object meanwhile, so a few are a race and more are a second live writer.
constexpr int snapshot_commit_attempts_max = 4;
// S3's answer to two conditional writes of one key at the same moment.
constexpr int http_status_conflict = 409;

std::string object_name(const std::string& bucket, const std::string& key) {
  return "s3://" + bucket + "/" + key;
}

// A conditional write that lost to another change of the object: the
// object must be read again before deciding.
bool is_lost_condition(const aws::AwsError& e) {
  if (dynamic_cast<const aws::PreconditionFailedError*>(&e)) return true;
  if (dynamic_cast<const aws::ResourceNotFoundError*>(&e)) {
    return e.code() != "NoSuchBucket" && e.code() != "NoSuchUpload";
  }
  return e.http_status() == http_status_conflict && e.code() == "ConditionalRequestConflict";
}

std::size_t effective_part_bytes(std::size_t part_bytes) {
  return std::max(part_bytes, static_cast<std::size_t>(aws::s3_multipart_part_bytes_min));
}

// Streams the snapshot body from S3 in ranged GETs, up to `parallel` ranges
// in flight ahead of the one the codec consumes, checksumming it.
class S3SnapshotReader : public std::streambuf {
 public:
  // Every range is read with If-Match `etag` (the first response's): a
  // snapshot replaced during the download fails with
  // PreconditionFailedError (recovery starts over) instead of mixing two
  // versions into a body that fails its checksum.
  S3SnapshotReader(aws::S3Client& s3, std::string bucket, std::string key, std::string etag,
                   std::string first_chunk, std::uint64_t body_end, std::size_t range_bytes,
                   std::uint32_t parallel)
      : s3_(s3),
        bucket_(std::move(bucket)),
        key_(std::move(key)),
        etag_(std::move(etag)),
        body_end_(body_end),
        range_bytes_(range_bytes),
        parallel_(std::max<std::uint32_t>(parallel, 1)) {
    // The first chunk holds the header; the body starts after it.
    position_ = std::min<std::uint64_t>(first_chunk.size(), body_end_);
    chunk_ = std::move(first_chunk);
    chunk_.resize(position_);
    chunk_.erase(0, snapshot_header_bytes);
    start_prefetch();
    expose_chunk();
  }
  ~S3SnapshotReader() override {
    for (auto& range : in_flight_) range.wait();
  }
  std::uint32_t body_crc() const { return crc_; }
  // The first failure of a ranged GET, if any (the codec may have turned it
  // into a decoding error of its own).
  std::exception_ptr fetch_error() const { return fetch_error_; }
  // Reads and checksums whatever the codec did not consume.
  void drain() {
    while (underflow() != traits_type::eof()) setg(egptr(), egptr(), egptr());
    consume_current();
  }

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    consume_current();
    if (in_flight_.empty()) return traits_type::eof();
    std::future<std::string> next = std::move(in_flight_.front());
    in_flight_.pop_front();
    try {
      chunk_ = next.get();
    } catch (...) {
      if (!fetch_error_) fetch_error_ = std::current_exception();
      throw;
    }
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
    while (in_flight_.size() < parallel_ && position_ < body_end_) {
      const std::uint64_t first = position_;
      const std::uint64_t last = std::min<std::uint64_t>(body_end_, first + range_bytes_) - 1;
      position_ = last + 1;
      in_flight_.push_back(std::async(std::launch::async, [this, first, last] {
        std::string body = s3_.get_object(bucket_, key_, aws::ByteRange{first, last}, etag_).body;
        if (body.size() != last - first + 1) {
          throw CorruptionError(object_name(bucket_, key_) + ": range " + std::to_string(first) +
                                "-" + std::to_string(last) + " returned " +
                                std::to_string(body.size()) +
                                " bytes; the object changed or is truncated");
        }
        return body;
      }));
    }
  }

  aws::S3Client& s3_;
  std::string bucket_;
  std::string key_;
  std::string etag_;
  std::uint64_t body_end_;
  std::size_t range_bytes_;
  std::uint32_t parallel_;
  std::uint64_t position_ = 0;
  std::string chunk_;
  bool counted_ = false;
  std::uint32_t crc_ = 0;
  std::deque<std::future<std::string>> in_flight_;
  std::exception_ptr fetch_error_;
};

// Buffers the stored bytes into parts and uploads them as they fill: one
// PutObject for a small snapshot, else a multipart upload with up to
// `parallel_requests` parts in flight while the codec fills the next one.
class S3SnapshotWriter : public SnapshotWriter, private std::streambuf {
 public:
  S3SnapshotWriter(aws::S3Client& s3, const S3SnapshotOptions& options, std::uint64_t id,
                   std::shared_ptr<SnapshotLedger> ledger,
                   std::function<void(std::uint64_t)> on_committed)
      : ledger_(std::move(ledger)),
        on_committed_(std::move(on_committed)),
        s3_(s3),
        bucket_(options.bucket),
        key_(options.key),
        id_(id),
        part_bytes_(effective_part_bytes(options.part_bytes)),
        parallel_(std::max<std::uint32_t>(options.parallel_requests, 1)),
        stream_(this) {
    const std::uint32_t flags = (options.compression_level ? snapshot_flag_zstd : 0) |
                                (options.encrypt ? snapshot_flag_encrypted : 0);
    pending_ = make_snapshot_header(id, flags, options.state_schema_version);
    const std::string header = pending_;
    pending_.reserve(part_bytes_ + put_area_bytes);
    put_area_.resize(put_area_bytes);
    setp(put_area_.data(), put_area_.data() + put_area_.size());
    // state -> zstd -> AES-GCM -> parts: encryption after compression.
    std::streambuf* sink = this;
    if (options.encrypt) sink = &cipher_.emplace(*sink, *options.encrypt, header);
    if (options.compression_level) {
      sink = &zstd_.emplace(*sink, *options.compression_level, object_name(bucket_, key_));
    }
    stream_.rdbuf(sink);
    stream_.exceptions(std::ios::badbit);
  }
  ~S3SnapshotWriter() override {
    // The uploads reference nothing of ours but must end before the abort.
    for (auto& part : in_flight_) part.second.wait();
    if (!committed_) abort_upload();
  }

  std::uint64_t snapshot_id() const override { return id_; }
  std::ostream& stream() override { return stream_; }

  void commit() override {
    if ((zstd_ && !zstd_->finish()) || (cipher_ && !cipher_->finish())) {
      if (error_) std::rethrow_exception(error_);
      throw StorageError("snapshot " + std::to_string(id_) + " for " + object_name(bucket_, key_) +
                         ": the compressed state could not be buffered");
    }
    flush_put_area();
    if (error_) std::rethrow_exception(error_);
    pending_ += make_snapshot_trailer(body_bytes_, crc_);
    aws::WriteCondition condition;
    {
      std::lock_guard lock(ledger_->mutex);
      condition = ledger_->exists ? aws::WriteCondition::if_match(ledger_->etag)
                                  : aws::WriteCondition::if_none_match_star();
    }
    if (!upload_id_.empty()) {
      start_part();
      while (!in_flight_.empty()) collect_oldest_part();
    }
    std::string etag;
    for (int attempt = 1;; ++attempt) {
      try {
        if (upload_id_.empty()) {
          etag = s3_.put_object(bucket_, key_, pending_, condition);
        } else {
          check_condition(condition);
          etag = s3_.complete_multipart_upload(bucket_, key_, upload_id_, parts_, condition);
        }
        break;
      } catch (const aws::AwsError& e) {
        if (!is_lost_condition(e)) throw;
        // Someone replaced the object since we read it (412), deleted it (a
        // lifecycle rule: 404 on If-Match), or wrote it at the same moment
        // (409 ConditionalRequestConflict). Snapshot ids only
        // grow with ownership: replace it only if it is older than ours,
        // so an old writer can never put an older snapshot back.
        const auto current = current_object();
        if (current && current->first == id_) {
          // The same snapshot id is the same state: the state at the start
          // of segment id_, which only one seal chain defines (a writer
          // seals a segment only after every write before the seal was
          // acknowledged). Our own earlier attempt, retried after an
          // ambiguous failure, or another owner's copy: either will do.
          etag = current->second;
          abort_upload();  // our parts are not needed
          break;
        }
        if (attempt >= snapshot_commit_attempts_max || (current && current->first > id_)) {
          throw StorageError("snapshot " + std::to_string(id_) + " not written: " +
                             object_name(bucket_, key_) + " now holds snapshot " +
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
      ledger_->committed_ms[id_] = ledger_now_ms(*ledger_);
    }
    if (on_committed_) on_committed_(id_);
  }

 private:
  // Ends our multipart upload, if any, without completing it.
  void abort_upload() noexcept {
    if (upload_id_.empty()) return;
    try {
      s3_.abort_multipart_upload(bucket_, key_, upload_id_);
    } catch (...) {
      // An abandoned upload costs storage until a lifecycle rule ends it.
    }
  }

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
        start_part();
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
      return std::make_pair(check_snapshot_header(head.body, object_name(bucket_, key_)).id,
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
      info.resource = object_name(bucket_, key_);
      info.http_status = 412;
      info.code = "PreconditionFailed";
      info.message = "the snapshot object changed since this instance read it";
      throw aws::PreconditionFailedError(info);
    }
  }

  // Hands the pending bytes to an upload of their own, first waiting for
  // the oldest part in flight when `parallel_` are: memory stays bounded.
  void start_part() {
    const int number = parts_started_ + 1;
    if (number > aws::s3_multipart_parts_max) {
      throw StorageError("snapshot for " + object_name(bucket_, key_) + " needs more than " +
                         std::to_string(aws::s3_multipart_parts_max) +
                         " parts: raise snapshot_part_bytes");
    }
    while (in_flight_.size() >= parallel_) collect_oldest_part();
    std::string body = std::move(pending_);
    pending_ = std::string();
    pending_.reserve(part_bytes_ + put_area_bytes);
    in_flight_.emplace_back(
        number,
        std::async(std::launch::async, [&s3 = s3_, bucket = bucket_, key = key_,
                                        upload_id = upload_id_, number, body = std::move(body)] {
          return s3.upload_part(bucket, key, upload_id, number, body);
        }));
    parts_started_ = number;
  }

  // Parts complete in any order; collecting the oldest first keeps
  // parts_ in part-number order, as CompleteMultipartUpload wants.
  void collect_oldest_part() {
    auto [number, etag] = std::move(in_flight_.front());
    in_flight_.pop_front();
    parts_.push_back({number, etag.get()});
  }

  std::shared_ptr<SnapshotLedger> ledger_;
  std::function<void(std::uint64_t)> on_committed_;
  aws::S3Client& s3_;
  std::string bucket_;
  std::string key_;
  std::uint64_t id_;
  std::size_t part_bytes_;
  std::uint32_t parallel_;
  std::ostream stream_;
  std::string put_area_;
  std::string pending_;
  std::string upload_id_;
  int parts_started_ = 0;
  std::vector<aws::CompletedPart> parts_;
  std::deque<std::pair<int, std::future<std::string>>> in_flight_;
  std::uint64_t body_bytes_ = 0;
  std::uint32_t crc_ = 0;
  std::exception_ptr error_;
  bool committed_ = false;
  // Declared last, destroyed first: they may still write into this object
  // (zstd into the cipher).
  std::optional<EncryptBuffer> cipher_;
  std::optional<ZstdCompressBuffer> zstd_;
};

}  // namespace

S3SnapshotOptions s3_snapshot_options(const AwsStorageOptions& options) {
  if (options.snapshot_parallel_requests == 0) {
    throw ConfigError("AWS storage: snapshot_parallel_requests must be at least 1");
  }
  check_zstd_level(options.common.snapshot_compression_level, "snapshot_compression_level",
                   "AWS storage");
  S3SnapshotOptions s;
  s.bucket = options.bucket;
  s.key = options.snapshot_path;
  s.part_bytes = options.snapshot_part_bytes;
  s.parallel_requests = options.snapshot_parallel_requests;
  if (options.common.compress_snapshots) {
    s.compression_level = options.common.snapshot_compression_level;
  }
  return s;
}

std::unique_ptr<SnapshotWriter> make_s3_snapshot_writer(
    aws::S3Client& s3, const S3SnapshotOptions& options, std::uint64_t id,
    std::shared_ptr<SnapshotLedger> ledger, std::function<void(std::uint64_t)> on_committed) {
  return std::make_unique<S3SnapshotWriter>(s3, options, id, std::move(ledger),
                                            std::move(on_committed));
}

std::int64_t ledger_now_ms(const SnapshotLedger& ledger) {
  if (ledger.now_ms) return ledger.now_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::uint64_t read_s3_snapshot(aws::S3Client& s3, const S3SnapshotOptions& options,
                               SnapshotLedger& ledger, RecoveryHandler& handler) {
  const std::string where = object_name(options.bucket, options.key);
  const std::size_t range_bytes = effective_part_bytes(options.part_bytes);
  aws::GetObjectResult first;
  try {
    first = s3.get_object(options.bucket, options.key, aws::ByteRange{0, range_bytes - 1});
  } catch (const aws::ResourceNotFoundError& e) {
    if (e.code() == "NoSuchBucket") throw;
    std::lock_guard lock(ledger.mutex);
    ledger.opened_ms.reset();  // nothing before this instance to date
    return 0;                  // no snapshot yet: the initial state
  }
  const std::uint64_t total = first.total_size;
  if (total < snapshot_header_bytes + snapshot_trailer_bytes ||
      first.body.size() < snapshot_header_bytes) {
    throw CorruptionError(where + ": snapshot object of " + std::to_string(total) +
                          " bytes is shorter than its header and trailer");
  }
  const SnapshotHeader header = check_snapshot_header(first.body, where);
  {
    std::lock_guard lock(ledger.mutex);
    ledger.exists = true;
    ledger.etag = first.etag;
    ledger.ids = {header.id};
    ledger.committed_ms.clear();
    ledger.opened_ms = ledger_now_ms(ledger);
  }
  const std::uint64_t body_end = total - snapshot_trailer_bytes;
  // The trailer: from the first chunk when it reached the end, else one
  // more ranged GET.
  std::string trailer = first.body.size() >= total
                            ? first.body.substr(body_end, snapshot_trailer_bytes)
                            : s3.get_object(options.bucket, options.key,
                                            aws::ByteRange{body_end, total - 1}, first.etag)
                                  .body;
  const std::uint32_t stored_crc =
      check_snapshot_trailer(trailer, body_end - snapshot_header_bytes, where, body_end);
  const std::string header_bytes = first.body.substr(0, snapshot_header_bytes);
  S3SnapshotReader reader(s3, options.bucket, options.key, first.etag, std::move(first.body),
                          body_end, range_bytes, options.parallel_requests);
  const bool encrypted = (header.flags & snapshot_flag_encrypted) != 0;
  const bool check_only = encrypted && options.decryption.check_only;
  // S3 -> AES-GCM -> zstd -> state, as written.
  std::optional<DecryptBuffer> plain;
  std::streambuf* source = &reader;
  if (encrypted && !check_only) {
    source = &plain.emplace(reader, options.decryption.keys, header_bytes, where);
  }
  std::optional<ZstdDecompressBuffer> zstd;
  if ((header.flags & snapshot_flag_zstd) && !check_only) zstd.emplace(*source, where);
  const auto checksum_error = [&] {
    return CorruptionError(where +
                           ": snapshot body fails its checksum; restore the object from "
                           "a backup or a previous version");
  };
  try {
    if (check_only) {
      (void)check_sealed_body(reader, where);  // verify without the key
    } else {
      std::istream in(zstd ? static_cast<std::streambuf*>(&*zstd) : source);
      // A chunk that fails authentication reaches the caller as itself.
      if (plain) in.exceptions(std::ios::badbit);
      handler.versioned_snapshot(header.id, in, header.state_schema_version);
      if (zstd) zstd->finish();
      if (plain) plain->finish();
    }
    reader.drain();
  } catch (...) {
    // A failed ranged GET (the object replaced: PreconditionFailedError)
    // may reach us as the codec's own decoding error: report the cause.
    if (reader.fetch_error()) std::rethrow_exception(reader.fetch_error());
    // The body is checked as it streams, so damage shows first as a
    // decoding error: report the damage when that is what it was.
    bool damaged = false;
    try {
      reader.drain();
      damaged = reader.body_crc() != stored_crc;
    } catch (...) {
    }
    if (damaged) throw checksum_error();
    throw;
  }
  if (reader.body_crc() != stored_crc) throw checksum_error();
  return header.id;
}

std::uint64_t read_s3_snapshot_id(aws::S3Client& s3, const std::string& bucket,
                                  const std::string& key) {
  try {
    const auto head = s3.get_object(bucket, key, aws::ByteRange{0, snapshot_header_bytes - 1});
    return check_snapshot_header(head.body, object_name(bucket, key)).id;
  } catch (const aws::ResourceNotFoundError& e) {
    if (e.code() == "NoSuchBucket") throw;
    return 0;
  }
}

}  // namespace prevayler::detail
