#include "core/zstd_stream.hpp"

#include <zstd.h>

#include <algorithm>
#include <cstring>

#include "prevayler/error.hpp"

namespace prevayler::detail {
namespace {

// Buffer sizes: large enough that zstd works on whole blocks (128 KiB) and
// the sink or source sees few calls, small next to any snapshot worth
// compressing.
constexpr std::size_t compress_in_bytes = std::size_t{256} << 10;
constexpr std::size_t decompress_in_bytes = std::size_t{256} << 10;
constexpr std::size_t decompress_out_bytes = std::size_t{256} << 10;

}  // namespace

void check_zstd_level(int level, const std::string& option, const std::string& owner) {
  if (level < zstd_level_min || level > zstd_level_max) {
    throw ConfigError(owner + ": " + option + " " + std::to_string(level) +
                      " is outside zstd's levels " + std::to_string(zstd_level_min) + " to " +
                      std::to_string(zstd_level_max));
  }
}

struct ZstdCompressBuffer::Context {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ~Context() { ZSTD_freeCCtx(cctx); }
};

struct ZstdDecompressBuffer::Context {
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  ~Context() { ZSTD_freeDCtx(dctx); }
};

ZstdCompressBuffer::ZstdCompressBuffer(std::streambuf& sink, int level, std::string resource)
    : sink_(sink), resource_(std::move(resource)), context_(std::make_unique<Context>()) {
  if (!context_->cctx)
    throw CodecError(resource_ + ": cannot create a zstd context (out of memory)");
  const std::size_t set_level = ZSTD_CCtx_setParameter(
      context_->cctx, ZSTD_c_compressionLevel, std::clamp(level, zstd_level_min, zstd_level_max));
  // zstd's own checksum of the uncompressed bytes: the snapshot's CRC covers
  // the stored bytes, this one also catches a compressor or decoder fault.
  const std::size_t set_checksum = ZSTD_CCtx_setParameter(context_->cctx, ZSTD_c_checksumFlag, 1);
  if (ZSTD_isError(set_level) || ZSTD_isError(set_checksum)) {
    throw CodecError(resource_ + ": cannot configure zstd compression at level " +
                     std::to_string(level));
  }
  in_.resize(compress_in_bytes);
  out_.resize(ZSTD_CStreamOutSize());
  setp(in_.data(), in_.data() + in_.size());
}

ZstdCompressBuffer::~ZstdCompressBuffer() = default;

bool ZstdCompressBuffer::compress(const char* data, std::size_t size, int mode) {
  const auto directive = static_cast<ZSTD_EndDirective>(mode);
  ZSTD_inBuffer in{data, size, 0};
  // Bounded: a round that neither consumes input nor produces output throws.
  for (;;) {
    ZSTD_outBuffer out{out_.data(), out_.size(), 0};
    const std::size_t consumed = in.pos;
    const std::size_t remaining = ZSTD_compressStream2(context_->cctx, &out, &in, directive);
    if (ZSTD_isError(remaining)) {
      throw CodecError(resource_ + ": zstd compression failed: " + ZSTD_getErrorName(remaining));
    }
    if (out.pos > 0) {
      const auto n = static_cast<std::streamsize>(out.pos);
      if (sink_.sputn(out_.data(), n) != n) {
        sink_failed_ = true;
        return false;
      }
      bytes_out_ += out.pos;
    }
    const bool done =
        directive == ZSTD_e_continue ? in.pos == in.size : remaining == 0 && in.pos == in.size;
    if (done) return true;
    if (out.pos == 0 && in.pos == consumed) {
      throw CodecError(resource_ + ": zstd compression made no progress");
    }
  }
}

bool ZstdCompressBuffer::drain_put_area() {
  if (sink_failed_ || finished_) return false;
  const std::size_t n = static_cast<std::size_t>(pptr() - pbase());
  setp(in_.data(), in_.data() + in_.size());
  if (n == 0) return true;
  bytes_in_ += n;
  return compress(in_.data(), n, ZSTD_e_continue);
}

ZstdCompressBuffer::int_type ZstdCompressBuffer::overflow(int_type ch) {
  if (!drain_put_area()) return traits_type::eof();
  if (ch != traits_type::eof()) {
    *pptr() = static_cast<char>(ch);
    pbump(1);
  }
  return traits_type::not_eof(ch);
}

std::streamsize ZstdCompressBuffer::xsputn(const char* s, std::streamsize n) {
  if (n <= 0) return 0;
  const auto size = static_cast<std::size_t>(n);
  const auto room = static_cast<std::size_t>(epptr() - pptr());
  if (size <= room) {
    std::memcpy(pptr(), s, size);
    pbump(static_cast<int>(size));
    return n;
  }
  if (!drain_put_area()) return 0;
  if (size < in_.size()) {
    std::memcpy(pptr(), s, size);
    pbump(static_cast<int>(size));
    return n;
  }
  // A large write (a long string) goes to zstd without a copy.
  bytes_in_ += size;
  return compress(s, size, ZSTD_e_continue) ? n : 0;
}

int ZstdCompressBuffer::sync() {
  // Not ZSTD_e_flush: a flush would end a block early and cost ratio; the
  // frame is complete only at finish() anyway.
  return drain_put_area() ? 0 : -1;
}

bool ZstdCompressBuffer::finish() {
  if (finished_) return !sink_failed_;
  if (!drain_put_area()) return false;
  finished_ = true;
  return compress(nullptr, 0, ZSTD_e_end);
}

ZstdDecompressBuffer::ZstdDecompressBuffer(std::streambuf& source, std::string resource)
    : source_(source), resource_(std::move(resource)), context_(std::make_unique<Context>()) {
  if (!context_->dctx) {
    throw CodecError(resource_ + ": cannot create a zstd context (out of memory)");
  }
  in_.resize(decompress_in_bytes);
  out_.resize(decompress_out_bytes);
  setg(out_.data(), out_.data(), out_.data());
}

ZstdDecompressBuffer::~ZstdDecompressBuffer() = default;

bool ZstdDecompressBuffer::refill() {
  const std::streamsize n = source_.sgetn(in_.data(), static_cast<std::streamsize>(in_.size()));
  in_pos_ = 0;
  in_end_ = n > 0 ? static_cast<std::size_t>(n) : 0;
  return in_end_ > 0;
}

ZstdDecompressBuffer::int_type ZstdDecompressBuffer::underflow() {
  if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
  // Bounded: a round returns, throws, or has zstd consume input (it does
  // when given input and ZSTD_DStreamOutSize() of room), and the source ends.
  for (;;) {
    if (frame_done_) {
      if (in_pos_ < in_end_ || refill()) {
        throw CorruptionError(resource_ +
                              ": compressed snapshot body has bytes after the end of its zstd "
                              "frame; restore it from a backup");
      }
      return traits_type::eof();
    }
    const bool at_end = in_pos_ == in_end_ && !refill();
    ZSTD_inBuffer in{in_.data(), in_end_, in_pos_};
    ZSTD_outBuffer out{out_.data(), out_.size(), 0};
    const std::size_t result = ZSTD_decompressStream(context_->dctx, &out, &in);
    if (ZSTD_isError(result)) {
      throw CorruptionError(resource_ + ": compressed snapshot body is damaged (zstd: " +
                            ZSTD_getErrorName(result) + "); restore it from a backup");
    }
    in_pos_ = in.pos;
    if (result == 0) frame_done_ = true;
    if (out.pos > 0) {
      setg(out_.data(), out_.data(), out_.data() + out.pos);
      return traits_type::to_int_type(out_[0]);
    }
    if (at_end && !frame_done_) {
      throw CorruptionError(resource_ +
                            ": compressed snapshot body ends before the end of its zstd frame; "
                            "restore it from a backup");
    }
  }
}

void ZstdDecompressBuffer::finish() {
  setg(eback(), egptr(), egptr());
  while (underflow() != traits_type::eof()) setg(eback(), egptr(), egptr());
}

}  // namespace prevayler::detail
