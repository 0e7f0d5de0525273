#include "ops/aws_journal.hpp"

#include "aws/aws_clients.hpp"
#include "aws/aws_error.hpp"
#include "aws/aws_storage_impl.hpp"
#include "aws/journal_items.hpp"
#include "aws/journal_replay.hpp"
#include "aws/s3_snapshot.hpp"
#include "core/bytes.hpp"
#include "core/container_header.hpp"
#include "core/crc32c.hpp"
#include "core/entry_codec.hpp"
#include "core/formats.hpp"
#include "core/record_codec.hpp"
#include "ops/journal_reader.hpp"
#include "ops/point_in_time.hpp"
#include "prevayler/error.hpp"

namespace prevayler::ops {
namespace {

using detail::DecodedRecord;
using detail::RecordType;

// Items per Query page while listing and verifying (DynamoDB also stops a
// page at 1 MB).
constexpr std::uint32_t scan_page_items = 1000;
// A segment's pages are bounded: 2^32 orders at one item per page at most.
constexpr std::uint64_t scan_pages_max = std::uint64_t{1} << 32;
// Segments followed by seals, and walked down below the snapshot: bounded
// by the ids a journal can reach in practice (one per snapshot).
constexpr std::uint64_t segments_walked_max = std::uint64_t{1} << 32;

class VisitingHandler : public RecoveryHandler {
 public:
  explicit VisitingHandler(JournalVisitor& visitor) : visitor_(visitor) {}
  void snapshot(std::uint64_t, std::istream&) override {}
  void restart() override {}
  void entry(const JournalPosition& position, std::string_view bytes) override {
    visitor_.entry(position, bytes);
  }

 private:
  JournalVisitor& visitor_;
};

// A segment's items, and what listing learnt of them.
struct SegmentItems {
  std::vector<aws::JournalItem> items;
  std::uint64_t bytes = 0;
  bool sealed = false;
  bool only_a_seal = false;
};

class AwsJournalSource : public JournalSource {
 public:
  AwsJournalSource(AwsStorageOptions options, std::shared_ptr<aws::HttpTransport> transport,
                   const detail::AwsStorageTestHooks& hooks)
      : options_(std::move(options)),
        clients_(detail::resolve_aws_clients(options_, std::move(transport), hooks)),
        keys_(options_.common.encryption, "journal reader") {}

  std::string describe() const override {
    return "DynamoDB table " + options_.table + " and s3://" + options_.bucket + "/" +
           options_.snapshot_path;
  }

  std::vector<SnapshotInfo> snapshots() override {
    check_resources();
    std::vector<SnapshotInfo> found;
    SnapshotInfo info;
    info.location = object_name();
    try {
      const aws::GetObjectResult head =
          clients_.s3_reads->get_object(options_.bucket, options_.snapshot_path,
                                        aws::ByteRange{0, detail::snapshot_header_bytes - 1});
      info.bytes = head.total_size;
      if (head.body.size() == detail::snapshot_header_bytes) {
        try {
          const detail::SnapshotHeader header =
              detail::check_snapshot_header(head.body, info.location);
          info.id = header.id;
          info.format_version = detail::get_u32(head.body.data() + 8);
          info.compressed = (header.flags & detail::snapshot_flag_zstd) != 0;
        } catch (const Error&) {
          // Listed with version 0; verify names the damage.
        }
      }
    } catch (const aws::ResourceNotFoundError&) {
      return found;  // no snapshot yet
    } catch (const aws::AwsError& e) {
      if (e.code() != "InvalidRange") throw;  // an empty object: verify names it
    }
    found.push_back(info);
    return found;
  }

  std::vector<SegmentInfo> segments() override {
    check_resources();
    const std::vector<SnapshotInfo> snapshot = snapshots();
    const std::uint64_t first = snapshot.empty() ? 0 : snapshot.front().id;
    std::vector<SegmentInfo> found;
    // Below the snapshot, oldest last: the segments not pruned yet (prune
    // leaves a segment's seal only, oldest segment first).
    missing_below_.reset();
    for (std::uint64_t id = first, walked = 0; id > 0 && walked < segments_walked_max; ++walked) {
      --id;
      const SegmentItems s = read_items(id);
      if (s.items.empty()) {
        missing_below_ = id;
        break;
      }
      if (s.only_a_seal) break;
      found.insert(found.begin(), info(id, s, SegmentEnd::seal));
    }
    // From the snapshot on, following seals, as recovery does.
    std::uint64_t id = first;
    for (std::uint64_t walked = 0; walked < segments_walked_max; ++walked) {
      const SegmentItems s = read_items(id);
      if (!s.sealed) {
        found.push_back(info(id, s, SegmentEnd::tail));
        break;
      }
      found.push_back(info(id, s, SegmentEnd::seal));
      id = next_segment_;
    }
    return found;
  }

  // The object holds one snapshot: a newer one written since the listing
  // reaches the handler with its own id, which the caller checks.
  void read_snapshot(std::uint64_t, RecoveryHandler& handler) override {
    detail::SnapshotLedger ledger;
    (void)detail::read_s3_snapshot(*clients_.s3_reads, detail::s3_snapshot_options(options_),
                                   ledger, handler);
  }

  std::string snapshot_bytes(std::uint64_t id) override {
    const std::string where = object_name();
    const aws::GetObjectResult object =
        clients_.s3_reads->get_object(options_.bucket, options_.snapshot_path);
    const std::string& bytes = object.body;
    if (bytes.size() < detail::snapshot_header_bytes + detail::snapshot_trailer_bytes) {
      throw CorruptionError(where + ": " + std::to_string(bytes.size()) +
                            " bytes, shorter than a snapshot's header and trailer");
    }
    const detail::SnapshotHeader header =
        detail::check_snapshot_header(std::string_view(bytes).substr(0, 28), where);
    if (header.id != id) {
      throw StorageError(where + " now holds snapshot " + std::to_string(header.id) + ", not " +
                         std::to_string(id) + " (an instance wrote a new one); run again");
    }
    const std::uint64_t trailer_at = bytes.size() - detail::snapshot_trailer_bytes;
    const std::uint32_t stored_crc = detail::check_snapshot_trailer(
        std::string_view(bytes).substr(trailer_at), trailer_at - detail::snapshot_header_bytes,
        where, trailer_at);
    const std::string_view body = std::string_view(bytes).substr(
        detail::snapshot_header_bytes, trailer_at - detail::snapshot_header_bytes);
    if (detail::crc32c(body) != stored_crc) {
      throw CorruptionError(where + ": snapshot body fails its checksum; restore a backup");
    }
    return bytes;
  }

  void read(std::uint64_t first_segment, JournalVisitor& visitor) override {
    check_resources();
    AwsStorageOptions options = options_;
    options.common.warn = [&visitor](const std::string& m) { visitor.warning(m); };
    detail::JournalReplay replay(*clients_.dynamodb_reads, options,
                                 detail::Decryption{&keys_, false});
    detail::ReplayCursor cursor;
    cursor.segment = first_segment;
    VisitingHandler handler(visitor);
    replay.replay(cursor, handler);
  }

  std::vector<Problem> verify(JournalVisitor& visitor) override {
    std::vector<Problem> problems;
    check_resources();
    try {
      DrainingHandler drain;
      detail::SnapshotLedger ledger;
      detail::S3SnapshotOptions snapshot = detail::s3_snapshot_options(options_);
      snapshot.decryption = verifying();
      (void)detail::read_s3_snapshot(*clients_.s3_reads, snapshot, ledger, drain);
    } catch (const aws::AwsError& e) {
      if (e.code() != "InvalidRange") throw;
      problems.push_back({object_name(), "an empty object, not a snapshot"});
    } catch (const DecryptionError& e) {
      problems.push_back({object_name(), e.what()});
    } catch (const StorageError& e) {
      if (dynamic_cast<const CorruptionError*>(&e) == nullptr &&
          dynamic_cast<const FormatVersionError*>(&e) == nullptr) {
        throw;
      }
      problems.push_back({object_name(), e.what()});
    }
    const std::vector<SegmentInfo> segments = this->segments();
    if (missing_below_) {
      problems.push_back({segment_name(*missing_below_),
                          "missing: it holds no item, not even its seal, but segment " +
                              std::to_string(*missing_below_ + 1) +
                              " is kept (prune keeps every seal). Restore it from a backup."});
    }
    for (const SegmentInfo& s : segments) verify_segment(s, visitor, problems);
    // Nothing may follow the tail: items there mean the tail's seal is lost.
    const std::uint64_t after = segments.back().id + 1;
    if (!read_items(after, 1).items.empty()) {
      problems.push_back({segment_name(segments.back().id),
                          "has no seal, but segment " + std::to_string(after) +
                              " holds items: its seal, or the whole segment, was deleted. "
                              "Restore it from a backup."});
    }
    return problems;
  }

 private:
  std::string object_name() const {
    return "s3://" + options_.bucket + "/" + options_.snapshot_path;
  }
  std::string segment_name(std::uint64_t id) const {
    return "table " + options_.table + ", partkey " + std::to_string(id);
  }

  // Once: a missing table or bucket is an error, not an empty journal.
  void check_resources() {
    if (checked_) return;
    try {
      clients_.dynamodb_reads->check_journal_table(options_.table);
    } catch (const aws::ResourceNotFoundError&) {
      throw StorageError("DynamoDB table " + options_.table + " does not exist in region " +
                         clients_.region + " at " + clients_.dynamodb_endpoint +
                         "; check --table, the region and the endpoint");
    }
    try {
      clients_.s3_reads->head_bucket(options_.bucket);
    } catch (const aws::ResourceNotFoundError&) {
      throw StorageError("S3 bucket " + options_.bucket + " does not exist (at " +
                         clients_.s3_endpoint + "); check --bucket and the endpoint");
    }
    checked_ = true;
  }

  SegmentInfo info(std::uint64_t id, const SegmentItems& s, SegmentEnd end) const {
    SegmentInfo i;
    i.id = id;
    i.location = segment_name(id);
    i.bytes = s.bytes;
    i.end = end;
    return i;
  }

  // The items of segment `id` (at most `items_max`, 0: all); sets
  // next_segment_ when its last item is a seal.
  SegmentItems read_items(std::uint64_t id, std::uint32_t items_max = 0) {
    SegmentItems s;
    std::optional<std::uint64_t> after;
    for (std::uint64_t page = 0; page < scan_pages_max; ++page) {
      aws::QueryPage p = clients_.dynamodb_reads->query_page(
          options_.table, id, after, items_max ? items_max : scan_page_items, true);
      for (auto& item : p.items) {
        s.bytes += item.content.size();
        s.items.push_back(std::move(item));
      }
      if (!p.last_evaluated_order || items_max) break;
      after = p.last_evaluated_order;
    }
    // A seal is the last item replay reads in a segment; later items (a
    // pipelined write that landed behind it) are never read.
    for (const auto& item : s.items) {
      try {
        // Only seals matter here: encrypted batches are not opened.
        const DecodedRecord r =
            detail::decode_record(item.content, "", detail::Decryption{nullptr, true});
        if (r.type == RecordType::seal) {
          s.sealed = true;
          next_segment_ = r.next_segment;
          s.only_a_seal = s.items.size() == 1;
          break;
        }
      } catch (const Error&) {
        // verify names it
      }
    }
    return s;
  }

  void verify_segment(const SegmentInfo& segment, JournalVisitor& visitor,
                      std::vector<Problem>& problems) {
    const std::uint64_t id = segment.id;
    const SegmentItems s = read_items(id);
    detail::FragmentAssembler fragments(options_.table,
                                        [&](const std::string& m) { visitor.warning(m); });
    std::uint64_t expected = 1;
    bool sealed = false;
    for (const aws::JournalItem& item : s.items) {
      const std::string where = detail::journal_item_name(options_.table, id, item.order);
      if (sealed) {
        visitor.warning(where +
                        " lies after the segment's seal: a write that landed after a "
                        "newer owner sealed the segment, never acknowledged");
        continue;
      }
      if (item.order != expected) {
        problems.push_back({detail::journal_item_name(options_.table, id, expected),
                            "missing: the orders of segment " + std::to_string(id) + " jump from " +
                                std::to_string(expected - 1) + " to " + std::to_string(item.order) +
                                " (a deleted item; recovery stops before it)"});
        expected = item.order;
      }
      ++expected;
      try {
        const DecodedRecord record = detail::decode_record(item.content, where, verifying(),
                                                           detail::RecordPosition{id, item.order});
        if (record.type == RecordType::seal) {
          fragments.drop_partial(id, "followed by a seal");
          if (record.next_segment != id + 1) {
            problems.push_back({where, "a seal sending replay to segment " +
                                           std::to_string(record.next_segment) + ", not " +
                                           std::to_string(id + 1)});
          }
          sealed = true;
        } else if (record.type == RecordType::fragment) {
          if (auto whole = fragments.add(id, item.order, record)) {
            check_entries(id, whole->first_order,
                          detail::decode_record(whole->record, where, verifying(),
                                                detail::RecordPosition{id, whole->first_order}),
                          where, visitor);
          }
        } else if (record.type == RecordType::batch) {
          fragments.drop_partial(id, "followed by another record");
          check_entries(id, item.order, record, where, visitor);
        } else {
          problems.push_back({where, "a record of a type the DynamoDB journal never holds"});
        }
      } catch (const Error& e) {
        problems.push_back({where, e.what()});
      }
    }
    fragments.drop_partial(id, "at the end of the segment");
  }

  // Without the key, verify checks what it can: structure (and the S3
  // snapshot's CRC), not the content (docs/encryption.md).
  detail::Decryption verifying() const { return detail::Decryption{&keys_, !keys_.has_provider()}; }

  static void check_entries(std::uint64_t segment, std::uint64_t order, const DecodedRecord& record,
                            const std::string& where, JournalVisitor& visitor) {
    if (record.type != RecordType::batch) {
      throw CorruptionError(where + ": fragments do not form a batch record");
    }
    for (std::uint32_t e = 0; e < record.entries.size(); ++e) {
      (void)detail::parse_entry(record.entries[e], where + ", entry " + std::to_string(e));
      visitor.entry(JournalPosition{segment, order, e}, record.entries[e]);
    }
  }

  AwsStorageOptions options_;
  detail::AwsClients clients_;
  detail::KeyRing keys_;
  bool checked_ = false;
  std::uint64_t next_segment_ = 0;
  std::optional<std::uint64_t> missing_below_;
};

class AwsJournalDestination : public JournalDestination {
 public:
  AwsJournalDestination(AwsStorageOptions options, std::shared_ptr<aws::HttpTransport> transport,
                        const detail::AwsStorageTestHooks& hooks)
      : options_(std::move(options)),
        clients_(detail::resolve_aws_clients(options_, std::move(transport), hooks)),
        compressor_(copy_compress_records_over_bytes, copy_record_compression_level,
                    "copy destination") {}

  std::string describe() const override {
    return "DynamoDB table " + options_.table + " and s3://" + options_.bucket + "/" +
           options_.snapshot_path;
  }

  void check_empty() override {
    try {
      clients_.dynamodb_reads->check_journal_table(options_.table);
    } catch (const aws::ResourceNotFoundError&) {
      throw StorageError("the destination DynamoDB table " + options_.table +
                         " does not exist; create it with `prevayler setup --table " +
                         options_.table + " --bucket " + options_.bucket + "`");
    }
    try {
      clients_.s3_reads->head_bucket(options_.bucket);
    } catch (const aws::ResourceNotFoundError&) {
      throw StorageError("the destination S3 bucket " + options_.bucket +
                         " does not exist; create it with `prevayler setup`");
    }
    bool snapshot = true;
    try {
      (void)clients_.s3_reads->head_object(options_.bucket, options_.snapshot_path);
    } catch (const aws::ResourceNotFoundError&) {
      snapshot = false;
    }
    bool items = false;
    for (std::uint64_t partkey : {0, 1}) {
      items = items ||
              !clients_.dynamodb_reads->query_page(options_.table, partkey, std::nullopt, 1, true)
                   .items.empty();
    }
    if (snapshot || items) {
      throw StorageError("the destination " + describe() + " is not empty (" +
                         (snapshot ? "the snapshot object exists" : "the table holds items") +
                         "); copy writes only into an empty table and key");
    }
  }

  void put_snapshot(std::uint64_t, std::string_view bytes) override {
    // One PutObject (up to 5 GB); a later snapshot of --all replaces it.
    (void)clients_.s3->put_object(options_.bucket, options_.snapshot_path, bytes);
  }

  void begin_segment(std::uint64_t id) override {
    segment_ = id;
    order_ = 1;
  }

  void add_record(std::uint64_t, const EntryBatch& entries) override {
    for (const std::string& item :
         detail::encode_journal_items(entries, writer_id_, &compressor_)) {
      put(item);
    }
  }

  void end_segment(bool last) override {
    if (last) return;
    std::string seal;
    detail::encode_seal_record(seal, writer_id_, segment_ + 1);
    put(seal);
  }

  void finish() override {}

 private:
  void put(std::string_view content) {
    const aws::PutIfAbsentResult result =
        clients_.dynamodb->put_item_if_absent(options_.table, segment_, order_, content);
    if (!result.stored() && !(result.existing_content && *result.existing_content == content)) {
      throw StorageError(detail::journal_item_name(options_.table, segment_, order_) +
                         " was written by someone else during the copy; is an instance "
                         "running "
                         "on the destination?");
    }
    ++order_;
  }

  AwsStorageOptions options_;
  detail::AwsClients clients_;
  detail::RecordCompressor compressor_;
  std::uint64_t writer_id_ = random_writer_id();
  std::uint64_t segment_ = 0;
  std::uint64_t order_ = 1;
};

class AwsJournalStore : public JournalStore {
 public:
  AwsJournalStore(AwsStorageOptions options, std::shared_ptr<aws::HttpTransport> transport,
                  detail::AwsStorageTestHooks hooks)
      : options_(std::move(options)), transport_(std::move(transport)), hooks_(std::move(hooks)) {}
  std::string describe() const override {
    return "DynamoDB table " + options_.table + " and s3://" + options_.bucket + "/" +
           options_.snapshot_path;
  }
  std::unique_ptr<JournalSource> source() override {
    return make_aws_journal_source(options_, transport_, hooks_);
  }
  std::unique_ptr<JournalDestination> destination() override {
    return make_aws_journal_destination(options_, transport_, hooks_);
  }
  // The storage keeps one snapshot: `keep_snapshots` has no meaning here.
  // The snapshot in S3 is the newest, so it is the restore point of its
  // month; the months before it would need the snapshots before it, which
  // this storage cannot date (one object; its versions are not listed):
  // kept, by deleting nothing.
  std::uint64_t prune(detail::RetentionPolicy policy) override {
    if (policy.keep_monthly_snapshots >= 2) return 0;
    return detail::prune_aws_journal(options_, transport_, hooks_);
  }

 private:
  AwsStorageOptions options_;
  std::shared_ptr<aws::HttpTransport> transport_;
  detail::AwsStorageTestHooks hooks_;
};

}  // namespace

std::unique_ptr<JournalSource> make_aws_journal_source(
    AwsStorageOptions options, std::shared_ptr<aws::HttpTransport> transport,
    const detail::AwsStorageTestHooks& hooks) {
  return std::make_unique<AwsJournalSource>(std::move(options), std::move(transport), hooks);
}

std::unique_ptr<JournalDestination> make_aws_journal_destination(
    AwsStorageOptions options, std::shared_ptr<aws::HttpTransport> transport,
    const detail::AwsStorageTestHooks& hooks) {
  return std::make_unique<AwsJournalDestination>(std::move(options), std::move(transport), hooks);
}

std::unique_ptr<JournalStore> make_aws_journal_store(AwsStorageOptions options,
                                                     std::shared_ptr<aws::HttpTransport> transport,
                                                     detail::AwsStorageTestHooks hooks) {
  return std::make_unique<AwsJournalStore>(std::move(options), std::move(transport),
                                           std::move(hooks));
}

}  // namespace prevayler::ops

namespace prevayler {

std::unique_ptr<Storage> make_aws_storage_as_of(const AwsStorageOptions& storage,
                                                const PointInTime& point) {
  // The table keeps the seals of pruned segments, so without the snapshot
  // object a read from segment 0 could skip pruned records: refused.
  return ops::make_point_in_time_storage(ops::make_aws_journal_source(storage), point,
                                         storage.common.warn, false);
}

void read_journal_entries(const AwsStorageOptions& storage, const JournalEntryCallback& callback) {
  auto source = ops::make_aws_journal_source(storage);
  ops::read_all_entries(*source, callback, storage.common.warn);
}

}  // namespace prevayler
