// The journal record: the unit a storage writes per group commit (a file
// record, a DynamoDB item's `content`). Shared by every backend so the
// bytes mean the same wherever they are stored. Layout in docs/format.md.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/encryption.hpp"
#include "core/formats.hpp"
#include "core/where.hpp"
#include "prevayler/storage.hpp"

namespace prevayler::detail {

// Version 1 defines types 1 to 4; version 2 adds type 5. A writer stamps a
// record with the lowest version that defines its type, so that a build
// older than compression stops at a compressed record with
// FormatVersionError and still reads every other record.
inline constexpr std::uint8_t record_format_version = 1;
inline constexpr std::uint8_t record_format_version_compressed = 2;
// Version 4 adds type 7 (version 3, type 6, is the file storage's:
// file/start_record.hpp).
inline constexpr std::uint8_t record_format_version_encrypted = 4;

enum class RecordType : std::uint8_t {
  batch = 1,          // one group commit: one or more entries
  fragment = 2,       // a slice of a batch record too large for one item
  seal = 3,           // closes a segment: the journal continues in `next_segment`
  segment_start = 4,  // file storage: opens a segment; the previous one ends at `previous_end`
  // Never a DecodedRecord's type: a batch whose body is one zstd frame,
  // decoded as a `batch`.
  compressed_batch = 5,
  // Never a DecodedRecord's type: a batch or compressed batch sealed with
  // AES-256-GCM (core/record_cipher.hpp), decoded as a `batch`.
  encrypted_batch = 7,
};

// Bytes of every record before its body: version (1) and type (1), which
// say what the record is, then the writer id (8).
inline constexpr std::size_t record_kind_bytes = 2;
inline constexpr std::size_t writer_id_bytes = 8;
inline constexpr std::size_t record_head_bytes = record_kind_bytes + writer_id_bytes;

// The largest body a compressed batch may decompress to: the batch record
// it stands for must fit a record.
inline constexpr std::size_t compressed_body_bytes_max =
    record_payload_bytes_max - record_head_bytes;

// Move-only: a decompressed batch's entries point into `owned`, a heap
// buffer that a move leaves in place.
struct DecodedRecord {
  RecordType type = RecordType::batch;
  std::uint64_t writer_id = 0;
  // batch: views into the payload, or into `owned` when `compressed`.
  std::vector<std::string_view> entries;
  bool compressed = false;        // batch: stored as a compressed_batch record
  std::unique_ptr<char[]> owned;  // compressed batch: the decompressed body
  bool encrypted = false;         // batch: stored as an encrypted_batch record
  // encrypted batch: the decrypted record, which the entries (or `owned`)
  // come from; null when only its structure was checked (no entries).
  std::unique_ptr<char[]> decrypted;
  std::uint32_t fragment_index = 0;  // fragment: 0-based
  std::uint32_t fragment_count = 0;  // fragment: > 1
  std::string_view fragment_bytes;   // fragment: a slice of the batch record
  std::uint64_t next_segment = 0;    // seal
  std::uint64_t previous_end = 0;    // segment_start: byte offset
};

// Bytes of a fragment record besides its slice: the head, then the
// fragment's index (4) and the count of fragments (4), at least two.
inline constexpr std::size_t fragment_index_bytes = 4;
inline constexpr std::size_t fragment_count_bytes = 4;
inline constexpr std::size_t fragment_header_bytes =
    record_head_bytes + fragment_index_bytes + fragment_count_bytes;
inline constexpr std::uint32_t fragment_count_min = 2;
// The body of a seal (next segment) and of a segment start (previous end).
inline constexpr std::size_t seal_body_bytes = 8;
inline constexpr std::size_t segment_start_body_bytes = 8;

// Appends a fragment record: slice `index` of `count` of a batch record.
void encode_fragment_record(std::string& out, std::uint64_t writer_id, std::uint32_t index,
                            std::uint32_t count, std::string_view slice);

// Appends a segment-start record.
void encode_segment_start_record(std::string& out, std::uint64_t writer_id,
                                 std::uint64_t previous_end);

// Appends a seal record.
void encode_seal_record(std::string& out, std::uint64_t writer_id, std::uint64_t next_segment);

// Compresses large batch records (type 5) for a storage. Thread-safe: the
// calls share one zstd context and take turns.
class RecordCompressor {
 public:
  // `threshold_bytes`: compress a batch whose body (entry count and
  // entries) has at least this many bytes; 0 never compresses. Throws
  // ConfigError, prefixed with `owner`, when `level` is outside
  // zstd_level_min..zstd_level_max.
  RecordCompressor(std::size_t threshold_bytes, int level, const std::string& owner);
  ~RecordCompressor();
  RecordCompressor(const RecordCompressor&) = delete;
  RecordCompressor& operator=(const RecordCompressor&) = delete;

  bool enabled() const noexcept { return threshold_bytes() != 0; }
  std::size_t threshold_bytes() const noexcept { return threshold_bytes_.load(); }
  // A new threshold for the records compressed from now on (the DynamoDB
  // storage lowers it while throttled: ThrottleBatchingPolicy); 0 never
  // compresses.
  void set_threshold_bytes(std::size_t threshold_bytes) noexcept {
    threshold_bytes_.store(threshold_bytes);
  }

  // Rewrites the batch record that starts at out[start] and runs to the end
  // of `out` as a compressed batch record, when its body reaches the
  // threshold and zstd makes the record smaller. True when it did.
  bool compress(std::string& out, std::size_t start);

  // The same for the batch record of entries [first, first + count) of
  // `batch`, read where they are: `out` ends with that record's head (kind
  // and writer id, from out[start]), and gets the compressed body after it,
  // with no copy of the uncompressed body and no zeroed room for the frame.
  // False (out unchanged) when it does not compress, as compress().
  bool compress_entries(std::string& out, std::size_t start, const EntryBatch& batch,
                        std::size_t first, std::size_t count);

 private:
  bool ready_locked();
  struct Context;
  std::atomic<std::size_t> threshold_bytes_;
  int level_;
  std::mutex mutex_;
  std::unique_ptr<Context> context_;
};

// Appends the record of entries [first, first + count) of `batch`: a
// compressed batch when `compressor` is set and decides so, else a batch.
void encode_batch_record(std::string& out, std::uint64_t writer_id, const EntryBatch& batch,
                         std::size_t first, std::size_t count,
                         RecordCompressor* compressor = nullptr);

// Entries of at least this many bytes stay where they are in a gathered
// record (encode_gathered_batch_record): a smaller one costs less to copy
// than a piece of a gather write does.
inline constexpr std::size_t gathered_entry_bytes_min = std::size_t{64} << 10;

// The record encode_batch_record appends for all of `batch`, as pieces for
// a gather write: `out` gets its bytes except those of entries of at least
// gathered_entry_bytes_min, and `pieces` the whole record in order, views
// into `out` (from its size at the call) and into `batch`. A compressed
// record is one piece. REQUIRES: `out` is not changed and `batch` lives
// while the pieces are used.
void encode_gathered_batch_record(std::string& out, std::vector<std::string_view>& pieces,
                                  std::uint64_t writer_id, const EntryBatch& batch,
                                  RecordCompressor* compressor);

// Where a record is stored, bound into an encrypted record's authenticated
// data so that it cannot be moved: the segment, and the byte offset of its
// frame (file) or the order of its (first) item (DynamoDB).
struct RecordPosition {
  std::uint64_t segment = 0;
  std::uint64_t position = 0;
};

// Decodes a record; throws CorruptionError / FormatVersionError whose
// message starts with `where` (the file and offset, or table and key). A
// compressed batch decodes as a batch, its entries in the result's `owned`;
// otherwise the views point into `payload`, which must outlive them. An
// encrypted batch decodes as a batch too, decrypted with
// `decryption.keys` at `position` (DecryptionError naming `where` and the
// key id when it cannot be), or, check_only, with its structure checked
// and no entries.
DecodedRecord decode_record(std::string_view payload, const Where& where,
                            const Decryption& decryption = {}, RecordPosition position = {});

}  // namespace prevayler::detail
