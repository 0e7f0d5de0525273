#include "core/record_codec.hpp"

#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "core/assert.hpp"
#include "core/bytes.hpp"
#include "core/record_cipher.hpp"
#include "core/zstd_stream.hpp"
#include "prevayler/error.hpp"

namespace prevayler::detail {
namespace {

// Decompression starts with a buffer of this many times the frame's size
// (at least decompress_start_bytes_min) and doubles it up to the declared
// length, so a frame that lies about its length costs memory in proportion
// to what it really decodes to.
constexpr std::size_t decompress_start_ratio = 8;
constexpr std::size_t decompress_start_bytes_min = std::size_t{64} << 10;

CorruptionError malformed(const Where& where, const std::string& what) {
  return CorruptionError(where.text() + ": journal record is malformed (" + what + ")");
}

// One decompression context per thread: recovery decodes records one after
// the other, and a context costs more to create than a small record to decode.
ZSTD_DCtx* thread_dctx() {
  struct Holder {
    ZSTD_DCtx* dctx = ZSTD_createDCtx();
    ~Holder() { ZSTD_freeDCtx(dctx); }
  };
  thread_local Holder holder;
  if (!holder.dctx) throw std::bad_alloc();
  ZSTD_DCtx_reset(holder.dctx, ZSTD_reset_session_only);
  return holder.dctx;
}

// Reads the declared length at the front of a compressed batch's body
// (advancing `in` past it) and checks it against the zstd frame that must
// fill the rest exactly. Returns the length.
std::size_t check_compressed_body(std::string_view& in, const Where& where) {
  const auto declared = get_varint(in);
  if (!declared || *declared == 0) throw malformed(where, "bad uncompressed length");
  if (*declared > compressed_body_bytes_max) {
    throw malformed(where, "uncompressed length " + std::to_string(*declared) +
                               " beyond the limit of " + std::to_string(compressed_body_bytes_max) +
                               " bytes");
  }
  const unsigned long long content = ZSTD_getFrameContentSize(in.data(), in.size());
  if (content == ZSTD_CONTENTSIZE_ERROR) throw malformed(where, "not a zstd frame");
  if (content == ZSTD_CONTENTSIZE_UNKNOWN) {
    throw malformed(where, "zstd frame without its content size");
  }
  if (content != *declared) {
    throw malformed(where, "zstd frame of " + std::to_string(content) +
                               " bytes, but the uncompressed length says " +
                               std::to_string(*declared));
  }
  const std::size_t frame_bytes = ZSTD_findFrameCompressedSize(in.data(), in.size());
  if (ZSTD_isError(frame_bytes)) {
    throw malformed(where, std::string("zstd frame: ") + ZSTD_getErrorName(frame_bytes));
  }
  if (frame_bytes != in.size()) throw malformed(where, "bytes after the zstd frame");
  return static_cast<std::size_t>(*declared);
}

// Decompresses the body of a compressed batch (after the writer id) into
// record.owned and returns it.
std::string_view decompress_body(std::string_view in, DecodedRecord& record, const Where& where) {
  const std::size_t length = check_compressed_body(in, where);
  std::size_t capacity =
      std::min(length, std::max(in.size() * decompress_start_ratio, decompress_start_bytes_min));
  std::unique_ptr<char[]> buffer(new char[capacity]);
  ZSTD_DCtx* dctx = thread_dctx();
  ZSTD_inBuffer source{in.data(), in.size(), 0};
  std::size_t produced = 0;
  // Every round but the last consumes input or produces output, or throws.
  const std::size_t rounds_max = in.size() + length + 1;
  for (std::size_t round = 0;; ++round) {
    PREVAYLER_ASSERT(round <= rounds_max);
    if (produced == capacity && capacity < length) {
      // Doubles, but never past the declared length.
      const std::size_t grown = capacity > length / 2 ? length : capacity * 2;
      std::unique_ptr<char[]> bigger(new char[grown]);
      std::memcpy(bigger.get(), buffer.get(), produced);
      buffer = std::move(bigger);
      capacity = grown;
    }
    ZSTD_outBuffer sink{buffer.get(), capacity, produced};
    const std::size_t consumed = source.pos;
    const std::size_t hint = ZSTD_decompressStream(dctx, &sink, &source);
    if (ZSTD_isError(hint)) {
      throw malformed(where, std::string("zstd frame: ") + ZSTD_getErrorName(hint));
    }
    const bool progress = sink.pos != produced || source.pos != consumed;
    produced = sink.pos;
    if (hint == 0) break;
    if (!progress) {
      throw malformed(where, produced == length ? "zstd frame longer than its content size"
                                                : "truncated zstd frame");
    }
  }
  if (source.pos != source.size) throw malformed(where, "bytes after the zstd frame");
  if (produced != length) {
    throw malformed(where, "zstd frame decodes to " + std::to_string(produced) +
                               " bytes, not the declared " + std::to_string(length));
  }
  record.owned = std::move(buffer);
  return std::string_view(record.owned.get(), produced);
}

// The body of a batch record: entry count, then length and bytes per entry.
void decode_batch_body(std::string_view payload, DecodedRecord& record, const Where& where) {
  const auto count = get_varint(payload);
  if (!count || *count > payload.size()) throw malformed(where, "bad entry count");
  record.entries.reserve(*count);
  for (std::uint64_t i = 0; i < *count; ++i) {
    const auto size = get_varint(payload);
    if (!size || *size > payload.size()) throw malformed(where, "entry length beyond the record");
    record.entries.push_back(payload.substr(0, *size));
    payload.remove_prefix(*size);
  }
  if (!payload.empty()) throw malformed(where, "bytes after the last entry");
}

}  // namespace

struct RecordCompressor::Context {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ~Context() { ZSTD_freeCCtx(cctx); }
};

RecordCompressor::RecordCompressor(std::size_t threshold_bytes, int level, const std::string& owner)
    : threshold_bytes_(threshold_bytes), level_(level) {
  check_zstd_level(level, "journal_compression_level", owner);
}

RecordCompressor::~RecordCompressor() = default;

bool RecordCompressor::ready_locked() {
  if (!context_) {
    // Created on first use: a storage whose records stay small never pays.
    auto context = std::make_unique<Context>();
    if (!context->cctx ||
        ZSTD_isError(ZSTD_CCtx_setParameter(context->cctx, ZSTD_c_compressionLevel, level_)) ||
        // zstd's checksum of the uncompressed body catches a compressor or
        // decoder fault, which the storage's CRC of the stored bytes cannot.
        ZSTD_isError(ZSTD_CCtx_setParameter(context->cctx, ZSTD_c_checksumFlag, 1))) {
      return false;
    }
    context_ = std::move(context);
  }
  return true;
}

bool RecordCompressor::compress(std::string& out, std::size_t start) {
  const std::size_t body_begin = start + record_head_bytes;
  const std::size_t end = out.size();
  const std::size_t body_bytes = end - body_begin;
  const std::size_t threshold_bytes = threshold_bytes_.load();
  if (threshold_bytes == 0 || body_bytes < threshold_bytes ||
      body_bytes > compressed_body_bytes_max) {
    return false;
  }
  std::lock_guard lock(mutex_);
  if (!ready_locked()) return false;
  // The new body (length, frame) goes after the old one, then moves down.
  put_varint(out, body_bytes);
  const std::size_t frame_begin = out.size();
  const std::size_t length_bytes = frame_begin - end;
  if (body_bytes <= length_bytes + 1) {
    out.resize(end);
    return false;
  }
  // Room for a strictly smaller body only: a frame that does not fit makes
  // zstd fail with dstSize_tooSmall.
  const std::size_t frame_bytes_max = body_bytes - length_bytes - 1;
  out.resize(frame_begin + frame_bytes_max);
  const std::size_t frame_bytes =
      ZSTD_compress2(context_->cctx, out.data() + frame_begin, frame_bytes_max,
                     out.data() + body_begin, body_bytes);
  if (ZSTD_isError(frame_bytes)) {
    // Incompressible (dstSize_tooSmall), or zstd ran out of memory: the
    // batch record written as it is is just as valid.
    out.resize(end);
    return false;
  }
  const std::size_t new_body_bytes = length_bytes + frame_bytes;
  std::memmove(out.data() + body_begin, out.data() + end, new_body_bytes);
  out.resize(body_begin + new_body_bytes);
  out[start] = static_cast<char>(record_format_version_compressed);
  out[start + 1] = static_cast<char>(RecordType::compressed_batch);
  return true;
}

namespace {

std::size_t varint_bytes(std::uint64_t v) {
  std::size_t bytes = 1;
  for (; v >= 0x80; v >>= 7) ++bytes;  // at most 10 passes
  return bytes;
}

// The bytes of a batch record's body (entry count, then length and bytes
// per entry) for entries [first, first + count) of `batch`.
std::size_t batch_body_bytes(const EntryBatch& batch, std::size_t first, std::size_t count) {
  std::size_t bytes = varint_bytes(count);
  for (std::size_t i = first; i < first + count; ++i) {
    bytes += varint_bytes(batch[i].size()) + batch[i].size();
  }
  return bytes;
}

// Small pieces of the body (varints, small entries) are gathered into a
// buffer of about this size before zstd reads them: one call per entry of
// a thousands-of-events batch would cost more than the copy.
constexpr std::size_t compress_input_bytes_min = std::size_t{64} << 10;
// The compressed frame's room starts at this size and doubles as zstd
// fills it, up to the body's size: a well-compressing batch of 64 MiB never
// gets (nor zeroes) 64 MiB of room.
constexpr std::size_t compress_output_bytes_min = std::size_t{64} << 10;
// A body is given up as incompressible (stored as it is) when, once zstd
// has read this much of it, what zstd wrote is still at least
// incompressible_output_percent of what it read, allowing for the one block
// zstd may hold back. Why: random or already compressed events of 1 MiB
// fill 16 MiB group commits that zstd would otherwise read to the end only
// to store them as they are (bench/journal_bench.cpp --event-content
// random: 64 producers +15 to +56%). A body whose start does not compress
// but whose rest would is stored as it is: valid, only larger (in effect,
// the first 384 KiB decide, as zstd may hold one block of 128 KiB back).
constexpr std::size_t incompressible_probe_bytes = std::size_t{512} << 10;
constexpr std::size_t incompressible_output_percent = 97;
constexpr std::size_t zstd_held_back_bytes_max = ZSTD_BLOCKSIZE_MAX;
static_assert(incompressible_probe_bytes > zstd_held_back_bytes_max);

}  // namespace

bool RecordCompressor::compress_entries(std::string& out, std::size_t start,
                                        const EntryBatch& batch, std::size_t first,
                                        std::size_t count) {
  PREVAYLER_ASSERT(out.size() == start + record_head_bytes);
  const std::size_t threshold_bytes = threshold_bytes_.load();
  if (threshold_bytes == 0) return false;
  const std::size_t body_bytes = batch_body_bytes(batch, first, count);
  if (body_bytes < threshold_bytes || body_bytes > compressed_body_bytes_max) return false;
  const std::size_t end = out.size();
  const std::size_t length_bytes = varint_bytes(body_bytes);
  if (body_bytes <= length_bytes + 1) return false;
  // A strictly smaller body only, as compress().
  const std::size_t frame_bytes_max = body_bytes - length_bytes - 1;
  std::lock_guard lock(mutex_);
  if (!ready_locked()) return false;
  ZSTD_CCtx* cctx = context_->cctx;
  // The frame states its content size, as ZSTD_compress2's does.
  if (ZSTD_isError(ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only)) ||
      ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(cctx, body_bytes))) {
    return false;
  }
  put_varint(out, body_bytes);
  const std::size_t frame_begin = out.size();
  out.resize(frame_begin + std::min(frame_bytes_max, compress_output_bytes_min));
  ZSTD_outBuffer sink{out.data() + frame_begin, out.size() - frame_begin, 0};
  std::size_t read_bytes = 0;  // of the body, by zstd, before this feed
  // Feeds `bytes` to zstd (ending the frame with `directive` ZSTD_e_end);
  // false when the frame outgrows frame_bytes_max, the body proves
  // incompressible, or zstd fails.
  auto feed = [&](std::string_view bytes, ZSTD_EndDirective directive) {
    ZSTD_inBuffer source{bytes.data(), bytes.size(), 0};
    struct Read {
      std::size_t& total;
      const ZSTD_inBuffer& source;
      ~Read() { total += source.pos; }
    } count_read{read_bytes, source};
    // Each pass consumes input, writes output, or grows the room (at most
    // log2(frame_bytes_max) times): bounded by the bytes in and out.
    for (;;) {
      if (sink.pos == sink.size) {
        if (sink.size == frame_bytes_max) return false;  // not smaller: store it as it is
        const std::size_t room = std::min(frame_bytes_max, sink.size * 2);
        out.resize(frame_begin + room);
        sink.dst = out.data() + frame_begin;
        sink.size = room;
      }
      const std::size_t left = ZSTD_compressStream2(cctx, &sink, &source, directive);
      if (ZSTD_isError(left)) return false;
      const std::size_t read = read_bytes + source.pos;
      if (read >= incompressible_probe_bytes &&
          sink.pos * 100 >= (read - zstd_held_back_bytes_max) * incompressible_output_percent) {
        return false;
      }
      const bool finished = directive == ZSTD_e_end ? left == 0 : source.pos == source.size;
      if (finished) return true;
    }
  };
  std::string small;
  small.reserve(compress_input_bytes_min + varint_bytes(~std::uint64_t{0}));
  put_varint(small, count);
  bool fits = true;
  for (std::size_t i = first; fits && i < first + count; ++i) {
    const std::string_view entry = batch[i];
    put_varint(small, entry.size());
    if (entry.size() < compress_input_bytes_min) {
      small.append(entry);
      if (small.size() >= compress_input_bytes_min) {
        fits = feed(small, ZSTD_e_continue);
        small.clear();
      }
    } else {
      fits = feed(small, ZSTD_e_continue) && feed(entry, ZSTD_e_continue);
      small.clear();
    }
  }
  if (fits) fits = feed(small, ZSTD_e_end);
  if (!fits) {
    // Incompressible, or zstd ran out of memory: the batch record written
    // as it is is just as valid.
    out.resize(end);
    return false;
  }
  out.resize(frame_begin + sink.pos);
  out[start] = static_cast<char>(record_format_version_compressed);
  out[start + 1] = static_cast<char>(RecordType::compressed_batch);
  return true;
}

namespace {

void put_batch_head(std::string& out, std::uint64_t writer_id) {
  out.push_back(static_cast<char>(record_format_version));
  out.push_back(static_cast<char>(RecordType::batch));
  put_u64(out, writer_id);
}

}  // namespace

void encode_batch_record(std::string& out, std::uint64_t writer_id, const EntryBatch& batch,
                         std::size_t first, std::size_t count, RecordCompressor* compressor) {
  const std::size_t start = out.size();
  put_batch_head(out, writer_id);
  if (compressor && compressor->compress_entries(out, start, batch, first, count)) return;
  put_varint(out, count);
  for (std::size_t i = first; i < first + count; ++i) {
    const std::string_view entry = batch[i];
    put_varint(out, entry.size());
    out.append(entry);
  }
}

void encode_gathered_batch_record(std::string& out, std::vector<std::string_view>& pieces,
                                  std::uint64_t writer_id, const EntryBatch& batch,
                                  RecordCompressor* compressor) {
  const std::size_t start = out.size();
  pieces.clear();
  put_batch_head(out, writer_id);
  if (compressor && compressor->compress_entries(out, start, batch, 0, batch.size())) {
    pieces.emplace_back(out.data() + start, out.size() - start);
    return;
  }
  put_varint(out, batch.size());
  // Where each copied run of `out` ends, before the large entry i: the
  // views are taken once `out` stops growing.
  std::vector<std::pair<std::size_t, std::size_t>> runs;  // (end in out, entry)
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const std::string_view entry = batch[i];
    put_varint(out, entry.size());
    if (entry.size() >= gathered_entry_bytes_min) {
      runs.emplace_back(out.size(), i);
    } else {
      out.append(entry);
    }
  }
  std::size_t copied = start;
  for (const auto& [run_end, entry] : runs) {
    pieces.emplace_back(out.data() + copied, run_end - copied);
    pieces.push_back(batch[entry]);
    copied = run_end;
  }
  pieces.emplace_back(out.data() + copied, out.size() - copied);
}

void encode_fragment_record(std::string& out, std::uint64_t writer_id, std::uint32_t index,
                            std::uint32_t count, std::string_view slice) {
  out.push_back(static_cast<char>(record_format_version));
  out.push_back(static_cast<char>(RecordType::fragment));
  put_u64(out, writer_id);
  put_u32(out, index);
  put_u32(out, count);
  out.append(slice);
}

void encode_segment_start_record(std::string& out, std::uint64_t writer_id,
                                 std::uint64_t previous_end) {
  out.push_back(static_cast<char>(record_format_version));
  out.push_back(static_cast<char>(RecordType::segment_start));
  put_u64(out, writer_id);
  put_u64(out, previous_end);
}

void encode_seal_record(std::string& out, std::uint64_t writer_id, std::uint64_t next_segment) {
  out.push_back(static_cast<char>(record_format_version));
  out.push_back(static_cast<char>(RecordType::seal));
  put_u64(out, writer_id);
  put_u64(out, next_segment);
}

namespace {

// An encrypted batch: decrypted, then decoded as the batch or compressed
// batch it seals (never another encrypted one).
DecodedRecord decode_encrypted(std::string_view payload, const Where& where,
                               const Decryption& decryption, RecordPosition position) {
  // Decrypting costs far more than naming the record: named up front.
  const std::string named = where.text();
  const SealedRecord sealed = parse_sealed_record(payload, named);
  if (decryption.check_only) {
    DecodedRecord record;
    record.writer_id = get_u64(payload.data() + record_kind_bytes);
    record.encrypted = true;
    return record;
  }
  std::size_t size = 0;
  std::unique_ptr<char[]> plain =
      open_sealed_record(sealed, decryption.keys, position, named, size);
  const std::string_view inner(plain.get(), size);
  const auto type = static_cast<unsigned char>(inner[1]);
  if (type != static_cast<unsigned char>(RecordType::batch) &&
      type != static_cast<unsigned char>(RecordType::compressed_batch)) {
    throw malformed(where, "an encrypted record seals a record that is not a batch");
  }
  DecodedRecord record = decode_record(inner, named);
  if (record.writer_id != get_u64(payload.data() + record_kind_bytes)) {
    throw malformed(where, "an encrypted record's writer id differs from its sealed record's");
  }
  record.encrypted = true;
  record.decrypted = std::move(plain);
  return record;
}

}  // namespace

DecodedRecord decode_record(std::string_view payload, const Where& where,
                            const Decryption& decryption, RecordPosition position) {
  auto corrupt = [&](const char* what) { return malformed(where, what); };
  if (payload.size() < record_kind_bytes) throw corrupt("shorter than its header");
  const auto version = static_cast<unsigned char>(payload[0]);
  if (version != record_format_version && version != record_format_version_compressed &&
      version != record_format_version_encrypted) {
    throw FormatVersionError(
        where.text() + ": journal record has format version " + std::to_string(version) +
        ", this build reads versions " + std::to_string(record_format_version) + ", " +
        std::to_string(record_format_version_compressed) + " and " +
        std::to_string(record_format_version_encrypted) + "; open it with a newer prevayler-cpp");
  }
  const auto type = static_cast<unsigned char>(payload[1]);
  if ((version == record_format_version_encrypted) !=
      (type == static_cast<unsigned char>(RecordType::encrypted_batch))) {
    throw corrupt("record format version 4 is for encrypted batches only, and they are version 4");
  }
  if (version == record_format_version_encrypted) {
    return decode_encrypted(payload, where, decryption, position);
  }
  DecodedRecord record;
  payload.remove_prefix(record_kind_bytes);
  if (payload.size() < writer_id_bytes) throw corrupt("truncated writer id");
  record.writer_id = get_u64(payload.data());
  payload.remove_prefix(writer_id_bytes);
  if (type == static_cast<unsigned char>(RecordType::fragment)) {
    constexpr std::size_t fields_bytes = fragment_index_bytes + fragment_count_bytes;
    if (payload.size() < fields_bytes) throw corrupt("truncated fragment header");
    record.type = RecordType::fragment;
    record.fragment_index = get_u32(payload.data());
    record.fragment_count = get_u32(payload.data() + fragment_index_bytes);
    if (record.fragment_count < fragment_count_min ||
        record.fragment_index >= record.fragment_count) {
      throw corrupt("fragment index out of range");
    }
    record.fragment_bytes = payload.substr(fields_bytes);
    return record;
  }
  if (type == static_cast<unsigned char>(RecordType::seal)) {
    if (payload.size() != seal_body_bytes) throw corrupt("seal of the wrong size");
    record.type = RecordType::seal;
    record.next_segment = get_u64(payload.data());
    return record;
  }
  if (type == static_cast<unsigned char>(RecordType::segment_start)) {
    if (payload.size() != segment_start_body_bytes) {
      throw corrupt("segment start of the wrong size");
    }
    record.type = RecordType::segment_start;
    record.previous_end = get_u64(payload.data());
    return record;
  }
  if (type == static_cast<unsigned char>(RecordType::compressed_batch)) {
    if (version < record_format_version_compressed) {
      throw corrupt("compressed batch in a record of format version 1");
    }
    record.compressed = true;
    decode_batch_body(decompress_body(payload, record, where), record, where);
    return record;
  }
  if (type != static_cast<unsigned char>(RecordType::batch)) throw corrupt("unknown record type");
  decode_batch_body(payload, record, where);
  return record;
}

}  // namespace prevayler::detail
